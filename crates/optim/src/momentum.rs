//! Gradient descent with momentum: PyTorch's heavy ball, Nesterov, and the exponentially
//! smoothed (textbook) form.

use std::collections::HashMap;

use wengert_autograd::{Error, Float, Tensor, split_mut, vectorized};
use wengert_nn::Param;

use crate::Optimizer;
use crate::config::{non_negative, unit_interval};
use crate::optimizer::check_shapes;

/// Which momentum rule [`Momentum`] applies. With `g` the gradient (plus the L2 term) and `mu`
/// the momentum:
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MomentumForm {
    /// PyTorch's `SGD(momentum=mu)`: `v <- mu v + g` (the first step sets `v = g`),
    /// `p <- p - lr v`. The default.
    #[default]
    HeavyBall,
    /// PyTorch's `SGD(momentum=mu, nesterov=True)`: `v <- mu v + g` (first `v = g`),
    /// `p <- p - lr (g + mu v)`.
    Nesterov,
    /// The exponentially smoothed gradient: `v <- mu v + (1 - mu) g` with `v_0 = 0`,
    /// `p <- p - lr v` (so `v` is an average of past gradients; `lr` is "alpha", `mu` "beta").
    Ema,
}

/// Hyperparameters of [`Momentum`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MomentumConfig {
    /// Learning rate, `>= 0`. Default `0.01`.
    pub lr: f64,
    /// Momentum `mu` (beta for [`MomentumForm::Ema`]), in `[0, 1)`. Default `0.9`.
    pub momentum: f64,
    /// The update rule. Default [`MomentumForm::HeavyBall`].
    pub form: MomentumForm,
    /// L2 weight decay added to the gradient (`g' = g + weight_decay p`), `>= 0`. Default `0`.
    pub weight_decay: f64,
}

impl Default for MomentumConfig {
    fn default() -> Self {
        MomentumConfig {
            lr: 0.01,
            momentum: 0.9,
            form: MomentumForm::HeavyBall,
            weight_decay: 0.0,
        }
    }
}

/// Gradient descent with momentum; the rule is chosen by [`MomentumForm`]. One velocity buffer
/// per parameter.
///
/// ```
/// use wengert_autograd::Tensor;
/// use wengert_nn::Param;
/// use wengert_optim::{Momentum, MomentumConfig, MomentumForm, Optimizer};
/// let g = Tensor::<f64>::from_vec(vec![1.0], &[1]).unwrap();
///
/// // Heavy ball, lr 0.5, mu 0.5: v1 = g = 1, p1 = 0 - 0.5; v2 = 0.5 + 1 = 1.5, p2 = -0.5 - 0.75
/// let mut p = Param::new(Tensor::zeros(&[1]));
/// let mut hb = Momentum::new(MomentumConfig { lr: 0.5, momentum: 0.5, ..Default::default() })
///     .unwrap();
/// hb.update(&mut p, &g).unwrap();
/// hb.update(&mut p, &g).unwrap();
/// assert_eq!(p.value().item(), -1.25);
///
/// // EMA: v1 = 0.5 * 0 + 0.5 * 1 = 0.5, p1 = -0.25; v2 = 0.25 + 0.5 = 0.75, p2 = -0.25 - 0.375
/// let mut p = Param::new(Tensor::zeros(&[1]));
/// let mut ema = Momentum::new(MomentumConfig {
///     lr: 0.5, momentum: 0.5, form: MomentumForm::Ema, ..Default::default()
/// }).unwrap();
/// ema.update(&mut p, &g).unwrap();
/// ema.update(&mut p, &g).unwrap();
/// assert_eq!(p.value().item(), -0.625);
/// ```
#[derive(Debug, Clone)]
pub struct Momentum<T: Float> {
    config: MomentumConfig,
    velocity: HashMap<u64, Vec<T>>,
}

impl<T: Float> Momentum<T> {
    /// Builds the optimizer. Returns [`Error::InvalidConfig`] naming the field if `lr` or
    /// `weight_decay` is negative or not finite, or `momentum` is outside `[0, 1)`.
    pub fn new(config: MomentumConfig) -> Result<Self, Error> {
        non_negative("MomentumConfig.lr", config.lr)?;
        unit_interval("MomentumConfig.momentum", config.momentum)?;
        non_negative("MomentumConfig.weight_decay", config.weight_decay)?;
        Ok(Momentum {
            config,
            velocity: HashMap::new(),
        })
    }

    /// The hyperparameters.
    pub fn config(&self) -> &MomentumConfig {
        &self.config
    }

    /// The velocity buffer of `param`, if it has taken a step.
    pub fn velocity(&self, param: &Param<T>) -> Option<&[T]> {
        self.velocity.get(&param.id()).map(Vec::as_slice)
    }
}

