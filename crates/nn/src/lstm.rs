//! Long short-term memory: [`LstmCell`] (one step) and [`Lstm`] (a sequence).
//!
//! ```text
//! [a_i, a_f, a_g, a_o] = x W_ih^T + b_ih + h W_hh^T + b_hh     (one product per operand, 4H wide)
//! i = sigmoid(a_i)      input gate
//! f = sigmoid(a_f)      forget gate
//! g = tanh(a_g)         candidate
//! o = sigmoid(a_o)      output gate
//! c' = f * c + i * g
//! h' = o * tanh(c')
//! ```
//!
//! PyTorch: `nn.LSTMCell(I, H)` / `nn.LSTM(I, H, batch_first=True)`, gate blocks in the same row
//! order i, f, g, o.

use wengert_autograd::{Float, Tape, Tensor, Var};

use crate::recurrent::{
    RecurrentParams, check_seq_input, check_state, check_step_input, recurrent_common,
};
use crate::{Module, Param, RecurrentWeights};

/// The state of an LSTM: hidden state `h` and cell state `c`, both `[B, H]`.
#[derive(Clone, Copy, Debug)]
pub struct LstmState<'t, T: Float> {
    /// Hidden state `h` (what the next layer sees).
    pub h: Var<'t, T>,
    /// Cell state `c` (the additive memory).
    pub c: Var<'t, T>,
}

/// One LSTM step:
///
/// ```text
/// [a_i, a_f, a_g, a_o] = x W_ih^T + b_ih + h W_hh^T + b_hh     (one product per operand, 4H wide)
/// i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
/// c' = f * c + i * g
/// h' = o * tanh(c')
/// ```
///
/// Parameters (PyTorch `nn.LSTMCell` names): `weight_ih` `[4H, I]`, `weight_hh` `[4H, H]`,
/// `bias_ih` `[4H]`, `bias_hh` `[4H]`, row blocks in gate order i, f, g, o; all initialised
/// `U(-1/sqrt(H), 1/sqrt(H))` from a seeded `StdRng` (seed 0 unless
/// [`with_seed`](Self::with_seed)); optionally a forget-gate bias of 1
/// ([`with_forget_bias`](Self::with_forget_bias)).
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::LstmCell;
/// let cell = LstmCell::<f64>::new(2, 3);
/// let tape = Tape::new();
/// let x = tape.constant(Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.0], &[2, 2]).unwrap());
/// let s = cell.step(x, cell.zero_state(&tape, 2));
/// // From c = 0: c' = i * g, h' = o * tanh(c'), with |g| < 1 so |c'| < 1 and |h'| < tanh(1).
/// assert_eq!(s.c.shape().as_slice(), &[2, 3]);
/// assert!(s.h.value().data().iter().all(|v| v.abs() < 1f64.tanh()));
/// ```
#[derive(Debug)]
pub struct LstmCell<T: Float> {
    p: RecurrentParams<T>,
}

recurrent_common!(LstmCell, "cell", p);

impl<T: Float> LstmCell<T> {
    /// A cell from `input_size` features to `hidden_size`, initialised as PyTorch does.
    ///
    /// # Panics
    /// If a size is 0 (`LstmCell::new: input_size (0) and hidden_size (4) must be at least 1`).
    #[track_caller]
    pub fn new(input_size: usize, hidden_size: usize) -> Self {
        LstmCell {
            p: RecurrentParams::new("LstmCell", 4, input_size, hidden_size),
        }
    }

    /// The same cell with the forget-gate slice (rows `H..2H`) of `bias_ih` set to `value` and
    /// that of `bias_hh` to 0, so the forget gate's total bias is exactly `value` (the other
    /// slices keep their random values).
    ///
    /// A forget bias of 1 (Gers et al. 2000, Jozefowicz et al. 2015) starts the cell with
    /// `f ~ sigmoid(1) = 0.73`, remembering by default; it is Keras's LSTM default
    /// (`unit_forget_bias=True`, Keras has a single bias), while PyTorch leaves it to the user
    /// (`lstm.bias_ih_l0.data[H:2*H] = 1`). Kept when re-seeding.
    pub fn with_forget_bias(mut self, value: f64) -> Self {
        self.p.forget_bias = Some(value);
        self.p.reinit();
        self
    }

