//! Second derivatives by differentiating gradients. `Tape::grad` returns gradients recorded on
//! the tape as new `Var`s (PyTorch's `create_graph=True`), so they can be differentiated again:
//!
//! - a Hessian-vector product `H v = d/dx (grad f(x) . v)` costs two backward sweeps, whatever
//!   the dimension, without ever forming `H`;
//! - the full Hessian is `n` such products (row `i` is the gradient of `df/dx_i`).
//!
//! Both are checked against closed forms on two functions: the Rosenbrock function in 6
//! dimensions and `f(x) = x^T A x / 2 + log(sum(exp(x)))` (a quadratic form plus log-sum-exp,
//! whose Hessian is `A + diag(p) - p p^T` with `p = softmax(x)`), all in f64.
//!
//! Run: `cargo run --release -p examples --example hessian` (no flags). Prints the largest
//! absolute errors and ends with one JSON line holding them; also writes
//! `examples/output/hessian.json` and `examples/output/hessian.svg`, which plots the error of the
//! usual alternative, central differences of the gradient, against their step: truncation error
//! for large steps, rounding error for small ones, never below about 5e-8 here, where
//! differentiating twice is exact to the last bit.

use std::process::exit;
use std::time::Instant;

use wengert::plot::LineChart;
use wengert::prelude::*;

/// A function of a vector `x` `[n]` to a scalar, recorded on the tape.
type Function = for<'t> fn(Var<'t, f64>) -> Var<'t, f64>;

/// Rosenbrock: `f(x) = sum_{i < n-1} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2`.
fn rosenbrock<'t>(x: Var<'t, f64>) -> Var<'t, f64> {
    let n = x.shape()[0];
    let head = x.narrow(0, 0, n - 1); // x_0 .. x_{n-2}
    let tail = x.narrow(0, 1, n - 1); // x_1 .. x_{n-1}
    let a = tail - head.square();
    let b = head.rsub_scalar(1.0); // 1 - x_i
    (a.square() * 100.0 + b.square()).sum()
}

/// Its Hessian: `H_ii = 1200 x_i^2 - 400 x_{i+1} + 2` (i < n-1) `+ 200` (i > 0),
/// `H_{i,i+1} = H_{i+1,i} = -400 x_i`.
fn rosenbrock_hessian(x: &[f64]) -> Vec<Vec<f64>> {
    let n = x.len();
    let mut h = vec![vec![0.0; n]; n];
    for i in 0..n {
        if i + 1 < n {
            h[i][i] += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0;
            h[i][i + 1] = -400.0 * x[i];
            h[i + 1][i] = -400.0 * x[i];
        }
        if i > 0 {
            h[i][i] += 200.0;
        }
    }
    h
}

/// The symmetric positive definite matrix of the quadratic form: `A = M^T M / n + I`, `M` with
/// entries from `N(0, 1)` (seed 7).
fn matrix_a(n: usize) -> Vec<Vec<f64>> {
    let m = Tensor::<f64>::randn(&[n, n], 7);
    let m = m.data();
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    let mtm: f64 = (0..n).map(|k| m[k * n + i] * m[k * n + j]).sum();
                    mtm / n as f64 + if i == j { 1.0 } else { 0.0 }
                })
                .collect()
        })
        .collect()
}

const QUAD_N: usize = 5;

/// `f(x) = x^T A x / 2 + log(sum_i exp(x_i))`.
fn quadratic_lse<'t>(x: Var<'t, f64>) -> Var<'t, f64> {
    let n = x.shape()[0];
    let a: Vec<f64> = matrix_a(n).concat();
    let a = x
        .tape()
        .constant(Tensor::from_vec(a, &[n, n]).unwrap_or_else(|e| panic!("{e}")));
    let col = x.reshape(&[n, 1]);
    let quad = (col * a.matmul(col)).sum() * 0.5;
    quad + x.logsumexp(0, false)
}

/// Its Hessian: `A + diag(p) - p p^T`, `p = softmax(x)`.
fn quadratic_lse_hessian(x: &[f64]) -> Vec<Vec<f64>> {
    let a = matrix_a(x.len());
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    let p: Vec<f64> = e.iter().map(|v| v / s).collect();
    (0..x.len())
        .map(|i| {
            (0..x.len())
                .map(|j| a[i][j] + if i == j { p[i] } else { 0.0 } - p[i] * p[j])
                .collect()
        })
        .collect()
}

