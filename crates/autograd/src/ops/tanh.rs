//! Elementwise hyperbolic tangent.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = tanh(x)`.
struct Tanh;

impl<T: Float> Op<T> for Tanh {
    fn name(&self) -> &'static str {
        "tanh"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].map(T::tanh)
    }

    // dy/dx = 1 - tanh^2(x) = 1 - y^2
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let y = cx.output();
        [Some(cx.grad() * (y * y).rsub_scalar(T::ONE))].into()
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise hyperbolic tangent `y = tanh(x)`. Derivative `1 - y^2`.
    /// PyTorch: `torch.tanh`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::scalar(0.5));
    /// let y = x.tanh();
    /// assert_eq!(y.item(), 0.5f64.tanh());
    /// assert_eq!(y.backward()[x].item(), 1.0 - 0.5f64.tanh().powi(2));
    /// ```
    #[track_caller]
    pub fn tanh(self) -> Var<'t, T> {
        self.tape.apply(Tanh, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::tanh`] on operands.
    #[track_caller]
    pub fn tanh(&self) -> Operand<'t, T> {
        Operand::apply(Tanh, &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::check_both;
    use crate::{Tape, Tensor};

    #[test]
    fn second_derivative_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::scalar(0.7));
        // d2/dx2 tanh x = -2 tanh x (1 - tanh^2 x)
        let d = tape.grad(&[x.tanh()], &[x])[0];
        let dd = tape.grad(&[d], &[x])[0];
        let t = 0.7f64.tanh();
        assert!((dd.item() + 2.0 * t * (1.0 - t * t)).abs() < 1e-15);
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_both(|x| (x[0].tanh() * x[0]).sum(), &[Tensor::randn(&[2, 3], 1)]);
    }
}