    /// The zero state `(h, c) = (0, 0)`, each `[batch, H]`, as constants on `tape`.
    pub fn zero_state<'t>(&self, tape: &'t Tape<T>, batch: usize) -> LstmState<'t, T> {
        LstmState {
            h: self.p.zeros(tape, batch),
            c: self.p.zeros(tape, batch),
        }
    }

    /// One step: `x` `[B, I]` and `(h, c)` `[B, H]` each to `(h', c')`.
    ///
    /// # Panics
    /// If `x` is not `[B, I]` (`LstmCell::step: input of shape [2, 5] does not match input_size
    /// 3: expected [batch, 3]`) or `h` or `c` is not `[B, H]`.
    #[track_caller]
    pub fn step<'t>(&self, x: Var<'t, T>, state: LstmState<'t, T>) -> LstmState<'t, T> {
        Self::step_with(&self.p.on(x.tape()), x, state)
    }

    /// [`step`](Self::step) with explicit weights (the functional form).
    ///
    /// # Panics
    /// As [`step`](Self::step), and if the weights are not `[4H, I]`, `[4H, H]`, `[4H]`, `[4H]`.
    #[track_caller]
    pub fn step_with<'t>(
        w: &RecurrentWeights<'t, T>,
        x: Var<'t, T>,
        state: LstmState<'t, T>,
    ) -> LstmState<'t, T> {
        let who = "LstmCell::step";
        let (input, hidden) = w.sizes(who, 4);
        let batch = check_step_input(who, &x.shape(), input);
        check_state(who, "h", &state.h.shape(), batch, hidden);
        check_state(who, "c", &state.c.shape(), batch, hidden);
        lstm_step(w, w.input_part_both_biases(x), state)
    }
}

/// One step from the input part `xp = x W_ih^T + b_ih + b_hh` `[B, 4H]`.
fn lstm_step<'t, T: Float>(
    w: &RecurrentWeights<'t, T>,
    xp: Var<'t, T>,
    LstmState { h, c }: LstmState<'t, T>,
) -> LstmState<'t, T> {
    // All four gates from one product per operand, `h W_hh^T` accumulated onto `xp` in one node;
    // the gate math (sigmoid/tanh, c' = f c + i g, h' = o tanh c') is one fused primitive,
    // `lstm_cell` (3 nodes instead of 13: W4 measured in docs/performance-history.md).
    let a = w.hidden_onto(h, xp);
    let (h, c) = a.lstm_cell(c);
    // No backward reads the input part or the pre-activations (an addend, and the input of
    // gates differentiated from their output): their buffers go back to the cache now, for the
    // next step's (W4 2-5 % faster than keeping them to the end of the tape).
    xp.release_value();
    a.release_value();
    LstmState { h, c }
}

impl<T: Float> Module<T> for LstmCell<T> {
    /// One step from the zero state (PyTorch's `cell(x)` without `hx`), returning `h'`
    /// `[B, H]`; use [`step`](LstmCell::step) for `c'`.
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        let batch = x.shape().first().copied().unwrap_or(0);
        self.step(x, self.zero_state(x.tape(), batch)).h
    }

    /// `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` (PyTorch `nn.LSTMCell` names).
    fn named_params(&self) -> Vec<(String, &Param<T>)> {
        self.p.named("")
    }

    fn named_params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        self.p.named_mut("")
    }
}

/// What [`Lstm`] returns.
#[derive(Clone, Copy, Debug)]
pub struct LstmOutput<'t, T: Float> {
    /// The hidden state after every step, `[B, T, H]` (PyTorch's `output`, `batch_first=True`).
    pub output: Var<'t, T>,
    /// The final hidden state, `[B, H]` (PyTorch's `h_n[0]`).
    pub h_n: Var<'t, T>,
    /// The final cell state, `[B, H]` (PyTorch's `c_n[0]`).
    pub c_n: Var<'t, T>,
}

