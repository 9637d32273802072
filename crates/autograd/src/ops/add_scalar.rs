//! Adding a scalar constant: `x + c`, `x - c`, `c - x`.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = x + c` for a constant `c`.
struct AddScalar<T>(T);

impl<T: Float> Op<T> for AddScalar<T> {
    fn name(&self) -> &'static str {
        "add_scalar"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let c = self.0;
        x[0].map(|v| v + c)
    }

    // dy/dx = 1
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        [Some(cx.grad().clone())].into()
    }

    fn scalar_backward(&self, _x: &[T], _y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = g;
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// `y = x + c` for a scalar `c` (also `x + c` and `c + x`). Derivative `1`.
    /// PyTorch: `x + c`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    /// assert_eq!((x + 0.5).value().to_vec(), vec![1.5, 2.5]);
    /// assert_eq!((x - 1.0).value().to_vec(), vec![0.0, 1.0]);
    /// assert_eq!((1.0 - x).value().to_vec(), vec![0.0, -1.0]);
    /// ```
    #[track_caller]
    pub fn add_scalar(self, c: T) -> Var<'t, T> {
        self.tape.apply(AddScalar(c), &[self])
    }

    /// `y = x - c` for a scalar `c`. Derivative `1`.
    #[track_caller]
    pub fn sub_scalar(self, c: T) -> Var<'t, T> {
        self.add_scalar(-c)
    }

    /// `y = c - x` for a scalar `c`. Derivative `-1`.
    #[track_caller]
    pub fn rsub_scalar(self, c: T) -> Var<'t, T> {
        (-self).add_scalar(c)
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::add_scalar`] on operands.
    #[track_caller]
    pub fn add_scalar(&self, c: T) -> Operand<'t, T> {
        Operand::apply(AddScalar(c), &[self])
    }

    /// [`Var::sub_scalar`] on operands.
    #[track_caller]
    pub fn sub_scalar(&self, c: T) -> Operand<'t, T> {
        self.add_scalar(-c)
    }

    /// [`Var::rsub_scalar`] on operands: `c - self`.
    #[track_caller]
    pub fn rsub_scalar(&self, c: T) -> Operand<'t, T> {
        (-self).add_scalar(c)
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
        // d/dx (x + 2)^2 = 2(x + 2) = 5; d/dx (3 - x)^2 = -2(3 - x) = -5
        assert_eq!(((x + 2.0) * (x + 2.0)).backward()[x].item(), 5.0);
        assert_eq!(((3.0 - x) * (3.0 - x)).backward()[x].item(), -5.0);
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_both(
            |x| (x[0] - 0.3).tanh() + (0.2 - x[0]).exp(),
            &[Tensor::randn(&[2, 3], 1)],
        );
    }
}
