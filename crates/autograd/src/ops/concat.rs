//! `concat`: join tensors along an existing axis.

use smallvec::SmallVec;

use crate::tensor::kernels::fresh;
use crate::tensor::shape::{Shape, normalize_axis};
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = [x_0, x_1, ..]` joined along `axis`.
struct Concat {
    axis: usize,
}

impl<T: Float> Op<T> for Concat {
    fn name(&self) -> &'static str {
        "concat"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let (outer, _, inner) = x[0].lanes(self.axis);
        let total: usize = x.iter().map(|p| p.shape()[self.axis]).sum();
        let mut shape: Shape = x[0].shape().into();
        shape[self.axis] = total;
        // Row `o` of the output is row `o` of every part in turn.
        let out = fresh(outer * total * inner, |out| {
            for o in 0..outer {
                for p in x {
                    let block = p.shape()[self.axis] * inner;
                    out.copy(&p.data()[o * block..][..block]);
                }
            }
        });
        Tensor::from_parts(shape, out)
    }

    // Each part is copied to its own range of the axis: its gradient is that range, narrowed out.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let axis = self.axis as isize;
        let mut offset = 0;
        cx.inputs()
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let n = x.shape()[self.axis];
                let start = offset;
                offset += n;
                cx.grad_for(i, || cx.grad().narrow(axis, start, n))
            })
            .collect()
    }
}

/// Validates the parts' shapes and resolves the axis.
#[track_caller]
fn concat_op(shapes: &[Shape], axis: isize) -> Concat {
    let Some(first) = shapes.first() else {
        panic!("concat: needs at least one part");
    };
    let axis = normalize_axis("concat", axis, first);
    for s in &shapes[1..] {
        assert!(
            s.len() == first.len(),
            "concat: shapes {:?} and {:?} have different ranks",
            first.as_slice(),
            s.as_slice()
        );
        assert!(
            (0..s.len()).all(|d| d == axis || s[d] == first[d]),
            "concat: shapes {:?} and {:?} differ outside axis {axis}",
            first.as_slice(),
            s.as_slice()
        );
    }
    Concat { axis }
}

impl<'t, T: Float> Var<'t, T> {
    /// Joins `parts` along an existing `axis` (negative counts from the end): the result's axis
    /// has the sum of the parts' lengths, part `k` occupying the range after parts `0..k`.
    /// Every other axis must have the same length in every part.
    ///
    /// Derivative: each part's gradient is its range of the upstream gradient
    /// ([`narrow`](Self::narrow)). Linear, no kinks. PyTorch: `torch.cat(parts, dim=axis)`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor, Var};
    /// let tape = Tape::<f64>::new();
    /// let a = tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    /// let b = tape.var(Tensor::from_vec(vec![5.0, 6.0], &[2, 1]).unwrap());
    /// let y = Var::concat(&[a, b], 1);
    /// assert_eq!(y.shape().as_slice(), &[2, 3]);
    /// assert_eq!(y.value().to_vec(), vec![1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
    /// let w = tape.constant(Tensor::arange(6).reshape(&[2, 3]));
    /// let g = (y * w).sum().backward(); // each part gets the weights at its positions
    /// assert_eq!(g[a].to_vec(), vec![0.0, 1.0, 3.0, 4.0]);
    /// assert_eq!(g[b].to_vec(), vec![2.0, 5.0]);
    /// ```
    ///
    /// # Panics
    /// If `parts` is empty (`concat: needs at least one part`), the axis is out of range, the
    /// parts' ranks differ (`concat: shapes [2, 3] and [3] have different ranks`), the parts
    /// differ outside the axis (`concat: shapes [2, 3] and [3, 3] differ outside axis 1`), or
    /// they live on different tapes.
    #[track_caller]
    pub fn concat(parts: &[Var<'t, T>], axis: isize) -> Var<'t, T> {
        let shapes: SmallVec<[Shape; 4]> = parts.iter().map(|p| p.shape()).collect();
        let op = concat_op(&shapes, axis);
        parts[0].tape.apply(op, parts)
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::concat`] on operands.
    #[track_caller]
    pub fn concat(parts: &[Operand<'t, T>], axis: isize) -> Operand<'t, T> {
        let shapes: SmallVec<[Shape; 4]> = parts.iter().map(|p| p.shape()).collect();
        let op = concat_op(&shapes, axis);
        let refs: SmallVec<[&Operand<'t, T>; 4]> = parts.iter().collect();
        Operand::apply(op, &refs)
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
        let b = tape.var(t(&[2.0], &[1]));
        let w = tape.constant(t(&[1.0, 2.0, 3.0], &[3]));
        // d/da_i sum(w * tanh([a, b])) = w_i (1 - tanh^2(a_i)); d/db = w_2 (1 - tanh^2(b))
        let g = (w * Var::concat(&[a, b], 0).tanh()).sum().backward();
        let d = |v: f64| 1.0 - v.tanh().powi(2);
        assert_close(&g[a], &[d(0.5), 2.0 * d(-1.0)], 1e-12);
        assert_close(&g[b], &[3.0 * d(2.0)], 1e-12);
    }

    #[test]
    fn joins_along_leading_and_inner_axes() {
        let tape = Tape::<f64>::new();
        let a = tape.var(Tensor::arange(6).reshape(&[1, 2, 3]));
        let b = tape.var(Tensor::full(&[1, 1, 3], -1.0));
        let y = Var::concat(&[a, b, a], -2);
        assert_eq!(y.shape().as_slice(), &[1, 5, 3]);
        assert_eq!(y.value().get(&[0, 2, 1]), -1.0);
        assert_eq!(y.value().get(&[0, 4, 2]), 5.0);
        let z = Var::concat(&[a, a], 0);
        assert_eq!(z.value().to_vec()[6..], a.value().to_vec()[..]);
        // a part used twice collects both gradients
        assert_eq!(y.sum().backward()[a].to_vec(), vec![2.0; 6]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_both(
            |x| Var::concat(&[x[0], x[1], x[0]], 1).tanh(),
            &[Tensor::randn(&[2, 2, 3], 1), Tensor::randn(&[2, 1, 3], 2)],
        );
        check_both(
            |x| {
                let y = Var::concat(&[x[0], x[1]], -1);
                (y * y).sum()
            },
            &[Tensor::randn(&[3, 1], 3), Tensor::randn(&[3, 2], 4)],
        );
    }

    #[test]
    #[should_panic(expected = "concat: shapes [2, 3] and [2, 4] differ outside axis 0")]
    fn mismatched_shapes_panic() {
        let tape = Tape::<f32>::new();
        let (a, b) = (
            tape.var(Tensor::zeros(&[2, 3])),
            tape.var(Tensor::zeros(&[2, 4])),
        );
        Var::concat(&[a, b], 0);
    }

    #[test]
    #[should_panic(expected = "concat: shapes [2, 3] and [3] have different ranks")]
    fn mismatched_ranks_panic() {
        let tape = Tape::<f32>::new();
        let (a, b) = (
            tape.var(Tensor::zeros(&[2, 3])),
            tape.var(Tensor::zeros(&[3])),
        );
        Var::concat(&[a, b], 0);
    }

    #[test]
    #[should_panic(expected = "concat: needs at least one part")]
    fn no_parts_panics() {
        Var::<f32>::concat(&[], 0);
    }

    #[test]
    #[should_panic(expected = "concat: axis 2 is out of range for a tensor of shape [2, 3]")]
    fn bad_axis_panics() {
        let tape = Tape::<f32>::new();
        let a = tape.var(Tensor::zeros(&[2, 3]));
        Var::concat(&[a, a], 2);
    }
}
