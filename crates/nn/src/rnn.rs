//! The Elman recurrent network with tanh: [`RnnCell`] (one step) and [`Rnn`] (a sequence).
//!
//! ```text
//! h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)
//! ```
//!
//! PyTorch: `nn.RNNCell(I, H)` / `nn.RNN(I, H, batch_first=True)` (nonlinearity tanh).

use wengert_autograd::{Float, Tape, Var};

use crate::recurrent::{RecurrentParams, check_state, check_step_input, recurrent_common, unroll};
use crate::{Module, Param, RecurrentWeights};

/// One step of a tanh RNN: `h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`.
///
/// Parameters (PyTorch `nn.RNNCell` names): `weight_ih` `[H, I]`, `weight_hh` `[H, H]`,
/// `bias_ih` `[H]`, `bias_hh` `[H]`, all initialised `U(-1/sqrt(H), 1/sqrt(H))` from a seeded
/// `StdRng` (seed 0 unless [`with_seed`](Self::with_seed); see [`RecurrentConfig`](crate::RecurrentConfig)).
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::RnnCell;
/// let cell = RnnCell::<f64>::new(2, 3).with_seed(1);
/// let tape = Tape::new();
/// let x = tape.constant(Tensor::from_vec(vec![0.5, -1.0], &[1, 2]).unwrap());
/// let h = cell.step(x, cell.zero_state(&tape, 1));
/// // From h = 0: h' = tanh(W_ih x + b_ih + b_hh), computed by hand:
/// let (w, bi, bh) = (cell.weight_ih().value(), cell.bias_ih().value(), cell.bias_hh().value());
/// for j in 0..3 {
///     let pre = w.get(&[j, 0]) * 0.5 - w.get(&[j, 1]) + bi.get(&[j]) + bh.get(&[j]);
///     assert!((h.value().get(&[0, j]) - pre.tanh()).abs() < 1e-15);
/// }
/// ```
#[derive(Debug)]
pub struct RnnCell<T: Float> {
    p: RecurrentParams<T>,
}

recurrent_common!(RnnCell, "cell", p);

impl<T: Float> RnnCell<T> {
    /// A cell from `input_size` features to `hidden_size`, initialised as PyTorch does.
    ///
    /// # Panics
    /// If a size is 0 (`RnnCell::new: input_size (0) and hidden_size (4) must be at least 1`).
    #[track_caller]
    pub fn new(input_size: usize, hidden_size: usize) -> Self {
        RnnCell {
            p: RecurrentParams::new("RnnCell", 1, input_size, hidden_size),
        }
    }

    /// The zero state `h = 0`, `[batch, H]`, as a constant on `tape`.
    pub fn zero_state<'t>(&self, tape: &'t Tape<T>, batch: usize) -> Var<'t, T> {
        self.p.zeros(tape, batch)
    }

    /// One step: `x` `[B, I]` and `h` `[B, H]` to `h'` `[B, H]`.
    ///
    /// # Panics
    /// If `x` is not `[B, I]` (`RnnCell::step: input of shape [2, 5] does not match input_size 3:
    /// expected [batch, 3]`) or `h` is not `[B, H]`.
    #[track_caller]
    pub fn step<'t>(&self, x: Var<'t, T>, h: Var<'t, T>) -> Var<'t, T> {
        Self::step_with(&self.p.on(x.tape()), x, h)
    }

    /// [`step`](Self::step) with explicit weights (the functional form).
    ///
    /// # Panics
    /// As [`step`](Self::step), and if the weights are not `[H, I]`, `[H, H]`, `[H]`, `[H]`.
    #[track_caller]
    pub fn step_with<'t>(w: &RecurrentWeights<'t, T>, x: Var<'t, T>, h: Var<'t, T>) -> Var<'t, T> {
        let who = "RnnCell::step";
        let (input, hidden) = w.sizes(who, 1);
        let batch = check_step_input(who, &x.shape(), input);
        check_state(who, "h", &h.shape(), batch, hidden);
        rnn_step(w, w.input_part_both_biases(x), h)
    }
}

/// `h' = tanh(xp + h W_hh^T)` where `xp = x W_ih^T + b_ih + b_hh` is already computed.
fn rnn_step<'t, T: Float>(
    w: &RecurrentWeights<'t, T>,
    xp: Var<'t, T>,
    h: Var<'t, T>,
) -> Var<'t, T> {
    let a = w.hidden_onto(h, xp);
    let h = a.tanh();
    // No backward reads the input part (an addend) or the pre-activation (tanh's derivative
    // comes from its output): freed now, as in the LSTM's step.
    xp.release_value();
    a.release_value();
    h
}

impl<T: Float> Module<T> for RnnCell<T> {
    /// One step from the zero state (PyTorch's `cell(x)` without `hx`): `[B, I] -> [B, H]`.
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        let batch = x.shape().first().copied().unwrap_or(0);
        self.step(x, self.zero_state(x.tape(), batch))
    }

    /// `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` (PyTorch `nn.RNNCell` names).
    fn named_params(&self) -> Vec<(String, &Param<T>)> {
        self.p.named("")
    }

    fn named_params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        self.p.named_mut("")
    }
}

