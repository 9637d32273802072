//! `scatter_add`: add every element into a new zero tensor at the position an index array names
//! along an axis (torch.scatter_add); the adjoint of `gather`.

use crate::tensor::kernels::{unique_mut, zeroed};
use crate::tensor::shape::{Shape, contiguous_strides, for_each_run, normalize_axis, numel};
use crate::{BackwardContext, Float, IndexTensor, InputGrads, Op, Operand, Tensor, Var};

use super::gather::unravel;

/// `y = zeros(shape); y[p with axis coordinate replaced by index[p]] += x[p]` for every `p`.
struct ScatterAdd {
    axis: usize,
    index: IndexTensor,
    shape: Shape,
}

impl<T: Float> Op<T> for ScatterAdd {
    fn name(&self) -> &'static str {
        "scatter_add"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let x = x[0];
        let own = contiguous_strides(&self.shape);
        let step = own[self.axis];
        // Strides into the output for every axis but `axis`, whose coordinate is the index.
        let mut so = own.clone();
        so[self.axis] = 0;
        let sx = contiguous_strides(x.shape());
        let mut out = zeroed(numel(&self.shape));
        let buf = unique_mut(&mut out);
        let (d, id) = (x.data(), self.index.data());
        for_each_run(x.shape(), [&so, &sx], |[oo, ox], [io, ix], len| {
            for k in 0..len {
                let p = ox + k * ix;
                buf[oo + k * io + id[p] * step] += d[p];
            }
        });
        Tensor::from_parts(self.shape.clone(), out)
    }

    // dy[q]/dx[p] = 1 where q is the position x[p] was added to: gather the gradient back.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        [Some(cx.grad().gather_at(self.axis, &self.index))].into()
    }
}

