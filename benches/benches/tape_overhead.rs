//! W5 (`../shared/bench/WORKLOADS.md`): per-op tape overhead. A chain of 1000 ops on a
//! 1-element f32 tensor that requires grad, then backward; ns/op = (forward + backward) / 1000.
//!
//! - `tape_overhead/affine`: `x * 1.0001` and `x + 0.0001` alternately, fresh tape per chain.
//! - `tape_overhead/tanh`: 1000 x `tanh`, fresh tape per chain.
//! - `.../reused_tape`: the same chains on one tape that is `reset()` between runs (no growth of
//!   the node list), to separate the tape's own allocation from the per-op cost.
//!
//! Throughput is 1000 elements (ops) per iteration, so criterion's `Melem/s` is millions of ops
//! per second (ns/op = 1000 / Melem/s); the summary printed at the end gives ns/op directly.
//! Run: `cargo bench -p benches --bench tape_overhead`.

use std::hint::black_box;
use std::time::Duration;

use benches::{
    CHAIN_OPS, affine_chain, affine_chain_on, chain_input, median_ns, summary_wanted, tanh_chain,
    tanh_chain_on,
};
use criterion::{Criterion, Throughput};
use wengert::prelude::*;

fn tape_overhead(c: &mut Criterion) {
    let x0 = chain_input();
    let mut group = c.benchmark_group("tape_overhead");
    group
        .throughput(Throughput::Elements(CHAIN_OPS as u64))
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("affine", |b| b.iter(|| affine_chain(black_box(&x0))));
    group.bench_function("tanh", |b| b.iter(|| tanh_chain(black_box(&x0))));
    let mut tape = Tape::with_capacity(CHAIN_OPS + 1);
    group.bench_function("affine/reused_tape", |b| {
        b.iter(|| {
            tape.reset();
            affine_chain_on(&tape, black_box(&x0))
        })
    });
    group.bench_function("tanh/reused_tape", |b| {
        b.iter(|| {
            tape.reset();
            tanh_chain_on(&tape, black_box(&x0))
        })
    });
    group.finish();
}

/// Medians of single chains, as ns per op, in the form docs/performance.md reports.
fn summary() {
    let x0 = chain_input();
    let per_op = |ns: f64| ns / CHAIN_OPS as f64;
    let t = Duration::from_secs(2);
    let mut tape = Tape::with_capacity(CHAIN_OPS + 1);
    let rows = [
        ("affine", per_op(median_ns(t, 100, || affine_chain(&x0)))),
        ("tanh", per_op(median_ns(t, 100, || tanh_chain(&x0)))),
        (
            "affine, reused tape",
            per_op(median_ns(t, 100, || {
                tape.reset();
                affine_chain_on(&tape, &x0)
            })),
        ),
        (
            "tanh, reused tape",
            per_op(median_ns(t, 100, || {
                tape.reset();
                tanh_chain_on(&tape, &x0)
            })),
        ),
    ];
    println!("\nW5 tape_overhead summary (median of single chains, forward + backward):");
    println!("| chain | ns/op |");
    println!("|---|---|");
    for (name, ns) in rows {
        println!("| {name} | {ns:.1} |");
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    tape_overhead(&mut c);
    c.final_summary();
    if summary_wanted() {
        summary();
    }
}
