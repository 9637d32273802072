//! Elementwise absolute value.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = |x|`.
struct Abs;

/// sign(x), with sign(0) = 0: abs's derivative and the subgradient chosen at the kink.
fn sign<T: Float>(v: T) -> T {
    if v > T::ZERO {
        T::ONE
    } else if v < T::ZERO {
        -T::ONE
    } else {
        T::ZERO
    }
}

impl<T: Float> Op<T> for Abs {
    fn name(&self) -> &'static str {
        "abs"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].map(T::abs)
    }

    // dy/dx = sign(x), with abs'(0) = 0: a constant mask.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let x = cx.input(0);
        let sign = x.value().map(sign);
        [Some(cx.grad() * x.constant_like(sign))].into()
    }

    fn scalar_backward(&self, x: &[T], _y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = g * sign(x[0]);
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise absolute value `y = |x|`.
    ///
    /// Derivative `sign(x)`: `1` for `x > 0`, `-1` for `x < 0`; at the kink the subgradient
    /// `abs'(0) = 0` is used, as in PyTorch (`torch.abs`). The second derivative is 0.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![-2.0, 0.0, 3.0], &[3]).unwrap());
    /// let y = x.abs();
    /// assert_eq!(y.value().to_vec(), vec![2.0, 0.0, 3.0]);
    /// assert_eq!(y.sum().backward()[x].to_vec(), vec![-1.0, 0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn abs(self) -> Var<'t, T> {
        self.tape.apply(Abs, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::abs`] on operands.
    #[track_caller]
    pub fn abs(&self) -> Operand<'t, T> {
        Operand::apply(Abs, &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::Tape;

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[-0.5, 0.0, 1.5], &[3]));
        // d/dx tanh(|x|) = (1 - tanh^2(|x|)) sign(x), sign(0) = 0
        let want: Vec<f64> = [-0.5f64, 0.0, 1.5]
            .iter()
            .map(|x| (1.0 - x.abs().tanh().powi(2)) * if *x == 0.0 { 0.0 } else { x.signum() })
            .collect();
        assert_close(&x.abs().tanh().sum().backward()[x], &want, 1e-15);
    }

    #[test]
    fn gradients_match_finite_differences_away_from_zero() {
        let x = t(&[-1.3, 0.4, 2.0, -0.2, 0.9, -2.2], &[2, 3]);
        check_both(|x| (x[0].abs() * x[0]).sum(), &[x]);
    }
}