/// Validates and builds the op; `axis` is already normalised against `shape`.
#[track_caller]
fn scatter_op(axis: usize, index: &IndexTensor, x: &[usize], shape: &[usize]) -> ScatterAdd {
    let is = index.shape();
    assert!(
        is == x,
        "scatter_add: index shape {is:?} differs from source shape {x:?} (one index per element)"
    );
    assert!(
        is.len() == shape.len(),
        "scatter_add: index shape {is:?} and output shape {shape:?} have different ranks"
    );
    assert!(
        (0..is.len()).all(|d| d == axis || is[d] <= shape[d]),
        "scatter_add: index shape {is:?} is larger than output shape {shape:?} outside axis {axis}"
    );
    let n = shape[axis];
    if let Some(p) = index.data().iter().position(|&i| i >= n) {
        panic!(
            "scatter_add: index {} at position {:?} is out of range for axis {axis} of length {n} \
             in output shape {shape:?}",
            index.data()[p],
            unravel(p, is)
        );
    }
    ScatterAdd {
        axis,
        index: index.clone(),
        shape: shape.into(),
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Adds every element of `x` into a new zero tensor of shape `shape`, at the position whose
    /// coordinate along `axis` (negative counts from the end) is given by `index` and whose other
    /// coordinates are the element's own: for 3-D and `axis = 1`,
    /// `y[i, index[i, j, k], k] += x[i, j, k]`. `index` has `x`'s shape; `shape` has the same
    /// rank and is at least as long on every other axis. Repeated positions accumulate, positions
    /// never named stay 0.
    ///
    /// Derivative: `1` from each element to the position it was added to, so the gradient is
    /// the upstream gradient read back at those positions ([`gather`](Self::gather), the
    /// adjoint). Linear, no kinks.
    /// PyTorch: `torch.zeros(shape).scatter_add_(axis, index, x)` (PyTorch also allows `x` larger
    /// than `index` and ignores the rest; here they must match, so the adjoint is exact).
    ///
    /// ```
    /// use wengert_autograd::{IndexTensor, Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    /// let index = IndexTensor::from_vec(vec![2, 2, 0, 1], &[2, 2]).unwrap();
    /// let y = x.scatter_add(1, &index, &[2, 3]);
    /// assert_eq!(y.value().to_vec(), vec![0.0, 0.0, 3.0, 3.0, 4.0, 0.0]);
    /// let w = tape.constant(Tensor::arange(6).reshape(&[2, 3]));
    /// let g = (y * w).sum().backward(); // each element reads the weight where it landed
    /// assert_eq!(g[x].to_vec(), vec![2.0, 2.0, 3.0, 4.0]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range for `shape`, `index` does not have `x`'s shape
    /// (`scatter_add: index shape [2] differs from source shape [2, 2] (one index per element)`),
    /// the ranks differ, `index` is larger than `shape` outside the axis
    /// (`scatter_add: index shape [2, 2] is larger than output shape [1, 3] outside axis 1`),
    /// or an index is out of range (`scatter_add: index 3 at position [1, 0] is out of range for
    /// axis 1 of length 3 in output shape [2, 3]`).
    #[track_caller]
    pub fn scatter_add(self, axis: isize, index: &IndexTensor, shape: &[usize]) -> Var<'t, T> {
        let axis = normalize_axis("scatter_add", axis, shape);
        let op = scatter_op(axis, index, &self.shape(), shape);
        self.tape.apply(op, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::scatter_add`] on operands.
    #[track_caller]
    pub fn scatter_add(&self, axis: isize, index: &IndexTensor, shape: &[usize]) -> Operand<'t, T> {
        let axis = normalize_axis("scatter_add", axis, shape);
        self.scatter_add_at(axis, index, shape)
    }

    /// [`Var::scatter_add`] with a normalised axis, for backward rules.
    #[track_caller]
    pub(super) fn scatter_add_at(
        &self,
        axis: usize,
        index: &IndexTensor,
        shape: &[usize],
    ) -> Operand<'t, T> {
        let op = scatter_op(axis, index, &self.shape(), shape);
        Operand::apply(op, &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{IndexTensor, Tape, Tensor};

    fn idx(data: &[usize], shape: &[usize]) -> IndexTensor {
        IndexTensor::from_vec(data.to_vec(), shape).expect("the data fits the shape")
    }

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[0.5, -1.0, 0.25], &[3, 1]));
        // axis 0 into [2, 1]: y = [x0 + x2, x1]; L = sum(tanh(y)):
        // dL/dx0 = dL/dx2 = 1 - tanh^2(x0 + x2), dL/dx1 = 1 - tanh^2(x1)
        let g = x
            .scatter_add(0, &idx(&[0, 1, 0], &[3, 1]), &[2, 1])
            .tanh()
            .sum()
            .backward();
        let d = |v: f64| 1.0 - v.tanh().powi(2);
        assert_close(&g[x], &[d(0.75), d(-1.0), d(0.75)], 1e-12);
    }

    #[test]
    fn follows_torch_scatter_add() {
        let tape = Tape::<f64>::new();
        // axis 0 into a larger output: y[index[i, j], j] += x[i, j]
        let x = tape.var(Tensor::ones(&[2, 2]));
        let y = x
            .scatter_add(0, &idx(&[0, 2, 0, 0], &[2, 2]), &[3, 3])
            .value();
        assert_eq!(
            y.to_vec(),
            vec![2.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        );
        let x3 = tape.var(Tensor::arange(4).reshape(&[1, 1, 4]));
        let z = x3
            .scatter_add(-2, &idx(&[1, 0, 1, 1], &[1, 1, 4]), &[1, 2, 4])
            .value();
        assert_eq!(z.to_vec(), vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 3.0]);
    }

    #[test]
    fn scatter_add_is_the_adjoint_of_gather() {
        // <gather(x), v> = <x, scatter_add(v)> for every x and v
        let tape = Tape::<f64>::new();
        let index = idx(&[2, 0, 1, 1, 0, 2], &[2, 3]);
        let x = tape.var(Tensor::randn(&[3, 3], 1));
        let v = tape.var(Tensor::randn(&[2, 3], 2));
        let lhs = (x.gather(0, &index) * v).sum().item();
        let rhs = (x * v.scatter_add(0, &index, &[3, 3])).sum().item();
        assert!((lhs - rhs).abs() < 1e-12, "{lhs} vs {rhs}");
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::randn(&[2, 3, 2], 1);
        let index = idx(&[1, 0, 1, 1, 2, 0, 0, 0, 2, 1, 1, 2], &[2, 3, 2]);
        check_both(
            move |x| x[0].scatter_add(2, &index, &[2, 3, 3]).tanh(),
            &[x.clone()],
        );
        let index = idx(&[0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1], &[2, 3, 2]);
        check_both(
            move |x| {
                let y = x[0].scatter_add(0, &index, &[2, 3, 2]);
                (y * y).sum()
            },
            &[x],
        );
    }

    #[test]
    #[should_panic(
        expected = "scatter_add: index 3 at position [1, 0] is out of range for axis 1 of length 3 in output shape [2, 3]"
    )]
    fn index_out_of_range_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 1]))
            .scatter_add(1, &idx(&[0, 3], &[2, 1]), &[2, 3]);
    }

    #[test]
    #[should_panic(
        expected = "scatter_add: index shape [2] differs from source shape [2, 2] (one index per element)"
    )]
    fn index_shape_mismatch_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 2]))
            .scatter_add(1, &idx(&[0, 1], &[2]), &[2, 3]);
    }

    #[test]
    #[should_panic(
        expected = "scatter_add: index shape [2, 2] is larger than output shape [1, 3] outside axis 1"
    )]
    fn index_larger_than_output_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 2]))
            .scatter_add(1, &idx(&[0, 1, 2, 0], &[2, 2]), &[1, 3]);
    }

    #[test]
    #[should_panic(
        expected = "scatter_add: index shape [2, 2] and output shape [2, 2, 1] have different ranks"
    )]
    fn rank_mismatch_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 2]))
            .scatter_add(0, &idx(&[0, 1, 1, 0], &[2, 2]), &[2, 2, 1]);
    }
}