impl<T: Float> Optimizer<T> for Momentum<T> {
    #[track_caller]
    fn update(&mut self, param: &mut Param<T>, grad: &Tensor<T>) -> Result<(), Error> {
        check_shapes("Momentum::update", param, grad);
        let c = self.config;
        let lr = T::from_f64(c.lr);
        let mu = T::from_f64(c.momentum);
        let one_minus_mu = T::from_f64(1.0 - c.momentum);
        let wd = T::from_f64(c.weight_decay);
        let decay = c.weight_decay != 0.0;
        let g = grad.data();
        let first = !self.velocity.contains_key(&param.id());
        let v = self
            .velocity
            .entry(param.id())
            .or_insert_with(|| vec![T::ZERO; g.len()]);
        let p = param.value_mut();
        // A large parameter is split across threads, as in `Adam`.
        split_mut([p, v], |at, [p, v]| {
            let g = &g[at..at + p.len()];
            vectorized(
                #[inline(always)]
                || {
                    for ((p, &gi), v) in p.iter_mut().zip(g).zip(v.iter_mut()) {
                        let gi = if decay { gi + wd * *p } else { gi };
                        let step = match c.form {
                            MomentumForm::HeavyBall | MomentumForm::Nesterov => {
                                *v = if first { gi } else { mu * *v + gi };
                                if c.form == MomentumForm::Nesterov {
                                    gi + mu * *v
                                } else {
                                    *v
                                }
                            }
                            MomentumForm::Ema => {
                                *v = mu * *v + one_minus_mu * gi;
                                *v
                            }
                        };
                        *p -= lr * step;
                    }
                },
            )
        });
        Ok(())
    }

    fn reset(&mut self) {
        self.velocity.clear();
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

    fn run(form: MomentumForm, wd: f64, grads: &[f64]) -> Vec<f64> {
        let mut p = Param::new(t(&[1.0]));
        let mut opt = Momentum::new(MomentumConfig {
            lr: 0.1,
            momentum: 0.9,
            form,
            weight_decay: wd,
        })
        .expect("lr 0.1, momentum 0.9 and wd 0 or 0.5 are valid");
        grads
            .iter()
            .map(|&g| {
                opt.update(&mut p, &t(&[g]))
                    .expect("a [1] gradient fits the [1] parameter");
                p.value().item()
            })
            .collect()
    }

    fn close(a: &[f64], b: &[f64]) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-14, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn heavy_ball_closed_form() {
        // v1 = g1 = 2, p1 = 1 - 0.2 = 0.8; v2 = 0.9*2 + 1 = 2.8, p2 = 0.8 - 0.28 = 0.52
        close(
            &run(MomentumForm::HeavyBall, 0.0, &[2.0, 1.0]),
            &[0.8, 0.52],
        );
    }

    #[test]
    fn nesterov_closed_form() {
        // v1 = 2, p1 = 1 - 0.1 (2 + 0.9*2) = 0.62; v2 = 2.8, p2 = 0.62 - 0.1 (1 + 2.52) = 0.268
        close(
            &run(MomentumForm::Nesterov, 0.0, &[2.0, 1.0]),
            &[0.62, 0.268],
        );
    }

    #[test]
    fn ema_closed_form() {
        // v1 = 0.1*2 = 0.2, p1 = 1 - 0.02 = 0.98; v2 = 0.18 + 0.1 = 0.28, p2 = 0.98 - 0.028
        close(&run(MomentumForm::Ema, 0.0, &[2.0, 1.0]), &[0.98, 0.952]);
    }

    #[test]
    fn weight_decay_is_added_to_the_gradient() {
        // g' = 2 + 0.5*1 = 2.5: v1 = 2.5, p1 = 1 - 0.25 = 0.75
        close(&run(MomentumForm::HeavyBall, 0.5, &[2.0]), &[0.75]);
    }

    #[test]
    fn state_is_per_parameter_and_reset_forgets_it() {
        let mut a = Param::new(t(&[0.0]));
        let mut b = Param::new(t(&[0.0]));
        let mut opt = Momentum::new(MomentumConfig {
            lr: 1.0,
            momentum: 0.5,
            ..Default::default()
        })
        .expect("lr 1 with momentum 0.5 is a valid config");
        opt.update(&mut a, &t(&[1.0]))
            .expect("a [1] gradient fits the [1] parameter");
        opt.update(&mut a, &t(&[1.0]))
            .expect("a [1] gradient fits the [1] parameter");
        assert_eq!(opt.velocity(&a), Some(&[1.5][..]));
        // A parameter seen for the first time starts from fresh state: v = g.
        opt.update(&mut b, &t(&[1.0]))
            .expect("a [1] gradient fits the [1] parameter");
        assert_eq!(opt.velocity(&b), Some(&[1.0][..]));
        opt.reset();
        assert_eq!(opt.velocity(&a), None);
        opt.update(&mut a, &t(&[1.0]))
            .expect("a [1] gradient fits the [1] parameter");
        assert_eq!(opt.velocity(&a), Some(&[1.0][..]));
    }

    #[test]
    fn rejects_bad_hyperparameters() {
        for (cfg, field) in [
            (
                MomentumConfig {
                    lr: -1.0,
                    ..Default::default()
                },
                "`MomentumConfig.lr` = -1",
            ),
            (
                MomentumConfig {
                    momentum: 1.0,
                    ..Default::default()
                },
                "`MomentumConfig.momentum` = 1",
            ),
            (
                MomentumConfig {
                    momentum: -0.1,
                    ..Default::default()
                },
                "`MomentumConfig.momentum` = -0.1",
            ),
            (
                MomentumConfig {
                    weight_decay: -0.1,
                    ..Default::default()
                },
                "`MomentumConfig.weight_decay` = -0.1",
            ),
        ] {
            let err = Momentum::<f64>::new(cfg).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
    }
}
