//! `logsumexp` over an axis, fused and stable: `m + ln(sum exp(x - m))` with `m` the maximum.

use super::axis::{from_lanes, reduced_shape, shifted_sum_exp};
use crate::tensor::shape::normalize_axis;
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = ln(sum_k exp(x_k))` along axis, keeping the axis as length 1 or dropping it.
struct LogSumExp {
    axis: usize,
    keepdim: bool,
}

impl<T: Float> Op<T> for LogSumExp {
    fn name(&self) -> &'static str {
        "logsumexp"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let values = shifted_sum_exp(x[0], self.axis)
            .into_iter()
            .map(|(m, s)| m + s.ln())
            .collect();
        from_lanes(values, x[0].shape(), self.axis, self.keepdim)
    }

    // dy/dx_k = exp(x_k - y) = softmax(x)_k, written with the output y so that it is
    // differentiable again (and never overflows: x_k - y <= 0).
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let x = cx.input(0);
        let kept = reduced_shape(&x.shape(), self.axis, true);
        let y = cx.output().reshape(&kept);
        let g = cx.grad().reshape(&kept);
        [Some((x - &y).exp() * g)].into()
    }
}

#[track_caller]
fn op(axis: isize, shape: &[usize], keepdim: bool) -> LogSumExp {
    LogSumExp {
        axis: normalize_axis("logsumexp", axis, shape),
        keepdim,
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// `y = ln(sum_k exp(x_k))` along `axis` (negative counts from the end), keeping the axis as
    /// length 1 if `keepdim`.
    ///
    /// Computed as `m + ln(sum_k exp(x_k - m))` with `m` the lane's maximum, so it neither
    /// overflows nor underflows for logits of any magnitude (`logsumexp([1000, 1000]) =
    /// 1000 + ln 2`). A lane of only `-inf` gives `-inf`, an empty axis gives `-inf`, as in
    /// PyTorch. Derivative: `dy/dx_k = exp(x_k - y)`, the softmax of `x` along the axis (smooth
    /// everywhere; second order works). PyTorch: `torch.logsumexp(x, dim, keepdim)`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1000.0, 1000.0, -1000.0, 0.0], &[2, 2]).unwrap());
    /// let y = x.logsumexp(1, false);
    /// let want = [1000.0 + 2f32.ln(), 0.0];
    /// assert!(y.value().data().iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-4));
    /// let g = y.sum().backward(); // the softmax of each row
    /// let want = [0.5, 0.5, 0.0, 1.0];
    /// assert!(g[x].data().iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-4));
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range: `logsumexp: axis 2 is out of range for a tensor of shape [2, 3]`.
    #[track_caller]
    pub fn logsumexp(self, axis: isize, keepdim: bool) -> Var<'t, T> {
        let op = op(axis, &self.shape(), keepdim);
        self.tape.apply(op, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::logsumexp`] on operands.
    #[track_caller]
    pub fn logsumexp(&self, axis: isize, keepdim: bool) -> Operand<'t, T> {
        Operand::apply(op(axis, &self.shape(), keepdim), &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor};

    fn lse(v: &[f64]) -> f64 {
        v.iter().map(|x| x.exp()).sum::<f64>().ln()
    }

    #[test]
    fn values_and_gradient_have_closed_form() {
        let tape = Tape::<f64>::new();
        let rows = [[0.3, -1.0, 2.0], [0.5, 1.5, -0.7]];
        let x = tape.var(t(&rows.concat(), &[2, 3]));
        let y = x.logsumexp(-1, true);
        assert_eq!(y.shape().as_slice(), &[2, 1]);
        let l = [lse(&rows[0]), lse(&rows[1])];
        assert_close(&y.value(), &l, 1e-14);
        // d/dx_ij sum_i tanh(y_i) = (1 - tanh^2(y_i)) exp(x_ij - y_i)
        let g = y.tanh().sum().backward();
        let want: Vec<f64> = (0..6)
            .map(|k| {
                let (i, j) = (k / 3, k % 3);
                (1.0 - l[i].tanh().powi(2)) * (rows[i][j] - l[i]).exp()
            })
            .collect();
        assert_close(&g[x], &want, 1e-14);
    }

    #[test]
    fn stable_at_logits_of_magnitude_1e3() {
        // logsumexp(c + v) = c + logsumexp(v)
        let v = [0.0, -1.0, 2.5];
        for c in [1000.0, -1000.0] {
            let data: Vec<f64> = v.iter().map(|x| x + c).collect();
            let want = c + lse(&v);
            let soft: Vec<f64> = v.iter().map(|x| (x - lse(&v)).exp()).collect();

            let tape = Tape::<f64>::new();
            let x = tape.var(t(&data, &[3]));
            let y = x.logsumexp(0, false);
            assert!((y.item() - want).abs() < 1e-12, "{} vs {want}", y.item());
            assert_close(&y.backward()[x], &soft, 1e-12);

            let tape = Tape::<f32>::new();
            let data32: Vec<f32> = data.iter().map(|&x| x as f32).collect();
            let x = tape.var(Tensor::from_vec(data32, &[1, 3]).expect("the data fits the shape"));
            let y = x.logsumexp(1, true);
            assert!(
                ((y.item() as f64) - want).abs() < 1e-3,
                "{} vs {want}",
                y.item()
            );
            let g = y.sum().backward()[x].cast::<f64>();
            assert!(g.all_finite());
            assert_close(&g, &soft, 1e-4);
        }
    }

    #[test]
    fn infinities_follow_pytorch() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(
            &[f64::NEG_INFINITY, f64::NEG_INFINITY, 0.0, 1.0],
            &[2, 2],
        ));
        let y = x.logsumexp(1, false).value();
        assert_eq!(y.get(&[0]), f64::NEG_INFINITY);
        assert!((y.get(&[1]) - lse(&[0.0, 1.0])).abs() < 1e-15);
        let empty = tape.var(Tensor::zeros(&[2, 0])).logsumexp(1, false);
        assert_eq!(empty.value().to_vec(), vec![f64::NEG_INFINITY; 2]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::randn(&[2, 3, 4], 1);
        check_both(|x| x[0].logsumexp(1, false).tanh(), &[x.clone()]);
        check_both(|x| (x[0].logsumexp(-1, true) * x[0]).sum(), &[x.clone()]);
        check_both(|x| x[0].logsumexp(0, true).exp(), &[x]);
    }

    #[test]
    #[should_panic(expected = "logsumexp: axis 2 is out of range for a tensor of shape [2, 3]")]
    fn bad_axis_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 3])).logsumexp(2, false);
    }
}
