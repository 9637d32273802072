//! `reshape`: the same elements in row-major order with another shape.

use crate::tensor::shape::Shape;
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = x viewed with shape `0``.
struct Reshape(Shape);

impl<T: Float> Op<T> for Reshape {
    fn name(&self) -> &'static str {
        "reshape"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].reshape(&self.0)
    }

    // Only the input's shape is read: input and output can be released.
    fn backward_reads_input(&self, _input: usize) -> bool {
        false
    }

    fn backward_reads_output(&self) -> bool {
        false
    }

    // A permutation-free relabelling of elements: reshape the gradient back.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        [Some(cx.grad().reshape(&cx.input(0).shape()))].into()
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// The same elements (row-major order) with another shape; no copy. Derivative: the
    /// gradient is reshaped back. PyTorch: `x.reshape(shape)`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::arange(6));
    /// let y = x.reshape(&[2, 3]);
    /// assert_eq!(y.shape().as_slice(), &[2, 3]);
    /// assert_eq!(y.value().get(&[1, 0]), 3.0);
    /// ```
    ///
    /// # Panics
    /// If the element counts differ: `reshape: cannot reshape [2, 3] (6 elements) to [4] (4 elements)`.
    #[track_caller]
    pub fn reshape(self, shape: &[usize]) -> Var<'t, T> {
        self.tape.apply(Reshape(shape.into()), &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::reshape`] on operands; returns a clone when the shape already matches.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Operand<'t, T> {
        if self.shape().as_slice() == shape {
            return self.clone();
        }
        Operand::apply(Reshape(shape.into()), &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::check_both;
    use crate::{Tape, Tensor};

    #[test]
    fn gradients_match_finite_differences() {
        let w = Tensor::randn(&[3, 2], 2);
        check_both(
            move |x| x[0].reshape(&[3, 2]) * x[0].tape().constant(w.clone()),
            &[Tensor::randn(&[2, 3], 1)],
        );
    }

    #[test]
    #[should_panic(expected = "reshape: cannot reshape [2, 3] (6 elements) to [4] (4 elements)")]
    fn wrong_count_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 3])).reshape(&[4]);
    }
}