/// What a sequence layer without a cell state ([`Rnn`], [`Gru`](crate::Gru)) returns.
#[derive(Clone, Copy, Debug)]
pub struct SequenceOutput<'t, T: Float> {
    /// The hidden state after every step, `[B, T, H]` (PyTorch's `output` with
    /// `batch_first=True`).
    pub output: Var<'t, T>,
    /// The final hidden state, `[B, H]` (PyTorch's `h_n[0]`).
    pub h_n: Var<'t, T>,
}

/// A one-layer tanh RNN over a batch-first sequence: for `t = 0..T`,
/// `h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`, from `h_{-1} = h_0` (zero by default).
///
/// Parameters (PyTorch `nn.RNN` names): `weight_ih_l0` `[H, I]`, `weight_hh_l0` `[H, H]`,
/// `bias_ih_l0` `[H]`, `bias_hh_l0` `[H]`; initialised as [`RnnCell`].
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::{Module, Rnn};
/// let rnn = Rnn::<f64>::new(3, 4).with_seed(5);
/// let tape = Tape::new();
/// let x = tape.var(Tensor::randn(&[2, 6, 3], 0));
/// let out = rnn.forward_seq(x, None);
/// assert_eq!(out.output.shape().as_slice(), &[2, 6, 4]);
/// // the last step of `output` is `h_n`
/// assert_eq!(out.output.narrow(1, 5, 1).value().to_vec(), out.h_n.value().to_vec());
/// let grads = out.output.sum().backward(); // backpropagation through time
/// assert_eq!(grads[rnn.weight_hh()].shape(), &[4, 4]);
/// let names: Vec<String> = rnn.named_params().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]);
/// ```
#[derive(Debug)]
pub struct Rnn<T: Float> {
    cell: RnnCell<T>,
}

recurrent_common!(Rnn, "layer", cell.p);

impl<T: Float> Rnn<T> {
    /// A layer from `input_size` features to `hidden_size`, initialised as PyTorch does.
    ///
    /// # Panics
    /// If a size is 0 (`Rnn::new: input_size (0) and hidden_size (4) must be at least 1`).
    #[track_caller]
    pub fn new(input_size: usize, hidden_size: usize) -> Self {
        Rnn {
            cell: RnnCell {
                p: RecurrentParams::new("Rnn", 1, input_size, hidden_size),
            },
        }
    }

    /// The cell applied at every step (same parameters).
    pub fn cell(&self) -> &RnnCell<T> {
        &self.cell
    }

    /// Runs the sequence `x` `[B, T, I]` from `h0` `[B, H]` (zero if `None`).
    ///
    /// # Panics
    /// If `x` is not `[B, T, I]` with `T >= 1` (`Rnn::forward_seq: input of shape [2, 5] must be
    /// [batch, seq, 3] (batch-first, input_size 3)`) or `h0` is not `[B, H]`.
    #[track_caller]
    pub fn forward_seq<'t>(&self, x: Var<'t, T>, h0: Option<Var<'t, T>>) -> SequenceOutput<'t, T> {
        Self::forward_seq_with(&self.cell.p.on(x.tape()), x, h0)
    }

    /// [`forward_seq`](Self::forward_seq) with explicit weights (the functional form).
    ///
    /// # Panics
    /// As [`forward_seq`](Self::forward_seq), and if the weights do not fit.
    #[track_caller]
    pub fn forward_seq_with<'t>(
        w: &RecurrentWeights<'t, T>,
        x: Var<'t, T>,
        h0: Option<Var<'t, T>>,
    ) -> SequenceOutput<'t, T> {
        let hs = Self::unroll("Rnn::forward_seq", w, x, h0);
        SequenceOutput {
            output: Var::stack(&hs, 1),
            h_n: *hs.last().expect("at least one step (checked)"),
        }
    }

    /// The hidden state after the last step of `x` `[B, T, I]` from `h0` (zero if `None`),
    /// without the output sequence: for a head on the last hidden state (Keras's
    /// `SimpleRNN(units)`, whose `return_sequences` is false), it skips copying every
    /// step's `h` into a `[B, T, H]` tensor. The same value and gradients as
    /// [`forward_seq`]'s `h_n`.
    ///
    /// # Panics
    /// As [`forward_seq`], naming `Rnn::forward_last`.
    ///
    /// [`forward_seq`]: Self::forward_seq
    #[track_caller]
    pub fn forward_last<'t>(&self, x: Var<'t, T>, h0: Option<Var<'t, T>>) -> Var<'t, T> {
        let hs = Self::unroll("Rnn::forward_last", &self.cell.p.on(x.tape()), x, h0);
        *hs.last().expect("at least one step (checked)")
    }

    /// The hidden state after every step (`recurrent::unroll`).
    #[track_caller]
    fn unroll<'t>(
        who: &str,
        w: &RecurrentWeights<'t, T>,
        x: Var<'t, T>,
        h0: Option<Var<'t, T>>,
    ) -> Vec<Var<'t, T>> {
        let part = |w: &RecurrentWeights<'t, T>, x| w.input_part_both_biases(x);
        unroll(who, (w, 1), x, h0, part, rnn_step)
    }
}

