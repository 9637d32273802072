//! Dense, softmax, log_softmax and the losses against PyTorch's f64 values
//! (`tests/fixtures/reference/layers.safetensors`, described in its README; override the
//! directory with `WENGERT_REFERENCE_DIR`). Shapes are read from the file.
//!
//! Tolerance: every value and gradient element must satisfy
//! `|got - want| <= 1e-9 * max(|want|, 1e-12)`, i.e. 1e-9 relative, with an absolute floor of
//! 1e-21 for elements that are (numerically) zero.

use std::collections::HashMap;
use std::path::PathBuf;

use wengert_autograd::{Tape, Tensor, Var};
use wengert_nn::{Dense, Module, loss, weights::read_tensors};

const REL: f64 = 1e-9;

fn fixture() -> HashMap<String, Tensor<f64>> {
    let dir = std::env::var_os("WENGERT_REFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/reference"
            ))
        });
    let path = dir.join("layers.safetensors");
    read_tensors::<f64>(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .into_iter()
        .collect()
}

fn get<'a>(f: &'a HashMap<String, Tensor<f64>>, key: &str) -> &'a Tensor<f64> {
    f.get(key)
        .unwrap_or_else(|| panic!("fixture has no tensor `{key}`"))
}

/// Compares element by element with `|a - b| <= 1e-9 * max(|b|, 1e-12)`; shapes must hold the
/// same number of elements (a loss is `[1]` in the file and a scalar here).
fn assert_close(what: &str, got: &Tensor<f64>, want: &Tensor<f64>) {
    assert_eq!(
        got.numel(),
        want.numel(),
        "{what}: {:?} vs {:?}",
        got.shape(),
        want.shape()
    );
    if want.numel() > 1 {
        assert_eq!(got.shape(), want.shape(), "{what}: shapes differ");
    }
    for (i, (a, b)) in got.data().iter().zip(want.data()).enumerate() {
        assert!(a.is_finite(), "{what}[{i}] is not finite: {a}");
        let tol = REL * b.abs().max(1e-12);
        assert!(
            (a - b).abs() <= tol,
            "{what}[{i}]: got {a:.17e}, PyTorch {b:.17e} (diff {:.3e} > tol {tol:.3e})",
            (a - b).abs()
        );
    }
}

#[test]
fn dense_matches_pytorch_linear() {
    let f = fixture();
    let layer = Dense::from_tensors(
        get(&f, "dense.weight").clone(),
        Some(get(&f, "dense.bias").clone()),
    )
    .unwrap();
    let tape = Tape::new();
    let x = tape.var(get(&f, "dense.x").clone());
    let y = layer.forward(x);
    assert_close("dense.y", &y.value(), get(&f, "dense.y"));
    // loss = sum(y * r)
    let g = (y * tape.constant(get(&f, "dense.r").clone()))
        .sum()
        .backward();
    assert_close("dense.grad_x", &g[x], get(&f, "dense.grad_x"));
    assert_close(
        "dense.grad_weight",
        &g[layer.weight()],
        get(&f, "dense.grad_weight"),
    );
    assert_close(
        "dense.grad_bias",
        &g[layer.bias().unwrap()],
        get(&f, "dense.grad_bias"),
    );
}

fn labels(t: &Tensor<f64>) -> Vec<usize> {
    t.data()
        .iter()
        .map(|&v| {
            assert!(
                v >= 0.0 && v.fract() == 0.0,
                "label {v} is not a class index"
            );
            v as usize
        })
        .collect()
}

#[test]
fn cross_entropy_matches_pytorch() {
    let f = fixture();
    for case in ["cross_entropy_normal", "cross_entropy_extreme"] {
        let tape = Tape::new();
        let z = tape.var(get(&f, &format!("{case}.logits")).clone());
        let l = loss::cross_entropy(z, &labels(get(&f, &format!("{case}.labels"))));
        assert_close(
            &format!("{case}.loss"),
            &l.value(),
            get(&f, &format!("{case}.loss")),
        );
        let g = l.backward();
        assert_close(
            &format!("{case}.grad_logits"),
            &g[z],
            get(&f, &format!("{case}.grad_logits")),
        );
    }
    // the extreme case really is extreme
    let z = get(&f, "cross_entropy_extreme.logits");
    assert!(z.data().iter().any(|v| v.abs() >= 500.0));
}

fn softmax_like(case: &str, op: for<'t> fn(Var<'t, f64>) -> Var<'t, f64>) {
    let f = fixture();
    let tape = Tape::new();
    let x = tape.var(get(&f, &format!("{case}.x")).clone());
    let y = op(x);
    assert_close(
        &format!("{case}.y"),
        &y.value(),
        get(&f, &format!("{case}.y")),
    );
    // loss = sum(y * r)
    let g = (y * tape.constant(get(&f, &format!("{case}.r")).clone()))
        .sum()
        .backward();
    assert_close(
        &format!("{case}.grad_x"),
        &g[x],
        get(&f, &format!("{case}.grad_x")),
    );
}

#[test]
fn log_softmax_matches_pytorch() {
    softmax_like("log_softmax_normal", |x| x.log_softmax(-1));
    softmax_like("log_softmax_extreme", |x| x.log_softmax(-1));
}

#[test]
fn softmax_matches_pytorch() {
    softmax_like("softmax_normal", |x| x.softmax(-1));
    softmax_like("softmax_extreme", |x| x.softmax(-1));
}

#[test]
fn softmax_layer_is_the_same_op() {
    // the Softmax layer on the last axis gives PyTorch's values too
    softmax_like("softmax_extreme", |x| {
        Module::forward(&wengert_nn::Softmax, x)
    });
}

#[test]
fn bce_with_logits_matches_pytorch() {
    let f = fixture();
    for case in ["bce_with_logits_normal", "bce_with_logits_extreme"] {
        let tape = Tape::new();
        let x = tape.var(get(&f, &format!("{case}.logits")).clone());
        let t = tape.constant(get(&f, &format!("{case}.targets")).clone());
        let l = loss::bce_with_logits(x, t);
        assert_close(
            &format!("{case}.loss"),
            &l.value(),
            get(&f, &format!("{case}.loss")),
        );
        let g = l.backward();
        assert_close(
            &format!("{case}.grad_logits"),
            &g[x],
            get(&f, &format!("{case}.grad_logits")),
        );
    }
}

#[test]
fn mse_matches_pytorch() {
    let f = fixture();
    let tape = Tape::new();
    let p = tape.var(get(&f, "mse.pred").clone());
    let l = loss::mse(p, tape.constant(get(&f, "mse.target").clone()));
    assert_close("mse.loss", &l.value(), get(&f, "mse.loss"));
    let g = l.backward();
    assert_close("mse.grad_pred", &g[p], get(&f, "mse.grad_pred"));
}
