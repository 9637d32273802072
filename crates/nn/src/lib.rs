//! # wengert-nn
//!
//! Neural-network building blocks on top of `wengert-autograd`. This crate is being built (see
//! the project's issues); today it re-exports the autograd types it will build on.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub use wengert_autograd::{Tape, Tensor, Var};