impl<T: Float> Module<T> for Rnn<T> {
    /// The output sequence `[B, T, H]` from the zero state.
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        self.forward_seq(x, None).output
    }

    /// `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0` (PyTorch `nn.RNN` names).
    fn named_params(&self) -> Vec<(String, &Param<T>)> {
        self.cell.p.named("_l0")
    }

    fn named_params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        self.cell.p.named_mut("_l0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wengert_autograd::Tensor;

    #[test]
    #[should_panic(
        expected = "Rnn::forward_seq: input of shape [2, 3] must be [batch, seq, 3] (batch-first, input_size 3)"
    )]
    fn a_2d_input_to_the_layer_panics() {
        let rnn = Rnn::<f64>::new(3, 2);
        let tape = Tape::new();
        rnn.forward_seq(tape.constant(Tensor::zeros(&[2, 3])), None);
    }

    #[test]
    #[should_panic(
        expected = "RnnCell::step: state h of shape [2, 3] does not match: expected [2, 2]"
    )]
    fn a_wrong_state_panics() {
        let cell = RnnCell::<f64>::new(3, 2);
        let tape = Tape::new();
        cell.step(
            tape.constant(Tensor::zeros(&[2, 3])),
            tape.constant(Tensor::zeros(&[2, 3])),
        );
    }

    #[test]
    fn layer_equals_the_cell_unrolled() {
        let rnn = Rnn::<f64>::new(3, 2).with_seed(9);
        let tape = Tape::new();
        let x = tape.constant(Tensor::randn(&[2, 4, 3], 1));
        let h0 = tape.constant(Tensor::randn(&[2, 2], 2));
        let out = rnn.forward_seq(x, Some(h0));
        let mut h = h0;
        for t in 0..4 {
            h = rnn.cell().step(x.narrow(1, t, 1).reshape(&[2, 3]), h);
            let o = out.output.narrow(1, t, 1).reshape(&[2, 2]).value();
            assert!(o.max_abs_diff(&h.value()).expect("equal shapes") < 1e-15);
        }
    }

    #[test]
    fn the_last_state_alone_has_the_values_and_gradients_of_the_sequence_run() {
        // Every gradient of a loss on h_n, from the zero state and from a given one.
        for given in [false, true] {
            let layer = Rnn::<f64>::new(3, 4).with_seed(6);
            let run = |last_only: bool| {
                let tape = Tape::new();
                let x = tape.var(Tensor::randn(&[2, 5, 3], 2));
                let h0 = given.then(|| tape.var(Tensor::randn(&[2, 4], 3)));
                let h = if last_only {
                    layer.forward_last(x, h0)
                } else {
                    layer.forward_seq(x, h0).h_n
                };
                // tanh after the op so the upstream gradient is not all ones
                let loss = h.tanh().sum();
                let value = h.value().to_vec();
                let grads = loss.backward();
                let mut all = vec![value, grads[x].to_vec()];
                all.extend(h0.map(|h0| grads[h0].to_vec()));
                all.extend(layer.named_params().iter().map(|(_, p)| grads[*p].to_vec()));
                all
            };
            assert_eq!(run(true), run(false), "given state: {given}");
        }
    }

    #[test]
    #[should_panic(expected = "Rnn::forward_last: the sequence is empty (input shape [2, 0, 3])")]
    fn an_empty_sequence_panics_naming_forward_last() {
        let layer = Rnn::<f64>::new(3, 2);
        let tape = Tape::new();
        layer.forward_last(tape.constant(Tensor::zeros(&[2, 0, 3])), None);
    }

    #[test]
    fn each_step_releases_its_input_part_and_pre_activation_and_changes_no_gradient() {
        let (batch, steps, input, hidden) = (2, 4, 3, 5);
        let rnn = Rnn::<f64>::new(input, hidden).with_seed(7);
        let run = |release: bool| {
            let tape = Tape::new();
            let x = tape.var(Tensor::randn(&[batch, steps, input], 3));
            let h = if release {
                rnn.forward_last(x, None)
            } else {
                // The same nodes, nothing released.
                let w = rnn.cell.p.on(&tape);
                let projected = x.linear(w.weight_ih, Some(w.bias_ih + w.bias_hh));
                let mut h = tape.constant(Tensor::zeros(&[batch, hidden]));
                for t in 0..steps {
                    let xp = projected.narrow(1, t, 1).reshape(&[batch, hidden]);
                    h = h.linear(w.weight_hh, Some(xp)).tanh();
                }
                h
            };
            crate::test_util::bytes_and_grads(&rnn, &tape, x, h)
        };
        let ((released, with), (kept, without)) = (run(true), run(false));
        assert_eq!(with, without);
        // The projection [B, T, H], and every step's slice of it and pre-activation [B, H].
        assert_eq!(kept - released, 3 * steps * batch * hidden * 8);
    }
}
