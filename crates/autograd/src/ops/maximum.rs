//! Elementwise maximum of two tensors with numpy broadcasting.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = max(a, b)`, elementwise, broadcasting.
struct Maximum;

/// The share of max(x, y)'s gradient that goes to x: all of it where x is larger, half at a tie,
/// none where y is larger (or either is NaN).
fn share<T: Float>(x: T, y: T) -> T {
    if x > y {
        T::ONE
    } else if x == y {
        T::from_f64(0.5)
    } else {
        T::ZERO
    }
}

impl<T: Float> Op<T> for Maximum {
    fn name(&self) -> &'static str {
        "maximum"
    }

    // NaN in either operand propagates, as in PyTorch.
    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].zip_map(
            x[1],
            "maximum",
            |a, b| if a.is_nan() || a >= b { a } else { b },
        )
    }

    // dy/da = 1 where a > b, 1/2 at ties, else 0 (dy/db symmetrically): constant masks of the
    // output's shape; sum_to undoes the broadcast of each operand.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (a, b, g) = (cx.input(0), cx.input(1), cx.grad());
        let (va, vb) = (a.value(), b.value());
        [
            cx.grad_for(0, || {
                let mask = va.zip_map(&vb, "maximum", share);
                (g * a.constant_like(mask)).sum_to(&a.shape())
            }),
            cx.grad_for(1, || {
                let mask = vb.zip_map(&va, "maximum", share);
                (g * b.constant_like(mask)).sum_to(&b.shape())
            }),
        ]
        .into()
    }

    fn scalar_backward(&self, x: &[T], _y: T, g: T, dx: &mut [T]) -> bool {
        dx[0] = g * share(x[0], x[1]);
        dx[1] = g * share(x[1], x[0]);
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise maximum `y = max(a, b)` with numpy broadcasting. NaN in either operand gives
    /// NaN.
    ///
    /// Derivative: the gradient goes to the larger operand (`dy/da = 1` where `a > b`, else 0);
    /// at ties `a == b` it is split evenly, 1/2 to each, as in PyTorch (`torch.maximum`).
    /// Summed over broadcast axes. The second derivative is 0.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let a = tape.var(Tensor::from_vec(vec![1.0, 5.0, 2.0], &[3]).unwrap());
    /// let b = tape.var(Tensor::from_vec(vec![3.0, 4.0, 2.0], &[3]).unwrap());
    /// let y = a.maximum(b);
    /// assert_eq!(y.value().to_vec(), vec![3.0, 5.0, 2.0]);
    /// let g = y.sum().backward();
    /// assert_eq!(g[a].to_vec(), vec![0.0, 1.0, 0.5]); // a tie splits the gradient
    /// assert_eq!(g[b].to_vec(), vec![1.0, 0.0, 0.5]);
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast: `maximum: shapes [2] and [3] do not broadcast`.
    #[track_caller]
    pub fn maximum(self, other: Var<'t, T>) -> Var<'t, T> {
        self.assert_same_tape(other, "maximum");
        self.tape.apply(Maximum, &[self, other])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::maximum`] on operands.
    #[track_caller]
    pub fn maximum(&self, other: &Operand<'t, T>) -> Operand<'t, T> {
        Operand::apply(Maximum, &[self, other])
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
        let grads = a.maximum(b).tanh().sum().backward();
        // d/da tanh(max(a, b)) = (1 - tanh^2(a)) where a > b, half of it where a == b (row 1,
        // column 0); b collects the rest, summed over the rows it was broadcast to
        let d = |v: f64| 1.0 - v.tanh().powi(2);
        assert_close(&grads[a], &[d(0.5), 0.0, d(0.3) / 2.0, d(2.0)], 1e-15);
        assert_close(&grads[b], &[d(0.3) / 2.0, d(0.0)], 1e-15);
    }

    #[test]
    fn nan_propagates() {
        let tape = Tape::<f64>::new();
        let a = tape.var(t(&[f64::NAN, 1.0], &[2]));
        let b = tape.var(t(&[0.0, f64::NAN], &[2]));
        assert!(a.maximum(b).value().data().iter().all(|v| v.is_nan()));
    }

    #[test]
    fn broadcast_gradients_match_finite_differences() {
        let a = t(&[-1.3, 0.4, 2.0, -0.2, 0.9, -2.2], &[2, 3]);
        let b = t(&[0.1, 0.6, -1.0], &[3]);
        check_both(
            |x| (x[0].maximum(x[1]) * x[0]).sum(),
            &[a.clone(), b.clone()],
        );
        check_both(|x| x[1].maximum(x[0]).exp(), &[a, t(&[0.0, 1.0], &[2, 1])]);
    }

    #[test]
    #[should_panic(expected = "maximum: shapes [2] and [3] do not broadcast")]
    fn incompatible_shapes_panic() {
        let tape = Tape::<f32>::new();
        let _ = tape
            .var(Tensor::zeros(&[2]))
            .maximum(tape.var(Tensor::zeros(&[3])));
    }
}
