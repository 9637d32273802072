//! Minimum over an axis; the gradient goes to the arg-minimum. The op itself (forward and
//! backward) is shared with the maximum, in `max_axis.rs`.

use super::axis::Extremum;
use super::max_axis::AxisExtremum;
use crate::{Float, Operand, Var};

impl<'t, T: Float> Var<'t, T> {
    /// The minimum along `axis` (negative counts from the end), keeping the axis as length 1 if
    /// `keepdim`: `y[i, j] = min_k x[i, k, j]`, with `i` running over the axes before `axis`
    /// and `j` over those after it.
    ///
    /// Derivative: `1` for the element that attains the minimum, `0` for the others. On ties the
    /// gradient goes to the first occurrence only, as PyTorch's `x.min(dim)` (values, indices);
    /// a NaN counts as the minimum, as in PyTorch. (PyTorch's `torch.amin` instead splits the
    /// gradient evenly among ties.) The second derivative is 0.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, -5.0, -5.0, 4.0, -2.0, 0.0], &[2, 3]).unwrap());
    /// let m = x.min_axis(-1, true);
    /// assert_eq!(m.shape().as_slice(), &[2, 1]);
    /// assert_eq!(m.value().to_vec(), vec![-5.0, -2.0]);
    /// // d/dx sum(m^2) = 2 m at the first arg-min of each row
    /// let g = (m * m).sum().backward();
    /// assert_eq!(g[x].to_vec(), vec![0.0, -10.0, 0.0, 0.0, -4.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range (`min: axis 2 is out of range for a tensor of shape [2, 3]`)
    /// or has length 0 (`min: axis 1 has length 0 in shape [2, 0]`).
    #[track_caller]
    pub fn min_axis(self, axis: isize, keepdim: bool) -> Var<'t, T> {
        let op = AxisExtremum::new(Extremum::Min, axis, &self.shape(), keepdim);
        self.tape.apply(op, &[self])
    }

    /// The smallest element, a scalar of shape `[]`; the gradient goes to its first occurrence
    /// (row-major), as [`min_axis`](Self::min_axis). PyTorch: `x.min()` (whose gradient is
    /// split evenly among ties instead).
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![3.0, -7.0, 2.0, -7.0], &[2, 2]).unwrap());
    /// let m = x.min();
    /// assert_eq!((m.shape().len(), m.item()), (0, -7.0));
    /// assert_eq!(m.backward()[x].to_vec(), vec![0.0, 1.0, 0.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If the tensor has no elements: `min: axis 0 has length 0 in shape [0]`.
    #[track_caller]
    pub fn min(self) -> Var<'t, T> {
        let n = self.shape().iter().product();
        self.reshape(&[n]).min_axis(0, false)
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::min_axis`] on operands.
    #[track_caller]
    pub fn min_axis(&self, axis: isize, keepdim: bool) -> Operand<'t, T> {
        let op = AxisExtremum::new(Extremum::Min, axis, &self.shape(), keepdim);
        Operand::apply(op, &[self])
    }

    /// [`Var::min`] on operands.
    #[track_caller]
    pub fn min(&self) -> Operand<'t, T> {
        let n = self.shape().iter().product();
        self.reshape(&[n]).min_axis(0, false)
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
        let m = x.min_axis(0, false);
        assert_eq!(m.shape().as_slice(), &[2]);
        assert_close(&m.value(), &[0.3, -1.0], 0.0);
        // d/dx sum(exp(min_k x_kj)) = exp(m_j) at the arg-min of column j
        let g = m.exp().sum().backward();
        assert_close(
            &g[x],
            &[0.3f64.exp(), (-1.0f64).exp(), 0.0, 0.0, 0.0, 0.0],
            1e-15,
        );
    }

    #[test]
    fn ties_send_the_gradient_to_the_first_occurrence() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[1.0, 2.0, 1.0, 3.0, 3.0, 3.0], &[2, 3]));
        let g = (x.min_axis(1, false) * 3.0).sum().backward();
        assert_close(&g[x], &[3.0, 0.0, 0.0, 3.0, 0.0, 0.0], 0.0);
        assert_close(&x.min().backward()[x], &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0], 0.0);
    }

    #[test]
    fn nan_is_the_minimum() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[1.0, f64::NAN, -3.0], &[3]));
        assert!(x.min().item().is_nan());
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = t(
            &[
                0.1, 1.7, -0.8, 0.9, 2.4, -1.5, 0.4, 1.1, -0.3, 1.3, -2.1, 0.6,
            ],
            &[3, 4],
        );
        check_both(|x| x[0].min_axis(1, true).tanh(), &[x.clone()]);
        check_both(|x| (x[0].min_axis(-2, false) * x[0]).sum(), &[x.clone()]);
        check_both(|x| (x[0].min() * x[0].max()).exp(), &[x]);
    }

    #[test]
    fn eager_operand_matches_recorded() {
        let x = Tensor::<f64>::randn(&[2, 3, 2], 9);
        let tape = Tape::new();
        let v = tape.var(x.clone());
        let eager = Operand::from(x.clone()).min_axis(1, true).value();
        assert_eq!(eager, v.min_axis(1, true).value());
        assert_eq!(Operand::from(x).min().value(), v.min().value());
    }

    #[test]
    #[should_panic(expected = "min: axis 2 is out of range for a tensor of shape [2, 3]")]
    fn bad_axis_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 3])).min_axis(2, false);
    }

    #[test]
    #[should_panic(expected = "min: axis 1 has length 0 in shape [2, 0]")]
    fn empty_axis_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 0])).min_axis(1, false);
    }
}
