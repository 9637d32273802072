//! Elementwise sum with numpy broadcasting.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = a + b`, elementwise, broadcasting.
struct Add;

impl<T: Float> Op<T> for Add {
    fn name(&self) -> &'static str {
        "add"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].zip_map(x[1], "add", |a, b| a + b)
    }

    // Only the operands' shapes are read: operands and output can be released.
    fn backward_reads_input(&self, _input: usize) -> bool {
        false
    }

    fn backward_reads_output(&self) -> bool {
        false
    }

    // dy/da = dy/db = 1; sum_to undoes the broadcast of each operand.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let g = cx.grad();
        [
            cx.grad_for(0, || g.sum_to(&cx.input(0).shape())),
            cx.grad_for(1, || g.sum_to(&cx.input(1).shape())),
        ]
        .into()
    }

    fn scalar_backward(&self, _x: &[T], _y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = g;
        dx[1] = g;
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise sum `y = a + b` with numpy broadcasting (also the `+` operator).
    ///
    /// Derivative: `dy/da = dy/db = 1`, summed over broadcast axes. PyTorch: `torch.add`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    /// let b = tape.var(Tensor::from_vec(vec![0.5, -0.5], &[2]).unwrap());
    /// let y = x + b;
    /// assert_eq!(y.value().to_vec(), vec![1.5, 1.5, 3.5, 3.5]);
    /// assert_eq!(y.sum().backward()[b].to_vec(), vec![2.0, 2.0]); // one per row
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast: `add: shapes [2] and [3] do not broadcast`.
    #[track_caller]
    pub fn add(self, other: Var<'t, T>) -> Var<'t, T> {
        self.assert_same_tape(other, "add");
        self.tape.apply(Add, &[self, other])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::add`] on operands.
    #[track_caller]
    pub fn add(&self, other: &Operand<'t, T>) -> Operand<'t, T> {
        Operand::apply(Add, &[self, other])
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
        let b = tape.var(Tensor::scalar(0.25));
        let grads = (a + b).exp().sum().backward();
        // d/da e^(a+b) = e^(a+b); d/db = sum of e^(a+b)
        let e = [0.75f64.exp(), (-0.75f64).exp()];
        assert_close(&grads[a], &e, 1e-12);
        assert_close(&grads[b], &[e[0] + e[1]], 1e-12);
    }

    #[test]
    fn broadcast_gradients_match_finite_differences() {
        check_both(
            |x| (x[0] + x[1]).tanh(),
            &[Tensor::randn(&[3, 1, 2], 1), Tensor::randn(&[4, 1], 2)],
        );
    }

    #[test]
    #[should_panic(expected = "add: shapes [2] and [3] do not broadcast")]
    fn incompatible_shapes_panic() {
        let tape = Tape::<f32>::new();
        let _ = tape.var(Tensor::zeros(&[2])) + tape.var(Tensor::zeros(&[3]));
    }
}
