//! # wengert-nn
//!
//! Neural-network building blocks on top of `wengert-autograd`: [`Param`] (a trainable tensor
//! that lives outside any tape), the [`Module`] trait, and reading and writing weights in the
//! safetensors format ([`weights`]). Layers are built from the autograd crate's primitive ops and
//! need no backward of their own.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod gru;
mod lstm;
mod module;
mod param;
mod recurrent;
mod rnn;
pub mod weights;

pub use gru::{Gru, GruCell};
pub use lstm::{Lstm, LstmCell, LstmOutput, LstmState};
pub use module::Module;
pub use param::Param;
pub use recurrent::{RecurrentConfig, RecurrentWeights};
pub use rnn::{Rnn, RnnCell, SequenceOutput};
pub use weights::{load, save};
