//! Gated recurrent unit: [`GruCell`] (one step) and [`Gru`] (a sequence), PyTorch's equations.
//!
//! ```text
//! [x_r, x_z, x_n] = x W_ih^T + b_ih          [h_r, h_z, h_n] = h W_hh^T + b_hh
//! r = sigmoid(x_r + h_r)                    reset gate
//! z = sigmoid(x_z + h_z)                    update gate
//! n = tanh(x_n + r * h_n)                   candidate (r scales W_hn h + b_hn)
//! h' = (1 - z) * n + z * h
//! ```
//!
//! PyTorch: `nn.GRUCell(I, H)` / `nn.GRU(I, H, batch_first=True)`, gate blocks in the same row
//! order r, z, n. (Cho et al. 2014 apply `r` to `h` before `W_hn`; PyTorch and cuDNN apply it
//! after, as here, which is why `b_hn` sits inside the product with `r`.)

use wengert_autograd::{Float, Tape, Var};

use crate::recurrent::{RecurrentParams, check_state, check_step_input, recurrent_common, unroll};
use crate::{Module, Param, RecurrentWeights, SequenceOutput};

/// One GRU step, PyTorch's equations:
///
/// ```text
/// [x_r, x_z, x_n] = x W_ih^T + b_ih          [h_r, h_z, h_n] = h W_hh^T + b_hh
/// r = sigmoid(x_r + h_r),  z = sigmoid(x_z + h_z)
/// n = tanh(x_n + r * h_n)                    (r scales W_hn h + b_hn: "reset after")
/// h' = (1 - z) * n + z * h
/// ```
///
/// Parameters (PyTorch `nn.GRUCell` names): `weight_ih` `[3H, I]`, `weight_hh` `[3H, H]`,
/// `bias_ih` `[3H]`, `bias_hh` `[3H]`, row blocks in gate order r, z, n; all initialised
/// `U(-1/sqrt(H), 1/sqrt(H))` from a seeded `StdRng` (seed 0 unless [`with_seed`](Self::with_seed)).
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::GruCell;
/// let cell = GruCell::<f64>::new(2, 3).with_seed(3);
/// let tape = Tape::new();
/// let x = tape.constant(Tensor::from_vec(vec![0.5, -1.0], &[1, 2]).unwrap());
/// let h = tape.constant(Tensor::from_vec(vec![0.9, -0.9, 0.0], &[1, 3]).unwrap());
/// let h1 = cell.step(x, h);
/// // h' is a convex combination of n in (-1, 1) and h, so it stays in (-1, 1).
/// assert!(h1.value().data().iter().all(|v| v.abs() < 1.0));
/// ```
#[derive(Debug)]
pub struct GruCell<T: Float> {
    p: RecurrentParams<T>,
}

recurrent_common!(GruCell, "cell", p);

impl<T: Float> GruCell<T> {
    /// A cell from `input_size` features to `hidden_size`, initialised as PyTorch does.
    ///
    /// # Panics
    /// If a size is 0 (`GruCell::new: input_size (0) and hidden_size (4) must be at least 1`).
    #[track_caller]
    pub fn new(input_size: usize, hidden_size: usize) -> Self {
        GruCell {
            p: RecurrentParams::new("GruCell", 3, input_size, hidden_size),
        }
    }

    /// The zero state `h = 0`, `[batch, H]`, as a constant on `tape`.
    pub fn zero_state<'t>(&self, tape: &'t Tape<T>, batch: usize) -> Var<'t, T> {
        self.p.zeros(tape, batch)
    }

    /// One step: `x` `[B, I]` and `h` `[B, H]` to `h'` `[B, H]`.
    ///
    /// # Panics
    /// If `x` is not `[B, I]` (`GruCell::step: input of shape [2, 5] does not match input_size 3:
    /// expected [batch, 3]`) or `h` is not `[B, H]`.
    #[track_caller]
    pub fn step<'t>(&self, x: Var<'t, T>, h: Var<'t, T>) -> Var<'t, T> {
        Self::step_with(&self.p.on(x.tape()), x, h)
    }

    /// [`step`](Self::step) with explicit weights (the functional form).
    ///
    /// # Panics
    /// As [`step`](Self::step), and if the weights are not `[3H, I]`, `[3H, H]`, `[3H]`, `[3H]`.
    #[track_caller]
    pub fn step_with<'t>(w: &RecurrentWeights<'t, T>, x: Var<'t, T>, h: Var<'t, T>) -> Var<'t, T> {
        let who = "GruCell::step";
        let (input, hidden) = w.sizes(who, 3);
        let batch = check_step_input(who, &x.shape(), input);
        check_state(who, "h", &h.shape(), batch, hidden);
        gru_step(w, w.input_part(x), h)
    }
}

