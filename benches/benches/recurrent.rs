//! W4 (`../shared/bench/WORKLOADS.md`): one LSTM training step, f32.
//!
//! `recurrent/lstm`: one `wengert_nn::Lstm` layer (batch 32, sequence 35, input 64, hidden 128)
//! from the zero state, a Dense(128, 10) head on the last hidden state, softmax cross-entropy with
//! integer labels, backward, Adam(1e-3). About 0.59 GFLOP of matmul per step. Model, optimizer and
//! data are built once ([`benches::LstmStep`]); each iteration is one full step on a reused tape.
//! Throughput is one element per step; the summary at the end gives the median step time.
//! Run: `cargo bench -p benches --bench recurrent`.

use std::time::Duration;

use benches::{LstmStep, median_ns, summary_wanted};
use criterion::{Criterion, SamplingMode, Throughput};

fn recurrent(c: &mut Criterion) {
    let mut group = c.benchmark_group("recurrent");
    group
        .throughput(Throughput::Elements(1))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(12));
    let mut lstm = LstmStep::new();
    group.bench_function("lstm", |b| b.iter(|| lstm.step()));
    group.finish();
}

/// Median of single steps, in the form docs/performance.md reports.
fn summary() {
    let mut lstm = LstmStep::new();
    let ns = median_ns(Duration::from_secs(5), 20, || lstm.step());
    println!("\nW4 LSTM training step summary (median of single steps):");
    println!("| workload | median ms |");
    println!("|---|---|");
    println!("| lstm | {:.2} |", ns / 1e6);
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    recurrent(&mut c);
    c.final_summary();
    if summary_wanted() {
        summary();
    }
}
