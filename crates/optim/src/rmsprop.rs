//! RMSprop: gradient descent scaled by a running average of squared gradients.

use std::collections::HashMap;

use wengert_autograd::{Error, Float, Tensor, split_mut, vectorized};
use wengert_nn::Param;

use crate::Optimizer;
use crate::config::{non_negative, positive, unit_interval};
use crate::optimizer::check_shapes;

/// Hyperparameters of [`RmsProp`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsPropConfig {
    /// Learning rate, `>= 0`. Default `0.01`.
    pub lr: f64,
    /// Decay of the squared-gradient average (PyTorch's `alpha`), in `[0, 1)`. Default `0.99`.
    pub rho: f64,
    /// Added to `sqrt(s)` in the denominator, `> 0`. Default `1e-8`.
    pub eps: f64,
    /// L2 weight decay added to the gradient (`g' = g + weight_decay p`), `>= 0`. Default `0`.
    pub weight_decay: f64,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig {
            lr: 0.01,
            rho: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// RMSprop (PyTorch's `RMSprop`, not centered, no momentum): per element,
/// `s <- rho s + (1 - rho) g^2` (with `s_0 = 0`), `p <- p - lr g / (sqrt(s) + eps)`.
///
/// ```
/// use wengert_autograd::Tensor;
/// use wengert_nn::Param;
/// use wengert_optim::{Optimizer, RmsProp, RmsPropConfig};
/// let mut p = Param::new(Tensor::<f64>::zeros(&[1]));
/// let mut opt = RmsProp::new(RmsPropConfig { lr: 0.1, rho: 0.75, ..Default::default() }).unwrap();
/// opt.update(&mut p, &Tensor::from_vec(vec![2.0], &[1]).unwrap()).unwrap();
/// // s = 0.25 * 4 = 1, p = 0 - 0.1 * 2 / (1 + 1e-8)
/// assert!((p.value().item() + 0.2 / (1.0 + 1e-8)).abs() < 1e-16);
/// ```
#[derive(Debug, Clone)]
pub struct RmsProp<T: Float> {
    config: RmsPropConfig,
    square_avg: HashMap<u64, Vec<T>>,
}

impl<T: Float> RmsProp<T> {
    /// Builds the optimizer. Returns [`Error::InvalidConfig`] naming the field if `lr` or
    /// `weight_decay` is negative or not finite, `rho` is outside `[0, 1)`, or `eps <= 0`.
    pub fn new(config: RmsPropConfig) -> Result<Self, Error> {
        non_negative("RmsPropConfig.lr", config.lr)?;
        unit_interval("RmsPropConfig.rho", config.rho)?;
        positive("RmsPropConfig.eps", config.eps)?;
        non_negative("RmsPropConfig.weight_decay", config.weight_decay)?;
        Ok(RmsProp {
            config,
            square_avg: HashMap::new(),
        })
    }

    /// The hyperparameters.
    pub fn config(&self) -> &RmsPropConfig {
        &self.config
    }

    /// The running average of squared gradients of `param`, if it has taken a step.
    pub fn square_avg(&self, param: &Param<T>) -> Option<&[T]> {
        self.square_avg.get(&param.id()).map(Vec::as_slice)
    }
}

impl<T: Float> Optimizer<T> for RmsProp<T> {
    #[track_caller]
    fn update(&mut self, param: &mut Param<T>, grad: &Tensor<T>) -> Result<(), Error> {
        check_shapes("RmsProp::update", param, grad);
        let c = self.config;
        let lr = T::from_f64(c.lr);
        let rho = T::from_f64(c.rho);
        let one_minus_rho = T::from_f64(1.0 - c.rho);
        let eps = T::from_f64(c.eps);
        let wd = T::from_f64(c.weight_decay);
        let decay = c.weight_decay != 0.0;
        let g = grad.data();
        let s = self
            .square_avg
            .entry(param.id())
            .or_insert_with(|| vec![T::ZERO; g.len()]);
        let p = param.value_mut();
        // A large parameter is split across threads, as in `Adam`.
        split_mut([p, s], |at, [p, s]| {
            let g = &g[at..at + p.len()];
            vectorized(
                #[inline(always)]
                || {
                    for ((p, &gi), s) in p.iter_mut().zip(g).zip(s.iter_mut()) {
                        let gi = if decay { gi + wd * *p } else { gi };
                        *s = rho * *s + one_minus_rho * gi * gi;
                        // PyTorch's order: p + (-lr) * (g / (sqrt(s) + eps)).
                        *p -= lr * (gi / (s.sqrt() + eps));
                    }
                },
            )
        });
        Ok(())
    }

    fn reset(&mut self) {
        self.square_avg.clear();
    }

    fn lr(&self) -> f64 {
        self.config.lr
    }

    fn set_lr(&mut self, lr: f64) -> Result<(), Error> {
        non_negative("lr", lr)?;
        self.config.lr = lr;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64]) -> Tensor<f64> {
        Tensor::from_vec(v.to_vec(), &[v.len()]).expect("the data fits the shape")
    }

    #[test]
    fn two_steps_closed_form() {
        let mut p = Param::new(t(&[1.0, -1.0]));
        let mut opt = RmsProp::new(RmsPropConfig {
            lr: 0.01,
            rho: 0.9,
            eps: 1e-8,
            weight_decay: 0.0,
        })
        .expect("lr 0.01, rho 0.9 and eps 1e-8 are a valid config");
        // Step 1: s = 0.1 g^2, so g / sqrt(s) = sign(g) / sqrt(0.1): p -= 0.01 sign(g) sqrt(10)
        // (up to eps, which matters at 1e-9 here; the exact form is checked below).
        opt.update(&mut p, &t(&[3.0, -0.5]))
            .expect("a [2] gradient fits the [2] parameter");
        let d1 = 0.01 * 10f64.sqrt();
        let p1 = p.value().to_vec();
        assert!((p1[0] - (1.0 - d1)).abs() < 1e-8, "{p1:?}");
        assert!((p1[1] - (-1.0 + d1)).abs() < 1e-8, "{p1:?}");
        assert!((p1[0] - (1.0 - 0.01 * 3.0 / (0.9f64.sqrt() + 1e-8))).abs() < 1e-15);
        assert!((p1[1] - (-1.0 + 0.01 * 0.5 / (0.025f64.sqrt() + 1e-8))).abs() < 1e-15);
        // Step 2 with g = 3 again: s = 0.9*0.9 + 0.1*9 = 1.71, p -= 0.01*3/sqrt(1.71)
        opt.update(&mut p, &t(&[3.0, 0.0]))
            .expect("a [2] gradient fits the [2] parameter");
        let want = p1[0] - 0.03 / (1.71f64.sqrt() + 1e-8);
        assert!((p.value().to_vec()[0] - want).abs() < 1e-15);
        assert_eq!(p.value().to_vec()[1], p1[1]); // zero gradient: no move
        assert!((opt.square_avg(&p).expect("p has state after 2 steps")[0] - 1.71).abs() < 1e-14);
    }

    #[test]
    fn rejects_bad_hyperparameters() {
        for (cfg, field) in [
            (
                RmsPropConfig {
                    lr: -1.0,
                    ..Default::default()
                },
                "`RmsPropConfig.lr` = -1",
            ),
            (
                RmsPropConfig {
                    rho: 1.0,
                    ..Default::default()
                },
                "`RmsPropConfig.rho` = 1",
            ),
            (
                RmsPropConfig {
                    eps: 0.0,
                    ..Default::default()
                },
                "`RmsPropConfig.eps` = 0",
            ),
            (
                RmsPropConfig {
                    weight_decay: -1.0,
                    ..Default::default()
                },
                "`RmsPropConfig.weight_decay` = -1",
            ),
        ] {
            let err = RmsProp::<f32>::new(cfg).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
    }
}
