//! # wengert-nn
//!
//! Neural-network building blocks on top of `wengert-autograd`: [`Param`] (a trainable tensor
//! that lives outside any tape), the [`Module`] trait, layers ([`Dense`], [`Flatten`],
//! [`Dropout`], [`Embedding`], activations, [`Sequential`], the recurrent [`Rnn`], [`Lstm`],
//! [`Gru`] and their cells), initialisers ([`init`]), losses
//! ([`loss`]), and reading and writing weights in the safetensors format ([`weights`]). Layers
//! are built from the autograd crate's primitive ops and need no backward of their own.
//!
//! ```
//! use wengert_autograd::{Tape, Tensor};
//! use wengert_nn::{loss, Dense, Flatten, Module, Relu, Sequential};
//! let model = Sequential::<f64>::new()
//!     .add(Flatten)
//!     .add(Dense::new(4, 8).with_activation(Relu).with_seed(1))
//!     .add(Dense::new(8, 3).with_seed(2));
//! let tape = Tape::new();
//! let x = tape.var(Tensor::randn(&[5, 2, 2], 0));
//! let logits = model.forward(x);
//! let l = loss::cross_entropy(logits, &[0, 1, 2, 0, 1]);
//! let grads = l.backward();
//! assert_eq!(grads[model.params()[0]].shape(), &[8, 4]); // d loss / d 1.weight
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod activation;
pub mod dense;
mod dropout;
mod embedding;
mod flatten;
mod gru;
pub mod init;
pub mod loss;
mod lstm;
mod module;
mod param;
mod recurrent;
mod rnn;
mod sequential;
#[cfg(test)]
mod test_util;
pub mod weights;

pub use activation::{Activation, LeakyRelu, Relu, Sigmoid, Softmax, Tanh};
pub use dense::Dense;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use flatten::Flatten;
pub use gru::{Gru, GruCell};
pub use lstm::{Lstm, LstmCell, LstmOutput, LstmState};
pub use module::Module;
pub use param::Param;
pub use recurrent::{RecurrentConfig, RecurrentWeights};
pub use rnn::{Rnn, RnnCell, SequenceOutput};
pub use sequential::Sequential;
pub use weights::{load, save};
