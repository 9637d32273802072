//! # wengert-optim
//!
//! Optimizers for `wengert`: the [`Optimizer`] trait and [`Sgd`], [`Momentum`] (heavy-ball,
//! Nesterov and the exponentially smoothed form), [`RmsProp`], [`Adam`] and [`AdamW`]; L2 weight
//! decay on every optimizer; gradient clipping by global norm and by value ([`clip`]);
//! learning-rate schedules ([`schedule`]); and shuffled mini-batches ([`batches`]).
//!
//! Every rule is PyTorch's (checked step by step against PyTorch trajectories in f64), and works
//! in the gradient's dtype `T` (f32 or f64): hyperparameters are `f64` in the configs and each
//! per-element update is computed in `T`.
//!
//! ```
//! use wengert_autograd::{Tape, Tensor};
//! use wengert_nn::Param;
//! use wengert_optim::{Optimizer, Sgd, SgdConfig};
//!
//! // Minimise L = sum(w^2) with SGD: dL/dw = 2w, so each step is w <- w - lr 2w = 0.8 w.
//! let mut w = Param::new(Tensor::<f64>::from_vec(vec![1.0, -2.0], &[2]).unwrap());
//! let mut opt = Sgd::new(SgdConfig { lr: 0.1, ..Default::default() }).unwrap();
//! for _ in 0..2 {
//!     let tape = Tape::new();
//!     let grads = (w.on(&tape) * w.on(&tape)).sum().backward();
//!     opt.step(&mut [&mut w], &grads).unwrap();
//! }
//! assert_eq!(w.value().to_vec(), vec![0.64, -1.28]);
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod adam;
pub mod batches;
pub mod clip;
mod config;
mod momentum;
mod optimizer;
mod rmsprop;
pub mod schedule;
mod sgd;

pub use adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use batches::{BatchConfig, Batches, Dataset, take_rows};
pub use clip::{clip_grad_norm, clip_grad_value, grad_norm};
pub use momentum::{Momentum, MomentumConfig, MomentumForm};
pub use optimizer::{GradSource, Optimizer, ParamGrads};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use schedule::Schedule;
pub use sgd::{Sgd, SgdConfig};
pub use wengert_autograd::{Error, Grads};
