//! Elementwise selection by a mask (`torch.where`), broadcasting mask and both branches together.
//! The file is `where_.rs` because `where` is a Rust keyword.

use crate::tensor::shape::{Shape, broadcast_shapes};
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = mask != 0 ? on_true : on_false`, elementwise, for a constant mask.
struct Where<T: Float>(Tensor<T>);

impl<T: Float> Op<T> for Where<T> {
    fn name(&self) -> &'static str {
        "where"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let (mask, on_true, on_false) = (&self.0, x[0], x[1]);
        let shape = out_shape(mask.shape(), on_true.shape(), on_false.shape());
        let (m, t, f) = (
            mask.broadcast_to(&shape),
            on_true.broadcast_to(&shape),
            on_false.broadcast_to(&shape),
        );
        let data = m
            .data()
            .iter()
            .zip(t.data().iter().zip(f.data()))
            .map(|(&m, (&t, &f))| if m != T::ZERO { t } else { f })
            .collect();
        Tensor::from_parts(shape, data)
    }

    // dy/d on_true = 1 where mask, else 0; dy/d on_false the complement. Selecting (rather than
    // multiplying by a 0/1 mask) keeps a non-finite gradient of the branch not taken out.
    // sum_to undoes the broadcast of each branch.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let g = cx.grad();
        let zero = g.constant_like(Tensor::scalar(T::ZERO));
        [
            cx.grad_for(0, || {
                Operand::where_(&self.0, g, &zero).sum_to(&cx.input(0).shape())
            }),
            cx.grad_for(1, || {
                Operand::where_(&self.0, &zero, g).sum_to(&cx.input(1).shape())
            }),
        ]
        .into()
    }
}

/// The shape mask and both branches broadcast to.
#[track_caller]
fn out_shape(mask: &[usize], on_true: &[usize], on_false: &[usize]) -> Shape {
    // A `match`, not `unwrap_or_else`: `#[track_caller]` does not pass through closures.
    match broadcast_shapes(mask, on_true).and_then(|s| broadcast_shapes(&s, on_false)) {
        Some(shape) => shape,
        None => panic!(
            "where: shapes {mask:?} (mask), {on_true:?} (on_true) and {on_false:?} \
             (on_false) do not broadcast"
        ),
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elementwise selection `y = on_true` where `mask != 0`, `y = on_false` elsewhere. The mask,
    /// `on_true` and `on_false` broadcast together (numpy rules); the mask is a constant tensor
    /// (any nonzero element, NaN included, selects `on_true`). PyTorch:
    /// `torch.where(mask, on_true, on_false)`; JAX: `jnp.where`.
    ///
    /// Derivative: `on_true` gets the upstream gradient where the mask is set and 0 elsewhere,
    /// `on_false` the complement; each is summed back to its own shape over broadcast axes. The
    /// gradient is selected, not multiplied by a 0/1 mask, so a non-finite gradient flowing into
    /// `y` reaches only the branch that was taken.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor, Var};
    /// let tape = Tape::<f64>::new();
    /// let mask = Tensor::from_vec(vec![1.0, 0.0, 1.0], &[3]).unwrap();
    /// let a = tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap());
    /// let b = tape.var(Tensor::scalar(-1.0)); // broadcast to [3]
    /// let y = Var::where_(&mask, a, b);
    /// assert_eq!(y.value().to_vec(), vec![1.0, -1.0, 3.0]);
    /// let g = (y * y).sum().backward(); // d/dy y^2 = 2y
    /// assert_eq!(g[a].to_vec(), vec![2.0, 0.0, 6.0]);
    /// assert_eq!(g[b].item(), -2.0);
    /// ```
    ///
    /// # Panics
    /// If the three shapes do not broadcast together:
    /// `where: shapes [2] (mask), [3] (on_true) and [1] (on_false) do not broadcast`.
    #[track_caller]
    pub fn where_(mask: &Tensor<T>, on_true: Var<'t, T>, on_false: Var<'t, T>) -> Var<'t, T> {
        on_true.assert_same_tape(on_false, "where");
        on_true
            .tape
            .apply(Where(mask.clone()), &[on_true, on_false])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::where_`] on operands.
    #[track_caller]
    pub fn where_(
        mask: &Tensor<T>,
        on_true: &Operand<'t, T>,
        on_false: &Operand<'t, T>,
    ) -> Operand<'t, T> {
        Operand::apply(Where(mask.clone()), &[on_true, on_false])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor, Var};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let mask = t(&[1.0, 0.0, 0.0, 1.0], &[2, 2]);
        let a = tape.var(t(&[0.5, -1.0], &[2]));
        let b = tape.var(t(&[2.0, 0.3], &[2, 1]));
        let grads = Var::where_(&mask, a, b).tanh().sum().backward();
        // y = [[a0, b0], [b1, a1]]; d/dv tanh(v) = 1 - tanh^2(v), summed over broadcast copies
        let d = |v: f64| 1.0 - v.tanh().powi(2);
        assert_close(&grads[a], &[d(0.5), d(-1.0)], 1e-15);
        assert_close(&grads[b], &[d(2.0), d(0.3)], 1e-15);
    }

    #[test]
    fn non_finite_gradient_reaches_only_the_branch_taken() {
        let tape = Tape::<f64>::new();
        let mask = t(&[1.0, 0.0], &[2]);
        let a = tape.var(t(&[0.0, 1.0], &[2]));
        let b = tape.var(t(&[5.0, 4.0], &[2]));
        // d/dy sqrt(y) = [inf, 1/4] at y = [0, 4]: a takes the inf, b gets 0 there (not 0 * inf)
        let grads = Var::where_(&mask, a, b).sqrt().sum().backward();
        assert_eq!(grads[a].to_vec(), vec![f64::INFINITY, 0.0]);
        assert_eq!(grads[b].to_vec(), vec![0.0, 0.25]);
    }

    #[test]
    fn broadcast_gradients_match_finite_differences() {
        let mask = t(&[1.0, 0.0, 1.0], &[1, 3]);
        check_both(
            move |x| (Var::where_(&mask, x[0], x[1]) * x[1]).sum(),
            &[Tensor::randn(&[2, 1], 1), Tensor::randn(&[2, 3], 2)],
        );
        let mask = t(&[0.0, 1.0], &[2, 1, 1]);
        check_both(
            move |x| Var::where_(&mask, x[0].tanh(), x[1].exp()),
            &[Tensor::randn(&[3], 3), Tensor::randn(&[1, 3], 4)],
        );
    }

    #[test]
    #[should_panic(
        expected = "where: shapes [2] (mask), [3] (on_true) and [1] (on_false) do not broadcast"
    )]
    fn incompatible_shapes_panic() {
        let tape = Tape::<f32>::new();
        let _ = Var::where_(
            &Tensor::zeros(&[2]),
            tape.var(Tensor::zeros(&[3])),
            tape.var(Tensor::zeros(&[1])),
        );
    }
}
