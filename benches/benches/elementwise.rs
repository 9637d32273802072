//! Large elementwise ops and reductions through the tape (forward only, constant inputs, f32), on
//! 2^22 elements (16 MiB per tensor, beyond the last-level cache share of one core), plus one
//! forward + backward. Not one of W1-W5: it shows the memory bandwidth the eager kernels reach
//! and whether they split across rayon's pool (above 32,768 elements).
//!
//! - `elementwise/add`, `mul`: `a + b`, `a * b` (read 2 tensors, write 1: 12 bytes per element);
//! - `relu`, `exp`, `tanh`: unary (read 1, write 1: 8 bytes per element);
//! - `sum`: full reduction; `sum_axis`: `[2048, 2048]` summed over the last axis (4 bytes per
//!   element read);
//! - `tanh_fwdbwd`: `L = sum(tanh(x))` forward and backward for x (tanh, the sum's broadcast
//!   gradient and the fused `tanh_grad`: about 28 bytes per element).
//!
//! Throughput is in bytes moved, so criterion's `GiB/s` is the achieved bandwidth.
//! Run: `cargo bench -p benches --bench elementwise`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use wengert::prelude::*;

/// Elements per tensor: 2^22 (16 MiB of f32).
const N: usize = 1 << 22;
const F32: u64 = 4;

/// An op of one or two tensors, recorded on the inputs' tape.
type Unary = for<'t> fn(Var<'t, f32>) -> Var<'t, f32>;
type Binary = for<'t> fn(Var<'t, f32>, Var<'t, f32>) -> Var<'t, f32>;

fn elementwise(c: &mut Criterion) {
    let a = Tensor::<f32>::randn(&[2048, 2048], 1);
    let b = Tensor::<f32>::randn(&[2048, 2048], 2);
    assert_eq!(a.numel(), N);
    let n = N as u64;
    let mut group = c.benchmark_group("elementwise");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    let binary: [(&str, Binary); 2] = [("add", |x, y| x + y), ("mul", |x, y| x * y)];
    group.throughput(Throughput::Bytes(3 * F32 * n));
    for (name, f) in binary {
        group.bench_function(name, |bch| {
            bch.iter(|| {
                let tape = Tape::new();
                let (x, y) = (tape.constant(a.clone()), tape.constant(b.clone()));
                f(x, y).value()
            })
        });
    }

    let unary: [(&str, Unary); 3] = [
        ("relu", |x| x.relu()),
        ("exp", |x| x.exp()),
        ("tanh", |x| x.tanh()),
    ];
    group.throughput(Throughput::Bytes(2 * F32 * n));
    for (name, f) in unary {
        group.bench_function(name, |bch| {
            bch.iter(|| {
                let tape = Tape::new();
                f(tape.constant(a.clone())).value()
            })
        });
    }

    let reductions: [(&str, Unary); 2] = [
        ("sum", |x| x.sum()),
        ("sum_axis", |x| x.sum_axis(-1, false)),
    ];
    group.throughput(Throughput::Bytes(F32 * n));
    for (name, f) in reductions {
        group.bench_function(name, |bch| {
            bch.iter(|| {
                let tape = Tape::new();
                f(tape.constant(a.clone())).value()
            })
        });
    }

    group.throughput(Throughput::Bytes(7 * F32 * n));
    group.bench_function("tanh_fwdbwd", |bch| {
        bch.iter(|| {
            let tape = Tape::new();
            let x = tape.var(black_box(&a).clone());
            let grads = x.tanh().sum().backward();
            grads[x].clone()
        })
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    elementwise(&mut c);
    c.final_summary();
}
