//! `pad_axis`: zeros before and after along one axis; the adjoint of `narrow`.

use crate::tensor::kernels::{unique_mut, zeroed};
use crate::tensor::shape::{Shape, normalize_axis};
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = [zeros(before), x, zeros(after)]` along `axis`.
struct PadAxis {
    axis: usize,
    before: usize,
    after: usize,
}

impl<T: Float> Op<T> for PadAxis {
    fn name(&self) -> &'static str {
        "pad_axis"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let x = x[0];
        let (outer, n, inner) = x.lanes(self.axis);
        let m = self.before + n + self.after;
        let block = n * inner;
        let mut shape: Shape = x.shape().into();
        shape[self.axis] = m;
        let mut out = zeroed(outer * m * inner);
        let buf = unique_mut(&mut out);
        for o in 0..outer {
            let to = (o * m + self.before) * inner;
            buf[to..][..block].copy_from_slice(&x.data()[o * block..][..block]);
        }
        Tensor::from_parts(shape, out)
    }

    // dy/dx is 1 on the copied range, the padding is constant: narrow the gradient back.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let n = cx.input(0).shape()[self.axis];
        [Some(cx.grad().narrow(self.axis as isize, self.before, n))].into()
    }
}

#[track_caller]
fn pad_op(axis: isize, before: usize, after: usize, shape: &[usize]) -> PadAxis {
    PadAxis {
        axis: normalize_axis("pad_axis", axis, shape),
        before,
        after,
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Pads `axis` (negative counts from the end) with `before` zeros in front and `after` zeros
    /// behind: `y[.., before + i, ..] = x[.., i, ..]`, every other element of `y` is 0.
    ///
    /// Derivative: `1` for each copied element, so the gradient is the upstream gradient
    /// narrowed back to the input's range ([`narrow`](Self::narrow), the adjoint); the padding
    /// is constant. Linear, no kinks.
    /// PyTorch: `torch.nn.functional.pad` with zeros on one axis, e.g.
    /// `F.pad(x, (before, after))` for the last axis.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    /// let y = x.pad_axis(-1, 1, 2);
    /// assert_eq!(y.shape().as_slice(), &[2, 5]);
    /// assert_eq!(y.value().to_vec(), vec![0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 3.0, 4.0, 0.0, 0.0]);
    /// let w = tape.constant(Tensor::arange(10).reshape(&[2, 5]));
    /// let g = (y * w).sum().backward(); // the weights at the copied positions
    /// assert_eq!(g[x].to_vec(), vec![1.0, 2.0, 6.0, 7.0]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range:
    /// `pad_axis: axis 2 is out of range for a tensor of shape [2, 2] (rank 2)`.
    #[track_caller]
    pub fn pad_axis(self, axis: isize, before: usize, after: usize) -> Var<'t, T> {
        let op = pad_op(axis, before, after, &self.shape());
        self.tape.apply(op, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::pad_axis`] on operands; returns a clone when there is nothing to pad.
    #[track_caller]
    pub fn pad_axis(&self, axis: isize, before: usize, after: usize) -> Operand<'t, T> {
        let op = pad_op(axis, before, after, &self.shape());
        if before == 0 && after == 0 {
            return self.clone();
        }
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
        let x = tape.var(t(&[0.5, -1.0, 2.0], &[3, 1]));
        let w = tape.constant(t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]));
        // y = [0, x_i] per row; d/dx_i sum(w * tanh(y)) = w_i1 (1 - tanh^2(x_i))
        let g = (w * x.pad_axis(1, 1, 0).tanh()).sum().backward();
        let d = |v: f64| 1.0 - v.tanh().powi(2);
        assert_close(&g[x], &[2.0 * d(0.5), 4.0 * d(-1.0), 6.0 * d(2.0)], 1e-12);
    }

    #[test]
    fn pads_leading_axis_and_zero_length_inputs() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::ones(&[1, 2]));
        let y = x.pad_axis(0, 2, 1);
        assert_eq!(y.shape().as_slice(), &[4, 2]);
        assert_eq!(
            y.value().to_vec(),
            vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
        );
        let empty = tape.var(Tensor::zeros(&[2, 0]));
        assert_eq!(empty.pad_axis(1, 1, 1).value().to_vec(), vec![0.0; 4]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::randn(&[2, 3, 2], 1);
        check_both(|x| x[0].pad_axis(1, 2, 1).exp(), &[x.clone()]);
        check_both(
            |x| (x[0].pad_axis(0, 1, 0) * x[0].pad_axis(0, 0, 1)).sum(),
            &[x],
        );
    }

    #[test]
    #[should_panic(expected = "pad_axis: axis 2 is out of range for a tensor of shape [2, 2]")]
    fn bad_axis_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 2])).pad_axis(2, 1, 1);
    }
}
