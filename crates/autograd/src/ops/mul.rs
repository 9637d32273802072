//! Elementwise product with numpy broadcasting.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = a * b`, elementwise, broadcasting.
struct Mul;

impl<T: Float> Op<T> for Mul {
    fn name(&self) -> &'static str {
        "mul"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].zip_map(x[1], "mul", |a, b| a * b)
    }

    // Each operand's gradient reads the other operand, never the product.
    fn backward_reads_output(&self) -> bool {
        false
    }

    // dy/da = b, dy/db = a; sum_to undoes the broadcast of each operand.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (a, b, g) = (cx.input(0), cx.input(1), cx.grad());
        [
            cx.grad_for(0, || (g * b).sum_to(&a.shape())),
            cx.grad_for(1, || (g * a).sum_to(&b.shape())),
        ]
        .into()
    }

    fn scalar_backward(&self, x: &[T], _y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = g * x[1];
        dx[1] = g * x[0];
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise product `y = a * b` with numpy broadcasting (also the `*` operator).
    ///
    /// Derivative: `dy/da = b`, `dy/db = a`, summed over broadcast axes.
    /// PyTorch: `torch.mul`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let a = tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    /// let b = tape.var(Tensor::from_vec(vec![10.0, 100.0], &[2]).unwrap());
    /// let y = a * b; // b is broadcast over the rows
    /// assert_eq!(y.value().to_vec(), vec![10.0, 200.0, 30.0, 400.0]);
    /// let g = y.sum().backward();
    /// assert_eq!(g[b].to_vec(), vec![4.0, 6.0]); // column sums of a
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast: `mul: shapes [2, 3] and [3, 2] do not broadcast`.
    #[track_caller]
    pub fn mul(self, other: Var<'t, T>) -> Var<'t, T> {
        self.assert_same_tape(other, "mul");
        self.tape.apply(Mul, &[self, other])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::mul`] on operands.
    #[track_caller]
    pub fn mul(&self, other: &Operand<'t, T>) -> Operand<'t, T> {
        Operand::apply(Mul, &[self, other])
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
        let grads = (a * b).tanh().sum().backward();
        // d/da tanh(ab) = (1 - tanh^2(ab)) b
        let want: Vec<f64> = [(0.5, 2.0), (-1.0, 3.0)]
            .iter()
            .map(|&(a, b): &(f64, f64)| (1.0 - (a * b).tanh().powi(2)) * b)
            .collect();
        assert_close(&grads[a], &want, 1e-12);
    }

    #[test]
    fn broadcast_gradients_match_finite_differences() {
        let a = Tensor::randn(&[2, 3], 1);
        let b = Tensor::randn(&[3], 2);
        check_both(|x| (x[0] * x[1]).tanh().sum(), &[a.clone(), b.clone()]);
        check_both(|x| (x[1] * x[0]).exp(), &[a, Tensor::randn(&[2, 1], 3)]);
    }

    #[test]
    fn square_has_second_derivative_two() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::scalar(3.0));
        let dx = tape.grad(&[x * x], &[x])[0]; // d/dx x^2 = 2x
        let ddx = tape.grad(&[dx], &[x])[0]; // d2/dx2 x^2 = 2
        assert_eq!((dx.item(), ddx.item()), (6.0, 2.0));
    }

    #[test]
    #[should_panic(expected = "mul: shapes [2, 3] and [3, 2] do not broadcast")]
    fn incompatible_shapes_panic() {
        let tape = Tape::<f32>::new();
        let _ = tape.var(Tensor::zeros(&[2, 3])) * tape.var(Tensor::zeros(&[3, 2]));
    }
}
