//! Elementwise hyperbolic tangent.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = tanh(x)`.
struct Tanh;

impl<T: Float> Op<T> for Tanh {
    fn name(&self) -> &'static str {
        "tanh"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].map(T::tanh)
    }

    // From the output alone: x can be released.
    fn backward_reads_input(&self, _input: usize) -> bool {
        false
    }

    // dy/dx = 1 - tanh^2(x) = 1 - y^2, fused into one op (one pass, one buffer).
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        [Some(Operand::apply(TanhGrad, &[cx.grad(), cx.output()]))].into()
    }

    fn scalar_backward(&self, _x: &[T], y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = g * (T::ONE - y * y);
        true
    }
}

/// `z = g * (1 - y^2)`: tanh's backward as one elementwise op (a measured speed-up: one
/// allocation instead of four), itself differentiable for higher orders.
struct TanhGrad;

impl<T: Float> Op<T> for TanhGrad {
    fn name(&self) -> &'static str {
        "tanh_grad"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].zip_map(x[1], "tanh_grad", |g, y| g * (T::ONE - y * y))
    }

    // dz/dg = 1 - y^2 (this op again), dz/dy = -2 g y
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (g, y, gz) = (cx.input(0), cx.input(1), cx.grad());
        [
            cx.grad_for(0, || Operand::apply(TanhGrad, &[gz, y])),
            cx.grad_for(1, || (gz * g * y).mul_scalar(-T::ONE - T::ONE)),
        ]
        .into()
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise hyperbolic tangent `y = tanh(x)`. Derivative `1 - y^2`.
    /// PyTorch: `torch.tanh`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::scalar(0.5));
    /// let y = x.tanh();
    /// assert_eq!(y.item(), 0.5f64.tanh());
    /// assert_eq!(y.backward()[x].item(), 1.0 - 0.5f64.tanh().powi(2));
    /// ```
    #[track_caller]
    pub fn tanh(self) -> Var<'t, T> {
        self.tape.apply(Tanh, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::tanh`] on operands.
    #[track_caller]
    pub fn tanh(&self) -> Operand<'t, T> {
        Operand::apply(Tanh, &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::check_both;
    use crate::{Tape, Tensor};

    #[test]
    fn second_derivative_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::scalar(0.7));
        // d2/dx2 tanh x = -2 tanh x (1 - tanh^2 x)
        let d = tape.grad(&[x.tanh()], &[x])[0];
        let dd = tape.grad(&[d], &[x])[0];
        let t = 0.7f64.tanh();
        assert!((dd.item() + 2.0 * t * (1.0 - t * t)).abs() < 1e-15);
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_both(|x| (x[0].tanh() * x[0]).sum(), &[Tensor::randn(&[2, 3], 1)]);
    }

    #[test]
    fn third_derivative_through_the_fused_backward() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::scalar(0.4));
        // d3/dx3 tanh x = -2 (1 - t^2)(1 - 3 t^2) with t = tanh x
        let d1 = tape.grad(&[x.tanh()], &[x])[0];
        let d2 = tape.grad(&[d1], &[x])[0];
        let d3 = tape.grad(&[d2], &[x])[0];
        let t = 0.4f64.tanh();
        assert!((d3.item() + 2.0 * (1.0 - t * t) * (1.0 - 3.0 * t * t)).abs() < 1e-14);
    }
}
