//! Behaviour of the tape itself: leaves, detach, no_grad, freeing, retaining, keys, anomaly
//! detection, missing backward rules and misuse.

use wengert_autograd::{BackwardContext, Error, InputGrads, Op, Tape, Tensor};

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).unwrap()
}

#[test]
fn constants_get_no_gradient_and_vars_do() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::scalar(2.0));
    let c = tape.constant(Tensor::scalar(3.0));
    let grads = (x * c).tanh().backward();
    // d/dx tanh(3x) = 3 (1 - tanh^2(6))
    assert!((grads[x].item() - 3.0 * (1.0 - 6f64.tanh().powi(2))).abs() < 1e-15);
    assert!(grads.get(c).is_none());
    assert_eq!(grads.len(), 1);
}

#[test]
fn detach_cuts_the_gradient_but_keeps_the_value() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::scalar(3.0));
    let y = x * x.detach(); // value x^2, gradient as if d/dx (x * const) = const
    assert_eq!(y.item(), 9.0);
    assert_eq!(y.backward()[x].item(), 3.0);
}

#[test]
fn no_grad_results_do_not_require_grad_and_the_flag_is_restored() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::scalar(2.0));
    let y = tape.no_grad(|| x.exp());
    assert!(!y.requires_grad());
    assert!(tape.is_grad_enabled());
    let err = (y * 2.0).try_backward().expect_err("nothing requires grad");
    assert!(err.to_string().contains("does not require grad"), "{err}");
    let z = (x * 2.0).exp();
    assert!(z.requires_grad());
}

#[test]
fn backward_frees_intermediate_values_unless_retained() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::ones(&[1000]));
    let mut y = x;
    for _ in 0..10 {
        y = (y * 1.5).tanh();
    }
    let loss = y.sum();
    let before = tape.value_bytes();
    let grads = loss.backward();
    let after = tape.value_bytes();
    assert_eq!(grads[x].shape(), &[1000]);
    // Only the leaf (8000 bytes) and the scalar loss remain.
    assert_eq!(after, 1000 * 8 + 8, "before {before}");
    assert!(before > 20 * 1000 * 8);
    assert!(loss.item().is_finite(), "the output's value is kept");
}

#[test]
fn value_bytes_counts_a_buffer_that_values_share_once() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::ones(&[4, 25]));
    let y = x.exp(); // its own buffer
    let _view = y.reshape(&[100]); // the same buffer as y
    assert_eq!(tape.value_bytes(), 2 * 100 * 8);
    let _copy = y * 2.0; // a new one
    assert_eq!(tape.value_bytes(), 3 * 100 * 8);
}

#[test]
fn reading_a_freed_value_panics_with_advice_and_retain_keeps_it() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::scalar(0.5));
    let h = x.exp();
    let loss = h.tanh();
    loss.backward();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.value())).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("`exp`") && msg.contains("backward_retain"),
        "{msg}"
    );
    assert_eq!(
        loss.item(),
        0.5f64.exp().tanh(),
        "the output's value is kept"
    );

    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::scalar(0.5));
    let h = x.exp();
    let loss = h.tanh();
    let g1 = loss.backward_retain();
    assert_eq!(h.item(), 0.5f64.exp());
    let g2 = loss.backward();
    assert_eq!(
        g1[x].item(),
        g2[x].item(),
        "a retained graph can be swept again"
    );
    let again = loss.try_backward().expect_err("values are now freed");
    assert!(matches!(again, Error::Backward { .. }), "{again}");
}

#[test]
fn gradients_accumulate_over_fan_out() {
    let tape = Tape::<f64>::new();
    let x = tape.var(t(&[1.0, 2.0], &[2]));
    // d/dx sum(x*x + x + exp(x)) = 2x + 1 + e^x
    let y = (x * x + x + x.exp()).sum();
    let g = y.backward();
    assert!((g[x].get(&[1]) - (5.0 + 2f64.exp())).abs() < 1e-12);
}

#[test]
fn grads_are_found_by_key() {
    let tape = Tape::<f64>::new();
    let w = tape.var_with_key(Tensor::scalar(2.0), 42);
    let b = tape.var_with_key(Tensor::scalar(1.0), 7);
    let g = (w * 3.0 + b).backward();
    assert_eq!(g.by_key(42).unwrap().item(), 3.0);
    assert_eq!(g.by_key(7).unwrap().item(), 1.0);
    assert!(g.by_key(8).is_none());
}

