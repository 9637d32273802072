//! Elementwise softplus `ln(1 + e^x)`, stable for large `|x|`.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = ln(1 + e^x)`.
struct Softplus;

impl<T: Float> Op<T> for Softplus {
    fn name(&self) -> &'static str {
        "softplus"
    }

    // ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|): e^ is only taken of a non-positive number.
    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].map(|v| v.max(T::ZERO) + (-v.abs()).exp().ln_1p())
    }

    // dy/dx = e^x / (1 + e^x) = sigmoid(x)
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        [Some(cx.grad() * cx.input(0).sigmoid())].into()
    }

    fn scalar_backward(&self, x: &[T], _y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = g * super::sigmoid::sigmoid(x[0]);
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise softplus `y = ln(1 + e^x)`, a smooth relu. Derivative `sigmoid(x)`.
    ///
    /// Computed as `max(x, 0) + ln(1 + e^-|x|)`, so it never overflows: `x = 1000` gives exactly
    /// 1000 and `x = -1000` exactly 0, with finite gradients 1 and 0, in f32 and f64.
    /// PyTorch: `torch.nn.functional.softplus` with `beta = 1` (which switches to `y = x` above
    /// a threshold; here the formula is exact everywhere instead).
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![0.0, 1000.0, -1000.0], &[3]).unwrap());
    /// let y = x.softplus();
    /// assert_eq!(y.value().to_vec(), vec![2.0f64.ln(), 1000.0, 0.0]);
    /// assert_eq!(y.sum().backward()[x].to_vec(), vec![0.5, 1.0, 0.0]); // sigmoid(x)
    /// ```
    #[track_caller]
    pub fn softplus(self) -> Var<'t, T> {
        self.tape.apply(Softplus, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::softplus`] on operands.
    #[track_caller]
    pub fn softplus(&self) -> Operand<'t, T> {
        Operand::apply(Softplus, &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Float, Tape, Tensor};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[-1.5, 0.3, 2.0], &[3]));
        // d/dx tanh(softplus(x)) = (1 - tanh^2(ln(1 + e^x))) sigmoid(x)
        let want: Vec<f64> = [-1.5f64, 0.3, 2.0]
            .iter()
            .map(|x| (1.0 - x.exp().ln_1p().tanh().powi(2)) / (1.0 + (-x).exp()))
            .collect();
        assert_close(&x.softplus().tanh().sum().backward()[x], &want, 1e-15);
    }

    #[test]
    fn second_derivative_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::scalar(-0.4));
        // d2/dx2 softplus(x) = sigmoid'(x) = s (1 - s)
        let d = tape.grad(&[x.softplus()], &[x])[0];
        let dd = tape.grad(&[d], &[x])[0];
        let s = 1.0 / (1.0 + 0.4f64.exp());
        assert!((d.item() - s).abs() < 1e-15);
        assert!((dd.item() - s * (1.0 - s)).abs() < 1e-15);
    }

    fn finite_at_extremes<T: Float>() {
        let tape = Tape::<T>::new();
        let big = T::from_f64(1000.0);
        let x = tape.var(Tensor::from_slice(&[big, -big]));
        let y = x.softplus();
        assert_eq!(y.value().to_vec(), vec![big, T::ZERO]);
        assert_eq!(y.sum().backward()[x].to_vec(), vec![T::ONE, T::ZERO]);
        let d = tape.grad(&[x.softplus().sum()], &[x])[0];
        let dd = tape.grad(&[d.sum()], &[x])[0];
        assert!(d.value().all_finite() && dd.value().all_finite());
    }

    #[test]
    fn finite_at_extremes_f32() {
        finite_at_extremes::<f32>();
    }

    #[test]
    fn finite_at_extremes_f64() {
        finite_at_extremes::<f64>();
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_both(
            |x| (x[0].softplus() * x[0]).sum(),
            &[Tensor::randn(&[2, 3], 1)],
        );
    }
}
