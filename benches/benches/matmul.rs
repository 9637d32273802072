//! W1 (`../shared/bench/WORKLOADS.md`): square f32 matmul, n = 64, 256, 1024, through the tape
//! beside raw `matrixmultiply::sgemm` on the same matrices in the same run.
//!
//! - `matmul_fwd/wengert/n`: `C = A @ B` (A and B require grad); `matmul_fwd/sgemm/n`: one sgemm
//!   into a preallocated C.
//! - `matmul_fwdbwd/wengert/n`: `L = sum(A @ B)`, backward for A and B; `matmul_fwdbwd/sgemm/n`:
//!   the three products `C = A B`, `dA = G B^T`, `dB = A^T G` with transposes as strides.
//!
//! Throughput is FLOPs (`2 n^3` per product, 3 products for forward + backward), so criterion's
//! `Gelem/s` reads as GFLOP/s; the summary printed at the end gives medians and the ratio to raw.
//! Run: `cargo bench -p benches --bench matmul`.

use std::hint::black_box;
use std::time::Duration;

use benches::{
    RawGemm, matmul_flops, matmul_fwd, matmul_fwdbwd, matmul_inputs, median_ns, summary_wanted,
};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};

const SIZES: [usize; 3] = [64, 256, 1024];

/// Criterion settings per size: small sizes take many samples, n = 1024 (about 20 ms per
/// forward) takes few, with flat sampling so each run stays within a few seconds.
fn configure(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    n: usize,
) {
    if n >= 1024 {
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
    } else {
        group
            .sampling_mode(SamplingMode::Auto)
            .sample_size(30)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
    }
}

fn matmul(c: &mut Criterion) {
    for (name, products) in [("matmul_fwd", 1), ("matmul_fwdbwd", 3)] {
        let mut group = c.benchmark_group(name);
        for n in SIZES {
            let (a, b) = matmul_inputs(n);
            let mut raw = RawGemm::new(&a, &b);
            configure(&mut group, n);
            group.throughput(Throughput::Elements(products * matmul_flops(n)));
            if products == 1 {
                group.bench_with_input(BenchmarkId::new("wengert", n), &n, |bch, _| {
                    bch.iter(|| matmul_fwd(black_box(&a), black_box(&b)))
                });
                group.bench_with_input(BenchmarkId::new("sgemm", n), &n, |bch, _| {
                    bch.iter(|| raw.forward())
                });
            } else {
                group.bench_with_input(BenchmarkId::new("wengert", n), &n, |bch, _| {
                    bch.iter(|| matmul_fwdbwd(black_box(&a), black_box(&b)))
                });
                group.bench_with_input(BenchmarkId::new("sgemm", n), &n, |bch, _| {
                    bch.iter(|| raw.forward_backward())
                });
            }
        }
        group.finish();
    }
}

/// Medians, interleaved framework / raw per size so both see the same machine load.
fn summary() {
    println!("\nW1 matmul summary (f32, one GEMM thread, medians):");
    println!(
        "| n | fwd wengert GFLOP/s | fwd sgemm GFLOP/s | ratio | fwd+bwd wengert GFLOP/s | \
         fwd+bwd sgemm GFLOP/s | ratio |"
    );
    println!("|---|---|---|---|---|---|---|");
    for n in SIZES {
        let (a, b) = matmul_inputs(n);
        let mut raw = RawGemm::new(&a, &b);
        let t = Duration::from_secs(if n >= 1024 { 3 } else { 1 });
        let flops = matmul_flops(n) as f64;
        let gf = |ns: f64, products: f64| products * flops / ns;
        let fwd = gf(median_ns(t, 10, || matmul_fwd(&a, &b)), 1.0);
        let fwd_raw = gf(median_ns(t, 10, || raw.forward()), 1.0);
        let fb = gf(median_ns(t, 10, || matmul_fwdbwd(&a, &b)), 3.0);
        let fb_raw = gf(median_ns(t, 10, || raw.forward_backward()), 3.0);
        println!(
            "| {n} | {fwd:.1} | {fwd_raw:.1} | {:.2} | {fb:.1} | {fb_raw:.1} | {:.2} |",
            fwd / fwd_raw,
            fb / fb_raw
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    matmul(&mut c);
    c.final_summary();
    if summary_wanted() {
        summary();
    }
}
