//! `softmax` along an axis, fused and stable: `exp(x - m) / sum exp(x - m)` with `m` the maximum.

use super::axis::{map_lanes, shifted_sum_exp};
use crate::tensor::shape::normalize_axis;
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y_k = exp(x_k) / sum_j exp(x_j)` along axis.
struct Softmax {
    axis: usize,
}

impl<T: Float> Op<T> for Softmax {
    fn name(&self) -> &'static str {
        "softmax"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let stats = shifted_sum_exp(x[0], self.axis);
        map_lanes(x[0], self.axis, &stats, |v, (m, s)| (v - m).exp() / s)
    }

    // dy_k/dx_j = y_k (delta_kj - y_j), so the vector-Jacobian product is
    // y * (g - sum(g * y)) along the axis, written with the output y.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (y, g) = (cx.output(), cx.grad());
        let dot = (g * y).sum_axis(self.axis as isize, true);
        [Some(y * (g - dot))].into()
    }
}

#[track_caller]
fn op(axis: isize, shape: &[usize]) -> Softmax {
    Softmax {
        axis: normalize_axis("softmax", axis, shape),
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// `y_k = exp(x_k) / sum_j exp(x_j)` along `axis` (negative counts from the end); the
    /// output has the input's shape and each lane sums to 1.
    ///
    /// Computed as `exp(x_k - m) / sum_j exp(x_j - m)` with `m` the lane's maximum, so logits of
    /// any magnitude neither overflow nor give `0/0`. Derivative:
    /// `dy_k/dx_j = y_k (delta_kj - y_j)`; backward is `y * (g - sum(g * y, axis))`.
    /// Smooth everywhere (second order works). PyTorch: `torch.softmax(x, dim)`.
    /// For a loss, prefer [`log_softmax`](Self::log_softmax), which stays accurate where
    /// `ln(softmax)` would underflow to `-inf`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1000.0, 1000.0, 0.0, 0.0, 0.0, 0.0], &[2, 3]).unwrap());
    /// let y = x.softmax(-1);
    /// let third = 1.0 / 3.0;
    /// assert_eq!(y.value().to_vec(), vec![0.5, 0.5, 0.0, third, third, third]);
    /// // d/dx_j y_0 = y_0 (delta_0j - y_j) = [0.5 * 0.5, -0.5 * 0.5, -0.5 * 0]
    /// let pick = tape.constant(Tensor::from_vec(vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0], &[2, 3]).unwrap());
    /// let grads = (y * pick).sum().backward();
    /// assert_eq!(grads[x].to_vec(), vec![0.25, -0.25, 0.0, 0.0, 0.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range: `softmax: axis 2 is out of range for a tensor of shape [2, 3]`.
    #[track_caller]
    pub fn softmax(self, axis: isize) -> Var<'t, T> {
        let op = op(axis, &self.shape());
        self.tape.apply(op, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::softmax`] on operands.
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Operand<'t, T> {
        Operand::apply(op(axis, &self.shape()), &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor};

    fn softmax(v: &[f64]) -> Vec<f64> {
        let s: f64 = v.iter().map(|x| x.exp()).sum();
        v.iter().map(|x| x.exp() / s).collect()
    }

    #[test]
    fn values_and_gradient_have_closed_form() {
        let tape = Tape::<f64>::new();
        let v = [0.3, -1.0, 2.0];
        let x = tape.var(t(&v, &[3]));
        let y = x.softmax(0);
        let s = softmax(&v);
        assert_close(&y.value(), &s, 1e-15);
        // L = sum_k c_k y_k^2 with c = [1, 2, 3]: dL/dy_k = 2 c_k y_k,
        // dL/dx_j = y_j (dL/dy_j - sum_k dL/dy_k y_k)
        let c = tape.constant(t(&[1.0, 2.0, 3.0], &[3]));
        let g = (y * y * c).sum().backward();
        let up: Vec<f64> = (0..3).map(|k| 2.0 * (k + 1) as f64 * s[k]).collect();
        let dot: f64 = (0..3).map(|k| up[k] * s[k]).sum();
        let want: Vec<f64> = (0..3).map(|j| s[j] * (up[j] - dot)).collect();
        assert_close(&g[x], &want, 1e-15);
    }

    #[test]
    fn lanes_sum_to_one_on_any_axis() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::randn(&[2, 3, 4], 3));
        for axis in [0, 1, 2, -1] {
            let s = x.softmax(axis).sum_axis(axis, false).value();
            assert!(s.data().iter().all(|v| (v - 1.0).abs() < 1e-14), "{s}");
        }
    }

    #[test]
    fn stable_at_logits_of_magnitude_1e3() {
        // softmax(c + v) = softmax(v)
        let v = [0.0, -1.0, 2.5, -30.0];
        let want = softmax(&v);
        let seed = [0.3, -1.2, 0.7, 2.0];
        let dot: f64 = want.iter().zip(seed).map(|(y, g)| y * g).sum();
        let grad: Vec<f64> = (0..4).map(|j| want[j] * (seed[j] - dot)).collect();
        for c in [1000.0, -1000.0] {
            let data: Vec<f64> = v.iter().map(|x| x + c).collect();
            let tape = Tape::<f64>::new();
            let x = tape.var(t(&data, &[1, 4]));
            let y = x.softmax(1);
            assert_close(&y.value(), &want, 1e-15);
            let g = y
                .backward_with(t(&seed, &[1, 4]), false)
                .expect("a seed of the output\'s shape");
            assert_close(&g[x], &grad, 1e-14);

            let tape = Tape::<f32>::new();
            let x = tape.var(t(&data, &[4, 1]).cast::<f32>());
            let y = x.softmax(0);
            assert!(y.value().all_finite());
            assert_close(&y.value().cast(), &want, 1e-6);
            let g = y
                .backward_with(t(&seed, &[4, 1]).cast(), false)
                .expect("a seed of the output\'s shape");
            assert_close(&g[x].cast(), &grad, 1e-5);
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::randn(&[2, 3, 4], 1);
        let w = Tensor::randn(&[2, 3, 4], 2);
        check_both(|x| (x[0].softmax(1) * x[1]).tanh(), &[x.clone(), w.clone()]);
        check_both(|x| (x[0].softmax(-1) * x[1]).sum(), &[x.clone(), w]);
        check_both(|x| x[0].softmax(0).powf(2.0), &[x]);
    }

    #[test]
    #[should_panic(expected = "softmax: axis 2 is out of range for a tensor of shape [2, 3]")]
    fn bad_axis_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 3])).softmax(2);
    }
}
