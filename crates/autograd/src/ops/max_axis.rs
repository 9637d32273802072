//! Maximum over an axis (and, through the same op, the minimum: see `min_axis.rs`); the gradient
//! goes to the arg-extremum.

use super::axis::{Extremum, arg_extremum, from_lanes, lanes, nonempty_axis, reduced_shape};
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = max (or min) of x along axis`, keeping the axis as length 1 or dropping it.
pub(super) struct AxisExtremum {
    axis: usize,
    keepdim: bool,
    kind: Extremum,
}

impl AxisExtremum {
    /// The op for `kind` over `axis` of a tensor of `shape`.
    ///
    /// # Panics
    /// If the axis is out of range or has length 0 (the message names `max` or `min`).
    #[track_caller]
    pub(super) fn new(kind: Extremum, axis: isize, shape: &[usize], keepdim: bool) -> Self {
        let name = match kind {
            Extremum::Max => "max",
            Extremum::Min => "min",
        };
        AxisExtremum {
            axis: nonempty_axis(name, axis, shape),
            keepdim,
            kind,
        }
    }

    /// The constant one-hot mask of the arg-extremum of each lane, in `x`'s shape.
    fn mask<T: Float>(&self, x: &Tensor<T>) -> Tensor<T> {
        let idx = arg_extremum(x, self.axis, self.kind);
        let mut mask = vec![T::ZERO; x.numel()];
        for (lane, k) in lanes(x, self.axis).zip(idx) {
            mask[lane.at(k)] = T::ONE;
        }
        Tensor::from_vec(mask, x.shape()).expect("mask has the input's shape")
    }
}

impl<T: Float> Op<T> for AxisExtremum {
    fn name(&self) -> &'static str {
        match self.kind {
            Extremum::Max => "max",
            Extremum::Min => "min",
        }
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let d = x[0].data();
        let idx = arg_extremum(x[0], self.axis, self.kind);
        let values = lanes(x[0], self.axis)
            .zip(idx)
            .map(|(lane, k)| d[lane.at(k)])
            .collect();
        from_lanes(values, x[0].shape(), self.axis, self.keepdim)
    }

    // dy/dx = 1 at the first arg-extremum of each lane, 0 elsewhere: the gradient, broadcast
    // back over the axis, times a constant one-hot mask.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let x = cx.input(0);
        let shape = x.shape();
        let g = cx.grad().reshape(&reduced_shape(&shape, self.axis, true));
        let mask = x.constant_like(self.mask(&x.value()));
        [Some(g.broadcast_to(&shape) * mask)].into()
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// The maximum along `axis` (negative counts from the end), keeping the axis as length 1 if
    /// `keepdim`: `y[i, j] = max_k x[i, k, j]`, with `i` running over the axes before `axis`
    /// and `j` over those after it.
    ///
    /// Derivative: `1` for the element that attains the maximum, `0` for the others. On ties the
    /// gradient goes to the first occurrence only, as PyTorch's `x.max(dim)` (values, indices);
    /// a NaN counts as the maximum, as in PyTorch. (PyTorch's `torch.amax` instead splits the
    /// gradient evenly among ties.) The second derivative is 0.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, 5.0, 5.0, 4.0, -2.0, 0.0], &[2, 3]).unwrap());
    /// let m = x.max_axis(1, false);
    /// assert_eq!(m.value().to_vec(), vec![5.0, 4.0]);
    /// // d/dx sum(m^2) = 2 m at the first arg-max of each row
    /// let g = (m * m).sum().backward();
    /// assert_eq!(g[x].to_vec(), vec![0.0, 10.0, 0.0, 8.0, 0.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range (`max: axis 2 is out of range for a tensor of shape [2, 3]`)
    /// or has length 0 (`max: axis 1 has length 0 in shape [2, 0]`).
    #[track_caller]
    pub fn max_axis(self, axis: isize, keepdim: bool) -> Var<'t, T> {
        let op = AxisExtremum::new(Extremum::Max, axis, &self.shape(), keepdim);
        self.tape.apply(op, &[self])
    }

    /// The largest element, a scalar of shape `[]`; the gradient goes to its first occurrence
    /// (row-major), as [`max_axis`](Self::max_axis). PyTorch: `x.max()` (whose gradient is
    /// split evenly among ties instead).
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![3.0, 7.0, 7.0, -1.0], &[2, 2]).unwrap());
    /// let m = x.max();
    /// assert_eq!((m.shape().len(), m.item()), (0, 7.0));
    /// assert_eq!(m.backward()[x].to_vec(), vec![0.0, 1.0, 0.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If the tensor has no elements: `max: axis 0 has length 0 in shape [0]`.
    #[track_caller]
    pub fn max(self) -> Var<'t, T> {
        let n = self.shape().iter().product();
        self.reshape(&[n]).max_axis(0, false)
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::max_axis`] on operands.
    #[track_caller]
    pub fn max_axis(&self, axis: isize, keepdim: bool) -> Operand<'t, T> {
        let op = AxisExtremum::new(Extremum::Max, axis, &self.shape(), keepdim);
        Operand::apply(op, &[self])
    }

    /// [`Var::max`] on operands.
    #[track_caller]
    pub fn max(&self) -> Operand<'t, T> {
        let n = self.shape().iter().product();
        self.reshape(&[n]).max_axis(0, false)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Operand, Tape, Tensor};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[0.3, -1.0, 2.0, 0.5, 1.5, -0.7], &[3, 2]));
        let m = x.max_axis(0, true);
        assert_eq!(m.shape().as_slice(), &[1, 2]);
        assert_close(&m.value(), &[2.0, 0.5], 0.0);
        // d/dx sum(tanh(max_k x_kj)) = 1 - tanh^2(m_j) at the arg-max of column j
        let g = m.tanh().sum().backward();
        let (d0, d1) = (1.0 - 2.0f64.tanh().powi(2), 1.0 - 0.5f64.tanh().powi(2));
        assert_close(&g[x], &[0.0, 0.0, d0, d1, 0.0, 0.0], 1e-15);
    }

    #[test]
    fn ties_send_the_gradient_to_the_first_occurrence() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[2.0, 2.0, 1.0, 3.0, 3.0, 3.0], &[2, 3]));
        let g = (x.max_axis(-1, false) * 2.0).sum().backward();
        assert_close(&g[x], &[2.0, 0.0, 0.0, 2.0, 0.0, 0.0], 0.0);
        let g = x.max().backward();
        assert_close(&g[x], &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0], 0.0);
    }

    #[test]
    fn nan_is_the_maximum() {
        let tape = Tape::<f32>::new();
        let x = tape.var(
            Tensor::from_vec(vec![1.0, f32::NAN, 3.0], &[3]).expect("the data fits the shape"),
        );
        assert!(x.max_axis(0, false).item().is_nan());
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Distinct values (no near-ties), so the arg-max is stable under the probes.
        let x = t(
            &[
                0.1, 1.7, -0.8, 0.9, 2.4, -1.5, 0.4, 1.1, -0.3, 1.3, -2.1, 0.6,
            ],
            &[2, 3, 2],
        );
        check_both(|x| x[0].max_axis(1, false).tanh(), &[x.clone()]);
        check_both(|x| (x[0].max_axis(-1, true) * x[0]).sum(), &[x.clone()]);
        check_both(|x| x[0].max_axis(0, false).exp().sum(), &[x.clone()]);
        check_both(|x| x[0].max().tanh(), &[x]);
    }

    #[test]
    fn eager_operand_matches_recorded() {
        let x = Tensor::<f64>::randn(&[3, 4], 5);
        let tape = Tape::new();
        let v = tape.var(x.clone());
        assert_eq!(
            Operand::from(x.clone()).max_axis(1, false).value(),
            v.max_axis(1, false).value()
        );
        assert_eq!(Operand::from(x).max().value(), v.max().value());
    }

    #[test]
    #[should_panic(expected = "max: axis 2 is out of range for a tensor of shape [2, 3]")]
    fn bad_axis_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 3])).max_axis(2, false);
    }

    #[test]
    #[should_panic(expected = "max: axis 1 has length 0 in shape [2, 0]")]
    fn empty_axis_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 0])).max_axis(1, true);
    }

    #[test]
    #[should_panic(expected = "max: axis 0 has length 0 in shape [0]")]
    fn max_of_nothing_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[3, 0])).max();
    }
}
