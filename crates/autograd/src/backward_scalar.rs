//! The eager sweep's fast path for one-element nodes: an op with a rule on numbers
//! ([`Op::scalar_backward`](crate::Op::scalar_backward)) has its input gradients computed in `T` and kept as bare numbers
//! ([`Grad::Scalar`]): no operands, rule result, shape checks or tensors to build. A scalar
//! chain's node costs about 200 instructions instead of 470 (`tape_profile affine`).

use crate::backward::freed_error;
use crate::op_slot::OpSlot;
use crate::tape::{Node, NodeId};
use crate::tensor::shape::copy_shape;
use crate::{Error, Float, Tensor};

/// A gradient being summed during the eager sweep.
pub(crate) enum Grad<T: Float> {
    /// Nothing has reached this node.
    Empty,
    /// A gradient of the node's shape.
    Tensor(Tensor<T>),
    /// The gradient of a one-element node, without its shape (the node's value has it).
    Scalar(T),
}

impl<T: Float> Grad<T> {
    /// Empties the slot, returning what it held.
    #[inline(always)]
    pub(crate) fn take(&mut self) -> Grad<T> {
        std::mem::replace(self, Grad::Empty)
    }

    /// The gradient as a tensor of `shape` (the node's), `None` if empty.
    #[inline]
    pub(crate) fn into_tensor(self, shape: &[usize]) -> Option<Tensor<T>> {
        match self {
            Grad::Empty => None,
            Grad::Tensor(t) => Some(t),
            Grad::Scalar(v) => Some(Tensor::from_scalar_parts(copy_shape(shape), v)),
        }
    }

    /// The slot's tensor, a bare number turned into a one-element tensor of `shape` first.
    #[inline]
    pub(crate) fn as_tensor_mut(&mut self, shape: &[usize]) -> Option<&mut Tensor<T>> {
        if let Grad::Scalar(v) = *self {
            *self = Grad::Tensor(Tensor::from_scalar_parts(copy_shape(shape), v));
        }
        match self {
            Grad::Tensor(t) => Some(t),
            _ => None,
        }
    }

    /// The value of a one-element gradient.
    #[inline(always)]
    fn one_value(&self) -> Option<T> {
        match self {
            Grad::Scalar(v) => Some(*v),
            Grad::Tensor(t) => t.one_value(),
            Grad::Empty => None,
        }
    }
}

/// Adds node `node`'s input gradients into `grads` through `op.scalar_backward`, given the value
/// `gv` of its one-element gradient, when the output and every input hold one element. Returns
/// `Ok(false)`, having changed nothing, when the node does not qualify (the caller then runs the
/// op's `backward`).
#[inline(always)]
pub(crate) fn try_scalar_rule<T: Float>(
    all: &[Node<T>],
    node: &Node<T>,
    op: &OpSlot<T>,
    input_ids: &[NodeId],
    gv: T,
    grads: &mut [Grad<T>],
) -> Result<bool, Error> {
    let Some(y) = one_value_of(node)? else {
        return Ok(false);
    };
    // Unary and binary nodes spelled out: a loop's bookkeeping costs as much as the rule.
    match *input_ids {
        [a] => {
            let Some(x) = one_value_of(&all[a as usize])? else {
                return Ok(false);
            };
            let mut dx = [T::ZERO];
            if !op.scalar_backward(&[x], y, gv, &mut dx) {
                return Ok(false);
            }
            add_scalar_grad(all, grads, a, dx[0]);
        }
        [a, b] => {
            let (Some(x0), Some(x1)) = (
                one_value_of(&all[a as usize])?,
                one_value_of(&all[b as usize])?,
            ) else {
                return Ok(false);
            };
            let mut dx = [T::ZERO; 2];
            if !op.scalar_backward(&[x0, x1], y, gv, &mut dx) {
                return Ok(false);
            }
            add_scalar_grad(all, grads, a, dx[0]);
            add_scalar_grad(all, grads, b, dx[1]);
        }
        _ => return Ok(false),
    }
    #[cfg(test)]
    tests::TAKEN.with(|n| n.set(n.get() + 1));
    Ok(true)
}

/// The value of a one-element node, `None` for a larger one.
///
/// # Errors
/// If an earlier `backward()` freed the node's value.
#[inline(always)]
fn one_value_of<T: Float>(node: &Node<T>) -> Result<Option<T>, Error> {
    match node.value.as_ref() {
        Some(v) => Ok(v.one_value()),
        None => Err(freed_error(node.name(), node.location)),
    }
}

