//! `broadcast_to`: repeat along axes of length 1 and new leading axes.

use crate::tensor::shape::{Shape, broadcasts_to};
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = x repeated to `shape``.
struct BroadcastTo(Shape);

impl<T: Float> Op<T> for BroadcastTo {
    fn name(&self) -> &'static str {
        "broadcast_to"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].broadcast_to(&self.0)
    }

    // Each input element feeds several outputs: its gradient is their sum.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        [Some(cx.grad().sum_to(&cx.input(0).shape()))].into()
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Repeats `x` along axes of length 1 (and new leading axes) to reach `shape`, numpy rules.
    /// Derivative: the gradient is summed back with [`sum_to`](Self::sum_to).
    /// PyTorch: `x.expand(shape)` (but the result is materialised).
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, 2.0], &[2, 1]).unwrap());
    /// let y = x.broadcast_to(&[2, 3]);
    /// assert_eq!(y.value().to_vec(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    /// assert_eq!(y.sum().backward()[x].to_vec(), vec![3.0, 3.0]);
    /// ```
    ///
    /// # Panics
    /// If the shape does not broadcast: `broadcast_to: shape [2] does not broadcast to [3]`.
    #[track_caller]
    pub fn broadcast_to(self, shape: &[usize]) -> Var<'t, T> {
        check(&self.shape(), shape);
        self.tape.apply(BroadcastTo(shape.into()), &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::broadcast_to`] on operands; returns a clone when the shape already matches.
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Operand<'t, T> {
        let own = self.shape();
        if own.as_slice() == shape {
            return self.clone();
        }
        check(&own, shape);
        Operand::apply(BroadcastTo(shape.into()), &[self])
    }
}

#[track_caller]
fn check(from: &[usize], to: &[usize]) {
    assert!(
        broadcasts_to(from, to),
        "broadcast_to: shape {from:?} does not broadcast to {to:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::super::test_util::check_both;
    use crate::{Tape, Tensor};

    #[test]
    fn gradients_match_finite_differences() {
        check_both(
            |x| x[0].broadcast_to(&[2, 3, 4]).tanh(),
            &[Tensor::randn(&[3, 1], 1)],
        );
    }

    #[test]
    #[should_panic(expected = "broadcast_to: shape [2] does not broadcast to [3]")]
    fn incompatible_shape_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2])).broadcast_to(&[3]);
    }
}
