//! Elementwise minimum of two tensors with numpy broadcasting.

use crate::tensor::shape::broadcast_shapes;
use crate::{Float, Operand, Var};

// min(a, b) = -max(-a, -b) exactly (negation is exact), with the same NaN propagation and the
// same even split of the gradient at ties, so `minimum` is a composite of `maximum` and `neg`.

#[track_caller]
fn check(a: &[usize], b: &[usize]) {
    assert!(
        broadcast_shapes(a, b).is_some(),
        "minimum: shapes {a:?} and {b:?} do not broadcast"
    );
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise minimum `y = min(a, b)` with numpy broadcasting. NaN in either operand gives
    /// NaN.
    ///
    /// Derivative: the gradient goes to the smaller operand (`dy/da = 1` where `a < b`, else 0);
    /// at ties `a == b` it is split evenly, 1/2 to each, as in PyTorch (`torch.minimum`).
    /// Summed over broadcast axes. The second derivative is 0. Computed as `-max(-a, -b)`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let a = tape.var(Tensor::from_vec(vec![1.0, 5.0, 2.0], &[3]).unwrap());
    /// let b = tape.var(Tensor::from_vec(vec![3.0, 4.0, 2.0], &[3]).unwrap());
    /// let y = a.minimum(b);
    /// assert_eq!(y.value().to_vec(), vec![1.0, 4.0, 2.0]);
    /// let g = y.sum().backward();
    /// assert_eq!(g[a].to_vec(), vec![1.0, 0.0, 0.5]); // a tie splits the gradient
    /// assert_eq!(g[b].to_vec(), vec![0.0, 1.0, 0.5]);
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast: `minimum: shapes [2] and [3] do not broadcast`.
    #[track_caller]
    pub fn minimum(self, other: Var<'t, T>) -> Var<'t, T> {
        self.assert_same_tape(other, "minimum");
        check(&self.shape(), &other.shape());
        -((-self).maximum(-other))
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::minimum`] on operands.
    #[track_caller]
    pub fn minimum(&self, other: &Operand<'t, T>) -> Operand<'t, T> {
        check(&self.shape(), &other.shape());
        -(-self).maximum(&-other)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let a = tape.var(t(&[0.5, -1.0, 0.3, 2.0], &[2, 2]));
        let b = tape.var(t(&[0.3, 0.0], &[2]));
        let grads = a.minimum(b).tanh().sum().backward();
        // d/da tanh(min(a, b)) = (1 - tanh^2(a)) where a < b, half of it where a == b (row 1,
        // column 0); b collects the rest, summed over the rows it was broadcast to
        let d = |v: f64| 1.0 - v.tanh().powi(2);
        assert_close(&grads[a], &[0.0, d(-1.0), d(0.3) / 2.0, 0.0], 1e-15);
        assert_close(&grads[b], &[1.5 * d(0.3), d(0.0)], 1e-15);
    }

    #[test]
    fn nan_propagates() {
        let tape = Tape::<f64>::new();
        let a = tape.var(t(&[f64::NAN, 1.0], &[2]));
        let b = tape.var(t(&[0.0, f64::NAN], &[2]));
        assert!(a.minimum(b).value().data().iter().all(|v| v.is_nan()));
    }

    #[test]
    fn broadcast_gradients_match_finite_differences() {
        let a = t(&[-1.3, 0.4, 2.0, -0.2, 0.9, -2.2], &[2, 3]);
        let b = t(&[0.1, 0.6, -1.0], &[3]);
        check_both(
            |x| (x[0].minimum(x[1]) * x[0]).sum(),
            &[a.clone(), b.clone()],
        );
        check_both(|x| x[1].minimum(x[0]).exp(), &[a, t(&[0.0, 1.0], &[2, 1])]);
    }

    #[test]
    #[should_panic(expected = "minimum: shapes [2] and [3] do not broadcast")]
    fn incompatible_shapes_panic() {
        let tape = Tape::<f32>::new();
        let _ = tape
            .var(Tensor::zeros(&[2]))
            .minimum(tape.var(Tensor::zeros(&[3])));
    }
}
