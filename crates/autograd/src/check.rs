//! Gradient checking: analytic gradients against central finite differences, in f64.
//!
//! - [`gradcheck`]: the full Jacobian of `f` at `inputs`, element by element (PyTorch's
//!   `torch.autograd.gradcheck`).
//! - [`gradgradcheck`]: the same for the gradient itself, recorded with [`Tape::grad`], so it checks
//!   second derivatives (PyTorch's `gradgradcheck`).
//! - [`check_direction`]: one random direction, cheap for large inputs (JAX's `check_grads` mode).
//!
//! `f` is any function of [`Var`]s: built-in ops, custom ops, layers. An element passes when
//! `|analytic - numeric| <= atol + rtol * |numeric|`.
//!
//! ```
//! use wengert_autograd::check::{gradcheck, gradgradcheck, CheckOptions};
//! use wengert_autograd::{Tensor, Var};
//!
//! // A function checked twice is best a `fn` item; a closure written inline in the call works too.
//! fn f<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
//!     (v[0] * v[0]).tanh().sum() // d/dx sum tanh(x^2) = 2x (1 - tanh^2(x^2))
//! }
//! let x = Tensor::from_vec(vec![0.3, -1.2, 2.0], &[3]).unwrap();
//! let report = gradcheck(f, &[x.clone()], &CheckOptions::default()).unwrap();
//! assert!(report.max_abs_error < 1e-8);
//! gradgradcheck(f, &[x.clone()], &CheckOptions::default()).unwrap();
//!
//! // A wrong gradient is reported with the element and both values:
//! let wrong = gradcheck(|v| v[0].detach() * v[0], &[x], &CheckOptions::default()).unwrap_err();
//! assert_eq!(wrong.input, 0);
//! assert!(wrong.to_string().contains("analytic"));
//! ```

use std::fmt;

use crate::{Tape, Tensor, Var};

/// Settings of a gradient check. Defaults are PyTorch's for f64.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Finite-difference step. Default `1e-6`.
    pub eps: f64,
    /// Absolute tolerance. Default `1e-5`.
    pub atol: f64,
    /// Relative tolerance (relative to the numeric value). Default `1e-3`.
    pub rtol: f64,
    /// Seed for the random output weights and directions. Default `0`.
    pub seed: u64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
            seed: 0,
        }
    }
}

/// What a passing check measured: the worst errors over every checked element.
#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    /// Largest `|analytic - numeric|`.
    pub max_abs_error: f64,
    /// Largest `|analytic - numeric| / max(|analytic|, |numeric|)` (0 where both are 0).
    pub max_rel_error: f64,
    /// Number of Jacobian elements (or directions) compared.
    pub checked: usize,
}

/// The worst element of a failing check.
#[derive(Clone, Debug)]
pub struct CheckError {
    /// Which check failed: `"gradcheck"`, `"gradgradcheck"` or `"check_direction"`.
    pub check: &'static str,
    /// Which input (position in `inputs`).
    pub input: usize,
    /// Multi-index of the element in that input (empty for a direction check).
    pub index: Vec<usize>,
    /// Which output and its multi-index (the function's outputs, in order).
    pub output: (usize, Vec<usize>),
    /// The gradient computed by backward.
    pub analytic: f64,
    /// The central finite difference.
    pub numeric: f64,
    /// `|analytic - numeric|`.
    pub abs_error: f64,
    /// `abs_error / max(|analytic|, |numeric|)`.
    pub rel_error: f64,
    /// The tolerance that was exceeded, `atol + rtol * |numeric|`.
    pub tolerance: f64,
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed: d output {} {:?} / d input {} {:?}: analytic {:.10e} vs numeric {:.10e} \
             (abs error {:.3e}, rel error {:.3e}, tolerance {:.3e})",
            self.check,
            self.output.0,
            self.output.1,
            self.input,
            self.index,
            self.analytic,
            self.numeric,
            self.abs_error,
            self.rel_error,
            self.tolerance
        )
    }
}

impl std::error::Error for CheckError {}

