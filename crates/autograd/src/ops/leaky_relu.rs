//! Leaky rectified linear unit.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = x` for `x > 0`, `slope * x` otherwise.
struct LeakyRelu<T>(T);

impl<T: Float> Op<T> for LeakyRelu<T> {
    fn name(&self) -> &'static str {
        "leaky_relu"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let slope = self.0;
        x[0].map(|v| if v > T::ZERO { v } else { slope * v })
    }

    // dy/dx = 1 where x > 0, else slope (at 0 too): a constant mask.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (x, slope) = (cx.input(0), self.0);
        let mask = x.value().map(|v| if v > T::ZERO { T::ONE } else { slope });
        [Some(cx.grad() * x.constant_like(mask))].into()
    }

    fn scalar_backward(&self, x: &[T], _y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = g * if x[0] > T::ZERO { T::ONE } else { self.0 };
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Leaky rectified linear unit: `y = x` for `x > 0`, `y = slope * x` for `x <= 0`.
    ///
    /// Derivative `1` for `x > 0` and `slope` for `x < 0`; at the kink `x = 0` the derivative is
    /// `slope`, as in PyTorch (`torch.nn.functional.leaky_relu(x, negative_slope)`, whose
    /// usual slope is 0.01). The second derivative is 0.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![-2.0, 0.0, 3.0], &[3]).unwrap());
    /// let y = x.leaky_relu(0.25);
    /// assert_eq!(y.value().to_vec(), vec![-0.5, 0.0, 3.0]);
    /// assert_eq!(y.sum().backward()[x].to_vec(), vec![0.25, 0.25, 1.0]);
    /// ```
    #[track_caller]
    pub fn leaky_relu(self, slope: T) -> Var<'t, T> {
        self.tape.apply(LeakyRelu(slope), &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::leaky_relu`] on operands.
    #[track_caller]
    pub fn leaky_relu(&self, slope: T) -> Operand<'t, T> {
        Operand::apply(LeakyRelu(slope), &[self])
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
        // d/dx tanh(lrelu(x)) = (1 - tanh^2(lrelu(x))) lrelu'(x), lrelu'(x) = 0.1 for x <= 0
        let want = [
            (1.0 - (-0.05f64).tanh().powi(2)) * 0.1,
            0.1,
            1.0 - 1.5f64.tanh().powi(2),
        ];
        assert_close(&x.leaky_relu(0.1).tanh().sum().backward()[x], &want, 1e-15);
    }

    #[test]
    fn gradients_match_finite_differences_away_from_zero() {
        let x = t(&[-1.3, 0.4, 2.0, -0.2, 0.9, -2.2], &[2, 3]);
        check_both(|x| (x[0].leaky_relu(0.2) * x[0]).sum(), &[x]);
    }
}
