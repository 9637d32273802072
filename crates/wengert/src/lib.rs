//! # wengert
//!
//! The crate to depend on: re-exports [`autograd`], [`nn`] and [`optim`], and a [`prelude`].
//!
//! ```
//! use wengert::prelude::*;
//! let tape = Tape::<f64>::new();
//! let x = tape.var(Tensor::scalar(3.0));
//! let y = x * x + x * 5.0; // y = x^2 + 5x
//! assert_eq!(y.backward()[x].item(), 11.0); // dy/dx = 2x + 5
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod datasets;
pub mod plot;
pub mod train;

pub use wengert_autograd as autograd;
pub use wengert_autograd::{Error, check};
pub use wengert_nn as nn;
pub use wengert_optim as optim;

/// The names most programs need.
pub mod prelude {
    pub use crate::train::{FitConfig, History, Loss, Targets, Verbosity, evaluate, fit};
    pub use wengert_autograd::check::{CheckOptions, check_direction, gradcheck, gradgradcheck};
    pub use wengert_autograd::{
        BackwardContext, Error, Float, Grads, InputGrads, Op, Operand, Tape, Tensor, Var,
    };
}

/// The README's example, compiled and run as a doc-test so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
