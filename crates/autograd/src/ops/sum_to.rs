//! `sum_to`: the reduction that undoes a broadcast.

use crate::tensor::shape::{Shape, broadcasts_to};
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = x summed over the axes along which `shape` broadcasts to x's shape`.
struct SumTo(Shape);

impl<T: Float> Op<T> for SumTo {
    fn name(&self) -> &'static str {
        "sum_to"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].sum_to(&self.0)
    }

    // Each output element is a sum of input elements, so dy/dx = 1: broadcast the gradient back.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        [Some(cx.grad().broadcast_to(&cx.input(0).shape()))].into()
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Sums `x` down to `shape`, which must broadcast to `x`'s shape: the adjoint of
    /// [`broadcast_to`](Self::broadcast_to), used by every broadcasting op's backward.
    /// Leading axes are summed away, axes of length 1 in `shape` are summed with keepdim.
    /// PyTorch: `x.sum_to_size(shape)`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap());
    /// assert_eq!(x.sum_to(&[3]).value().to_vec(), vec![5.0, 7.0, 9.0]);
    /// assert_eq!(x.sum_to(&[2, 1]).value().to_vec(), vec![6.0, 15.0]);
    /// ```
    ///
    /// # Panics
    /// If `shape` does not broadcast to `x`'s shape:
    /// `sum_to: shape [2, 3] cannot be summed to [2]`.
    #[track_caller]
    pub fn sum_to(self, shape: &[usize]) -> Var<'t, T> {
        check(&self.shape(), shape);
        self.tape.apply(SumTo(shape.into()), &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::sum_to`] on operands; returns a clone when the shape already matches.
    #[track_caller]
    pub fn sum_to(&self, shape: &[usize]) -> Operand<'t, T> {
        let own = self.shape();
        if own.as_slice() == shape {
            return self.clone();
        }
        check(&own, shape);
        Operand::apply(SumTo(shape.into()), &[self])
    }
}

#[track_caller]
fn check(from: &[usize], to: &[usize]) {
    assert!(
        broadcasts_to(to, from),
        "sum_to: shape {from:?} cannot be summed to {to:?} (it must broadcast back to the input)"
    );
}

#[cfg(test)]
mod tests {
    use super::super::test_util::check_both;
    use crate::{Tape, Tensor};

    #[test]
    fn gradient_broadcasts_back() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::ones(&[2, 3]));
        // d/dx sum((sum_to(x, [3]))^2) = 2 * column sum = 4 everywhere
        let s = x.sum_to(&[3]);
        assert_eq!((s * s).sum().backward()[x].to_vec(), vec![4.0; 6]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_both(
            |x| x[0].sum_to(&[3, 1]).tanh(),
            &[Tensor::randn(&[2, 3, 4], 1)],
        );
    }

    #[test]
    #[should_panic(expected = "sum_to: shape [2, 3] cannot be summed to [2]")]
    fn incompatible_shape_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 3])).sum_to(&[2]);
    }
}