/// A one-layer LSTM over a batch-first sequence: [`LstmCell`]'s step at every `t = 0..T` from
/// `(h_0, c_0)` (zeros by default).
///
/// Parameters (PyTorch `nn.LSTM` names): `weight_ih_l0` `[4H, I]`, `weight_hh_l0` `[4H, H]`,
/// `bias_ih_l0` `[4H]`, `bias_hh_l0` `[4H]`, gate blocks i, f, g, o; initialised as
/// [`LstmCell`].
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::{Lstm, Module};
/// let lstm = Lstm::<f64>::new(3, 4).with_seed(2).with_forget_bias(1.0);
/// assert_eq!(lstm.bias_ih().value().to_vec()[4..8], [1.0; 4]); // the f block
/// assert_eq!(lstm.bias_hh().value().to_vec()[4..8], [0.0; 4]);
/// let tape = Tape::new();
/// let x = tape.var(Tensor::randn(&[2, 5, 3], 0));
/// let out = lstm.forward_seq(x, None);
/// assert_eq!(out.output.shape().as_slice(), &[2, 5, 4]);
/// assert_eq!(out.c_n.shape().as_slice(), &[2, 4]);
/// let grads = (out.output.sum() + out.c_n.sum()).backward();
/// assert_eq!(grads[lstm.weight_ih()].shape(), &[16, 3]);
/// assert_eq!(lstm.num_params(), 16 * 3 + 16 * 4 + 16 + 16);
/// ```
#[derive(Debug)]
pub struct Lstm<T: Float> {
    cell: LstmCell<T>,
}

recurrent_common!(Lstm, "layer", cell.p);

impl<T: Float> Lstm<T> {
    /// A layer from `input_size` features to `hidden_size`, initialised as PyTorch does.
    ///
    /// # Panics
    /// If a size is 0 (`Lstm::new: input_size (0) and hidden_size (4) must be at least 1`).
    #[track_caller]
    pub fn new(input_size: usize, hidden_size: usize) -> Self {
        Lstm {
            cell: LstmCell {
                p: RecurrentParams::new("Lstm", 4, input_size, hidden_size),
            },
        }
    }

    /// The same layer with a forget-gate bias: see [`LstmCell::with_forget_bias`].
    pub fn with_forget_bias(mut self, value: f64) -> Self {
        self.cell = self.cell.with_forget_bias(value);
        self
    }

    /// The cell applied at every step (same parameters).
    pub fn cell(&self) -> &LstmCell<T> {
        &self.cell
    }

