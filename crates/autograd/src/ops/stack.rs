//! `stack`: join equally shaped tensors along a new axis. A composite of `reshape` and `concat`,
//! so it needs no backward of its own.

use smallvec::SmallVec;

use crate::tensor::shape::Shape;
use crate::{Float, Operand, Var};

/// Validates the parts' shapes and returns the shape each part is reshaped to (the common shape
/// with a length-1 axis inserted at the normalised `axis`) and that axis.
#[track_caller]
fn stack_shape(shapes: &[Shape], axis: isize) -> (Shape, isize) {
    let Some(first) = shapes.first() else {
        panic!("stack: needs at least one part");
    };
    for s in &shapes[1..] {
        assert!(
            s == first,
            "stack: shapes {:?} and {:?} differ (all parts need the same shape)",
            first.as_slice(),
            s.as_slice()
        );
    }
    let rank = first.len() as isize;
    let a = if axis < 0 { axis + rank + 1 } else { axis };
    assert!(
        (0..=rank).contains(&a),
        "stack: axis {axis} is out of range for stacking tensors of shape {:?} \
         (the result has rank {}, so the axis must be in {}..={rank})",
        first.as_slice(),
        rank + 1,
        -(rank + 1)
    );
    let mut unit = first.clone();
    unit.insert(a as usize, 1);
    (unit, a)
}

impl<'t, T: Float> Var<'t, T> {
    /// Joins equally shaped `parts` along a new axis inserted at `axis` (negative counts from
    /// the end of the result's axes): `y[.., k, ..] = parts[k]`. The result has one more axis
    /// than the parts, of length `parts.len()`.
    ///
    /// Composite: each part is reshaped to have a length-1 axis there, then they are
    /// [`concat`](Self::concat)enated, so the derivative is that of concat (each part's
    /// gradient is its slice of the upstream gradient). Linear, no kinks.
    /// PyTorch: `torch.stack(parts, dim=axis)`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor, Var};
    /// let tape = Tape::<f64>::new();
    /// let a = tape.var(Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    /// let b = tape.var(Tensor::from_vec(vec![3.0, 4.0], &[2]).unwrap());
    /// let rows = Var::stack(&[a, b], 0);
    /// assert_eq!(rows.shape().as_slice(), &[2, 2]);
    /// assert_eq!(rows.value().to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
    /// let cols = Var::stack(&[a, b], -1);
    /// assert_eq!(cols.value().to_vec(), vec![1.0, 3.0, 2.0, 4.0]);
    /// let g = (cols * cols).sum().backward(); // 2 x for each part
    /// assert_eq!(g[b].to_vec(), vec![6.0, 8.0]);
    /// ```
    ///
    /// # Panics
    /// If `parts` is empty (`stack: needs at least one part`), the shapes differ
    /// (`stack: shapes [2, 3] and [2, 4] differ (all parts need the same shape)`), the axis is
    /// out of range (`stack: axis 3 is out of range for stacking tensors of shape [2, 3] (the
    /// result has rank 3, so the axis must be in -3..=2)`), or the parts live on different tapes.
    #[track_caller]
    pub fn stack(parts: &[Var<'t, T>], axis: isize) -> Var<'t, T> {
        let shapes: SmallVec<[Shape; 4]> = parts.iter().map(|p| p.shape()).collect();
        let (unit, axis) = stack_shape(&shapes, axis);
        let units: SmallVec<[Var<'t, T>; 4]> = parts.iter().map(|p| p.reshape(&unit)).collect();
        Var::concat(&units, axis)
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::stack`] on operands.
    #[track_caller]
    pub fn stack(parts: &[Operand<'t, T>], axis: isize) -> Operand<'t, T> {
        let shapes: SmallVec<[Shape; 4]> = parts.iter().map(|p| p.shape()).collect();
        let (unit, axis) = stack_shape(&shapes, axis);
        let units: SmallVec<[Operand<'t, T>; 4]> = parts.iter().map(|p| p.reshape(&unit)).collect();
        Operand::concat(&units, axis)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor, Var};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let a = tape.var(t(&[0.5, -1.0], &[2]));
        let b = tape.var(t(&[2.0, 0.1], &[2]));
        let w = tape.constant(t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]));
        // y[i, k] = [a, b][k][i]; d/db_i sum(w * tanh(y)) = w_i1 (1 - tanh^2(b_i))
        let g = (w * Var::stack(&[a, b], 1).tanh()).sum().backward();
        let d = |v: f64| 1.0 - v.tanh().powi(2);
        assert_close(&g[b], &[2.0 * d(2.0), 4.0 * d(0.1)], 1e-12);
        assert_close(&g[a], &[d(0.5), 3.0 * d(-1.0)], 1e-12);
    }

    #[test]
    fn inserts_the_axis_anywhere() {
        let tape = Tape::<f64>::new();
        let a = tape.var(Tensor::arange(6).reshape(&[2, 3]));
        let b = tape.var(Tensor::full(&[2, 3], -1.0));
        for (axis, shape) in [
            (0, [2, 2, 3]),
            (1, [2, 2, 3]),
            (2, [2, 3, 2]),
            (-1, [2, 3, 2]),
        ] {
            let y = Var::stack(&[a, b], axis);
            assert_eq!(y.shape().as_slice(), &shape, "axis {axis}");
        }
        let y = Var::stack(&[a, b, a], 2).value();
        assert_eq!((y.get(&[1, 2, 0]), y.get(&[1, 2, 1])), (5.0, -1.0));
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_both(
            |x| Var::stack(&[x[0], x[1], x[0]], -2).tanh(),
            &[Tensor::randn(&[2, 3], 1), Tensor::randn(&[2, 3], 2)],
        );
    }

    #[test]
    #[should_panic(expected = "stack: shapes [2, 3] and [2, 4] differ (all parts need the same")]
    fn mismatched_shapes_panic() {
        let tape = Tape::<f32>::new();
        let (a, b) = (
            tape.var(Tensor::zeros(&[2, 3])),
            tape.var(Tensor::zeros(&[2, 4])),
        );
        Var::stack(&[a, b], 0);
    }

    #[test]
    #[should_panic(
        expected = "stack: axis 3 is out of range for stacking tensors of shape [2, 3] (the \
                    result has rank 3, so the axis must be in -3..=2)"
    )]
    fn bad_axis_panics() {
        let tape = Tape::<f32>::new();
        let a = tape.var(Tensor::zeros(&[2, 3]));
        Var::stack(&[a, a], 3);
    }

    #[test]
    #[should_panic(expected = "stack: needs at least one part")]
    fn no_parts_panics() {
        Var::<f32>::stack(&[], 0);
    }
}