/// `H v` by differentiating `grad f(x) . v`: two backward sweeps.
fn hvp(f: Function, x0: &[f64], v: &[f64]) -> Vec<f64> {
    let tape = Tape::new();
    let x = tape.var(Tensor::from_slice(x0));
    let g = tape.grad(&[f(x)], &[x])[0]; // recorded: grad f(x) as a Var
    let gv = (g * tape.constant(Tensor::from_slice(v))).sum();
    tape.grad(&[gv], &[x])[0].value().to_vec()
}

/// The full Hessian: row `i` is the gradient of `df/dx_i` (one first-order sweep, then `n`
/// second-order sweeps on the same tape).
fn hessian(f: Function, x0: &[f64]) -> Vec<Vec<f64>> {
    let tape = Tape::new();
    let x = tape.var(Tensor::from_slice(x0));
    let g = tape.grad(&[f(x)], &[x])[0];
    (0..x0.len())
        .map(|i| {
            let gi = g.narrow(0, i, 1).sum();
            tape.grad(&[gi], &[x])[0].value().to_vec()
        })
        .collect()
}

/// The gradient by one first-order sweep.
fn gradient(f: Function, x0: &[f64]) -> Vec<f64> {
    let tape = Tape::new();
    let x = tape.var(Tensor::from_slice(x0));
    f(x).backward()[x].to_vec()
}

/// The Hessian by central differences of the gradient with step `step`, the usual alternative
/// to differentiating twice: its error trades truncation (large steps) against rounding (small).
fn hessian_by_differences(f: Function, x0: &[f64], step: f64) -> Vec<Vec<f64>> {
    (0..x0.len())
        .map(|i| {
            let at = |delta: f64| {
                let mut x = x0.to_vec();
                x[i] += delta;
                gradient(f, &x)
            };
            let (plus, minus) = (at(step), at(-step));
            plus.iter()
                .zip(&minus)
                .map(|(p, m)| (p - m) / (2.0 * step))
                .collect()
        })
        .collect()
}

fn mat_vec(h: &[Vec<f64>], v: &[f64]) -> Vec<f64> {
    h.iter()
        .map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum())
        .collect()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

struct Case {
    name: &'static str,
    f: Function,
    closed_form: fn(&[f64]) -> Vec<Vec<f64>>,
    x: Vec<f64>,
}

