//! W2 and W3 (`../shared/bench/WORKLOADS.md`): one full MLP training step each, f32.
//!
//! - `mlp/mnist` (W2 mlp_mnist): x [64, 784] -> Dense(784, 128) -> ReLU -> Dense(128, 10) ->
//!   softmax cross-entropy with integer labels -> backward -> Adam(1e-3). About 26 MFLOP of
//!   matmul per step.
//! - `mlp/digits` (W3 mlp_digits): the same with x [32, 64] -> 32 -> 10 (about 0.4 MFLOP: it
//!   measures overhead, not arithmetic).
//!
//! Model, optimizer and data are built once outside the timed loop ([`benches::MlpStep`]); each
//! iteration is forward, backward and the Adam update on a reused tape. Throughput is one element
//! per step (criterion's `Kelem/s` is thousands of steps per second); the summary at the end gives
//! the median step time. Run: `cargo bench -p benches --bench mlp`.

use std::time::Duration;

use benches::{MlpStep, median_ns, summary_wanted};
use criterion::{Criterion, Throughput};

fn mlp(c: &mut Criterion) {
    let mut group = c.benchmark_group("mlp");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(50)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    let mut mnist = MlpStep::mnist();
    group.bench_function("mnist", |b| b.iter(|| mnist.step()));
    let mut digits = MlpStep::digits();
    group.bench_function("digits", |b| b.iter(|| digits.step()));
    group.finish();
}

/// Medians of single steps, in the form docs/performance.md reports.
fn summary() {
    let t = Duration::from_secs(3);
    let mut mnist = MlpStep::mnist();
    let mut digits = MlpStep::digits();
    println!("\nW2/W3 MLP training step summary (median of single steps):");
    println!("| workload | median us |");
    println!("|---|---|");
    println!(
        "| mlp_mnist | {:.1} |",
        median_ns(t, 50, || mnist.step()) / 1e3
    );
    println!(
        "| mlp_digits | {:.2} |",
        median_ns(t, 50, || digits.step()) / 1e3
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    mlp(&mut c);
    c.final_summary();
    if summary_wanted() {
        summary();
    }
}
