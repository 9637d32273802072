//! A custom op defined outside the autograd crate, through the public API only
//! (`wengert::prelude::*`): swish, `y = x * sigmoid(x)`, with a hand-written forward on tensors
//! (a numerically stable sigmoid) and a hand-written backward written with `Operand` operations,
//! so that the same rule serves first-order `backward()` and, recorded on the tape, second-order
//! gradients. The example checks both orders against finite differences with `gradcheck` and
//! `gradgradcheck`, shows that an op without a backward rule makes `try_backward()` fail with
//! `Error::NoBackward` naming the op and the line that applied it, and ends with one JSON line
//! holding the worst first- and second-order errors.
//!
//! Run: `cargo run --release -p examples --example custom_op`. See `docs/custom-ops.md`.

use wengert::check::{CheckError, CheckReport};
use wengert::prelude::*;

/// Swish (also called SiLU): `y = x * sigmoid(x)`, elementwise.
struct Swish;

/// `1 / (1 + e^-x)` without overflow: `e^-x` is only evaluated for `x >= 0`, and `e^x` only for
/// `x < 0`, so the exponential never exceeds 1.
fn stable_sigmoid<T: Float>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

impl<T: Float> Op<T> for Swish {
    fn name(&self) -> &'static str {
        "swish"
    }

    fn forward(&self, inputs: &[&Tensor<T>]) -> Tensor<T> {
        inputs[0].map(|x| x * stable_sigmoid(x))
    }

    // d/dx swish = s + x s (1 - s), with s = sigmoid(x) = (1 + tanh(x / 2)) / 2.
    // The tanh form is a differentiable composition of existing ops that is stable for any |x|;
    // with 1 / (1 + exp(-x)), exp overflows for x < -88 (f32) or -709 (f64) and the recorded
    // second-order sweep then computes inf / inf = NaN.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let half = T::from_f64(0.5);
        let (x, g) = (cx.input(0), cx.grad());
        let s = (x * half).tanh() * half + half;
        let ds = &s + x * &s * s.rsub_scalar(T::ONE);
        [Some(g * ds)].into()
    }
}

/// Rounds to the nearest multiple of 1/4, and deliberately has NO backward rule: it keeps the
/// default `Op::backward`, so a backward pass that reaches it fails instead of cutting the graph.
struct Quantize;

impl<T: Float> Op<T> for Quantize {
    fn name(&self) -> &'static str {
        "quantize"
    }

    fn forward(&self, inputs: &[&Tensor<T>]) -> Tensor<T> {
        let q = T::from_f64(4.0);
        inputs[0].map(|x| T::from_f64((x * q).to_f64().round()) / q)
    }
}

/// The function under test; a `fn` item, so it can be passed to both checkers.
fn swish<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
    v[0].tape().apply(Swish, &[v[0]])
}

/// Swish followed by a nonlinear op and a product with the input, so the upstream gradient is not
/// a one-hot seed and the op is checked inside a larger graph.
fn swish_in_a_graph<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
    (swish(v) * v[0]).tanh().sum()
}

