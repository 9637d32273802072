//! `Dropout`: inverted dropout, configured by the probability of keeping a unit.

use std::cell::Cell;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wengert_autograd::{Error, Float, Tensor, Var};

use crate::{Module, init};

/// Inverted dropout: in training mode each element is kept with probability `keep_prob` and
/// scaled by `1 / keep_prob`, otherwise set to 0, so `E[y] = x`; in evaluation mode it is the
/// identity. "Threshold 0.7" means each unit is kept with probability 0.7 (PyTorch's
/// `nn.Dropout(p)` and Keras's `Dropout(rate)` take the *drop* probability `p = 1 - keep_prob`).
///
/// `y = x * m` with a constant mask `m_i = [u_i < keep_prob] / keep_prob`, `u_i ~ U(0, 1)`, so
/// the gradient is `dy/dx = m` (no hand-written backward). A module starts in training mode
/// (as in PyTorch); [`Module::set_training`]`(false)` switches it off. Each forward call draws a
/// new mask: mask `k` (counting calls from 0) is seeded by `(seed, k)`, so a run is
/// reproducible.
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::{Dropout, Module};
/// let mut drop = Dropout::new(0.5).unwrap().with_seed(1);
/// let tape = Tape::<f64>::new();
/// let x = tape.var(Tensor::ones(&[1000]));
/// let y = Module::<f64>::forward(&drop, x).value();
/// assert!(y.data().iter().all(|v| *v == 0.0 || *v == 2.0)); // dropped, or kept and scaled by 1/0.5
/// Module::<f64>::set_training(&mut drop, false);
/// assert_eq!(Module::<f64>::forward(&drop, x).value(), x.value()); // identity in eval mode
/// ```
#[derive(Debug)]
pub struct Dropout {
    keep_prob: f64,
    seed: u64,
    calls: Cell<u64>,
    training: bool,
}

impl Dropout {
    /// Dropout keeping each unit with probability `keep_prob`, in training mode, with a fresh
    /// per-layer seed (see [`with_seed`](Self::with_seed)).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless `0 < keep_prob <= 1`
    /// (`dropout: keep_prob must be in (0, 1], got 1.5 (it is the probability of keeping a unit; 1 disables dropout)`).
    pub fn new(keep_prob: f64) -> Result<Self, Error> {
        if !(keep_prob > 0.0 && keep_prob <= 1.0) {
            return Err(Error::InvalidConfig {
                message: format!(
                    "dropout: keep_prob must be in (0, 1], got {keep_prob} (it is the probability \
                     of keeping a unit; 1 disables dropout)"
                ),
            });
        }
        Ok(Dropout {
            keep_prob,
            seed: init::default_seed(),
            calls: Cell::new(0),
            training: true,
        })
    }

    /// Sets the seed of the mask sequence and restarts it.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self.calls.set(0);
        self
    }

    /// The probability of keeping a unit.
    pub fn keep_prob(&self) -> f64 {
        self.keep_prob
    }

    /// Whether the layer is in training mode (masks applied).
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// The next mask for `shape`: entries `0` or `1 / keep_prob`. Advances the call counter.
    fn next_mask<T: Float>(&self, shape: &[usize]) -> Tensor<T> {
        let k = self.calls.get();
        self.calls.set(k + 1);
        // Mix the call number into the seed (splitmix64 step) so successive masks differ.
        let mut z = self.seed ^ k.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let mut rng = StdRng::seed_from_u64(z ^ (z >> 31));
        let scale = T::from_f64(1.0 / self.keep_prob);
        let n: usize = shape.iter().product();
        let data = (0..n)
            .map(|_| {
                if rng.random::<f64>() < self.keep_prob {
                    scale
                } else {
                    T::ZERO
                }
            })
            .collect();
        Tensor::from_vec(data, shape).unwrap_or_else(|_| unreachable!("length is numel(shape)"))
    }
}

impl<T: Float> Module<T> for Dropout {
    /// `x * mask` in training mode (a new mask per call), `x` in evaluation mode or when
    /// `keep_prob == 1`.
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        if !self.training || self.keep_prob >= 1.0 {
            return x;
        }
        let mask = self.next_mask::<T>(&x.shape());
        x * x.tape().constant(mask)
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::check_fn;
    use wengert_autograd::Tape;
    use wengert_autograd::check::{CheckOptions, gradcheck, gradgradcheck};

