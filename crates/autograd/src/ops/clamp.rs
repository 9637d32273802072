//! Elementwise clamping to an interval.

use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `y = min(max(x, lo), hi)`.
struct Clamp<T> {
    min: T,
    max: T,
}

impl<T: Float> Op<T> for Clamp<T> {
    fn name(&self) -> &'static str {
        "clamp"
    }

    // NaN passes through, as in PyTorch (neither comparison holds).
    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let (lo, hi) = (self.min, self.max);
        x[0].map(|v| {
            if v < lo {
                lo
            } else if v > hi {
                hi
            } else {
                v
            }
        })
    }

    // dy/dx = 1 where min <= x <= max (boundaries included), else 0: a constant mask.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (x, lo, hi) = (cx.input(0), self.min, self.max);
        let mask = x
            .value()
            .map(|v| if lo <= v && v <= hi { T::ONE } else { T::ZERO });
        [Some(cx.grad() * x.constant_like(mask))].into()
    }

    fn scalar_backward(&self, x: &[T], _y: T, g: T, dx: &mut [T]) -> bool {
        let inside = self.min <= x[0] && x[0] <= self.max;
        dx[0] = g * if inside { T::ONE } else { T::ZERO };
        true
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Clamps every element to `[min, max]`: `y = min` for `x < min`, `y = max` for `x > max`,
    /// `y = x` otherwise (NaN stays NaN).
    ///
    /// Derivative `1` for `min < x < max` and `0` outside; at the boundaries `x = min` and
    /// `x = max` the gradient passes (derivative 1), as in PyTorch (`torch.clamp`). The second
    /// derivative is 0.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![-2.0, -1.0, 0.5, 1.0, 3.0], &[5]).unwrap());
    /// let y = x.clamp(-1.0, 1.0);
    /// assert_eq!(y.value().to_vec(), vec![-1.0, -1.0, 0.5, 1.0, 1.0]);
    /// assert_eq!(y.sum().backward()[x].to_vec(), vec![0.0, 1.0, 1.0, 1.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If `min > max`: `clamp: min 2 is greater than max 1`.
    #[track_caller]
    pub fn clamp(self, min: T, max: T) -> Var<'t, T> {
        check(min, max);
        self.tape.apply(Clamp { min, max }, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::clamp`] on operands.
    #[track_caller]
    pub fn clamp(&self, min: T, max: T) -> Operand<'t, T> {
        check(min, max);
        Operand::apply(Clamp { min, max }, &[self])
    }
}

#[track_caller]
fn check<T: Float>(min: T, max: T) {
    if min > max {
        panic!("clamp: min {min} is greater than max {max}");
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[-2.0, -1.0, 0.5, 3.0], &[4]));
        // d/dx tanh(clamp(x, -1, 2)) = (1 - tanh^2(x)) inside [-1, 2] (boundaries included), else 0
        let want = [
            0.0,
            1.0 - (-1.0f64).tanh().powi(2),
            1.0 - 0.5f64.tanh().powi(2),
            0.0,
        ];
        assert_close(&x.clamp(-1.0, 2.0).tanh().sum().backward()[x], &want, 1e-15);
    }

    #[test]
    fn nan_passes_through() {
        let tape = Tape::<f64>::new();
        let y = tape.var(Tensor::scalar(f64::NAN)).clamp(0.0, 1.0);
        assert!(y.item().is_nan());
    }

    #[test]
    fn gradients_match_finite_differences_away_from_bounds() {
        let x = t(&[-1.3, 0.4, 2.0, -0.2, 0.9, -2.2], &[2, 3]);
        check_both(|x| (x[0].clamp(-1.0, 1.0) * x[0]).sum(), &[x]);
    }

    #[test]
    #[should_panic(expected = "clamp: min 2 is greater than max 1")]
    fn min_above_max_panics() {
        let tape = Tape::<f64>::new();
        tape.var(Tensor::zeros(&[2])).clamp(2.0, 1.0);
    }
}
