//! `index_add`: scatter-add entries along an axis into a new zero tensor; the adjoint of
//! `index_select`.

use std::sync::Arc;

use crate::tensor::kernels::{unique_mut, zeroed};
use crate::tensor::shape::{Shape, normalize_axis};
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = zeros with axis length len; y[.., indices[k], ..] += x[.., k, ..]`.
struct IndexAdd {
    axis: usize,
    indices: Arc<[usize]>,
    len: usize,
}

impl<T: Float> Op<T> for IndexAdd {
    fn name(&self) -> &'static str {
        "index_add"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let x = x[0];
        let (outer, m, inner) = x.lanes(self.axis);
        let n = self.len;
        let mut shape: Shape = x.shape().into();
        shape[self.axis] = n;
        let mut out = zeroed(outer * n * inner);
        let buf = unique_mut(&mut out);
        for o in 0..outer {
            for (k, &i) in self.indices.iter().enumerate() {
                let src = &x.data()[(o * m + k) * inner..][..inner];
                buf[(o * n + i) * inner..][..inner]
                    .iter_mut()
                    .zip(src)
                    .for_each(|(y, &v)| *y += v);
            }
        }
        Tensor::from_parts(shape, out)
    }

    // dy[indices[k]]/dx[k] = 1: each input entry's gradient is read back from where it was added.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        [Some(
            cx.grad()
                .index_select_shared(self.axis, self.indices.clone()),
        )]
        .into()
    }
}

/// Validates and builds the op; `axis` is already normalised.
#[track_caller]
fn index_add_op(axis: usize, indices: Arc<[usize]>, len: usize, shape: &[usize]) -> IndexAdd {
    assert!(
        indices.len() == shape[axis],
        "index_add: {} indices for axis {axis} of length {} in shape {shape:?} (one index per \
         entry along the axis)",
        indices.len(),
        shape[axis]
    );
    if let Some(&bad) = indices.iter().find(|&&i| i >= len) {
        panic!(
            "index_add: index {bad} is out of range for output axis {axis} of length {len} \
             (input shape {shape:?})"
        );
    }
    IndexAdd { axis, indices, len }
}

impl<'t, T: Float> Var<'t, T> {
    /// Adds the entries along `axis` (negative counts from the end) into a new zero tensor whose
    /// axis has length `len`, entry `k` going to position `indices[k]`:
    /// `y[.., i, ..] = sum of x[.., k, ..] over k with indices[k] = i`. `indices` has one index
    /// per entry of the axis; repeated indices accumulate, positions never named stay 0.
    ///
    /// Derivative: `1` from each input entry to the position it was added to, so the gradient
    /// is the upstream gradient read back at `indices`
    /// ([`index_select`](Self::index_select), the adjoint). Linear, no kinks.
    /// PyTorch: `torch.zeros(shape).index_add_(axis, indices, x)` with `shape[axis] = len`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap());
    /// let y = x.index_add(0, &[3, 0, 3], 4);
    /// assert_eq!(y.value().to_vec(), vec![2.0, 0.0, 0.0, 4.0]);
    /// let w = tape.constant(Tensor::from_vec(vec![10.0, 20.0, 30.0, 40.0], &[4]).unwrap());
    /// let g = (y * w).sum().backward(); // each entry reads the weight where it landed
    /// assert_eq!(g[x].to_vec(), vec![40.0, 10.0, 40.0]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range, `indices` does not have one index per entry of the axis
    /// (`index_add: 2 indices for axis 0 of length 3 in shape [3] (one index per entry along the
    /// axis)`), or an index is not below `len`
    /// (`index_add: index 4 is out of range for output axis 0 of length 4 (input shape [3])`).
    #[track_caller]
    pub fn index_add(self, axis: isize, indices: &[usize], len: usize) -> Var<'t, T> {
        let shape = self.shape();
        let axis = normalize_axis("index_add", axis, &shape);
        let op = index_add_op(axis, indices.into(), len, &shape);
        self.tape.apply(op, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::index_add`] on operands.
    #[track_caller]
    pub fn index_add(&self, axis: isize, indices: &[usize], len: usize) -> Operand<'t, T> {
        let axis = normalize_axis("index_add", axis, &self.shape());
        self.index_add_shared(axis, indices.into(), len)
    }

    /// [`Var::index_add`] with a normalised axis and shared indices, for backward rules that
    /// already hold them (no copy).
    #[track_caller]
    pub(super) fn index_add_shared(
        &self,
        axis: usize,
        indices: Arc<[usize]>,
        len: usize,
    ) -> Operand<'t, T> {
        let op = index_add_op(axis, indices, len, &self.shape());
        Operand::apply(op, &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[0.5, -1.0, 0.25], &[3]));
        // y = [x0 + x2, 0, x1]; L = sum(tanh(y)):
        // dL/dx0 = dL/dx2 = 1 - tanh^2(x0 + x2), dL/dx1 = 1 - tanh^2(x1)
        let g = x.index_add(0, &[0, 2, 0], 3).tanh().sum().backward();
        let d = |v: f64| 1.0 - v.tanh().powi(2);
        assert_close(&g[x], &[d(0.75), d(-1.0), d(0.75)], 1e-12);
    }

    #[test]
    fn adds_along_inner_axes() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::ones(&[2, 3, 2]));
        let y = x.index_add(1, &[1, 1, 0], 4).value();
        assert_eq!(y.shape(), &[2, 4, 2]);
        assert_eq!(y.to_vec()[..8], [1.0, 1.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::randn(&[2, 3, 2], 1);
        check_both(|x| x[0].index_add(1, &[2, 0, 2], 4).tanh(), &[x.clone()]);
        check_both(
            |x| {
                let y = x[0].index_add(-1, &[0, 0], 1);
                (y * y).sum()
            },
            &[x],
        );
    }

    #[test]
    #[should_panic(
        expected = "index_add: index 4 is out of range for output axis 0 of length 4 (input shape [3])"
    )]
    fn index_out_of_range_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[3])).index_add(0, &[0, 4, 1], 4);
    }

    #[test]
    #[should_panic(expected = "index_add: 2 indices for axis 0 of length 3 in shape [3]")]
    fn wrong_index_count_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[3])).index_add(0, &[0, 1], 4);
    }
}
