//! Elementwise exponential.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = e^x`.
struct Exp;

impl<T: Float> Op<T> for Exp {
    fn name(&self) -> &'static str {
        "exp"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].map(T::exp)
    }

    // dy/dx = e^x = y
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        [Some(cx.grad() * cx.output())].into()
    }

    fn scalar_backward(&self, _x: &[T], y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = g * y;
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise exponential `y = e^x`. Derivative `e^x` (the output itself).
    /// Overflows to `inf` above about 88 (f32) or 709 (f64). PyTorch: `torch.exp`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::scalar(1.0));
    /// let y = x.exp();
    /// assert_eq!(y.item(), std::f64::consts::E);
    /// assert_eq!(y.backward()[x].item(), std::f64::consts::E);
    /// ```
    #[track_caller]
    pub fn exp(self) -> Var<'t, T> {
        self.tape.apply(Exp, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::exp`] on operands.
    #[track_caller]
    pub fn exp(&self) -> Operand<'t, T> {
        Operand::apply(Exp, &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::check_both;
    use crate::{Tape, Tensor};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::scalar(0.3));
        // d/dx tanh(e^x) = (1 - tanh^2(e^x)) e^x
        let e = 0.3f64.exp();
        let g = x.exp().tanh().backward()[x].item();
        assert!((g - (1.0 - e.tanh().powi(2)) * e).abs() < 1e-15);
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_both(|x| (x[0].exp() * x[0]).sum(), &[Tensor::randn(&[2, 3], 1)]);
    }
}