/// One step from the input part `xp = x W_ih^T + b_ih` `[B, 3H]`.
fn gru_step<'t, T: Float>(
    w: &RecurrentWeights<'t, T>,
    xp: Var<'t, T>,
    h: Var<'t, T>,
) -> Var<'t, T> {
    // The gate math is one fused primitive, `gru_cell` (2 nodes instead of 14: W4's sizes with
    // a GRU 1.36-1.51x faster, docs/performance.md).
    let h1 = xp.gru_cell(w.hidden_part(h), h);
    // Its backward reads the gates and the hidden part, not the input part: freed now, as in
    // the LSTM's step.
    xp.release_value();
    h1
}

impl<T: Float> Module<T> for GruCell<T> {
    /// One step from the zero state (PyTorch's `cell(x)` without `hx`): `[B, I] -> [B, H]`.
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        let batch = x.shape().first().copied().unwrap_or(0);
        self.step(x, self.zero_state(x.tape(), batch))
    }

    /// `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` (PyTorch `nn.GRUCell` names).
    fn named_params(&self) -> Vec<(String, &Param<T>)> {
        self.p.named("")
    }

    fn named_params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        self.p.named_mut("")
    }
}

/// A one-layer GRU over a batch-first sequence: [`GruCell`]'s step at every `t = 0..T` from
/// `h_0` (zero by default).
///
/// Parameters (PyTorch `nn.GRU` names): `weight_ih_l0` `[3H, I]`, `weight_hh_l0` `[3H, H]`,
/// `bias_ih_l0` `[3H]`, `bias_hh_l0` `[3H]`, gate blocks r, z, n; initialised as [`GruCell`].
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::{Gru, Module};
/// let gru = Gru::<f64>::new(3, 4);
/// let tape = Tape::new();
/// let x = tape.var(Tensor::randn(&[2, 5, 3], 0));
/// let out = gru.forward_seq(x, None);
/// assert_eq!(out.output.shape().as_slice(), &[2, 5, 4]);
/// assert_eq!(out.output.narrow(1, 4, 1).value().to_vec(), out.h_n.value().to_vec());
/// let grads = out.output.sum().backward();
/// assert_eq!(grads[gru.bias_hh()].shape(), &[12]);
/// assert_eq!(gru.forward(x).shape().as_slice(), &[2, 5, 4]);
/// ```
#[derive(Debug)]
pub struct Gru<T: Float> {
    cell: GruCell<T>,
}

recurrent_common!(Gru, "layer", cell.p);

impl<T: Float> Gru<T> {
    /// A layer from `input_size` features to `hidden_size`, initialised as PyTorch does.
    ///
    /// # Panics
    /// If a size is 0 (`Gru::new: input_size (0) and hidden_size (4) must be at least 1`).
    #[track_caller]
    pub fn new(input_size: usize, hidden_size: usize) -> Self {
        Gru {
            cell: GruCell {
                p: RecurrentParams::new("Gru", 3, input_size, hidden_size),
            },
        }
    }

    /// The cell applied at every step (same parameters).
    pub fn cell(&self) -> &GruCell<T> {
        &self.cell
    }

    /// Runs the sequence `x` `[B, T, I]` from `h0` `[B, H]` (zero if `None`).
    ///
    /// # Panics
    /// If `x` is not `[B, T, I]` with `T >= 1` (`Gru::forward_seq: input of shape [2, 5] must be
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
        let hs = Self::unroll("Gru::forward_seq", w, x, h0);
        SequenceOutput {
            output: Var::stack(&hs, 1),
            h_n: *hs.last().expect("at least one step (checked)"),
        }
    }

    /// The hidden state after the last step of `x` `[B, T, I]` from `h0` (zero if `None`),
    /// without the output sequence: for a head on the last hidden state (Keras's
    /// `GRU(units)`, whose `return_sequences` is false), it skips copying every
    /// step's `h` into a `[B, T, H]` tensor. The same value and gradients as
    /// [`forward_seq`]'s `h_n`.
    ///
    /// # Panics
    /// As [`forward_seq`], naming `Gru::forward_last`.
    ///
    /// [`forward_seq`]: Self::forward_seq
    #[track_caller]
    pub fn forward_last<'t>(&self, x: Var<'t, T>, h0: Option<Var<'t, T>>) -> Var<'t, T> {
        let hs = Self::unroll("Gru::forward_last", &self.cell.p.on(x.tape()), x, h0);
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
        let part = |w: &RecurrentWeights<'t, T>, x| w.input_part(x);
        unroll(who, (w, 3), x, h0, part, gru_step)
    }
}

