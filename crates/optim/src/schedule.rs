//! Learning-rate schedules: a [`Schedule`] maps a step (or epoch) counter to a learning rate,
//! which is handed to an optimizer with [`Optimizer::set_lr`](crate::Optimizer::set_lr).
//! [`Warmup`] wraps any schedule, so they compose.
//!
//! ```
//! use wengert_optim::schedule::{CosineAnnealing, Schedule, Warmup};
//! use wengert_optim::{Optimizer, Sgd, SgdConfig};
//!
//! // 2 warm-up steps to 0.1, then cosine annealing from 0.1 to 0 over 4 steps.
//! let schedule = Warmup::new(2, CosineAnnealing::new(0.1, 0.0, 4).unwrap()).unwrap();
//! let lrs: Vec<f64> = (0..7).map(|s| schedule.lr(s)).collect();
//! let want = [0.05, 0.1, 0.1, 0.085355339, 0.05, 0.014644661, 0.0];
//! for (a, b) in lrs.iter().zip(want) {
//!     assert!((a - b).abs() < 1e-9, "{lrs:?}");
//! }
//!
//! let mut opt = Sgd::<f32>::new(SgdConfig::default()).unwrap();
//! for step in 0..7 {
//!     opt.set_lr(schedule.lr(step)).unwrap();
//!     // ... compute gradients, opt.step(..) ...
//! }
//! assert_eq!(opt.lr(), 0.0);
//! ```

use wengert_autograd::Error;

use crate::config::non_negative;

/// A learning rate as a function of the step (or epoch) counter, counted from 0.
pub trait Schedule {
    /// The learning rate at `step`.
    fn lr(&self, step: usize) -> f64;
}

impl<S: Schedule + ?Sized> Schedule for Box<S> {
    fn lr(&self, step: usize) -> f64 {
        (**self).lr(step)
    }
}

impl<S: Schedule + ?Sized> Schedule for &S {
    fn lr(&self, step: usize) -> f64 {
        (**self).lr(step)
    }
}

fn invalid(message: String) -> Error {
    Error::InvalidConfig { message }
}

/// The same learning rate at every step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constant(pub f64);

impl Schedule for Constant {
    fn lr(&self, _step: usize) -> f64 {
        self.0
    }
}

/// Step decay (PyTorch's `StepLR`): `lr(s) = lr0 gamma^floor(s / step_size)`.
///
/// ```
/// use wengert_optim::schedule::{Schedule, StepDecay};
/// let s = StepDecay::new(1.0, 2, 0.5).unwrap();
/// assert_eq!((0..5).map(|i| s.lr(i)).collect::<Vec<_>>(), vec![1.0, 1.0, 0.5, 0.5, 0.25]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepDecay {
    lr0: f64,
    step_size: usize,
    gamma: f64,
}

impl StepDecay {
    /// Returns [`Error::InvalidConfig`] if `lr0` or `gamma` is negative or not finite, or
    /// `step_size` is 0.
    pub fn new(lr0: f64, step_size: usize, gamma: f64) -> Result<Self, Error> {
        non_negative("StepDecay lr0", lr0)?;
        non_negative("StepDecay gamma", gamma)?;
        if step_size == 0 {
            return Err(invalid(
                "`StepDecay step_size` = 0 is out of range: expected at least 1".into(),
            ));
        }
        Ok(StepDecay {
            lr0,
            step_size,
            gamma,
        })
    }
}

impl Schedule for StepDecay {
    fn lr(&self, step: usize) -> f64 {
        self.lr0 * self.gamma.powi((step / self.step_size) as i32)
    }
}

/// Exponential decay (PyTorch's `ExponentialLR`): `lr(s) = lr0 gamma^s`.
///
/// ```
/// use wengert_optim::schedule::{Exponential, Schedule};
/// let s = Exponential::new(2.0, 0.5).unwrap();
/// assert_eq!(s.lr(3), 0.25);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exponential {
    lr0: f64,
    gamma: f64,
}

impl Exponential {
    /// Returns [`Error::InvalidConfig`] if `lr0` or `gamma` is negative or not finite.
    pub fn new(lr0: f64, gamma: f64) -> Result<Self, Error> {
        non_negative("Exponential lr0", lr0)?;
        non_negative("Exponential gamma", gamma)?;
        Ok(Exponential { lr0, gamma })
    }
}

impl Schedule for Exponential {
    fn lr(&self, step: usize) -> f64 {
        self.lr0 * self.gamma.powf(step as f64)
    }
}

/// Cosine annealing (the closed form of PyTorch's `CosineAnnealingLR`, one half period):
/// `lr(s) = lr_min + (lr_max - lr_min) (1 + cos(pi s / t_max)) / 2` for `s <= t_max`, and
/// `lr_min` after.
///
/// ```
/// use wengert_optim::schedule::{CosineAnnealing, Schedule};
/// let s = CosineAnnealing::new(1.0, 0.2, 10).unwrap();
/// assert_eq!(s.lr(0), 1.0);
/// assert!((s.lr(5) - 0.6).abs() < 1e-15); // half way: the mean
/// assert_eq!(s.lr(10), 0.2);
/// assert_eq!(s.lr(99), 0.2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineAnnealing {
    lr_max: f64,
    lr_min: f64,
    t_max: usize,
}