/// Adds `gk` into input `j`'s gradient (earlier gradient + this one, the general path's order)
/// if that input requires grad.
#[inline(always)]
fn add_scalar_grad<T: Float>(all: &[Node<T>], grads: &mut [Grad<T>], j: NodeId, gk: T) {
    if !all[j as usize].requires_grad {
        return;
    }
    let slot = &mut grads[j as usize];
    *slot = Grad::Scalar(match slot.one_value() {
        Some(prev) => prev + gk,
        None => gk,
    });
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use crate::check::{CheckOptions, gradcheck};
    use crate::ops::test_util::t;
    use crate::{Error, Tape, Tensor, Var};

    thread_local! {
        /// Nodes swept through `try_scalar_rule` on this thread.
        pub(super) static TAKEN: Cell<usize> = const { Cell::new(0) };
    }

    fn taken() -> usize {
        TAKEN.with(Cell::get)
    }

    type Unary = for<'t> fn(Var<'t, f64>) -> Var<'t, f64>;

    /// Every unary op with a scalar rule, with points away from its kinks and domain edges.
    const UNARY: [(&str, Unary, &[f64]); 15] = [
        ("neg", |x| -x, &[0.7, -1.3]),
        ("abs", |x| x.abs(), &[0.7, -1.3, 0.0]),
        ("exp", |x| x.exp(), &[0.7, -1.3]),
        ("log", |x| x.log(), &[0.7, 2.5]),
        ("log1p", |x| x.log1p(), &[0.7, -0.4]),
        ("sqrt", |x| x.sqrt(), &[0.7, 2.5]),
        ("tanh", |x| x.tanh(), &[0.7, -1.3]),
        ("sigmoid", |x| x.sigmoid(), &[0.7, -1.3]),
        ("relu", |x| x.relu(), &[0.7, -1.3, 0.0]),
        ("leaky_relu", |x| x.leaky_relu(0.1), &[0.7, -1.3, 0.0]),
        ("softplus", |x| x.softplus(), &[0.7, -1.3]),
        ("powf", |x| x.powf(2.5), &[0.7, 2.5]),
        ("clamp", |x| x.clamp(-1.0, 1.0), &[0.7, -1.3, 1.0]),
        ("mul_scalar", |x| x * 1.7, &[0.7, -1.3]),
        ("add_scalar", |x| x + 1.7, &[0.7, -1.3]),
    ];

    type Binary = for<'t> fn(Var<'t, f64>, Var<'t, f64>) -> Var<'t, f64>;

    const BINARY: [(&str, Binary); 6] = [
        ("add", |a, b| a + b),
        ("sub", |a, b| a - b),
        ("mul", |a, b| a * b),
        ("div", |a, b| a / b),
        ("maximum", |a, b| a.maximum(b)),
        ("minimum", |a, b| a.minimum(b)),
    ];

    /// d/dx of `f(x)` by `backward()` (counting the nodes it took through the scalar path) and by
    /// `grad()`, which always runs the ops' `backward` rules.
    fn both_paths(f: Unary, x: f64) -> (f64, f64, usize) {
        let tape = Tape::<f64>::new();
        let xv = tape.var(Tensor::scalar(x));
        // tanh after the op, so the op's upstream gradient is not 1
        let y = f(xv).tanh() * 0.5;
        let recorded = tape.grad(&[y], &[xv])[0].item();
        let before = taken();
        let swept = y.backward()[xv].item();
        (swept, recorded, taken() - before)
    }

    #[test]
    fn unary_rules_equal_the_ops_backward_exactly() {
        for (name, f, points) in UNARY {
            for &x in points {
                let (swept, recorded, nodes) = both_paths(f, x);
                // f, tanh and the scalar multiply: every node through the fast path
                assert!(
                    nodes >= 3,
                    "{name}: only {nodes} nodes took the scalar path"
                );
                assert_eq!(swept, recorded, "{name} at {x}");
            }
        }
    }

    #[test]
    fn unary_rules_match_finite_differences() {
        let opts = CheckOptions::default();
        for (name, f, points) in UNARY {
            for &x in points.iter().filter(|&&x| x != 0.0 && x != 1.0) {
                if let Err(e) = gradcheck(|v| f(v[0]).tanh(), &[Tensor::scalar(x)], &opts) {
                    panic!("{name} at {x}: {e}");
                }
            }
        }
    }

    #[test]
    fn binary_rules_equal_the_ops_backward_exactly() {
        // (1.5, 1.5) is maximum's and minimum's tie: half the gradient to each input.
        for (a, b) in [(0.7, -1.3), (-0.4, 2.5), (1.5, 1.5)] {
            for (name, f) in BINARY {
                let tape = Tape::<f64>::new();
                let (av, bv) = (tape.var(Tensor::scalar(a)), tape.var(Tensor::scalar(b)));
                let y = f(av, bv).tanh();
                let recorded = tape.grad(&[y], &[av, bv]);
                let (ra, rb) = (recorded[0].item(), recorded[1].item());
                let before = taken();
                let grads = y.backward();
                assert!(
                    taken() - before >= 2,
                    "{name}: the scalar path was not taken"
                );
                assert_eq!(grads[av].item(), ra, "{name} d/da at ({a}, {b})");
                assert_eq!(grads[bv].item(), rb, "{name} d/db at ({a}, {b})");
                if a != b {
                    let inputs = [Tensor::scalar(a), Tensor::scalar(b)];
                    let opts = CheckOptions::default();
                    if let Err(e) = gradcheck(|v| f(v[0], v[1]).tanh(), &inputs, &opts) {
                        panic!("{name} at ({a}, {b}): {e}");
                    }
                }
            }
        }
    }

    #[test]
    fn gradients_keep_each_inputs_shape() {
        // a [1, 1] and b [] broadcast to [1, 1]; each gradient has its own input's shape
        let tape = Tape::<f64>::new();
        let a = tape.var(t(&[0.5], &[1, 1]));
        let b = tape.var(Tensor::scalar(2.0));
        let before = taken();
        let grads = (a * b).tanh().backward();
        assert!(taken() - before >= 2);
        // d/da tanh(ab) = (1 - tanh^2(ab)) b, d/db = (1 - tanh^2(ab)) a
        let d = 1.0 - 1f64.tanh().powi(2);
        assert_eq!(grads[a].shape(), &[1, 1]);
        assert_eq!(grads[b].shape(), &[] as &[usize]);
        assert!((grads[a].item() - 2.0 * d).abs() < 1e-15);
        assert!((grads[b].item() - 0.5 * d).abs() < 1e-15);
    }

    #[test]
    fn scalar_and_tensor_gradients_add_up_in_either_order() {
        // s feeds a one-element node (exp, scalar path) and a broadcast product with a vector
        // (general path); the sweep meets them in both orders depending on creation order.
        // loss = sum(s v) + exp(s) (+ the same again in the other order):
        // d/ds = sum(v) + exp(s) per copy
        let v = t(&[0.5, -1.0, 2.0], &[3]);
        for scalar_first in [true, false] {
            let tape = Tape::<f64>::new();
            let s = tape.var(Tensor::scalar(0.3));
            let vv = tape.constant(v.clone());
            let loss = if scalar_first {
                s.exp() + (s * vv).sum()
            } else {
                (s * vv).sum() + s.exp()
            };
            let got = loss.backward()[s].item();
            let want = 1.5 + 0.3f64.exp();
            assert!(
                (got - want).abs() < 1e-14,
                "scalar_first {scalar_first}: {got}"
            );
        }
        let inputs = [Tensor::scalar(0.3), v];
        gradcheck(
            |x| (x[0].exp() + (x[0] * x[1]).sum()).tanh(),
            &inputs,
            &CheckOptions::default(),
        )
        .expect("mixed paths match finite differences");
    }

    #[test]
    fn a_second_sweep_reports_freed_values_unless_retained() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::scalar(0.5));
        let y = (x * 3.0).tanh() + 1.0;
        let first = y.backward_retain()[x].item();
        assert_eq!(y.backward()[x].item(), first);
        match y.try_backward() {
            Err(Error::Backward { message }) => {
                assert!(message.contains("freed"), "{message}")
            }
            other => panic!("expected a freed-value error, got {other:?}"),
        }
    }

    #[test]
    fn anomaly_detection_still_reports_non_finite_gradients() {
        // d/dx sqrt(x) = 1 / (2 sqrt(x)) is infinite at 0
        let tape = Tape::<f64>::new();
        tape.set_detect_anomaly(true);
        let x = tape.var(Tensor::scalar(0.0));
        let before = taken();
        let result = (x.sqrt() * 2.0).try_backward();
        assert_eq!(
            taken(),
            before,
            "anomaly detection bypasses the scalar path"
        );
        match result {
            Err(Error::NonFinite { message }) => assert!(message.contains("sqrt"), "{message}"),
            other => panic!("expected a non-finite gradient error, got {other:?}"),
        }
    }

    #[test]
    fn larger_tensors_take_the_general_path() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[0.5, -1.0], &[2]));
        let before = taken();
        let grads = (x * 3.0).tanh().sum().backward();
        assert_eq!(taken(), before);
        // d/dx tanh(3x) = 3 (1 - tanh^2(3x))
        let want = |v: f64| 3.0 * (1.0 - (3.0 * v).tanh().powi(2));
        assert!((grads[x].data()[0] - want(0.5)).abs() < 1e-15);
        assert!((grads[x].data()[1] - want(-1.0)).abs() < 1e-15);
    }
}
