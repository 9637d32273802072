//! Elementwise `ln(1 + x)`, accurate near zero.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = ln(1 + x)`.
struct Log1p;

impl<T: Float> Op<T> for Log1p {
    fn name(&self) -> &'static str {
        "log1p"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].map(T::ln_1p)
    }

    // dy/dx = 1 / (1 + x)
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        [Some(cx.grad() / cx.input(0).add_scalar(T::ONE))].into()
    }

    fn scalar_backward(&self, x: &[T], _y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = g / (x[0] + T::ONE);
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise `y = ln(1 + x)`, accurate for `|x|` much smaller than 1 where `(1 + x).log()`
    /// loses digits. Derivative `1 / (1 + x)`.
    ///
    /// As in PyTorch (`torch.log1p`), `x = -1` gives `-inf` and `x < -1` gives NaN.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1e-20, 1.0], &[2]).unwrap());
    /// let y = x.log1p();
    /// assert_eq!(y.value().to_vec(), vec![1e-20, 2.0f64.ln()]); // (1 + 1e-20).ln() would be 0
    /// assert_eq!(y.sum().backward()[x].to_vec(), vec![1.0, 0.5]); // 1 / (1 + x)
    /// ```
    #[track_caller]
    pub fn log1p(self) -> Var<'t, T> {
        self.tape.apply(Log1p, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::log1p`] on operands.
    #[track_caller]
    pub fn log1p(&self) -> Operand<'t, T> {
        Operand::apply(Log1p, &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[-0.5, 2.0], &[2]));
        // d/dx tanh(ln(1 + x)) = (1 - tanh^2(ln(1 + x))) / (1 + x)
        let want: Vec<f64> = [-0.5f64, 2.0]
            .iter()
            .map(|x| (1.0 - x.ln_1p().tanh().powi(2)) / (1.0 + x))
            .collect();
        assert_close(&x.log1p().tanh().sum().backward()[x], &want, 1e-15);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::rand_uniform(&[2, 3], -0.8, 3.0, 1);
        check_both(|x| (x[0].log1p() * x[0]).sum(), &[x]);
    }
}
