//! The standard workloads of `../shared/bench/WORKLOADS.md` (W1 matmul, W5 tape overhead) as plain
//! functions, shared by the criterion benchmarks in `benches/` and by the profiling driver
//! (`src/bin/tape_profile.rs`), plus the median timer behind the summary table each benchmark
//! prints after criterion's own report. Results are in `docs/performance.md`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use wengert::prelude::*;

/// Ops per W5 chain.
pub const CHAIN_OPS: usize = 1000;

/// The 1-element f32 input of W5 (shape `[1]`, like PyTorch's `torch.ones(1)`).
pub fn chain_input() -> Tensor<f32> {
    Tensor::from_slice(&[1.0])
}

/// W5, affine: `x * 1.0001` and `x + 0.0001` alternately, 1000 ops in all, on a fresh tape, then
/// backward. Returns the gradient of the input.
pub fn affine_chain(x0: &Tensor<f32>) -> f32 {
    let tape = Tape::new();
    affine_chain_on(&tape, x0)
}

/// W5, affine, recorded on a tape the caller owns (and may `reset()` and reuse).
pub fn affine_chain_on(tape: &Tape<f32>, x0: &Tensor<f32>) -> f32 {
    let x = tape.var(x0.clone());
    let mut y = x;
    for _ in 0..CHAIN_OPS / 2 {
        y = y * 1.0001;
        y = y + 0.0001;
    }
    y.backward()[x].item()
}

/// W5, tanh: 1000 chained `tanh` on a fresh tape, then backward. Returns the input's gradient.
pub fn tanh_chain(x0: &Tensor<f32>) -> f32 {
    let tape = Tape::new();
    tanh_chain_on(&tape, x0)
}

/// W5, tanh, recorded on a tape the caller owns.
pub fn tanh_chain_on(tape: &Tape<f32>, x0: &Tensor<f32>) -> f32 {
    let x = tape.var(x0.clone());
    let mut y = x;
    for _ in 0..CHAIN_OPS {
        y = y.tanh();
    }
    y.backward()[x].item()
}

/// FLOPs of one `n x n` by `n x n` matrix product (W1 counts `2 n^3`).
pub fn matmul_flops(n: usize) -> u64 {
    2 * (n as u64).pow(3)
}

/// Two random `n x n` f32 matrices.
pub fn matmul_inputs(n: usize) -> (Tensor<f32>, Tensor<f32>) {
    (Tensor::randn(&[n, n], 1), Tensor::randn(&[n, n], 2))
}

/// W1 forward: `C = A @ B` through the tape (A and B require grad, as in training).
pub fn matmul_fwd(a: &Tensor<f32>, b: &Tensor<f32>) -> Tensor<f32> {
    let tape = Tape::new();
    let (a, b) = (tape.var(a.clone()), tape.var(b.clone()));
    a.matmul(b).value()
}

/// W1 forward + backward: `L = sum(A @ B)`, gradients for A and B.
pub fn matmul_fwdbwd(a: &Tensor<f32>, b: &Tensor<f32>) -> (Tensor<f32>, Tensor<f32>) {
    let tape = Tape::new();
    let (av, bv) = (tape.var(a.clone()), tape.var(b.clone()));
    let grads = av.matmul(bv).sum().backward();
    (grads[av].clone(), grads[bv].clone())
}

/// Row-major `n x n` buffers for the raw GEMM baseline: A, B, the upstream gradient G (ones, as
/// for `L = sum(C)`), and outputs C, dA, dB.
pub struct RawGemm {
    n: usize,
    a: Vec<f32>,
    b: Vec<f32>,
    g: Vec<f32>,
    c: Vec<f32>,
    da: Vec<f32>,
    db: Vec<f32>,
}

impl RawGemm {
    /// Buffers holding the same A and B as the framework's benchmark.
    pub fn new(a: &Tensor<f32>, b: &Tensor<f32>) -> Self {
        let n = a.shape()[0];
        RawGemm {
            n,
            a: a.to_vec(),
            b: b.to_vec(),
            g: vec![1.0; n * n],
            c: vec![0.0; n * n],
            da: vec![0.0; n * n],
            db: vec![0.0; n * n],
        }
    }

    /// `C = A B` with `matrixmultiply::sgemm`, into a preallocated C.
    pub fn forward(&mut self) -> f32 {
        let n = self.n;
        let s = n as isize;
        // SAFETY: every buffer holds n * n elements; with row stride n and column stride 1 (or
        // swapped, for a transpose) every index sgemm forms is below n * n; C does not alias A or B.
        unsafe {
            matrixmultiply::sgemm(
                n,
                n,
                n,
                1.0,
                self.a.as_ptr(),
                s,
                1,
                self.b.as_ptr(),
                s,
                1,
                0.0,
                self.c.as_mut_ptr(),
                s,
                1,
            );
        }
        self.c[0]
    }

    /// Forward and the two backward products: `C = A B`, `dA = G B^T`, `dB = A^T G`, with the
    /// transposes passed as strides (as the framework does).
    pub fn forward_backward(&mut self) -> f32 {
        self.forward();
        let n = self.n;
        let s = n as isize;
        // SAFETY: as in `forward`; B^T and A^T are the same buffers read with swapped strides.
        unsafe {
            matrixmultiply::sgemm(
                n,
                n,
                n,
                1.0,
                self.g.as_ptr(),
                s,
                1,
                self.b.as_ptr(),
                1,
                s,
                0.0,
                self.da.as_mut_ptr(),
                s,
                1,
            );
            matrixmultiply::sgemm(
                n,
                n,
                n,
                1.0,
                self.a.as_ptr(),
                1,
                s,
                self.g.as_ptr(),
                s,
                1,
                0.0,
                self.db.as_mut_ptr(),
                s,
                1,
            );
        }
        self.da[0] + self.db[0]
    }
}

/// Median wall time of one call of `f`, in nanoseconds: a few warm-up calls, then calls timed one
/// by one until both `min_time` has passed and `min_samples` calls were timed.
pub fn median_ns<R>(min_time: Duration, min_samples: usize, mut f: impl FnMut() -> R) -> f64 {
    for _ in 0..3 {
        black_box(f());
    }
    let start = Instant::now();
    let mut samples = Vec::new();
    while samples.len() < min_samples || start.elapsed() < min_time {
        let t = Instant::now();
        black_box(f());
        samples.push(t.elapsed().as_nanos() as f64);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Whether the benchmark binary runs for real: criterion's `--test` (from `cargo test --benches`)
/// and `--list` modes skip the summary tables.
pub fn summary_wanted() -> bool {
    !std::env::args().any(|a| a == "--test" || a == "--list")
}
