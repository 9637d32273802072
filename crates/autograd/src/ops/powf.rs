//! Elementwise power with a constant exponent.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = x^p` for a constant `p`.
struct Powf<T>(T);

impl<T: Float> Op<T> for Powf<T> {
    fn name(&self) -> &'static str {
        "powf"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let p = self.0;
        x[0].map(|v| v.powf(p))
    }

    // dy/dx = p x^(p-1)
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let p = self.0;
        [Some(cx.grad() * cx.input(0).powf(p - T::ONE).mul_scalar(p))].into()
    }

    fn scalar_backward(&self, x: &[T], _y: T, g: T, dx: &mut [T]) -> bool {
        let p = self.0;
        dx[0] = g * (x[0].powf(p - T::ONE) * p);
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise power `y = x^p` for a constant exponent `p`. Derivative `p x^(p-1)`.
    ///
    /// As in PyTorch (`torch.pow`), a negative base with a non-integer exponent gives NaN, and
    /// `0^p` for `p < 1` has an infinite derivative.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::scalar(4.0));
    /// let y = x.powf(1.5);
    /// assert_eq!(y.item(), 8.0);
    /// assert_eq!(y.backward()[x].item(), 3.0); // 1.5 * 4^0.5
    /// ```
    #[track_caller]
    pub fn powf(self, p: T) -> Var<'t, T> {
        self.tape.apply(Powf(p), &[self])
    }

    /// Elementwise square `x^2` (as `x * x`, exact). Derivative `2x`.
    #[track_caller]
    pub fn square(self) -> Var<'t, T> {
        self * self
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::powf`] on operands.
    #[track_caller]
    pub fn powf(&self, p: T) -> Operand<'t, T> {
        Operand::apply(Powf(p), &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::check_both;
    use crate::{Tape, Tensor};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::scalar(2.0));
        // d/dx x^3 = 3x^2 = 12; d2/dx2 = 6x = 12
        let d = tape.grad(&[x.powf(3.0)], &[x])[0];
        let dd = tape.grad(&[d], &[x])[0];
        assert!((d.item() - 12.0).abs() < 1e-12 && (dd.item() - 12.0).abs() < 1e-12);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::rand_uniform(&[2, 3], 0.5, 2.0, 1);
        check_both(|x| x[0].powf(2.5).tanh(), &[x.clone()]);
        check_both(|x| x[0].powf(-1.0) * x[0].square(), &[x]);
    }
}