fn main() {
    if std::env::args().len() > 1 {
        eprintln!("usage: hessian (no flags)");
        exit(2);
    }
    let start = Instant::now();
    let cases = [
        Case {
            name: "rosenbrock (n = 6)",
            f: rosenbrock,
            closed_form: rosenbrock_hessian,
            x: vec![-1.2, 1.0, 0.5, -0.3, 2.0, 0.8],
        },
        Case {
            name: "rosenbrock at its minimum (x = 1)",
            f: rosenbrock,
            closed_form: rosenbrock_hessian,
            x: vec![1.0; 6],
        },
        Case {
            name: "x^T A x / 2 + logsumexp(x) (n = 5)",
            f: quadratic_lse,
            closed_form: quadratic_lse_hessian,
            x: Tensor::<f64>::randn(&[QUAD_N], 3).to_vec(),
        },
    ];
    let out_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/output");
    let mut worst_hvp: f64 = 0.0;
    let mut worst_hessian: f64 = 0.0;
    let mut worst_symmetry: f64 = 0.0;
    let mut rows = Vec::new();
    for case in &cases {
        let n = case.x.len();
        let exact = (case.closed_form)(&case.x);
        let scale = exact.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));

        // Hessian-vector products with a few random directions.
        let mut hvp_err: f64 = 0.0;
        for seed in 0..4 {
            let v = Tensor::<f64>::randn(&[n], 100 + seed).to_vec();
            hvp_err = hvp_err.max(max_abs_diff(
                &hvp(case.f, &case.x, &v),
                &mat_vec(&exact, &v),
            ));
        }

        // The full Hessian, row by row.
        let h = hessian(case.f, &case.x);
        let h_err = h
            .iter()
            .zip(&exact)
            .map(|(a, b)| max_abs_diff(a, b))
            .fold(0.0, f64::max);
        let sym = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .map(|(i, j)| (h[i][j] - h[j][i]).abs())
            .fold(0.0, f64::max);

        println!("{}:", case.name);
        println!("  x = {:?}", case.x);
        println!("  Hessian by autodiff (rows):");
        for row in &h {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:10.4}")).collect();
            println!("    [{}]", cells.join(" "));
        }
        println!(
            "  max |H - closed form| = {h_err:.2e} (largest entry {scale:.1}), \
             max |Hv - closed form| over 4 directions = {hvp_err:.2e}, max |H - H^T| = {sym:.2e}"
        );
        worst_hvp = worst_hvp.max(hvp_err);
        worst_hessian = worst_hessian.max(h_err);
        worst_symmetry = worst_symmetry.max(sym);
        rows.push(format!(
            "{{\"function\":\"{}\",\"n\":{n},\"hessian_max_abs_error\":{h_err:e},\
             \"hvp_max_abs_error\":{hvp_err:e},\"max_hessian_entry\":{scale}}}",
            case.name
        ));
    }
    // Plot: the error of a finite-difference Hessian against its step, beside autodiff's.
    let first = &cases[0];
    let exact = (first.closed_form)(&first.x);
    let h_auto = hessian(first.f, &first.x);
    let err = |h: &[Vec<f64>]| {
        h.iter()
            .zip(&exact)
            .map(|(a, b)| max_abs_diff(a, b))
            .fold(0.0, f64::max)
    };
    // Zero error cannot be drawn on a log axis: show it at f64's epsilon.
    let auto_err = err(&h_auto).max(f64::EPSILON);
    let steps: Vec<f64> = (1..=10).map(|k| 10f64.powi(-k)).collect();
    let fd: Vec<(f64, f64)> = steps
        .iter()
        .map(|&step| {
            (
                step.log10(),
                err(&hessian_by_differences(first.f, &first.x, step)),
            )
        })
        .collect();
    let best_fd = fd.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    println!(
        "{}: finite differences of the gradient reach at best {best_fd:.1e}; autodiff {:.1e}",
        first.name,
        err(&h_auto)
    );
    let svg_path = format!("{out_dir}/hessian.svg");
    let chart = LineChart::new(
        "Hessian of Rosenbrock (n = 6): max abs error",
        "log10 of the finite-difference step",
        "max |H - closed form|",
    )
    .log_y(true)
    .series("central differences of the gradient", &fd)
    .series(
        "autodiff (grad of grad; 0 drawn at 2.2e-16)",
        &[(fd[0].0, auto_err), (fd[fd.len() - 1].0, auto_err)],
    );
    if let Err(e) = std::fs::create_dir_all(out_dir)
        .map_err(|e| e.to_string())
        .and_then(|_| chart.save(&svg_path).map_err(|e| e.to_string()))
    {
        eprintln!("hessian: {svg_path}: {e}");
        exit(1);
    }

    let seconds = start.elapsed().as_secs_f64();
    let json = format!(
        "{{\"example\":\"hessian\",\"hvp_max_abs_error\":{worst_hvp:e},\
         \"hessian_max_abs_error\":{worst_hessian:e},\"hessian_max_asymmetry\":{worst_symmetry:e},\
         \"finite_difference_best_error\":{best_fd:e},\"seconds\":{seconds:.4}}}"
    );
    let path = format!("{out_dir}/hessian.json");
    let written = std::fs::create_dir_all(out_dir).and_then(|_| {
        std::fs::write(
            &path,
            format!("{{\"summary\":{json},\"cases\":[{}]}}\n", rows.join(",")),
        )
    });
    if let Err(e) = written {
        eprintln!("hessian: {path}: {e}");
        exit(1);
    }
    let ok = worst_hvp < 1e-9 && worst_hessian < 1e-9;
    println!(
        "{} (tolerance 1e-9, f64); wrote {path} and {svg_path}",
        if ok { "all match" } else { "MISMATCH" }
    );
    println!("{json}");
    if !ok {
        exit(1);
    }
}