/// Checks every element of the Jacobian of `f` at `inputs` against central differences.
///
/// `f` may return a value of any shape; each output element is differentiated separately.
/// Keep inputs small (the cost is one backward per output element plus two forwards per input
/// element) and away from kinks (relu at 0, abs at 0, ties of max).
///
/// # Panics
/// If `f` panics.
pub fn gradcheck<F>(
    f: F,
    inputs: &[Tensor<f64>],
    opts: &CheckOptions,
) -> Result<CheckReport, CheckError>
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    jacobian_check("gradcheck", |v: &[Var<'_, f64>]| vec![f(v)], inputs, opts)
}

/// Checks second derivatives: runs [`gradcheck`] on `(inputs, r) -> d/d inputs sum(f(inputs) * r)`
/// with a random `r`, where the gradient is recorded by [`Tape::grad`]. This checks every backward
/// rule on the path when it is itself differentiated, and the first-order rule through `r`.
pub fn gradgradcheck<F>(
    f: F,
    inputs: &[Tensor<f64>],
    opts: &CheckOptions,
) -> Result<CheckReport, CheckError>
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    let out_shape = {
        let tape = Tape::new();
        let vars: Vec<_> = inputs.iter().map(|x| tape.var(x.clone())).collect();
        f(&vars).shape()
    };
    let r = Tensor::<f64>::rand_uniform(&out_shape, 0.5, 1.5, opts.seed ^ 0x9e37_79b9);
    let mut all = inputs.to_vec();
    all.push(r);
    let n = inputs.len();
    jacobian_check(
        "gradgradcheck",
        |v: &[Var<'_, f64>]| {
            let y = f(&v[..n]);
            let s = (y * v[n]).sum();
            v[0].tape().grad(&[s], &v[..n])
        },
        &all,
        opts,
    )
}

/// Compares the directional derivative along one random unit direction (over all inputs at once)
/// with a central difference: cheap for large inputs, as JAX's `check_grads` does. Non-scalar
/// outputs are reduced to `sum(f(x) * r)` with random weights `r`.
pub fn check_direction<F>(
    f: F,
    inputs: &[Tensor<f64>],
    opts: &CheckOptions,
) -> Result<CheckReport, CheckError>
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    let total: usize = inputs.iter().map(|x| x.numel()).sum();
    let dir = Tensor::<f64>::randn(&[total], opts.seed);
    let norm = dir
        .data()
        .iter()
        .map(|d| d * d)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    let dir: Vec<f64> = dir.data().iter().map(|d| d / norm).collect();
    let out_shape = {
        let tape = Tape::new();
        let vars: Vec<_> = inputs.iter().map(|x| tape.var(x.clone())).collect();
        f(&vars).shape()
    };
    let r = Tensor::<f64>::rand_uniform(&out_shape, 0.5, 1.5, opts.seed ^ 0x5bd1_e995);
    let scalar = |xs: &[Tensor<f64>]| -> f64 {
        let tape = Tape::new();
        let vars: Vec<_> = xs.iter().map(|x| tape.var(x.clone())).collect();
        let y = f(&vars).value();
        y.data().iter().zip(r.data()).map(|(a, b)| a * b).sum()
    };
    let shifted = |sign: f64| -> Vec<Tensor<f64>> {
        let mut offset = 0;
        inputs
            .iter()
            .map(|x| {
                let d = &dir[offset..offset + x.numel()];
                offset += x.numel();
                let v = x
                    .data()
                    .iter()
                    .zip(d)
                    .map(|(a, d)| a + sign * opts.eps * d)
                    .collect();
                Tensor::from_vec(v, x.shape()).expect("same length as the input")
            })
            .collect()
    };
    let numeric = (scalar(&shifted(1.0)) - scalar(&shifted(-1.0))) / (2.0 * opts.eps);
    let tape = Tape::new();
    let vars: Vec<_> = inputs.iter().map(|x| tape.var(x.clone())).collect();
    let y = f(&vars);
    let grads = y
        .backward_with(r.clone(), false)
        .unwrap_or_else(|e| panic!("check_direction: {e}"));
    let mut analytic = 0.0;
    let mut offset = 0;
    for v in &vars {
        let n = v.shape().iter().product::<usize>();
        if let Some(g) = grads.get(*v) {
            analytic += g
                .data()
                .iter()
                .zip(&dir[offset..offset + n])
                .map(|(a, b)| a * b)
                .sum::<f64>();
        }
        offset += n;
    }
    let mut report = CheckReport::default();
    compare(&mut report, analytic, numeric, opts).map_err(
        |(abs_error, rel_error, tolerance)| CheckError {
            check: "check_direction",
            input: 0,
            index: vec![],
            output: (0, vec![]),
            analytic,
            numeric,
            abs_error,
            rel_error,
            tolerance,
        },
    )?;
    Ok(report)
}

