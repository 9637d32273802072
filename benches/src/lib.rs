//! The standard workloads of `../shared/bench/WORKLOADS.md` (W1 matmul, W2/W3 MLP training steps,
//! W4 LSTM training step, W5 tape overhead) as plain functions, shared by the criterion benchmarks
//! in `benches/`, the comparison runner (`src/bin/compare.rs`) and the profiling driver
//! (`src/bin/tape_profile.rs`), plus the median timer behind the summary tables. Results are in
//! `docs/performance.md`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use wengert::nn::loss::cross_entropy;
use wengert::nn::{Dense, Lstm, Module, Param};
use wengert::optim::{Adam, AdamConfig, Optimizer};
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

/// Integer class labels `0..10` for a batch (a fixed pseudo-random pattern).
fn labels(batch: usize) -> Vec<usize> {
    (0..batch).map(|i| (i * 7 + 3) % 10).collect()
}

/// The Adam of W2-W4: lr 1e-3, betas 0.9 / 0.999, eps 1e-8 (the defaults).
fn adam() -> Adam<f32> {
    Adam::new(AdamConfig::default()).expect("the default Adam configuration is valid")
}

/// W2 / W3: a two-layer MLP `x [batch, inputs] -> Dense(inputs, hidden) -> ReLU -> Dense(hidden,
/// 10)`, softmax cross-entropy with integer labels, backward, Adam(1e-3). Model, optimizer, data
/// and tape are built once; [`step`](MlpStep::step) is one full training step (the tape is
/// `reset()` and reused, as a training loop does).
pub struct MlpStep {
    l1: Dense<f32>,
    l2: Dense<f32>,
    opt: Adam<f32>,
    x: Tensor<f32>,
    y: Vec<usize>,
    tape: Tape<f32>,
}

impl MlpStep {
    /// The model and data for the given sizes.
    pub fn new(batch: usize, inputs: usize, hidden: usize) -> Self {
        MlpStep {
            l1: Dense::new(inputs, hidden).with_seed(1),
            l2: Dense::new(hidden, 10).with_seed(2),
            opt: adam(),
            x: Tensor::randn(&[batch, inputs], 3),
            y: labels(batch),
            tape: Tape::new(),
        }
    }

    /// W2 mlp_mnist: x [64, 784] -> 128 -> 10.
    pub fn mnist() -> Self {
        Self::new(64, 784, 128)
    }

    /// W3 mlp_digits: x [32, 64] -> 32 -> 10.
    pub fn digits() -> Self {
        Self::new(32, 64, 32)
    }

    /// One training step; returns the loss before the update.
    pub fn step(&mut self) -> f32 {
        self.tape.reset();
        let tape = &self.tape;
        let x = tape.constant(self.x.clone());
        let logits = self.l2.forward(self.l1.forward(x).relu());
        let loss = cross_entropy(logits, &self.y);
        let value = loss.item();
        let grads = loss.backward();
        // Release the tape's share of the parameters so the update is in place (as `fit` does).
        self.tape.reset();
        let mut params: Vec<&mut Param<f32>> = self.l1.params_mut();
        params.extend(self.l2.params_mut());
        self.opt
            .step(&mut params, &grads)
            .expect("finite gradients of a small MLP");
        value
    }
}

/// W4: one LSTM layer ([`Lstm`], batch 32, sequence 35, input 64, hidden 128) and a Dense(128,
/// 10) head on the last hidden state, cross-entropy, backward, Adam(1e-3). Built once;
/// [`step`](LstmStep::step) is one full training step on a reused tape.
pub struct LstmStep {
    lstm: Lstm<f32>,
    head: Dense<f32>,
    opt: Adam<f32>,
    x: Tensor<f32>,
    y: Vec<usize>,
    tape: Tape<f32>,
}

impl Default for LstmStep {
    fn default() -> Self {
        Self::new()
    }
}

impl LstmStep {
    /// Batch, sequence length, input size, hidden size of W4.
    pub const SIZES: (usize, usize, usize, usize) = (32, 35, 64, 128);

    /// The model and data of W4.
    pub fn new() -> Self {
        let (batch, seq, input, hidden) = Self::SIZES;
        LstmStep {
            lstm: Lstm::new(input, hidden).with_seed(1),
            head: Dense::new(hidden, 10).with_seed(2),
            opt: adam(),
            x: Tensor::randn(&[batch, seq, input], 3),
            y: labels(batch),
            tape: Tape::new(),
        }
    }

    /// One training step; returns the loss before the update.
    pub fn step(&mut self) -> f32 {
        self.tape.reset();
        let tape = &self.tape;
        let x = tape.constant(self.x.clone());
        let h = self.lstm.forward_last(x, None).h;
        let loss = cross_entropy(self.head.forward(h), &self.y);
        let value = loss.item();
        let grads = loss.backward();
        // Release the tape's share of the parameters so the update is in place (as `fit` does).
        self.tape.reset();
        let mut params: Vec<&mut Param<f32>> = self.lstm.params_mut();
        params.extend(self.head.params_mut());
        self.opt
            .step(&mut params, &grads)
            .expect("finite gradients of a small LSTM");
        value
    }
}

/// Median wall time of one call of `f`, in nanoseconds: a few warm-up calls, then calls timed one
/// by one until both `min_time` has passed and `min_samples` calls were timed.
pub fn median_ns<R>(min_time: Duration, min_samples: usize, f: impl FnMut() -> R) -> f64 {
    timings(min_time, min_samples, f).median_ns
}

/// Median and minimum wall time of single calls, and how many calls were timed.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Median of the timed calls, ns.
    pub median_ns: f64,
    /// Fastest timed call, ns.
    pub min_ns: f64,
    /// Number of timed calls.
    pub iters: usize,
}

/// Times single calls of `f` as [`median_ns`] does (3 warm-up calls, then until both `min_time`
/// and `min_samples` are reached), returning median, minimum and count.
pub fn timings<R>(min_time: Duration, min_samples: usize, mut f: impl FnMut() -> R) -> Timing {
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
    Timing {
        median_ns: samples[samples.len() / 2],
        min_ns: samples[0],
        iters: samples.len(),
    }
}

/// Whether the benchmark binary runs for real: criterion's `--test` (from `cargo test --benches`)
/// and `--list` modes skip the summary tables.
pub fn summary_wanted() -> bool {
    !std::env::args().any(|a| a == "--test" || a == "--list")
}
