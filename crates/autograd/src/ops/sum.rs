//! Sum over all elements or over chosen axes; mean as sum times 1/n.

use smallvec::SmallVec;

use crate::tensor::shape::{Shape, normalize_axis};
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = sum of x over axes`, keeping reduced axes as length 1 or dropping them.
struct SumAxes {
    /// Sorted, deduplicated, non-negative.
    axes: SmallVec<[usize; 4]>,
    keepdim: bool,
}

impl SumAxes {
    /// The input shape with reduced axes set to 1.
    fn kept_shape(&self, shape: &[usize]) -> Shape {
        shape
            .iter()
            .enumerate()
            .map(|(i, &n)| if self.axes.contains(&i) { 1 } else { n })
            .collect()
    }
}

impl<T: Float> Op<T> for SumAxes {
    fn name(&self) -> &'static str {
        "sum"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let kept = self.kept_shape(x[0].shape());
        let y = x[0].sum_to(&kept);
        if self.keepdim {
            y
        } else {
            let dropped: Shape = kept
                .iter()
                .enumerate()
                .filter(|(i, _)| !self.axes.contains(i))
                .map(|(_, &n)| n)
                .collect();
            y.reshape(&dropped)
        }
    }

    // dy/dx = 1 for every summed element: the gradient is broadcast back over the reduced axes.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let shape = cx.input(0).shape();
        let g = cx.grad().reshape(&self.kept_shape(&shape));
        [Some(g.broadcast_to(&shape))].into()
    }
}

#[track_caller]
fn sum_op(op: &str, axes: &[isize], shape: &[usize], keepdim: bool) -> SumAxes {
    let mut norm: SmallVec<[usize; 4]> = SmallVec::new();
    for &a in axes {
        // A loop, not a closure: `#[track_caller]` does not pass through closures.
        norm.push(normalize_axis(op, a, shape));
    }
    norm.sort_unstable();
    norm.dedup();
    SumAxes {
        axes: norm,
        keepdim,
    }
}

fn count(axes: &[usize], shape: &[usize]) -> usize {
    axes.iter().map(|&a| shape[a]).product()
}

impl<'t, T: Float> Var<'t, T> {
    /// Sum of all elements, a scalar of shape `[]`. Derivative `1` for every element.
    /// PyTorch: `x.sum()`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    /// let s = x.sum();
    /// assert_eq!((s.shape().len(), s.item()), (0, 10.0));
    /// assert_eq!(s.backward()[x].to_vec(), vec![1.0; 4]);
    /// ```
    #[track_caller]
    pub fn sum(self) -> Var<'t, T> {
        let all: SmallVec<[isize; 4]> = (0..self.shape().len() as isize).collect();
        self.sum_axes(&all, false)
    }

    /// Sum over one axis (negative counts from the end), keeping it as length 1 if `keepdim`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap());
    /// assert_eq!(x.sum_axis(1, false).value().to_vec(), vec![6.0, 15.0]);
    /// assert_eq!(x.sum_axis(0, true).shape().as_slice(), &[1, 3]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range: `sum: axis 2 is out of range for a tensor of shape [2, 3]`.
    #[track_caller]
    pub fn sum_axis(self, axis: isize, keepdim: bool) -> Var<'t, T> {
        self.sum_axes(&[axis], keepdim)
    }

    /// Sum over several axes. Derivative `1`: the gradient is broadcast back. PyTorch:
    /// `x.sum(dim=axes, keepdim=keepdim)`.
    ///
    /// # Panics
    /// If an axis is out of range.
    #[track_caller]
    pub fn sum_axes(self, axes: &[isize], keepdim: bool) -> Var<'t, T> {
        let op = sum_op("sum", axes, &self.shape(), keepdim);
        self.tape.apply(op, &[self])
    }

    /// Mean of all elements, a scalar. Derivative `1/n`. PyTorch: `x.mean()`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 6.0], &[4]).unwrap());
    /// assert_eq!(x.mean().item(), 3.0);
    /// assert_eq!(x.mean().backward()[x].to_vec(), vec![0.25; 4]);
    /// ```
    #[track_caller]
    pub fn mean(self) -> Var<'t, T> {
        let n = self.shape().iter().product::<usize>();
        self.sum() * (T::ONE / T::from_usize(n))
    }

    /// Mean over one axis. Derivative `1/n` with `n` the axis length.
    ///
    /// # Panics
    /// If the axis is out of range.
    #[track_caller]
    pub fn mean_axis(self, axis: isize, keepdim: bool) -> Var<'t, T> {
        self.mean_axes(&[axis], keepdim)
    }

    /// Mean over several axes. PyTorch: `x.mean(dim=axes, keepdim=keepdim)`.
    ///
    /// # Panics
    /// If an axis is out of range.
    #[track_caller]
    pub fn mean_axes(self, axes: &[isize], keepdim: bool) -> Var<'t, T> {
        let shape = self.shape();
        let op = sum_op("mean", axes, &shape, keepdim);
        let n = count(&op.axes, &shape);
        self.tape.apply(op, &[self]) * (T::ONE / T::from_usize(n))
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::sum_axes`] on operands.
    #[track_caller]
    pub fn sum_axes(&self, axes: &[isize], keepdim: bool) -> Operand<'t, T> {
        Operand::apply(sum_op("sum", axes, &self.shape(), keepdim), &[self])
    }

    /// [`Var::sum_axis`] on operands.
    #[track_caller]
    pub fn sum_axis(&self, axis: isize, keepdim: bool) -> Operand<'t, T> {
        self.sum_axes(&[axis], keepdim)
    }

    /// [`Var::sum`] on operands.
    #[track_caller]
    pub fn sum(&self) -> Operand<'t, T> {
        let all: SmallVec<[isize; 4]> = (0..self.shape().len() as isize).collect();
        self.sum_axes(&all, false)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor};

    #[test]
    fn values_and_gradient_have_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
        let rows = x.sum_axis(-1, false);
        assert_close(&rows.value(), &[6.0, 15.0], 0.0);
        // d/dx sum_i (sum_j x_ij)^2 = 2 * row sum
        let g = (rows * rows).sum().backward();
        assert_close(&g[x], &[12.0, 12.0, 12.0, 30.0, 30.0, 30.0], 0.0);
        let m = tape
            .var(t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]))
            .mean_axes(&[0, 1], true);
        assert_eq!(m.shape().as_slice(), &[1, 1]);
        assert_eq!(m.item(), 3.5);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::randn(&[2, 3, 4], 1);
        check_both(|x| x[0].sum_axes(&[0, 2], false).tanh(), &[x.clone()]);
        check_both(|x| x[0].tanh().sum_axis(1, true).exp(), &[x.clone()]);
        check_both(|x| x[0].mean_axis(-1, false).exp(), &[x.clone()]);
        check_both(|x| (x[0] * x[0]).mean(), &[x]);
    }

    #[test]
    #[should_panic(expected = "sum: axis 2 is out of range for a tensor of shape [2, 3]")]
    fn bad_axis_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 3])).sum_axis(2, false);
    }
}
