//! # wengert-autograd
//!
//! Reverse-mode automatic differentiation on a Wengert list: [`Tensor`]s (f32 and f64), a
//! [`Tape`] that records every operation, [`Var`] handles with arithmetic operators and op
//! methods, first-order [`Var::backward`] and higher-order [`Tape::grad`], a public [`Op`] trait for
//! custom ops, and a gradient checker ([`check`]).
//!
//! ```
//! use wengert_autograd::{Tape, Tensor};
//!
//! let tape = Tape::<f64>::new();
//! let w = tape.var(Tensor::from_vec(vec![1.0, -2.0, 0.5, 3.0], &[2, 2]).unwrap());
//! let x = tape.constant(Tensor::from_vec(vec![1.0, 2.0], &[1, 2]).unwrap());
//! let loss = x.matmul(w).tanh().sum(); // L = sum(tanh(x W))
//! let grads = loss.backward();
//! assert_eq!(grads[w].shape(), &[2, 2]);
//! ```
//!
//! See `docs/architecture.md` for how the tape, the sweep and higher-order gradients work.

#![warn(missing_docs)]
// `Var::add` etc. are the op methods the `+` operators delegate to, on purpose.
#![allow(clippy::should_implement_trait)]
// Tests pass `&[x.clone()]` to checkers and keep `x` for the next check.
#![cfg_attr(test, allow(clippy::cloned_ref_to_slice_refs))]

mod backward;
mod backward_scalar;
pub mod check;
mod error;
mod float;
mod hot_pool;
mod op;
mod op_slot;
mod operand;
pub mod ops;
mod release;
mod simd;
mod tape;
pub mod tensor;
mod threads;
mod var_operators;

pub use backward::Grads;
pub use error::Error;
pub use float::{DType, Float};
pub use op::{BackwardContext, InputGrads, Op};
pub use operand::Operand;
pub use simd::vectorized;
pub use tape::{Tape, Var};
pub use tensor::{IndexTensor, Shape, Tensor};
pub use threads::{num_threads, set_num_threads, set_thread_limit, split_mut};