    #[test]
    fn keep_prob_out_of_range_is_an_error() {
        for bad in [0.0, -0.1, 1.5, f64::NAN] {
            let e = Dropout::new(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidConfig { .. }));
            assert!(e.to_string().contains("keep_prob must be in (0, 1]"), "{e}");
        }
        assert!(Dropout::new(1.0).is_ok());
    }

    #[test]
    fn fraction_kept_and_mean_are_preserved() {
        // n = 200_000 Bernoulli(0.7): sd of the kept fraction is sqrt(.21/n) ~ 0.001.
        let d = Dropout::new(0.7)
            .expect("keep_prob 0.7 is in (0, 1]")
            .with_seed(3);
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::full(&[400, 500], 2.0));
        let y = Module::forward(&d, x).value();
        let kept = y.data().iter().filter(|v| **v != 0.0).count() as f64 / 200_000.0;
        assert!((kept - 0.7).abs() < 0.005, "{kept}");
        // kept units are 2 / 0.7
        assert!(
            y.data()
                .iter()
                .all(|v| *v == 0.0 || (*v - 2.0 / 0.7).abs() < 1e-15)
        );
        let mean = y.data().iter().sum::<f64>() / 200_000.0;
        assert!((mean - 2.0).abs() < 0.02, "{mean}");
    }

    #[test]
    fn successive_calls_draw_different_masks_and_seed_reproduces() {
        let tape = Tape::<f32>::new();
        let x = tape.var(Tensor::ones(&[64]));
        let d = Dropout::new(0.5)
            .expect("keep_prob 0.5 is in (0, 1]")
            .with_seed(9);
        let a = Module::forward(&d, x).value();
        let b = Module::forward(&d, x).value();
        assert_ne!(a, b);
        let d2 = Dropout::new(0.5)
            .expect("keep_prob 0.5 is in (0, 1]")
            .with_seed(9);
        assert_eq!(Module::forward(&d2, x).value(), a);
        assert_eq!(Module::forward(&d2, x).value(), b);
    }

    #[test]
    fn eval_mode_is_identity_and_keep_one_is_identity() {
        let mut d = Dropout::new(0.3).expect("keep_prob 0.3 is in (0, 1]");
        Module::<f64>::set_training(&mut d, false);
        assert!(!d.is_training());
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::randn(&[3, 4], 0));
        let y = Module::forward(&d, x);
        assert_eq!(y.id(), x.id()); // no node recorded at all
        let one = Dropout::new(1.0).expect("keep_prob 1 is in (0, 1]");
        assert_eq!(Module::forward(&one, x).value(), x.value());
    }

    #[test]
    fn gradient_is_mask_over_keep() {
        // y = x * m, so dL/dx = m for L = sum(y): 1/keep where kept, 0 where dropped.
        let d = Dropout::new(0.6)
            .expect("keep_prob 0.6 is in (0, 1]")
            .with_seed(4);
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::randn(&[50], 1));
        let y = Module::forward(&d, x);
        let yv = y.value();
        let g = y.sum().backward();
        for (gi, (yi, xi)) in g[x]
            .data()
            .iter()
            .zip(yv.data().iter().zip(x.value().data()))
        {
            let want = if *yi == 0.0 { 0.0 } else { 1.0 / 0.6 };
            assert!((gi - want).abs() < 1e-15);
            assert!((yi - want * xi).abs() < 1e-15);
        }
    }

    #[test]
    fn gradcheck_in_eval_mode() {
        let mut d = Dropout::new(0.5).expect("keep_prob 0.5 is in (0, 1]");
        Module::<f64>::set_training(&mut d, false);
        let f = check_fn(|v: &[Var<'_, f64>]| Module::forward(&d, v[0]).tanh() * v[0]);
        let x = [Tensor::randn(&[2, 3], 5)];
        gradcheck(f, &x, &CheckOptions::default())
            .expect("eval-mode dropout's gradient must pass gradcheck");
        gradgradcheck(f, &x, &CheckOptions::default())
            .expect("eval-mode dropout's second derivative must pass gradgradcheck");
    }
}