fn main() {
    let opts = CheckOptions::default();
    // A few dozen inputs in [-6, 6]; swish is smooth everywhere, so no kinks to avoid.
    let inputs = [Tensor::<f64>::rand_uniform(&[4, 8], -6.0, 6.0, 42)];
    let x = &inputs[0];
    println!(
        "custom op `swish` on {} random f64 inputs in [-6, 6] (eps {:e}, atol {:e}, rtol {:e})",
        x.numel(),
        opts.eps,
        opts.atol,
        opts.rtol
    );

    // Values and gradients agree with the same function built from built-in ops.
    let tape = Tape::<f64>::new();
    let xv = tape.var(x.clone());
    let custom = tape.apply(Swish, &[xv]);
    let builtin = xv * ((xv * 0.5).tanh() * 0.5 + 0.5);
    let dc = tape.grad(&[custom.sum()], &[xv])[0].value();
    let db = tape.grad(&[builtin.sum()], &[xv])[0].value();
    println!(
        "vs built-in composition: max |value diff| {:.1e}, max |gradient diff| {:.1e}",
        custom
            .value()
            .max_abs_diff(&builtin.value())
            .unwrap_or(f64::NAN),
        dc.max_abs_diff(&db).unwrap_or(f64::NAN)
    );
    // Large |x| in f32: the stable forms give 0 and x, never NaN.
    let tape32 = Tape::<f32>::new();
    let big = tape32.var(Tensor::from_slice(&[-200.0f32, 200.0]));
    let y32 = tape32.apply(Swish, &[big]);
    let values = y32.value().to_vec(); // read before backward(), which frees intermediate values
    let g32 = y32.sum().backward();
    println!(
        "f32 at x = [-200, 200]: swish = {values:?}, d/dx = {:?}",
        g32[big].to_vec()
    );

    let first = report(
        "gradcheck (first order, the full 32 x 32 Jacobian)",
        gradcheck(swish, &inputs, &opts),
    );
    let second = report(
        "gradgradcheck (second order, through the recorded backward)",
        gradgradcheck(swish, &inputs, &opts),
    );
    let in_graph = [
        report(
            "gradcheck of sum(tanh(swish(x) * x))",
            gradcheck(swish_in_a_graph, &inputs, &opts),
        ),
        report(
            "gradgradcheck of sum(tanh(swish(x) * x))",
            gradgradcheck(swish_in_a_graph, &inputs, &opts),
        ),
    ];

    let no_backward_ok = demonstrate_missing_backward();

    let passed = |r: &Result<CheckReport, f64>| r.is_ok();
    let worst = |r: &Result<CheckReport, f64>| match r {
        Ok(rep) => rep.max_abs_error,
        Err(abs) => *abs,
    };
    let all_passed =
        passed(&first) && passed(&second) && in_graph.iter().all(passed) && no_backward_ok;
    println!(
        "{{\"example\":\"custom_op\",\"first_order_max_abs_error\":{:e},\"second_order_max_abs_error\":{:e},\"first_order_passed\":{},\"second_order_passed\":{}}}",
        worst(&first),
        worst(&second),
        passed(&first),
        passed(&second)
    );
    if !all_passed {
        std::process::exit(1);
    }
}

/// Prints one check's outcome; on failure keeps the failing element's absolute error.
fn report(what: &str, result: Result<CheckReport, CheckError>) -> Result<CheckReport, f64> {
    match result {
        Ok(rep) => {
            println!(
                "{what}: passed, {} elements, max abs error {:.2e}, max rel error {:.2e}",
                rep.checked, rep.max_abs_error, rep.max_rel_error
            );
            Ok(rep)
        }
        Err(err) => {
            println!("{what}: FAILED: {err}");
            Err(err.abs_error)
        }
    }
}

/// An op without a backward rule makes `try_backward()` return `Error::NoBackward`, naming the op
/// and the line that applied it. Returns whether that is what happened.
fn demonstrate_missing_backward() -> bool {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::from_slice(&[0.3, -1.1, 2.6]));
    let q = tape.apply(Quantize, &[x]); // the line the error names
    let loss = (q * q).sum();
    match loss.try_backward() {
        Err(Error::NoBackward { op, location }) => {
            println!(
                "op without backward: try_backward() -> Err(NoBackward {{ op: {op:?}, location: {location:?} }})"
            );
            println!("  message: {}", Error::NoBackward { op, location });
            true
        }
        Err(other) => {
            println!("op without backward: FAILED: expected Error::NoBackward, got: {other}");
            false
        }
        Ok(grads) => {
            println!(
                "op without backward: FAILED: try_backward() returned Ok and silently cut the \
                 graph (gradient of x: {:?})",
                grads.get(x).map(|g| g.to_vec())
            );
            false
        }
    }
}
