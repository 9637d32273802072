//! `log_softmax` along an axis, fused and stable: `(x - m) - ln(sum exp(x - m))` with `m` the
//! maximum.

use super::axis::{map_lanes, shifted_sum_exp};
use crate::tensor::shape::normalize_axis;
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y_k = x_k - ln(sum_j exp(x_j))` along axis.
struct LogSoftmax {
    axis: usize,
}

impl<T: Float> Op<T> for LogSoftmax {
    fn name(&self) -> &'static str {
        "log_softmax"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let stats = shifted_sum_exp(x[0], self.axis);
        map_lanes(x[0], self.axis, &stats, |v, (m, s)| (v - m) - s.ln())
    }

    // dy_k/dx_j = delta_kj - softmax_j = delta_kj - exp(y_j), so the vector-Jacobian product is
    // g - exp(y) * sum(g) along the axis, written with the output y.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (y, g) = (cx.output(), cx.grad());
        let total = g.sum_axis(self.axis as isize, true);
        [Some(g - y.exp() * total)].into()
    }
}

#[track_caller]
fn op(axis: isize, shape: &[usize]) -> LogSoftmax {
    LogSoftmax {
        axis: normalize_axis("log_softmax", axis, shape),
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// `y_k = x_k - ln(sum_j exp(x_j))` along `axis` (negative counts from the end): the log of
    /// [`softmax`](Self::softmax), with the input's shape.
    ///
    /// Computed as `(x_k - m) - ln(sum_j exp(x_j - m))` with `m` the lane's maximum, so it is
    /// finite and accurate for logits of any magnitude, including where `softmax` underflows to 0
    /// (`log_softmax([0, -1000]) = [0, -1000]`, while `ln(softmax)` would give `-inf`).
    /// Derivative: `dy_k/dx_j = delta_kj - softmax_j`; backward is `g - exp(y) * sum(g, axis)`.
    /// Smooth everywhere (second order works). PyTorch: `torch.log_softmax(x, dim)`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1000.0, 0.0, 5.0, 5.0], &[2, 2]).unwrap());
    /// let y = x.log_softmax(1);
    /// let ln2 = 2f64.ln();
    /// assert_eq!(y.value().to_vec(), vec![0.0, -1000.0, -ln2, -ln2]);
    /// // d/dx_j sum_k y_k = 1 - n softmax_j (n = 2 per row)
    /// let g = y.sum().backward()[x].to_vec();
    /// assert!(g.iter().zip([-1.0, 1.0, 0.0, 0.0]).all(|(a, b)| (a - b).abs() < 1e-15));
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range:
    /// `log_softmax: axis 2 is out of range for a tensor of shape [2, 3]`.
    #[track_caller]
    pub fn log_softmax(self, axis: isize) -> Var<'t, T> {
        let op = op(axis, &self.shape());
        self.tape.apply(op, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::log_softmax`] on operands.
    #[track_caller]
    pub fn log_softmax(&self, axis: isize) -> Operand<'t, T> {
        Operand::apply(op(axis, &self.shape()), &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor};

    fn log_softmax(v: &[f64]) -> Vec<f64> {
        let l = v.iter().map(|x| x.exp()).sum::<f64>().ln();
        v.iter().map(|x| x - l).collect()
    }

    #[test]
    fn values_and_gradient_have_closed_form() {
        let tape = Tape::<f64>::new();
        let v = [0.3, -1.0, 2.0];
        let x = tape.var(t(&v, &[3, 1]));
        let y = x.log_softmax(0);
        let ls = log_softmax(&v);
        assert_close(&y.value(), &ls, 1e-15);
        // L = sum_k c_k y_k^2 with c = [1, 2, 3]: dL/dy_k = 2 c_k y_k,
        // dL/dx_j = dL/dy_j - softmax_j sum_k dL/dy_k
        let c = tape.constant(t(&[1.0, 2.0, 3.0], &[3, 1]));
        let g = (y * y * c).sum().backward();
        let up: Vec<f64> = (0..3).map(|k| 2.0 * (k + 1) as f64 * ls[k]).collect();
        let total: f64 = up.iter().sum();
        let want: Vec<f64> = (0..3).map(|j| up[j] - ls[j].exp() * total).collect();
        assert_close(&g[x], &want, 1e-14);
    }

    #[test]
    fn stable_at_logits_of_magnitude_1e3() {
        // log_softmax(c + v) = log_softmax(v); entries far below the max stay finite.
        let v = [0.0, -1.0, 2.5, -1500.0];
        let want = log_softmax(&v); // finite: exp(-1500) only underflows inside the sum
        let seed = [0.3, -1.2, 0.7, 2.0];
        let total: f64 = seed.iter().sum();
        let grad: Vec<f64> = (0..4).map(|j| seed[j] - want[j].exp() * total).collect();
        for c in [1000.0, -1000.0] {
            let data: Vec<f64> = v.iter().map(|x| x + c).collect();
            let tape = Tape::<f64>::new();
            let x = tape.var(t(&data, &[4]));
            let y = x.log_softmax(0);
            assert_close(&y.value(), &want, 1e-12);
            let g = y
                .backward_with(t(&seed, &[4]), false)
                .expect("a seed of the output\'s shape");
            assert_close(&g[x], &grad, 1e-14);

            let tape = Tape::<f32>::new();
            let x = tape.var(t(&data, &[1, 4]).cast::<f32>());
            let y = x.log_softmax(-1);
            assert!(y.value().all_finite());
            assert_close(&y.value().cast(), &want, 1e-3); // |y| ~ 1500: f32 ulp 1.2e-4
            let g = y
                .backward_with(t(&seed, &[1, 4]).cast(), false)
                .expect("a seed of the output\'s shape");
            assert!(g[x].all_finite());
            assert_close(&g[x].cast(), &grad, 1e-5);
        }
    }

    #[test]
    fn matches_log_of_softmax() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::randn(&[3, 4], 4));
        let a = x.log_softmax(0).value();
        let b = x.softmax(0).value().map(f64::ln);
        assert!(a.max_abs_diff(&b).expect("equal shapes") < 1e-14);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::randn(&[2, 3, 4], 1);
        let w = Tensor::randn(&[3, 4], 2);
        check_both(
            |x| (x[0].log_softmax(1) * x[1]).tanh(),
            &[x.clone(), w.clone()],
        );
        check_both(|x| (x[0].log_softmax(-1) * x[1]).sum(), &[x.clone(), w]);
        check_both(|x| x[0].log_softmax(0).powf(2.0), &[x]);
    }

    #[test]
    #[should_panic(expected = "log_softmax: axis 2 is out of range for a tensor of shape [2, 3]")]
    fn bad_axis_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 3])).log_softmax(2);
    }
}