impl CosineAnnealing {
    /// Returns [`Error::InvalidConfig`] if a rate is negative or not finite, `lr_min > lr_max`,
    /// or `t_max` is 0.
    pub fn new(lr_max: f64, lr_min: f64, t_max: usize) -> Result<Self, Error> {
        non_negative("CosineAnnealing lr_max", lr_max)?;
        non_negative("CosineAnnealing lr_min", lr_min)?;
        if lr_min > lr_max {
            return Err(invalid(format!(
                "CosineAnnealing: lr_min = {lr_min} is above lr_max = {lr_max}: expected \
                 lr_min <= lr_max"
            )));
        }
        if t_max == 0 {
            return Err(invalid(
                "`CosineAnnealing t_max` = 0 is out of range: expected at least 1".into(),
            ));
        }
        Ok(CosineAnnealing {
            lr_max,
            lr_min,
            t_max,
        })
    }
}

impl Schedule for CosineAnnealing {
    fn lr(&self, step: usize) -> f64 {
        if step >= self.t_max {
            return self.lr_min;
        }
        let x = std::f64::consts::PI * step as f64 / self.t_max as f64;
        self.lr_min + (self.lr_max - self.lr_min) * (1.0 + x.cos()) / 2.0
    }
}

/// Linear warm-up in front of any schedule: for `s < warmup_steps`,
/// `lr(s) = inner.lr(0) (s + 1) / warmup_steps` (rising linearly to the inner schedule's first
/// rate), then `lr(s) = inner.lr(s - warmup_steps)` (the inner schedule starts after the warm-up).
///
/// ```
/// use wengert_optim::schedule::{Constant, Schedule, Warmup};
/// let s = Warmup::new(4, Constant(0.4)).unwrap();
/// let lrs: Vec<f64> = (0..6).map(|i| s.lr(i)).collect();
/// assert_eq!(lrs, vec![0.1, 0.2, 0.30000000000000004, 0.4, 0.4, 0.4]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Warmup<S> {
    warmup_steps: usize,
    inner: S,
}

impl<S: Schedule> Warmup<S> {
    /// Returns [`Error::InvalidConfig`] if `warmup_steps` is 0.
    pub fn new(warmup_steps: usize, inner: S) -> Result<Self, Error> {
        if warmup_steps == 0 {
            return Err(invalid(
                "`Warmup warmup_steps` = 0 is out of range: expected at least 1 (or use the \
                 inner schedule directly)"
                    .into(),
            ));
        }
        Ok(Warmup {
            warmup_steps,
            inner,
        })
    }
}

impl<S: Schedule> Schedule for Warmup<S> {
    fn lr(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            self.inner.lr(0) * (step + 1) as f64 / self.warmup_steps as f64
        } else {
            self.inner.lr(step - self.warmup_steps)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_decay_and_exponential() {
        let s = StepDecay::new(0.1, 3, 0.1).expect("lr0 0.1, step size 3 and gamma 0.1 are valid");
        assert_eq!(s.lr(2), 0.1);
        assert!((s.lr(3) - 0.01).abs() < 1e-17);
        assert!((s.lr(6) - 0.001).abs() < 1e-18);
        let e = Exponential::new(0.1, 0.9).expect("lr0 0.1 and gamma 0.9 are valid");
        assert!((e.lr(2) - 0.081).abs() < 1e-16);
    }

    #[test]
    fn cosine_is_monotone_and_hits_both_ends() {
        let s = CosineAnnealing::new(0.1, 0.001, 50)
            .expect("lr_min 0.001 <= lr_max 0.1 and t_max 50 are valid");
        assert_eq!(s.lr(0), 0.1);
        assert_eq!(s.lr(50), 0.001);
        for i in 0..50 {
            assert!(s.lr(i + 1) < s.lr(i));
        }
        // symmetric about the middle: lr(s) + lr(t_max - s) = lr_max + lr_min
        assert!((s.lr(10) + s.lr(40) - 0.101).abs() < 1e-15);
    }

    #[test]
    fn warmup_composes_with_boxed_schedules() {
        let inner: Box<dyn Schedule> = Box::new(
            StepDecay::new(1.0, 1, 0.5).expect("lr0 1, step size 1 and gamma 0.5 are valid"),
        );
        let s = Warmup::new(2, inner).expect("2 warmup steps are at least 1");
        let lrs: Vec<f64> = (0..5).map(|i| s.lr(i)).collect();
        assert_eq!(lrs, vec![0.5, 1.0, 1.0, 0.5, 0.25]);
    }

    #[test]
    fn invalid_schedules_are_rejected() {
        assert!(StepDecay::new(0.1, 0, 0.5).is_err());
        assert!(StepDecay::new(-0.1, 1, 0.5).is_err());
        assert!(Exponential::new(0.1, -0.5).is_err());
        assert!(Exponential::new(f64::NAN, 0.5).is_err());
        let msg = CosineAnnealing::new(0.1, 0.2, 10).unwrap_err().to_string();
        assert!(
            msg.contains("lr_min = 0.2") && msg.contains("lr_max = 0.1"),
            "{msg}"
        );
        assert!(CosineAnnealing::new(0.1, 0.0, 0).is_err());
        assert!(Warmup::new(0, Constant(0.1)).is_err());
    }
}
