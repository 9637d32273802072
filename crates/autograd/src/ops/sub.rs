//! Elementwise difference with numpy broadcasting.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = a - b`, elementwise, broadcasting.
struct Sub;

impl<T: Float> Op<T> for Sub {
    fn name(&self) -> &'static str {
        "sub"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].zip_map(x[1], "sub", |a, b| a - b)
    }

    // dy/da = 1, dy/db = -1; sum_to undoes the broadcast of each operand.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let g = cx.grad();
        [
            cx.grad_for(0, || g.sum_to(&cx.input(0).shape())),
            cx.grad_for(1, || (-g).sum_to(&cx.input(1).shape())),
        ]
        .into()
    }

    fn scalar_backward(&self, _x: &[T], _y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = g;
        dx[1] = -g;
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise difference `y = a - b` with numpy broadcasting (also the `-` operator).
    ///
    /// Derivative: `dy/da = 1`, `dy/db = -1`, summed over broadcast axes. PyTorch: `torch.sub`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let a = tape.var(Tensor::from_vec(vec![5.0, 7.0], &[2]).unwrap());
    /// let b = tape.var(Tensor::scalar(2.0));
    /// let y = a - b;
    /// assert_eq!(y.value().to_vec(), vec![3.0, 5.0]);
    /// assert_eq!(y.sum().backward()[b].item(), -2.0);
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast: `sub: shapes [2] and [3] do not broadcast`.
    #[track_caller]
    pub fn sub(self, other: Var<'t, T>) -> Var<'t, T> {
        self.assert_same_tape(other, "sub");
        self.tape.apply(Sub, &[self, other])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::sub`] on operands.
    #[track_caller]
    pub fn sub(&self, other: &Operand<'t, T>) -> Operand<'t, T> {
        Operand::apply(Sub, &[self, other])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let a = tape.var(t(&[0.5, -1.0], &[2]));
        let b = tape.var(t(&[2.0, 3.0], &[2]));
        let grads = ((a - b) * (a - b)).sum().backward();
        // d/da (a-b)^2 = 2(a-b), d/db = -2(a-b)
        assert_close(&grads[a], &[-3.0, -8.0], 1e-12);
        assert_close(&grads[b], &[3.0, 8.0], 1e-12);
    }

    #[test]
    fn broadcast_gradients_match_finite_differences() {
        check_both(
            |x| (x[0] - x[1]).tanh(),
            &[Tensor::randn(&[2, 3], 1), Tensor::randn(&[3], 2)],
        );
    }

    #[test]
    #[should_panic(expected = "sub: shapes [2] and [3] do not broadcast")]
    fn incompatible_shapes_panic() {
        let tape = Tape::<f32>::new();
        let _ = tape.var(Tensor::zeros(&[2])) - tape.var(Tensor::zeros(&[3]));
    }
}
