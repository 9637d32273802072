//! Elementwise square root.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = sqrt(x)`.
struct Sqrt;

impl<T: Float> Op<T> for Sqrt {
    fn name(&self) -> &'static str {
        "sqrt"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].map(T::sqrt)
    }

    // dy/dx = 1 / (2 sqrt(x)) = 1 / (2y)
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        [Some((cx.grad() / cx.output()).mul_scalar(T::from_f64(0.5)))].into()
    }

    fn scalar_backward(&self, _x: &[T], y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = (g / y) * T::from_f64(0.5);
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise square root `y = sqrt(x)`. Derivative `1 / (2 sqrt(x))`, computed from the
    /// output as `1 / (2y)`.
    ///
    /// As in PyTorch (`torch.sqrt`), `x < 0` gives NaN and `x = 0` gives `y = 0` with an infinite
    /// derivative.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![4.0, 9.0], &[2]).unwrap());
    /// let y = x.sqrt();
    /// assert_eq!(y.value().to_vec(), vec![2.0, 3.0]);
    /// assert_eq!(y.sum().backward()[x].to_vec(), vec![0.25, 1.0 / 6.0]); // 1 / (2 sqrt(x))
    /// ```
    #[track_caller]
    pub fn sqrt(self) -> Var<'t, T> {
        self.tape.apply(Sqrt, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::sqrt`] on operands.
    #[track_caller]
    pub fn sqrt(&self) -> Operand<'t, T> {
        Operand::apply(Sqrt, &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[0.25, 2.0], &[2]));
        // d/dx tanh(sqrt(x)) = (1 - tanh^2(sqrt(x))) / (2 sqrt(x))
        let want: Vec<f64> = [0.25f64, 2.0]
            .iter()
            .map(|x| (1.0 - x.sqrt().tanh().powi(2)) / (2.0 * x.sqrt()))
            .collect();
        assert_close(&x.sqrt().tanh().sum().backward()[x], &want, 1e-15);
    }

    #[test]
    fn second_derivative_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::scalar(4.0));
        // d/dx sqrt(x) = x^(-1/2) / 2 = 1/4; d2/dx2 = -x^(-3/2) / 4 = -1/32
        let d = tape.grad(&[x.sqrt()], &[x])[0];
        let dd = tape.grad(&[d], &[x])[0];
        assert_eq!((d.item(), dd.item()), (0.25, -1.0 / 32.0));
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::rand_uniform(&[2, 3], 0.2, 3.0, 1);
        check_both(|x| (x[0].sqrt() * x[0]).sum(), &[x]);
    }
}
