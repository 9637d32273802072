//! # wengert-optim
//!
//! Optimizers for `wengert`. This crate is being built (see the project's issues).

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub use wengert_autograd::Grads;
