//! Elementwise natural logarithm.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = ln(x)`.
struct Log;

impl<T: Float> Op<T> for Log {
    fn name(&self) -> &'static str {
        "log"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].map(T::ln)
    }

    // dy/dx = 1/x
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        [Some(cx.grad() / cx.input(0))].into()
    }

    fn scalar_backward(&self, x: &[T], _y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = g / x[0];
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise natural logarithm `y = ln(x)`. Derivative `1/x`.
    ///
    /// As in PyTorch (`torch.log`), `x = 0` gives `-inf` and `x < 0` gives NaN. For `ln(1 + x)`
    /// with small `x`, use [`log1p`](Self::log1p).
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, 4.0], &[2]).unwrap());
    /// let y = x.log();
    /// assert_eq!(y.value().to_vec(), vec![0.0, 4.0f64.ln()]);
    /// assert_eq!(y.sum().backward()[x].to_vec(), vec![1.0, 0.25]); // 1/x
    /// ```
    #[track_caller]
    pub fn log(self) -> Var<'t, T> {
        self.tape.apply(Log, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::log`] on operands.
    #[track_caller]
    pub fn log(&self) -> Operand<'t, T> {
        Operand::apply(Log, &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[0.5, 3.0], &[2]));
        // d/dx tanh(ln x) = (1 - tanh^2(ln x)) / x
        let want: Vec<f64> = [0.5f64, 3.0]
            .iter()
            .map(|x| (1.0 - x.ln().tanh().powi(2)) / x)
            .collect();
        assert_close(&x.log().tanh().sum().backward()[x], &want, 1e-15);
    }

    #[test]
    fn second_derivative_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::scalar(2.0));
        // d/dx ln x = 1/x = 0.5; d2/dx2 = -1/x^2 = -0.25
        let d = tape.grad(&[x.log()], &[x])[0];
        let dd = tape.grad(&[d], &[x])[0];
        assert_eq!((d.item(), dd.item()), (0.5, -0.25));
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::rand_uniform(&[2, 3], 0.2, 3.0, 1);
        check_both(|x| (x[0].log() * x[0]).sum(), &[x]);
    }
}