#[test]
fn a_key_enters_a_tape_once_and_its_gradient_sums_over_uses() {
    let tape = Tape::<f64>::new();
    let w1 = tape.var_with_key(Tensor::scalar(2.0), 5);
    let w2 = tape.var_with_key(Tensor::scalar(99.0), 5); // same key: the same leaf
    assert_eq!(w1.id(), w2.id());
    assert_eq!(w2.item(), 2.0);
    // d/dw (w * w * 3) = 6w = 12
    let g = (w1 * w2 * 3.0).backward();
    assert_eq!(g.by_key(5).unwrap().item(), 12.0);
}

#[test]
fn grad_of_an_unrelated_input_is_zero() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::scalar(2.0));
    let unused = tape.var(t(&[1.0, 2.0], &[2]));
    let g = tape.grad(&[x * x], &[x, unused]);
    assert_eq!(g[0].item(), 4.0);
    assert_eq!(g[1].value().to_vec(), vec![0.0, 0.0]);
}

#[test]
fn grad_of_several_outputs_is_their_sum() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::scalar(2.0));
    // d/dx (x^2 + x^3) = 2x + 3x^2 = 16
    let g = tape.grad(&[x * x, x * x * x], &[x]);
    assert_eq!(g[0].item(), 16.0);
}

#[test]
fn vector_jacobian_product_with_a_seed() {
    let tape = Tape::<f64>::new();
    let x = tape.var(t(&[1.0, 2.0, 3.0], &[3]));
    let y = x * x; // Jacobian diag(2x)
    let g = y.backward_with(t(&[1.0, 0.5, -1.0], &[3]), false).unwrap();
    assert_eq!(g[x].to_vec(), vec![2.0, 2.0, -6.0]);
}

#[test]
fn anomaly_mode_reports_the_forward_op_and_the_line() {
    let tape = Tape::<f64>::new();
    tape.set_detect_anomaly(true);
    let x = tape.var(t(&[1.0, 0.0], &[2]));
    let line = line!() + 1;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x.powf(-1.0)));
    let msg = r.unwrap_err().downcast_ref::<String>().cloned().unwrap();
    assert!(msg.contains("anomaly detected: forward of `powf`"), "{msg}");
    assert!(msg.contains(&format!("tape.rs:{line}")), "{msg}");
}

#[test]
fn anomaly_mode_reports_a_non_finite_gradient_in_backward() {
    let tape = Tape::<f64>::new();
    tape.set_detect_anomaly(true);
    let x = tape.var(t(&[0.0, 4.0], &[2]));
    // sqrt-like: x^0.5 is finite at 0 but its derivative 0.5 x^-0.5 is not.
    let y = x.powf(0.5).sum();
    let err = y.try_backward().expect_err("infinite gradient");
    assert!(matches!(err, Error::NonFinite { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("backward of `powf`") && msg.contains("tests/tape.rs"),
        "{msg}"
    );
    // Without anomaly mode the infinity simply propagates, as in PyTorch.
    tape.set_detect_anomaly(false);
    let y = x.powf(0.5).sum();
    assert!(y.backward()[x].get(&[0]).is_infinite());
}

/// An op with a forward and no backward rule.
struct Opaque;
impl Op<f64> for Opaque {
    fn name(&self) -> &'static str {
        "opaque"
    }
    fn forward(&self, inputs: &[&Tensor<f64>]) -> Tensor<f64> {
        inputs[0].map(|v| v * 2.0)
    }
}

#[test]
fn a_missing_backward_is_an_error_naming_the_op_and_line() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::scalar(1.0));
    let line = line!() + 1;
    let y = tape.apply(Opaque, &[x]).tanh();
    assert_eq!(y.item(), 2f64.tanh(), "the forward works");
    let err = y.try_backward().expect_err("no backward rule");
    assert!(
        matches!(err, Error::NoBackward { op: "opaque", .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains(&format!("tests/tape.rs:{line}")),
        "{err}"
    );
    let panic =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| y.backward())).unwrap_err();
    assert!(panic.downcast_ref::<String>().unwrap().contains("`opaque`"));
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tape.grad(&[y], &[x])))
        .unwrap_err();
    assert!(panic.downcast_ref::<String>().unwrap().contains("`opaque`"));
}