    /// Runs the sequence `x` `[B, T, I]` from `state0` (zeros if `None`).
    ///
    /// # Panics
    /// If `x` is not `[B, T, I]` with `T >= 1` (`Lstm::forward_seq: input of shape [2, 5] must
    /// be [batch, seq, 3] (batch-first, input_size 3)`) or a state is not `[B, H]`.
    #[track_caller]
    pub fn forward_seq<'t>(
        &self,
        x: Var<'t, T>,
        state0: Option<LstmState<'t, T>>,
    ) -> LstmOutput<'t, T> {
        Self::forward_seq_with(&self.cell.p.on(x.tape()), x, state0)
    }

    /// [`forward_seq`](Self::forward_seq) with explicit weights (the functional form).
    ///
    /// # Panics
    /// As [`forward_seq`](Self::forward_seq), and if the weights do not fit.
    #[track_caller]
    pub fn forward_seq_with<'t>(
        w: &RecurrentWeights<'t, T>,
        x: Var<'t, T>,
        state0: Option<LstmState<'t, T>>,
    ) -> LstmOutput<'t, T> {
        let (hs, state) = Self::run("Lstm::forward_seq", w, x, state0);
        LstmOutput {
            output: Var::stack(&hs, 1),
            h_n: state.h,
            c_n: state.c,
        }
    }

    /// The state after the last step of `x` `[B, T, I]` from `state0` (zeros if `None`),
    /// without the output sequence: for a head on the last hidden state (Keras's
    /// `LSTM(units)`, whose `return_sequences` is false), it skips copying every step's `h`
    /// into a `[B, T, H]` tensor. The same values and gradients as [`forward_seq`]'s `h_n` and
    /// `c_n`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// use wengert_nn::Lstm;
    ///
    /// let lstm = Lstm::<f64>::new(3, 4).with_seed(1);
    /// let tape = Tape::new();
    /// let x = tape.constant(Tensor::randn(&[2, 5, 3], 2));
    /// let last = lstm.forward_last(x, None);
    /// let seq = lstm.forward_seq(x, None);
    /// assert_eq!(last.h.value().to_vec(), seq.h_n.value().to_vec());
    /// assert_eq!(last.c.value().to_vec(), seq.c_n.value().to_vec());
    /// ```
    ///
    /// # Panics
    /// As [`forward_seq`], naming `Lstm::forward_last`.
    ///
    /// [`forward_seq`]: Self::forward_seq
    #[track_caller]
    pub fn forward_last<'t>(
        &self,
        x: Var<'t, T>,
        state0: Option<LstmState<'t, T>>,
    ) -> LstmState<'t, T> {
        let w = self.cell.p.on(x.tape());
        Self::run("Lstm::forward_last", &w, x, state0).1
    }

    /// The steps of [`forward_seq_with`](Self::forward_seq_with): every step's `h` (collecting
    /// them costs no copy; only `forward_seq` stacks them) and the last state.
    #[track_caller]
    fn run<'t>(
        who: &str,
        w: &RecurrentWeights<'t, T>,
        x: Var<'t, T>,
        state0: Option<LstmState<'t, T>>,
    ) -> (Vec<Var<'t, T>>, LstmState<'t, T>) {
        let (input, hidden) = w.sizes(who, 4);
        let (batch, steps) = check_seq_input(who, &x.shape(), input);
        if let Some(s) = &state0 {
            check_state(who, "h0", &s.h.shape(), batch, hidden);
            check_state(who, "c0", &s.c.shape(), batch, hidden);
        }
        // The input part of every step, `x_t W_ih^T + (b_ih + b_hh)`, from a slice of x: W_ih is
        // packed once for all steps' products and `dW_ih` is added step by step, which measured
        // 4.5 % faster on W4 than one projection of the whole sequence sliced per step (its
        // GEMMs ran at 73-80 GFLOP/s, and its slices were copied forward and padded backward).
        // Each made just before its step (the iterator is lazy): read while still in cache
        // forward, and backward its `dW_ih` product runs right after that step's gate gradient
        // is made, not after the whole sequence's (W4 1-2 % faster than all made up front).
        let bias = w.bias_ih + w.bias_hh;
        let mut xps = (0..steps).map(|t| {
            x.narrow(1, t, 1)
                .reshape(&[batch, input])
                .linear(w.weight_ih, Some(bias))
        });
        // From h_0 = 0 the first step's gates are the input part alone (h_0 W_hh^T is zero): no
        // product forward, none added to dW_hh backward (2 of W4's 140). With one step W_hh
        // would then not reach the loss, so that step keeps its product (a zero gradient).
        let skip_first = state0.is_none() && steps > 1;
        let mut state = match state0 {
            Some(s) => s,
            None => {
                let zeros = || x.tape().constant(Tensor::zeros(&[batch, hidden]));
                if skip_first {
                    let first = xps.next().expect("at least two steps (checked)");
                    let (h, c) = first.lstm_cell(zeros());
                    first.release_value(); // as in `lstm_step`
                    LstmState { h, c }
                } else {
                    LstmState {
                        h: zeros(),
                        c: zeros(),
                    }
                }
            }
        };
        let mut hs = Vec::with_capacity(steps);
        if skip_first {
            hs.push(state.h); // the first step, taken above
        }
        for xp in xps {
            state = lstm_step(w, xp, state);
            hs.push(state.h);
        }
        (hs, state)
    }
}