impl<T: Float> Module<T> for Gru<T> {
    /// The output sequence `[B, T, H]` from the zero state.
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        self.forward_seq(x, None).output
    }

    /// `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0` (PyTorch `nn.GRU` names).
    fn named_params(&self) -> Vec<(String, &Param<T>)> {
        self.cell.p.named("_l0")
    }

    fn named_params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        self.cell.p.named_mut("_l0")
    }
}

#[cfg(test)]
mod tests {
    use wengert_autograd::Tensor;

    use super::*;

    #[test]
    fn step_matches_pytorch_equations_element_by_element() {
        let cell = GruCell::<f64>::new(2, 3).with_seed(6);
        let tape = Tape::new();
        let xv = Tensor::from_vec(vec![0.3, -0.7], &[1, 2]).expect("the data fits the shape");
        let hv = Tensor::from_vec(vec![0.1, -0.2, 0.5], &[1, 3]).expect("the data fits the shape");
        let h1 = cell.step(tape.constant(xv.clone()), tape.constant(hv.clone()));
        let (wi, wh) = (cell.weight_ih().value(), cell.weight_hh().value());
        let (bi, bh) = (cell.bias_ih().value(), cell.bias_hh().value());
        // separate input and hidden parts: the reset gate multiplies only the hidden part of n
        let xpart = |row: usize| {
            bi.get(&[row])
                + (0..2)
                    .map(|k| wi.get(&[row, k]) * xv.get(&[0, k]))
                    .sum::<f64>()
        };
        let hpart = |row: usize| {
            bh.get(&[row])
                + (0..3)
                    .map(|k| wh.get(&[row, k]) * hv.get(&[0, k]))
                    .sum::<f64>()
        };
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        for j in 0..3 {
            let r = sig(xpart(j) + hpart(j));
            let z = sig(xpart(3 + j) + hpart(3 + j));
            let n = (xpart(6 + j) + r * hpart(6 + j)).tanh();
            let want = (1.0 - z) * n + z * hv.get(&[0, j]);
            assert!((h1.value().get(&[0, j]) - want).abs() < 1e-14);
        }
    }

    #[test]
    #[should_panic(
        expected = "GruCell::step: input of shape [2, 5] does not match input_size 3: expected [batch, 3]"
    )]
    fn a_wrong_input_size_panics() {
        let cell = GruCell::<f64>::new(3, 2);
        let tape = Tape::new();
        cell.step(
            tape.constant(Tensor::zeros(&[2, 5])),
            cell.zero_state(&tape, 2),
        );
    }

    #[test]
    #[should_panic(expected = "Gru::forward_seq: weights of shapes weight_ih [4, 3]")]
    fn weights_of_another_cell_type_panic() {
        let rnn = crate::Rnn::<f64>::new(3, 4); // G = 1: 4 rows, not a multiple of 3
        let tape = Tape::new();
        let x = tape.constant(Tensor::zeros(&[2, 5, 3]));
        Gru::forward_seq_with(&rnn.weights_on(&tape), x, None);
    }

    #[test]
    fn the_last_state_alone_has_the_values_and_gradients_of_the_sequence_run() {
        // Every gradient of a loss on h_n, from the zero state and from a given one.
        for given in [false, true] {
            let layer = Gru::<f64>::new(3, 4).with_seed(6);
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
    #[should_panic(expected = "Gru::forward_last: the sequence is empty (input shape [2, 0, 3])")]
    fn an_empty_sequence_panics_naming_forward_last() {
        let layer = Gru::<f64>::new(3, 2);
        let tape = Tape::new();
        layer.forward_last(tape.constant(Tensor::zeros(&[2, 0, 3])), None);
    }

    #[test]
    fn each_step_releases_what_no_backward_reads_and_changes_no_gradient() {
        let (batch, steps, input, hidden) = (2, 4, 3, 5);
        let gru = Gru::<f64>::new(input, hidden).with_seed(7);
        let run = |release: bool| {
            let tape = Tape::new();
            let x = tape.var(Tensor::randn(&[batch, steps, input], 3));
            let h = if release {
                gru.forward_last(x, None)
            } else {
                // The same nodes, nothing released.
                let w = gru.cell.p.on(&tape);
                let projected = w.input_part(x);
                let mut h = tape.constant(Tensor::zeros(&[batch, hidden]));
                for t in 0..steps {
                    let xp = projected.narrow(1, t, 1).reshape(&[batch, 3 * hidden]);
                    h = xp.gru_cell(w.hidden_part(h), h);
                }
                h
            };
            crate::test_util::bytes_and_grads(&gru, &tape, x, h)
        };
        let ((released, with), (kept, without)) = (run(true), run(false));
        assert_eq!(with, without);
        // The projection [B, T, 3H] and every step's slice of it [B, 3H].
        assert_eq!(kept - released, 6 * steps * batch * hidden * 8);
    }
}