/// A custom op whose backward returns a gradient of the wrong shape.
struct WrongShape;
impl Op<f64> for WrongShape {
    fn name(&self) -> &'static str {
        "wrong_shape"
    }
    fn forward(&self, inputs: &[&Tensor<f64>]) -> Tensor<f64> {
        inputs[0].clone()
    }
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, f64>) -> InputGrads<'t, f64> {
        [Some(cx.grad().sum())].into()
    }
}

#[test]
#[should_panic(
    expected = "backward of `wrong_shape` returned a gradient of shape [] for input 0 of shape [3]"
)]
fn a_custom_backward_with_a_wrong_shape_panics() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::ones(&[3]));
    tape.apply(WrongShape, &[x]).sum().backward();
}

#[test]
#[should_panic(expected = "wrong_shape: an input belongs to another tape (created at ")]
fn a_custom_op_given_an_input_from_another_tape_panics_naming_it() {
    let a = Tape::<f64>::new();
    let b = Tape::<f64>::new();
    let x = a.var(Tensor::ones(&[3]));
    let y = b.var(Tensor::ones(&[3]));
    // the second input is the foreign one
    let _ = a.apply(WrongShape, &[x, y]);
}

#[test]
fn an_op_on_a_freed_value_panics_naming_the_op_and_the_value() {
    for inputs in 1..=3 {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::scalar(0.5));
        let h = x.exp();
        h.tanh().backward(); // frees h
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let args = vec![x; inputs - 1];
            let _ = tape.apply(WrongShape, &[&args[..], &[h]].concat());
        }))
        .unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(
            msg.contains("wrong_shape: the value of `exp`") && msg.contains("backward_retain"),
            "{inputs} inputs: {msg}"
        );
    }
}

/// Returns one gradient whatever the number of inputs.
struct OneGradient;
impl Op<f64> for OneGradient {
    fn name(&self) -> &'static str {
        "one_gradient"
    }
    fn forward(&self, inputs: &[&Tensor<f64>]) -> Tensor<f64> {
        inputs[0].clone()
    }
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, f64>) -> InputGrads<'t, f64> {
        [Some(cx.grad().clone())].into()
    }
}

#[test]
fn a_rule_returning_too_few_gradients_panics_naming_the_op() {
    for inputs in 2..=3 {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::scalar(0.5));
        let y = tape.apply(OneGradient, &vec![x; inputs]);
        let err =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| y.backward())).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert_eq!(
            msg,
            &format!("backward of `one_gradient` returned 1 gradients for {inputs} inputs")
        );
    }
}

#[test]
#[should_panic(expected = "mul: operands belong to different tapes")]
fn mixing_tapes_panics() {
    let a = Tape::<f64>::new();
    let b = Tape::<f64>::new();
    let _ = a.var(Tensor::scalar(1.0)) * b.var(Tensor::scalar(1.0));
}

#[test]
#[should_panic(expected = "backward: the output must have one element, got shape [2]")]
fn backward_of_a_non_scalar_panics() {
    let tape = Tape::<f64>::new();
    tape.var(Tensor::ones(&[2])).exp().backward();
}

#[test]
fn reset_reuses_the_tape() {
    let mut tape = Tape::<f32>::with_capacity(16);
    {
        let x = tape.var(Tensor::scalar(1.0));
        let _ = (x * 2.0).backward();
    }
    assert_eq!(tape.len(), 2);
    tape.reset();
    assert!(tape.is_empty());
    let x = tape.var(Tensor::scalar(3.0));
    assert_eq!((x * x).backward()[x].item(), 6.0);
}

#[test]
fn var_debug_shows_op_location_and_value() {
    let tape = Tape::<f32>::new();
    let x = tape.var(Tensor::scalar(1.5));
    let s = format!("{:?}", x.exp());
    assert!(
        s.contains("exp at") && s.contains("tests/tape.rs") && s.contains("4.48"),
        "{s}"
    );
}