impl<T: Float> Module<T> for Lstm<T> {
    /// The output sequence `[B, T, H]` from the zero state.
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        self.forward_seq(x, None).output
    }

    /// `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0` (PyTorch `nn.LSTM` names).
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

    #[test]
    fn step_matches_the_equations_element_by_element() {
        let cell = LstmCell::<f64>::new(2, 3).with_seed(4);
        let tape = Tape::new();
        let xv = Tensor::from_vec(vec![0.3, -0.7], &[1, 2]).expect("the data fits the shape");
        let hv = Tensor::from_vec(vec![0.1, -0.2, 0.5], &[1, 3]).expect("the data fits the shape");
        let cv = Tensor::from_vec(vec![1.5, -0.4, 0.2], &[1, 3]).expect("the data fits the shape");
        let s = cell.step(
            tape.constant(xv.clone()),
            LstmState {
                h: tape.constant(hv.clone()),
                c: tape.constant(cv.clone()),
            },
        );
        let (wi, wh) = (cell.weight_ih().value(), cell.weight_hh().value());
        let (bi, bh) = (cell.bias_ih().value(), cell.bias_hh().value());
        let pre = |row: usize| {
            let mut a = bi.get(&[row]) + bh.get(&[row]);
            for k in 0..2 {
                a += wi.get(&[row, k]) * xv.get(&[0, k]);
            }
            for k in 0..3 {
                a += wh.get(&[row, k]) * hv.get(&[0, k]);
            }
            a
        };
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        for j in 0..3 {
            let (i, f) = (sig(pre(j)), sig(pre(3 + j)));
            let (g, o) = (pre(6 + j).tanh(), sig(pre(9 + j)));
            let c = f * cv.get(&[0, j]) + i * g;
            assert!((s.c.value().get(&[0, j]) - c).abs() < 1e-14);
            assert!((s.h.value().get(&[0, j]) - o * c.tanh()).abs() < 1e-14);
        }
    }

    #[test]
    fn forget_bias_survives_reseeding_and_only_touches_the_f_block() {
        let plain = Lstm::<f64>::new(3, 2).with_seed(8);
        let biased = Lstm::<f64>::new(3, 2).with_forget_bias(1.0).with_seed(8);
        let (p, b) = (
            plain.bias_ih().value().to_vec(),
            biased.bias_ih().value().to_vec(),
        );
        assert_eq!(&b[2..4], &[1.0, 1.0]);
        assert_eq!(&b[..2], &p[..2]);
        assert_eq!(&b[4..], &p[4..]);
        assert_eq!(&biased.bias_hh().value().to_vec()[2..4], &[0.0, 0.0]);
        assert_eq!(plain.weight_ih().value(), biased.weight_ih().value());
    }

    #[test]
    #[should_panic(
        expected = "LstmCell::step: state c of shape [2, 3] does not match: expected [2, 2]"
    )]
    fn a_wrong_cell_state_panics() {
        let cell = LstmCell::<f64>::new(3, 2);
        let tape = Tape::new();
        let x = tape.constant(Tensor::zeros(&[2, 3]));
        let h = tape.constant(Tensor::zeros(&[2, 2]));
        let c = tape.constant(Tensor::zeros(&[2, 3]));
        cell.step(x, LstmState { h, c });
    }

    #[test]
    #[should_panic(expected = "Lstm::forward_seq: the sequence is empty (input shape [2, 0, 3])")]
    fn an_empty_sequence_panics() {
        let lstm = Lstm::<f64>::new(3, 2);
        let tape = Tape::new();
        lstm.forward_seq(tape.constant(Tensor::zeros(&[2, 0, 3])), None);
    }

    #[test]
    fn the_last_state_alone_has_the_values_and_gradients_of_the_sequence_run() {
        // Every gradient of a loss on (h_n, c_n), from the zero state and from a given one.
        for given in [false, true] {
            let lstm = Lstm::<f64>::new(3, 4).with_seed(6);
            let run = |last_only: bool| {
                let tape = Tape::new();
                let x = tape.var(Tensor::randn(&[2, 5, 3], 2));
                let s0 = given.then(|| LstmState {
                    h: tape.var(Tensor::randn(&[2, 4], 3)),
                    c: tape.var(Tensor::randn(&[2, 4], 4)),
                });
                let (h, c) = if last_only {
                    let s = lstm.forward_last(x, s0);
                    (s.h, s.c)
                } else {
                    let out = lstm.forward_seq(x, s0);
                    (out.h_n, out.c_n)
                };
                // tanh after the op so the upstream gradient is not all ones
                let loss = h.tanh().sum() + c.powf(2.0).sum();
                let values = [h.value().to_vec(), c.value().to_vec()];
                let grads = loss.backward();
                let mut all = values.to_vec();
                all.push(grads[x].to_vec());
                if let Some(s0) = s0 {
                    all.extend([grads[s0.h].to_vec(), grads[s0.c].to_vec()]);
                }
                all.extend(lstm.named_params().iter().map(|(_, p)| grads[*p].to_vec()));
                all
            };
            assert_eq!(run(true), run(false), "given state: {given}");
        }
    }

    #[test]
    #[should_panic(expected = "Lstm::forward_last: the sequence is empty (input shape [2, 0, 3])")]
    fn an_empty_sequence_panics_naming_forward_last() {
        let lstm = Lstm::<f64>::new(3, 2);
        let tape = Tape::new();
        lstm.forward_last(tape.constant(Tensor::zeros(&[2, 0, 3])), None);
    }

    #[test]
    fn the_zero_start_without_the_first_product_equals_an_explicit_zero_state() {
        // From h_0 = 0 the first step skips h_0 W_hh^T: outputs and every gradient must be
        // those of the explicit zero state, bit for bit (0 W = 0 exactly, adds nothing to dW);
        // one step keeps the product, so dW_hh is there (zeros).
        for steps in [1, 2, 4] {
            let lstm = Lstm::<f64>::new(3, 4).with_seed(5).with_forget_bias(1.0);
            let run = |explicit: bool| {
                let tape = Tape::new();
                let x = tape.var(Tensor::randn(&[2, steps, 3], 1));
                let s0 = explicit.then(|| lstm.cell().zero_state(&tape, 2));
                let out = lstm.forward_seq(x, s0);
                // tanh after the op so the upstream gradient is not all ones
                let loss = out.output.tanh().sum() + out.c_n.powf(2.0).sum();
                let output = out.output.value().to_vec();
                let grads = loss.backward();
                let mut all = vec![output, grads[x].to_vec()];
                all.extend(lstm.named_params().iter().map(|(_, p)| grads[*p].to_vec()));
                all
            };
            assert_eq!(run(false), run(true), "{steps} steps");
        }
    }

    #[test]
    fn each_step_releases_its_input_part_and_pre_activations_and_changes_no_gradient() {
        let (batch, steps, input, hidden) = (2, 4, 3, 5);
        let lstm = Lstm::<f64>::new(input, hidden).with_seed(7);
        let run = |release: bool| {
            let tape = Tape::new();
            let x = tape.var(Tensor::randn(&[batch, steps, input], 3));
            let h = if release {
                lstm.forward_last(x, None).h
            } else {
                // The same nodes, nothing released.
                let w = lstm.cell.p.on(&tape);
                let bias = w.bias_ih + w.bias_hh;
                let xp = |t| {
                    x.narrow(1, t, 1)
                        .reshape(&[batch, input])
                        .linear(w.weight_ih, Some(bias))
                };
                let zeros = tape.constant(Tensor::zeros(&[batch, hidden]));
                let (mut h, mut c) = xp(0).lstm_cell(zeros);
                for t in 1..steps {
                    (h, c) = w.hidden_onto(h, xp(t)).lstm_cell(c);
                }
                h
            };
            crate::test_util::bytes_and_grads(&lstm, &tape, x, h)
        };
        let ((released, with), (kept, without)) = (run(true), run(false));
        assert_eq!(with, without);
        // Every step's input part and, but for the first step's, the pre-activations: [B, 4H].
        assert_eq!(kept - released, (2 * steps - 1) * batch * 4 * hidden * 8);
    }

    #[test]
    fn runs_in_f32_and_carries_the_state_on() {
        // The snippet of docs/recurrent.md.
        let lstm = Lstm::<f32>::new(3, 4).with_seed(42).with_forget_bias(1.0);
        let tape = Tape::new();
        let x = tape.constant(Tensor::randn(&[8, 20, 3], 0));
        let out = lstm.forward_seq(x, None);
        assert_eq!(out.output.shape().as_slice(), &[8, 20, 4]);
        let next = lstm.forward_seq(
            x,
            Some(LstmState {
                h: out.h_n,
                c: out.c_n,
            }),
        );
        assert_ne!(next.h_n.value(), out.h_n.value()); // a different start, a different end
        let cell = lstm.cell();
        let mut s = cell.zero_state(&tape, 8);
        for t in 0..20 {
            s = cell.step(x.narrow(1, t, 1).reshape(&[8, 3]), s);
        }
        // the cell unrolled by hand is the layer
        let d =
            s.c.value()
                .max_abs_diff(&out.c_n.value())
                .expect("equal shapes");
        assert!(d < 1e-6, "{d}");
        assert_eq!(lstm.forward(x).value(), out.output.value());
    }

    #[test]
    fn orthogonal_recurrent_blocks() {
        let lstm = Lstm::<f64>::new(3, 4)
            .with_orthogonal_recurrent(true)
            .with_seed(1);
        let w = lstm.weight_hh().value();
        for gate in 0..4 {
            for a in 0..4 {
                for b in 0..4 {
                    // rows of an orthogonal block are orthonormal
                    let d: f64 = (0..4)
                        .map(|k| w.get(&[gate * 4 + a, k]) * w.get(&[gate * 4 + b, k]))
                        .sum();
                    let want = if a == b { 1.0 } else { 0.0 };
                    assert!((d - want).abs() < 1e-12);
                }
            }
        }
        assert!(lstm.config().orthogonal_recurrent);
    }
}
