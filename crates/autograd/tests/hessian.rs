//! Second derivatives against closed forms: Hessian-vector products and the full Hessian of the
//! n-dimensional Rosenbrock function, by differentiating recorded gradients.
#![allow(clippy::needless_range_loop)] // index loops mirror the closed-form formulas

use wengert_autograd::check::{CheckOptions, gradgradcheck};
use wengert_autograd::{Tape, Tensor, Var};

const A: f64 = 1.0;
const B: f64 = 100.0;
const N: usize = 5;

/// Selection matrices so that `x P` is `x[..n-1]` and `x Q` is `x[1..]` for a row vector `x`.
fn shifts(n: usize) -> (Tensor<f64>, Tensor<f64>) {
    let mut p = vec![0.0; n * (n - 1)];
    let mut q = vec![0.0; n * (n - 1)];
    for j in 0..n - 1 {
        p[j * (n - 1) + j] = 1.0;
        q[(j + 1) * (n - 1) + j] = 1.0;
    }
    (
        Tensor::from_vec(p, &[n, n - 1]).unwrap(),
        Tensor::from_vec(q, &[n, n - 1]).unwrap(),
    )
}

/// f(x) = sum_{i < n-1} B (x_{i+1} - x_i^2)^2 + (A - x_i)^2, for x of shape [1, n].
fn rosenbrock<'t>(x: Var<'t, f64>) -> Var<'t, f64> {
    let n = x.shape()[1];
    let (p, q) = shifts(n);
    let tape = x.tape();
    let head = x.matmul(tape.constant(p));
    let tail = x.matmul(tape.constant(q));
    let d = tail - head * head;
    let e = head.rsub_scalar(A);
    (d * d * B + e * e).sum()
}

/// The closed-form Hessian of `rosenbrock`.
fn hessian(x: &[f64]) -> Vec<Vec<f64>> {
    let n = x.len();
    let mut h = vec![vec![0.0; n]; n];
    for i in 0..n {
        if i < n - 1 {
            h[i][i] += 2.0 - 4.0 * B * (x[i + 1] - x[i] * x[i]) + 8.0 * B * x[i] * x[i];
            h[i][i + 1] = -4.0 * B * x[i];
            h[i + 1][i] = -4.0 * B * x[i];
        }
        if i > 0 {
            h[i][i] += 2.0 * B;
        }
    }
    h
}

fn point() -> Vec<f64> {
    vec![-1.2, 1.0, 0.3, -0.7, 1.5]
}

#[test]
fn gradient_matches_closed_form() {
    let x0 = point();
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::from_vec(x0.clone(), &[1, N]).unwrap());
    let g = rosenbrock(x).backward();
    for i in 0..N {
        // d/dx_i = -4B x_i (x_{i+1} - x_i^2) - 2 (A - x_i) [i < n-1] + 2B (x_i - x_{i-1}^2) [i > 0]
        let mut want = 0.0;
        if i < N - 1 {
            want += -4.0 * B * x0[i] * (x0[i + 1] - x0[i] * x0[i]) - 2.0 * (A - x0[i]);
        }
        if i > 0 {
            want += 2.0 * B * (x0[i] - x0[i - 1] * x0[i - 1]);
        }
        assert!((g[x].get(&[0, i]) - want).abs() < 1e-10, "i={i}");
    }
}

#[test]
fn hessian_vector_products_match_closed_form() {
    let x0 = point();
    let h = hessian(&x0);
    for seed in 0..3 {
        let v = Tensor::<f64>::randn(&[1, N], seed);
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::from_vec(x0.clone(), &[1, N]).unwrap());
        let g = tape.grad(&[rosenbrock(x)], &[x])[0];
        // H v = d/dx (grad f(x) . v)
        let gv = (g * tape.constant(v.clone())).sum();
        let hv = tape.grad(&[gv], &[x])[0].value();
        for i in 0..N {
            let want: f64 = (0..N).map(|j| h[i][j] * v.get(&[0, j])).sum();
            assert!(
                (hv.get(&[0, i]) - want).abs() < 1e-9 * want.abs().max(1.0),
                "seed {seed} i {i}"
            );
        }
    }
}

#[test]
fn full_hessian_by_differentiating_each_gradient_component() {
    let x0 = point();
    let h = hessian(&x0);
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::from_vec(x0.clone(), &[1, N]).unwrap());
    let g = tape.grad(&[rosenbrock(x)], &[x])[0];
    for i in 0..N {
        let mut e = vec![0.0; N];
        e[i] = 1.0;
        let gi = (g * tape.constant(Tensor::from_vec(e, &[1, N]).unwrap())).sum();
        let row = tape.grad(&[gi], &[x])[0].value();
        for j in 0..N {
            assert!(
                (row.get(&[0, j]) - h[i][j]).abs() < 1e-9 * h[i][j].abs().max(1.0),
                "H[{i}][{j}]"
            );
        }
    }
}

#[test]
fn rosenbrock_hessian_is_confirmed_by_gradgradcheck() {
    // gradgradcheck differentiates the recorded gradient numerically, i.e. checks the Hessian.
    let x = Tensor::from_vec(point(), &[1, N]).unwrap();
    gradgradcheck(|v| rosenbrock(v[0]), &[x], &CheckOptions::default()).unwrap();
}
