//! `narrow`: a contiguous range along one axis (a slice); the adjoint of `pad_axis`.

use crate::tensor::kernels::{copied, fresh};
use crate::tensor::shape::{Shape, normalize_axis};
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = x[.., start..start + len, ..]` along `axis`.
struct Narrow {
    axis: usize,
    start: usize,
    len: usize,
}

impl<T: Float> Op<T> for Narrow {
    fn name(&self) -> &'static str {
        "narrow"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let x = x[0];
        let (outer, n, inner) = x.lanes(self.axis);
        let block = self.len * inner;
        let mut shape: Shape = x.shape().into();
        shape[self.axis] = self.len;
        if outer == 1 {
            // One contiguous range (a time step of a sequence): copied once, nothing zeroed.
            let from = self.start * inner;
            return Tensor::from_parts(shape, copied(&x.data()[from..][..block]));
        }
        let out = fresh(outer * block, |out| {
            for o in 0..outer {
                out.copy(&x.data()[(o * n + self.start) * inner..][..block]);
            }
        });
        Tensor::from_parts(shape, out)
    }

    // Only the input's shape is read: input and output can be released.
    fn backward_reads_input(&self, _input: usize) -> bool {
        false
    }

    fn backward_reads_output(&self) -> bool {
        false
    }

    // dy/dx selects the range: the gradient is the upstream one padded with zeros back to the
    // input's shape, which the sweep adds into the range in place (`InputGrads::padded`).
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let n = cx.input(0).shape()[self.axis];
        let after = n - self.start - self.len;
        InputGrads::padded(cx.grad().clone(), self.axis, self.start, after)
    }
}

#[track_caller]
fn narrow_op(axis: isize, start: usize, len: usize, shape: &[usize]) -> Narrow {
    let axis = normalize_axis("narrow", axis, shape);
    let n = shape[axis];
    assert!(
        start.checked_add(len).is_some_and(|end| end <= n),
        "narrow: start {start} + len {len} exceeds axis {axis} of length {n} in shape {shape:?}"
    );
    Narrow { axis, start, len }
}

impl<'t, T: Float> Var<'t, T> {
    /// The elements `start..start + len` along `axis` (negative counts from the end), all of
    /// every other axis: `y[.., i, ..] = x[.., start + i, ..]`. The result has length `len` on
    /// that axis (0 is allowed) and is a copy.
    ///
    /// Derivative: `1` for the selected elements and `0` elsewhere, so the gradient is the
    /// upstream gradient padded with zeros back to the input's shape
    /// ([`pad_axis`](Self::pad_axis), the adjoint). Linear, no kinks.
    /// PyTorch: `x.narrow(axis, start, len)`, i.e. `x[.., start:start + len, ..]`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::arange(8).reshape(&[2, 4]));
    /// let y = x.narrow(1, 1, 2); // columns 1 and 2
    /// assert_eq!(y.value().to_vec(), vec![1.0, 2.0, 5.0, 6.0]);
    /// let g = (y * y).sum().backward(); // d/dx sum(y^2) = 2 x on the range, 0 elsewhere
    /// assert_eq!(g[x].to_vec(), vec![0.0, 2.0, 4.0, 0.0, 0.0, 10.0, 12.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range, or if the range does not fit:
    /// `narrow: start 2 + len 3 exceeds axis 1 of length 4 in shape [2, 4]`.
    #[track_caller]
    pub fn narrow(self, axis: isize, start: usize, len: usize) -> Var<'t, T> {
        let op = narrow_op(axis, start, len, &self.shape());
        self.tape.apply(op, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::narrow`] on operands; returns a clone when the range is the whole axis.
    #[track_caller]
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Operand<'t, T> {
        let shape = self.shape();
        let op = narrow_op(axis, start, len, &shape);
        if len == shape[op.axis] {
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
        let x = tape.var(t(&[0.1, -0.2, 0.3, 0.4, -0.5, 0.6], &[3, 2]));
        // d/dx sum(exp(x[1..3, :])) = exp(x) on rows 1 and 2, 0 on row 0
        let g = x.narrow(0, 1, 2).exp().sum().backward();
        let e = |v: f64| v.exp();
        assert_close(&g[x], &[0.0, 0.0, e(0.3), e(0.4), e(-0.5), e(0.6)], 1e-12);
    }

    /// A custom op whose backward claims a padding that does not fit its input.
    struct BadSlice;
    impl crate::Op<f64> for BadSlice {
        fn name(&self) -> &'static str {
            "bad_slice"
        }
        fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
            x[0].clone()
        }
        fn backward<'t>(
            &self,
            cx: &crate::BackwardContext<'_, 't, f64>,
        ) -> crate::InputGrads<'t, f64> {
            crate::InputGrads::padded(cx.grad().clone(), 0, 1, 0)
        }
    }

    #[test]
    #[should_panic(
        expected = "backward of `bad_slice` returned a gradient of shape [3] padded by \
                               1 and 0 on axis 0, which does not make the input's shape [3]"
    )]
    fn a_padding_that_does_not_fit_names_the_op_eagerly() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::zeros(&[3]));
        tape.apply(BadSlice, &[x]).sum().backward();
    }

    #[test]
    #[should_panic(expected = "backward of `bad_slice` returned a gradient of shape [3] padded by")]
    fn a_padding_that_does_not_fit_names_the_op_when_recorded() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::zeros(&[3]));
        tape.grad(&[tape.apply(BadSlice, &[x]).sum()], &[x]);
    }

    #[test]
    fn values_along_each_axis() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::arange(24).reshape(&[2, 3, 4]));
        let y = x.narrow(-1, 3, 1);
        assert_eq!(y.shape().as_slice(), &[2, 3, 1]);
        assert_eq!(y.value().to_vec(), vec![3.0, 7.0, 11.0, 15.0, 19.0, 23.0]);
        assert_eq!(x.narrow(0, 1, 1).value().to_vec()[0], 12.0);
        assert_eq!(x.narrow(1, 2, 0).shape().as_slice(), &[2, 0, 4]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::randn(&[3, 4, 2], 1);
        check_both(|x| x[0].narrow(1, 1, 2).tanh(), &[x.clone()]);
        check_both(
            |x| (x[0].narrow(0, 0, 2) * x[0].narrow(0, 1, 2)).sum(),
            &[x],
        );
    }

    #[test]
    #[should_panic(expected = "narrow: start 2 + len 3 exceeds axis 1 of length 4 in shape [2, 4]")]
    fn range_out_of_bounds_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 4])).narrow(-1, 2, 3);
    }

    #[test]
    #[should_panic(expected = "narrow: axis 2 is out of range for a tensor of shape [2, 4]")]
    fn bad_axis_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 4])).narrow(2, 0, 1);
    }
}
