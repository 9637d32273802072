//! Elementwise quotient with numpy broadcasting.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = a / b`, elementwise, broadcasting.
struct Div;

impl<T: Float> Op<T> for Div {
    fn name(&self) -> &'static str {
        "div"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].zip_map(x[1], "div", |a, b| a / b)
    }

    // dy/da = 1/b, dy/db = -a/b^2 = -y/b; sum_to undoes the broadcast of each operand.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (a, b, g) = (cx.input(0), cx.input(1), cx.grad());
        [
            cx.grad_for(0, || (g / b).sum_to(&a.shape())),
            cx.grad_for(1, || (-(g * a) / (b * b)).sum_to(&b.shape())),
        ]
        .into()
    }

    fn scalar_backward(&self, x: &[T], _y: T, g: T, dx: &mut [T]) -> bool {
        let (a, b) = (x[0], x[1]);
        dx[0] = g / b;
        dx[1] = -(g * a) / (b * b);
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise quotient `y = a / b` with numpy broadcasting (also the `/` operator).
    ///
    /// Derivative: `dy/da = 1/b`, `dy/db = -a/b^2`, summed over broadcast axes. Division by zero
    /// gives IEEE infinities or NaN, as in PyTorch (`torch.div`).
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let a = tape.var(Tensor::scalar(3.0));
    /// let b = tape.var(Tensor::scalar(2.0));
    /// let y = a / b;
    /// assert_eq!(y.item(), 1.5);
    /// let g = y.backward();
    /// assert_eq!((g[a].item(), g[b].item()), (0.5, -0.75)); // 1/b, -a/b^2
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast: `div: shapes [2] and [3] do not broadcast`.
    #[track_caller]
    pub fn div(self, other: Var<'t, T>) -> Var<'t, T> {
        self.assert_same_tape(other, "div");
        self.tape.apply(Div, &[self, other])
    }

    /// `y = c / x` elementwise. Derivative `-c / x^2`.
    #[track_caller]
    pub fn rdiv_scalar(self, c: T) -> Var<'t, T> {
        self.powf(-T::ONE) * c
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::div`] on operands.
    #[track_caller]
    pub fn div(&self, other: &Operand<'t, T>) -> Operand<'t, T> {
        Operand::apply(Div, &[self, other])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let a = tape.var(t(&[1.0, -2.0], &[2]));
        let b = tape.var(t(&[2.0, 4.0], &[2]));
        let grads = (a / b).exp().sum().backward();
        // d/da e^(a/b) = e^(a/b) / b; d/db = -e^(a/b) a / b^2
        let (e0, e1) = (0.5f64.exp(), (-0.5f64).exp());
        assert_close(&grads[a], &[e0 / 2.0, e1 / 4.0], 1e-12);
        assert_close(&grads[b], &[-e0 / 4.0, e1 * 2.0 / 16.0], 1e-12);
        let r = 2.0 / tape.var(Tensor::scalar(4.0));
        assert_eq!(r.item(), 0.5);
    }

    #[test]
    fn broadcast_gradients_match_finite_differences() {
        let b = Tensor::rand_uniform(&[3], 0.5, 2.0, 2);
        check_both(
            |x| (x[0] / x[1]).tanh(),
            &[Tensor::randn(&[2, 3], 1), b.clone()],
        );
        check_both(|x| x[0].rdiv_scalar(1.5), &[b]);
    }

    #[test]
    #[should_panic(expected = "div: shapes [2] and [3] do not broadcast")]
    fn incompatible_shapes_panic() {
        let tape = Tape::<f32>::new();
        let _ = tape.var(Tensor::zeros(&[2])) / tape.var(Tensor::zeros(&[3]));
    }
}
