//! Elementwise negation.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = -x`.
struct Neg;

impl<T: Float> Op<T> for Neg {
    fn name(&self) -> &'static str {
        "neg"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].map(|v| -v)
    }

    // dy/dx = -1
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        [Some(-cx.grad())].into()
    }

    fn scalar_backward(&self, _x: &[T], _y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = -g;
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise negation `y = -x` (also unary `-`). Derivative `-1`. PyTorch: `torch.neg`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::scalar(2.0));
    /// let y = -x;
    /// assert_eq!(y.item(), -2.0);
    /// assert_eq!(y.backward()[x].item(), -1.0);
    /// ```
    #[track_caller]
    pub fn neg(self) -> Var<'t, T> {
        self.tape.apply(Neg, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::neg`] on operands.
    #[track_caller]
    pub fn neg(&self) -> Operand<'t, T> {
        Operand::apply(Neg, &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::check_both;
    use crate::{Tape, Tensor};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::scalar(0.5));
        // d/dx exp(-x) = -exp(-x)
        let g = (-x).exp().backward();
        assert!((g[x].item() + (-0.5f64).exp()).abs() < 1e-15);
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_both(|x| (-x[0]).tanh(), &[Tensor::randn(&[2, 3], 1)]);
    }
}
