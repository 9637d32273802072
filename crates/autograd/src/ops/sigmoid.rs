//! Elementwise logistic sigmoid, stable for large `|x|`.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = 1 / (1 + e^-x)`.
struct Sigmoid;

/// `1 / (1 + e^-x)` without overflow: `e^x` is only taken of a non-positive number.
pub(super) fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

impl<T: Float> Op<T> for Sigmoid {
    fn name(&self) -> &'static str {
        "sigmoid"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].map(sigmoid)
    }

    // From the output alone: x can be released.
    fn backward_reads_input(&self, _input: usize) -> bool {
        false
    }

    // dy/dx = s (1 - s) with s = y, fused into one op (one pass, one buffer).
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        [Some(Operand::apply(SigmoidGrad, &[cx.grad(), cx.output()]))].into()
    }

    fn scalar_backward(&self, _x: &[T], y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = g * y * (T::ONE - y);
        true
    }
}

/// `z = g * y * (1 - y)`: sigmoid's backward as one elementwise op (one allocation instead of
/// four, measured on LSTM gates), itself differentiable for higher orders.
struct SigmoidGrad;

impl<T: Float> Op<T> for SigmoidGrad {
    fn name(&self) -> &'static str {
        "sigmoid_grad"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].zip_map(x[1], "sigmoid_grad", |g, y| g * y * (T::ONE - y))
    }

    // dz/dg = y (1 - y) (this op again), dz/dy = g (1 - 2y)
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (g, y, gz) = (cx.input(0), cx.input(1), cx.grad());
        [
            cx.grad_for(0, || Operand::apply(SigmoidGrad, &[gz, y])),
            cx.grad_for(1, || {
                gz * g * y.mul_scalar(-T::ONE - T::ONE).add_scalar(T::ONE)
            }),
        ]
        .into()
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise logistic sigmoid `y = 1 / (1 + e^-x)`. Derivative `y (1 - y)`, computed from
    /// the output.
    ///
    /// Stable for any `x`: `e^x` is only evaluated at non-positive arguments
    /// (`1 / (1 + e^-x)` for `x >= 0`, `e^x / (1 + e^x)` otherwise), so `x = 1000` gives exactly 1
    /// and `x = -1000` exactly 0, with finite (zero) gradients, in f32 and f64.
    /// PyTorch: `torch.sigmoid`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![0.0, 1000.0, -1000.0], &[3]).unwrap());
    /// let y = x.sigmoid();
    /// assert_eq!(y.value().to_vec(), vec![0.5, 1.0, 0.0]);
    /// assert_eq!(y.sum().backward()[x].to_vec(), vec![0.25, 0.0, 0.0]); // y (1 - y)
    /// ```
    #[track_caller]
    pub fn sigmoid(self) -> Var<'t, T> {
        self.tape.apply(Sigmoid, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::sigmoid`] on operands.
    #[track_caller]
    pub fn sigmoid(&self) -> Operand<'t, T> {
        Operand::apply(Sigmoid, &[self])
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
        // d/dx tanh(sigmoid(x)) = (1 - tanh^2(s)) s (1 - s), s = 1 / (1 + e^-x)
        let want: Vec<f64> = [-1.5f64, 0.3, 2.0]
            .iter()
            .map(|x| {
                let s = 1.0 / (1.0 + (-x).exp());
                (1.0 - s.tanh().powi(2)) * s * (1.0 - s)
            })
            .collect();
        assert_close(&x.sigmoid().tanh().sum().backward()[x], &want, 1e-15);
    }

    #[test]
    fn second_derivative_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::scalar(0.8));
        // d2/dx2 sigmoid(x) = s (1 - s) (1 - 2s)
        let d = tape.grad(&[x.sigmoid()], &[x])[0];
        let dd = tape.grad(&[d], &[x])[0];
        let s = 1.0 / (1.0 + (-0.8f64).exp());
        assert!((dd.item() - s * (1.0 - s) * (1.0 - 2.0 * s)).abs() < 1e-15);
    }

    #[test]
    fn third_derivative_through_the_fused_backward() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::scalar(0.3));
        // d3/dx3 sigmoid(x) = s (1 - s) (1 - 6s + 6s^2)
        let d1 = tape.grad(&[x.sigmoid()], &[x])[0];
        let d2 = tape.grad(&[d1], &[x])[0];
        let d3 = tape.grad(&[d2], &[x])[0];
        let s = 1.0 / (1.0 + (-0.3f64).exp());
        assert!((d3.item() - s * (1.0 - s) * (1.0 - 6.0 * s + 6.0 * s * s)).abs() < 1e-14);
    }

    fn saturates<T: Float>() {
        let tape = Tape::<T>::new();
        let big = T::from_f64(1000.0);
        let x = tape.var(Tensor::from_slice(&[big, -big]));
        let y = x.sigmoid();
        assert_eq!(y.value().to_vec(), vec![T::ONE, T::ZERO]);
        let g = y.sum().backward()[x].clone();
        assert!(g.all_finite(), "{g}");
        assert_eq!(g.to_vec(), vec![T::ZERO, T::ZERO]);
        // and through create_graph, to second order
        let d = tape.grad(&[x.sigmoid().sum()], &[x])[0];
        let dd = tape.grad(&[d.sum()], &[x])[0];
        assert!(d.value().all_finite() && dd.value().all_finite());
    }

    #[test]
    fn saturates_without_overflow_f32() {
        saturates::<f32>();
    }

    #[test]
    fn saturates_without_overflow_f64() {
        saturates::<f64>();
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_both(
            |x| (x[0].sigmoid() * x[0]).sum(),
            &[Tensor::randn(&[2, 3], 1)],
        );
    }
}
