//! Multiplying by a scalar constant: `x * c`, `x / c`.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = c * x` for a constant `c`.
struct MulScalar<T>(T);

impl<T: Float> Op<T> for MulScalar<T> {
    fn name(&self) -> &'static str {
        "mul_scalar"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let c = self.0;
        x[0].map(|v| v * c)
    }

    // dy/dx = c
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        [Some(cx.grad().mul_scalar(self.0))].into()
    }

    fn scalar_backward(&self, _x: &[T], _y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = g * self.0;
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// `y = c * x` for a scalar `c` (also `x * c` and `c * x`). Derivative `c`.
    /// PyTorch: `x * c`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, -2.0], &[2]).unwrap());
    /// let y = x * 3.0;
    /// assert_eq!(y.value().to_vec(), vec![3.0, -6.0]);
    /// assert_eq!(y.sum().backward()[x].to_vec(), vec![3.0, 3.0]);
    /// assert_eq!((x / 4.0).value().to_vec(), vec![0.25, -0.5]);
    /// ```
    #[track_caller]
    pub fn mul_scalar(self, c: T) -> Var<'t, T> {
        self.tape.apply(MulScalar(c), &[self])
    }

    /// `y = x / c` for a scalar `c`. Derivative `1/c`.
    #[track_caller]
    pub fn div_scalar(self, c: T) -> Var<'t, T> {
        self.mul_scalar(T::ONE / c)
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::mul_scalar`] on operands.
    #[track_caller]
    pub fn mul_scalar(&self, c: T) -> Operand<'t, T> {
        Operand::apply(MulScalar(c), &[self])
    }

    /// [`Var::div_scalar`] on operands.
    #[track_caller]
    pub fn div_scalar(&self, c: T) -> Operand<'t, T> {
        self.mul_scalar(T::ONE / c)
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
        // d/dx (3x)^2 = 18x = 9
        let y = x * 3.0;
        assert_eq!((y * y).backward()[x].item(), 9.0);
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_both(
            |x| (x[0] * 1.7).tanh() + (x[0] / 3.0).exp(),
            &[Tensor::randn(&[2, 3], 1)],
        );
    }
}
