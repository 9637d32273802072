//! Plain stochastic gradient descent.

use std::marker::PhantomData;

use wengert_autograd::{Error, Float, Tensor, split_mut, vectorized};
use wengert_nn::Param;

use crate::Optimizer;
use crate::config::non_negative;
use crate::optimizer::check_shapes;

/// Hyperparameters of [`Sgd`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate, `>= 0`. Default `0.01`.
    pub lr: f64,
    /// L2 weight decay added to the gradient (`g' = g + weight_decay p`), `>= 0`. Default `0`.
    pub weight_decay: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 0.01,
            weight_decay: 0.0,
        }
    }
}

/// Stochastic gradient descent: `p <- p - lr (g + weight_decay p)` (PyTorch's `SGD` without
/// momentum). It has no state.
///
/// ```
/// use wengert_autograd::Tensor;
/// use wengert_nn::Param;
/// use wengert_optim::{Optimizer, Sgd, SgdConfig};
/// let mut p = Param::new(Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]).unwrap());
/// let mut sgd = Sgd::new(SgdConfig { lr: 0.5, weight_decay: 0.5 }).unwrap();
/// sgd.update(&mut p, &Tensor::from_vec(vec![1.0, -1.0], &[2]).unwrap()).unwrap();
/// // p - 0.5 (g + 0.5 p): 1 - 0.5 (1 + 0.5) = 0.25, 2 - 0.5 (-1 + 1) = 2
/// assert_eq!(p.value().to_vec(), vec![0.25, 2.0]);
/// ```
#[derive(Debug, Clone)]
pub struct Sgd<T: Float> {
    config: SgdConfig,
    _dtype: PhantomData<T>,
}

impl<T: Float> Sgd<T> {
    /// Builds the optimizer. Returns [`Error::InvalidConfig`] naming the field if `lr` or
    /// `weight_decay` is negative or not finite.
    pub fn new(config: SgdConfig) -> Result<Self, Error> {
        non_negative("SgdConfig.lr", config.lr)?;
        non_negative("SgdConfig.weight_decay", config.weight_decay)?;
        Ok(Sgd {
            config,
            _dtype: PhantomData,
        })
    }

    /// The hyperparameters.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    #[track_caller]
    fn update(&mut self, param: &mut Param<T>, grad: &Tensor<T>) -> Result<(), Error> {
        check_shapes("Sgd::update", param, grad);
        let lr = T::from_f64(self.config.lr);
        let wd = T::from_f64(self.config.weight_decay);
        let decay = self.config.weight_decay != 0.0;
        let (p, g) = (param.value_mut(), grad.data());
        // A large parameter is split across threads, as in `Adam`.
        split_mut([p], |at, [p]| {
            let g = &g[at..at + p.len()];
            vectorized(
                #[inline(always)]
                || {
                    for (p, &g) in p.iter_mut().zip(g) {
                        let g = if decay { g + wd * *p } else { g };
                        *p -= lr * g;
                    }
                },
            )
        });
        Ok(())
    }

    fn reset(&mut self) {}

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
    fn two_steps_follow_the_closed_form() {
        // p1 = p0 - lr g1 = 1 - 0.1*2 = 0.8; p2 = p1 - lr g2 = 0.8 - 0.1*(-1) = 0.9
        let mut p = Param::new(t(&[1.0]));
        let mut opt = Sgd::new(SgdConfig {
            lr: 0.1,
            ..Default::default()
        })
        .expect("lr 0.1 is a valid Sgd config");
        opt.update(&mut p, &t(&[2.0]))
            .expect("a [1] gradient fits the [1] parameter");
        assert!((p.value().item() - 0.8).abs() < 1e-15);
        opt.update(&mut p, &t(&[-1.0]))
            .expect("a [1] gradient fits the [1] parameter");
        assert!((p.value().item() - 0.9).abs() < 1e-15);
    }

    #[test]
    fn works_in_f32() {
        let mut p =
            Param::new(Tensor::<f32>::from_vec(vec![1.0], &[1]).expect("the data fits the shape"));
        let mut opt = Sgd::new(SgdConfig {
            lr: 0.25,
            weight_decay: 0.0,
        })
        .expect("lr 0.25 without weight decay is a valid Sgd config");
        opt.update(
            &mut p,
            &Tensor::from_vec(vec![2.0f32], &[1]).expect("the data fits the shape"),
        )
        .expect("an f32 [1] gradient fits the f32 [1] parameter");
        assert_eq!(p.value().item(), 0.5f32);
    }

    #[test]
    fn rejects_bad_hyperparameters() {
        for (cfg, field) in [
            (
                SgdConfig {
                    lr: -0.1,
                    ..Default::default()
                },
                "SgdConfig.lr",
            ),
            (
                SgdConfig {
                    lr: f64::NAN,
                    ..Default::default()
                },
                "SgdConfig.lr",
            ),
            (
                SgdConfig {
                    weight_decay: -1.0,
                    ..Default::default()
                },
                "SgdConfig.weight_decay",
            ),
        ] {
            let err = Sgd::<f64>::new(cfg).unwrap_err();
            assert!(matches!(err, Error::InvalidConfig { .. }));
            assert!(err.to_string().contains(field), "{err}");
        }
        let mut opt =
            Sgd::<f64>::new(SgdConfig::default()).expect("the default SgdConfig is valid");
        assert!(opt.set_lr(f64::INFINITY).is_err());
        assert!(opt.set_lr(-0.5).is_err());
        assert_eq!(opt.lr(), 0.01);
        opt.set_lr(0.5).expect("lr 0.5 is finite and non-negative");
        assert_eq!(opt.lr(), 0.5);
    }

    #[test]
    #[should_panic(expected = "Sgd::update: gradient of shape [3] for a parameter of shape [2]")]
    fn shape_mismatch_panics() {
        let mut p = Param::new(t(&[1.0, 2.0]));
        let mut opt = Sgd::new(SgdConfig::default()).expect("the default SgdConfig is valid");
        let _ = opt.update(&mut p, &t(&[1.0, 2.0, 3.0]));
    }
}
