//! `index_select`: pick entries along an axis by index (embedding lookup); the adjoint of
//! `index_add`.

use std::sync::Arc;

use crate::tensor::kernels::fresh;
use crate::tensor::shape::{Shape, normalize_axis};
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y[.., k, ..] = x[.., indices[k], ..]` along `axis`.
struct IndexSelect {
    axis: usize,
    indices: Arc<[usize]>,
}

impl<T: Float> Op<T> for IndexSelect {
    fn name(&self) -> &'static str {
        "index_select"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let x = x[0];
        let (outer, n, inner) = x.lanes(self.axis);
        let m = self.indices.len();
        let mut shape: Shape = x.shape().into();
        shape[self.axis] = m;
        // Every row of the output in order: written front to back, no zero pass first.
        let out = fresh(outer * m * inner, |out| {
            for o in 0..outer {
                for &i in self.indices.iter() {
                    out.copy(&x.data()[(o * n + i) * inner..][..inner]);
                }
            }
        });
        Tensor::from_parts(shape, out)
    }

    // dy[k]/dx[i] = 1 where indices[k] = i: scatter-add the gradient back, so an entry picked
    // several times receives the sum of their gradients.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let n = cx.input(0).shape()[self.axis];
        [Some(cx.grad().index_add_shared(
            self.axis,
            self.indices.clone(),
            n,
        ))]
        .into()
    }
}

/// Checks every index against the axis; `axis` is already normalised.
#[track_caller]
fn check(axis: usize, indices: &[usize], shape: &[usize]) {
    let n = shape[axis];
    if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
        panic!(
            "index_select: index {bad} is out of range for axis {axis} of length {n} in shape \
             {shape:?}"
        );
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Picks entries along `axis` (negative counts from the end) by index:
    /// `y[.., k, ..] = x[.., indices[k], ..]`. The result's axis has length `indices.len()`;
    /// indices may repeat and come in any order. With a `[vocab, dim]` table and axis 0 this is
    /// an embedding lookup: one row per token id.
    ///
    /// Derivative: `1` from each output entry to the entry it copied, so the gradient is the
    /// upstream gradient scatter-added into zeros of the input's shape
    /// ([`index_add`](Self::index_add), the adjoint): an entry picked twice gets both
    /// gradients, one never picked gets 0. Linear, no kinks.
    /// PyTorch: `torch.index_select(x, axis, indices)`, `torch.nn.functional.embedding`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let table = tape.var(Tensor::arange(6).reshape(&[3, 2])); // 3 embeddings of size 2
    /// let y = table.index_select(0, &[2, 0, 2]);
    /// assert_eq!(y.value().to_vec(), vec![4.0, 5.0, 0.0, 1.0, 4.0, 5.0]);
    /// let g = y.sum().backward(); // row 2 was picked twice, row 1 never
    /// assert_eq!(g[table].to_vec(), vec![1.0, 1.0, 0.0, 0.0, 2.0, 2.0]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range, or an index is:
    /// `index_select: index 3 is out of range for axis 0 of length 3 in shape [3, 2]`.
    #[track_caller]
    pub fn index_select(self, axis: isize, indices: &[usize]) -> Var<'t, T> {
        let shape = self.shape();
        let axis = normalize_axis("index_select", axis, &shape);
        check(axis, indices, &shape);
        self.tape.apply(
            IndexSelect {
                axis,
                indices: indices.into(),
            },
            &[self],
        )
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::index_select`] on operands.
    #[track_caller]
    pub fn index_select(&self, axis: isize, indices: &[usize]) -> Operand<'t, T> {
        let axis = normalize_axis("index_select", axis, &self.shape());
        self.index_select_shared(axis, indices.into())
    }

    /// [`Var::index_select`] with a normalised axis and shared indices, for backward rules that
    /// already hold them (no copy).
    #[track_caller]
    pub(super) fn index_select_shared(&self, axis: usize, indices: Arc<[usize]>) -> Operand<'t, T> {
        check(axis, &indices, &self.shape());
        Operand::apply(IndexSelect { axis, indices }, &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[0.5, -1.0, 2.0], &[3]));
        // L = sum(exp(x[[0, 2, 0]])): dL/dx0 = 2 exp(x0), dL/dx1 = 0, dL/dx2 = exp(x2)
        let g = x.index_select(0, &[0, 2, 0]).exp().sum().backward();
        assert_close(&g[x], &[2.0 * 0.5f64.exp(), 0.0, 2.0f64.exp()], 1e-12);
    }

    #[test]
    fn selects_along_inner_axes() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::arange(24).reshape(&[2, 3, 4]));
        let y = x.index_select(-1, &[3, 3]).value();
        assert_eq!(y.shape(), &[2, 3, 2]);
        assert_eq!(y.get(&[1, 2, 1]), 23.0);
        let z = x.index_select(1, &[]);
        assert_eq!(z.shape().as_slice(), &[2, 0, 4]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::randn(&[3, 2, 2], 1);
        check_both(|x| x[0].index_select(0, &[2, 0, 2, 1]).tanh(), &[x.clone()]);
        check_both(|x| (x[0].index_select(-1, &[1, 1]) * x[0]).sum(), &[x]);
    }

    #[test]
    #[should_panic(
        expected = "index_select: index 3 is out of range for axis 0 of length 3 in shape [3, 2]"
    )]
    fn index_out_of_range_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[3, 2])).index_select(0, &[0, 3]);
    }

    #[test]
    #[should_panic(expected = "index_select: axis 2 is out of range for a tensor of shape [3, 2]")]
    fn bad_axis_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[3, 2])).index_select(2, &[0]);
    }
}