/// Records one comparison; `Err((abs, rel, tol))` if it is outside the tolerance.
fn compare(
    report: &mut CheckReport,
    analytic: f64,
    numeric: f64,
    opts: &CheckOptions,
) -> Result<(), (f64, f64, f64)> {
    let abs = (analytic - numeric).abs();
    let scale = analytic.abs().max(numeric.abs());
    let rel = if scale > 0.0 { abs / scale } else { 0.0 };
    let tol = opts.atol + opts.rtol * numeric.abs();
    report.checked += 1;
    report.max_abs_error = report.max_abs_error.max(abs);
    report.max_rel_error = report.max_rel_error.max(rel);
    if abs <= tol {
        Ok(())
    } else {
        Err((abs, rel, tol))
    }
}

fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &n) in shape.iter().enumerate().rev() {
        index[i] = flat % n.max(1);
        flat /= n.max(1);
    }
    index
}

/// Shared engine: full Jacobians of a multi-output function, analytic (one seeded backward per
/// output element) against numeric (two forwards per input element).
fn jacobian_check<F>(
    check: &'static str,
    f: F,
    inputs: &[Tensor<f64>],
    opts: &CheckOptions,
) -> Result<CheckReport, CheckError>
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Vec<Var<'t, f64>>,
{
    let eval = |xs: &[Tensor<f64>]| -> Vec<Tensor<f64>> {
        let tape = Tape::new();
        let vars: Vec<_> = xs.iter().map(|x| tape.var(x.clone())).collect();
        f(&vars).iter().map(|y| y.value()).collect()
    };
    let outputs = eval(inputs);
    // numeric[input][element] = (f(x + eps e) - f(x - eps e)) / 2 eps, one tensor per output.
    let mut numeric: Vec<Vec<Vec<Tensor<f64>>>> = Vec::with_capacity(inputs.len());
    for (i, x) in inputs.iter().enumerate() {
        let mut cols = Vec::with_capacity(x.numel());
        for e in 0..x.numel() {
            let at = |delta: f64| {
                let mut xs = inputs.to_vec();
                let mut v = x.to_vec();
                v[e] += delta;
                xs[i] = Tensor::from_vec(v, x.shape()).expect("same length as the input");
                eval(&xs)
            };
            let (plus, minus) = (at(opts.eps), at(-opts.eps));
            cols.push(
                plus.iter()
                    .zip(&minus)
                    .map(|(p, m)| p.zip_map(m, "gradcheck", |p, m| (p - m) / (2.0 * opts.eps)))
                    .collect(),
            );
        }
        numeric.push(cols);
    }
    let mut report = CheckReport::default();
    let mut worst: Option<(f64, CheckError)> = None;
    for (o, y) in outputs.iter().enumerate() {
        for j in 0..y.numel() {
            let tape = Tape::new();
            let vars: Vec<_> = inputs.iter().map(|x| tape.var(x.clone())).collect();
            let ys = f(&vars);
            let mut seed = vec![0.0; y.numel()];
            seed[j] = 1.0;
            let seed = Tensor::from_vec(seed, y.shape()).expect("same length as the output");
            let grads = if ys[o].requires_grad() {
                Some(
                    ys[o]
                        .backward_with(seed, false)
                        .unwrap_or_else(|e| panic!("{check}: {e}")),
                )
            } else {
                None
            };
            for (i, v) in vars.iter().enumerate() {
                let g = grads.as_ref().and_then(|g| g.get(*v));
                for (e, column) in numeric[i].iter().enumerate() {
                    let analytic = g.map_or(0.0, |g| g.data()[e]);
                    let num = column[o].data()[j];
                    if let Err((abs_error, rel_error, tolerance)) =
                        compare(&mut report, analytic, num, opts)
                    {
                        let badness = abs_error / tolerance;
                        if worst.as_ref().is_none_or(|(b, _)| badness > *b) {
                            worst = Some((
                                badness,
                                CheckError {
                                    check,
                                    input: i,
                                    index: unravel(e, inputs[i].shape()),
                                    output: (o, unravel(j, y.shape())),
                                    analytic,
                                    numeric: num,
                                    abs_error,
                                    rel_error,
                                    tolerance,
                                },
                            ));
                        }
                    }
                }
            }
        }
    }
    match worst {
        Some((_, err)) => Err(err),
        None => Ok(report),
    }
}
