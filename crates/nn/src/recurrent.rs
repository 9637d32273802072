//! What the recurrent cells and layers ([`RnnCell`](crate::RnnCell), [`LstmCell`](crate::LstmCell),
//! [`GruCell`](crate::GruCell) and their sequence layers) share: the four PyTorch parameters, their
//! initialisation, the shape checks, and the input projection of a whole sequence.
//!
//! Every recurrent cell of this crate computes its `G` gate pre-activations from two affine maps,
//! exactly as PyTorch does:
//!
//! ```text
//! x W_ih^T + b_ih    W_ih: [G*H, I], b_ih: [G*H]
//! h W_hh^T + b_hh    W_hh: [G*H, H], b_hh: [G*H]
//! ```
//!
//! with `G = 1` (RNN), `4` (LSTM: gates i, f, g, o) or `3` (GRU: gates r, z, n), stacked as row
//! blocks of the weights in that order, so weights move between wengert and PyTorch unchanged.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wengert_autograd::{Float, Tape, Tensor, Var};

use crate::Param;

/// How a recurrent cell or layer initialises its parameters.
///
/// ```
/// use wengert_nn::{Lstm, RecurrentConfig};
/// let a = Lstm::<f64>::new(3, 4).with_config(RecurrentConfig { seed: 7, ..Default::default() });
/// let b = Lstm::<f64>::new(3, 4).with_seed(7);
/// assert_eq!(a.weight_hh().value(), b.weight_hh().value()); // same seed, same weights
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecurrentConfig {
    /// Seed of the `StdRng` every parameter is drawn from. Default `0`.
    pub seed: u64,
    /// If `true`, each `[H, H]` gate block of `weight_hh` is a random orthogonal matrix (the
    /// `Q` of a Gaussian matrix, as Keras's `recurrent_initializer="orthogonal"` and PyTorch's
    /// `nn.init.orthogonal_` applied per gate); otherwise it is drawn like the other parameters.
    /// Default `false` (PyTorch's default).
    pub orthogonal_recurrent: bool,
}

/// The four parameters of a recurrent cell on one tape, as `Var`s: the functional form of a cell,
/// used by `step_with` / `forward_seq_with` (for gradient checks with respect to the weights, or
/// weights computed by another network).
///
/// Shapes: `weight_ih` `[G*H, I]`, `weight_hh` `[G*H, H]`, `bias_ih` and `bias_hh` `[G*H]`.
#[derive(Clone, Copy, Debug)]
pub struct RecurrentWeights<'t, T: Float> {
    /// Input-to-hidden weights `W_ih`, `[G*H, I]`.
    pub weight_ih: Var<'t, T>,
    /// Hidden-to-hidden weights `W_hh`, `[G*H, H]`.
    pub weight_hh: Var<'t, T>,
    /// Input-to-hidden bias `b_ih`, `[G*H]`.
    pub bias_ih: Var<'t, T>,
    /// Hidden-to-hidden bias `b_hh`, `[G*H]`.
    pub bias_hh: Var<'t, T>,
}

impl<'t, T: Float> RecurrentWeights<'t, T> {
    /// `(input_size, hidden_size)` read from the shapes, after checking that they are consistent
    /// for a cell with `gates` gate blocks.
    ///
    /// # Panics
    /// If a shape is not `[G*H, I]`, `[G*H, H]`, `[G*H]`, `[G*H]`, naming `who` and the shapes.
    #[track_caller]
    pub(crate) fn sizes(&self, who: &str, gates: usize) -> (usize, usize) {
        let (wi, wh) = (self.weight_ih.shape(), self.weight_hh.shape());
        let (bi, bh) = (self.bias_ih.shape(), self.bias_hh.shape());
        let ok_ih = wi.len() == 2 && wi[0] % gates == 0 && wi[0] > 0;
        let hidden = if ok_ih { wi[0] / gates } else { 0 };
        let g = gates * hidden;
        let ok =
            ok_ih && wh.as_slice() == [g, hidden] && bi.as_slice() == [g] && bh.as_slice() == [g];
        assert!(
            ok,
            "{who}: weights of shapes weight_ih {:?}, weight_hh {:?}, bias_ih {:?}, bias_hh {:?} \
             do not fit a cell with {gates} gate(s): expected [{gates}*H, I], [{gates}*H, H], \
             [{gates}*H], [{gates}*H]",
            wi.as_slice(),
            wh.as_slice(),
            bi.as_slice(),
            bh.as_slice()
        );
        (wi[1], hidden)
    }

    /// `x W_ih^T + b_ih` for `x` of shape `[.., I]`: `[.., G*H]`.
    pub(crate) fn input_part(&self, x: Var<'t, T>) -> Var<'t, T> {
        x.linear(self.weight_ih, Some(self.bias_ih))
    }

    /// `h W_hh^T + b_hh` for `h` of shape `[B, H]`: `[B, G*H]`.
    pub(crate) fn hidden_part(&self, h: Var<'t, T>) -> Var<'t, T> {
        h.linear(self.weight_hh, Some(self.bias_hh))
    }

    /// `x W_ih^T + (b_ih + b_hh)`: the input projection carrying both biases, for cells whose
    /// pre-activation is the plain sum of the two affine maps (RNN, LSTM; not GRU, whose `n`
    /// gate multiplies `h W_hn^T + b_hn` by `r`). Pair it with [`hidden_onto`](Self::hidden_onto).
    pub(crate) fn input_part_both_biases(&self, x: Var<'t, T>) -> Var<'t, T> {
        x.linear(self.weight_ih, Some(self.bias_ih + self.bias_hh))
    }

    /// `xp + h W_hh^T` for `xp` `[B, G*H]` from
    /// [`input_part_both_biases`](Self::input_part_both_biases): the pre-activation of one
    /// step in one node (`linear` with a full addend), not a product, a bias row and an add.
    pub(crate) fn hidden_onto(&self, h: Var<'t, T>, xp: Var<'t, T>) -> Var<'t, T> {
        h.linear(self.weight_hh, Some(xp))
    }
}

/// One `[B, W]` slice per step of an input projection `[B, T, W]` computed for the whole
/// sequence (`[B T, I] @ [I, W]`: the weight packed once, and one `dW_ih = G^T x` over all
/// `B T` rows in backward). The slices' gradients are added into the projection's gradient in
/// place (`InputGrads::padded`), so backward stays linear in `T`.
///
/// No backward reads the projection or a slice (only their shapes), so the projection is
/// released once sliced, and each slice holds the only copy of its values: the step that uses
/// it last can release it too.
fn steps_of<'t, T: Float>(projected: Var<'t, T>, batch: usize, steps: usize) -> Vec<Var<'t, T>> {
    let width = projected.shape()[2];
    let slices = (0..steps)
        .map(|t| {
            let slice = projected.narrow(1, t, 1);
            let step = slice.reshape(&[batch, width]); // shares the slice's buffer
            slice.release_value();
            step
        })
        .collect();
    projected.release_value();
    slices
}

/// The hidden state after every step of a layer whose state is one `h` (`Rnn`, `Gru`) over
/// `x` `[B, T, I]` from `h0` (zeros if `None`): `input_part` projects the whole sequence once,
/// `step(w, xp_t, h)` gives the next state (and releases `xp_t`, which nothing else reads).
/// Collecting the states costs no copy; only `forward_seq` stacks them into its output.
///
/// # Panics
/// Naming `who`, if `x` or `h0` do not fit the weights (`gates` blocks of rows).
#[track_caller]
#[allow(clippy::type_complexity)]
pub(crate) fn unroll<'t, T: Float>(
    who: &str,
    (w, gates): (&RecurrentWeights<'t, T>, usize),
    x: Var<'t, T>,
    h0: Option<Var<'t, T>>,
    input_part: fn(&RecurrentWeights<'t, T>, Var<'t, T>) -> Var<'t, T>,
    step: fn(&RecurrentWeights<'t, T>, Var<'t, T>, Var<'t, T>) -> Var<'t, T>,
) -> Vec<Var<'t, T>> {
    let (input, hidden) = w.sizes(who, gates);
    let (batch, steps) = check_seq_input(who, &x.shape(), input);
    let mut h = match h0 {
        Some(h0) => {
            check_state(who, "h0", &h0.shape(), batch, hidden);
            h0
        }
        None => x.tape().constant(Tensor::zeros(&[batch, hidden])),
    };
    // The input part of every step: one projection for the sequence, a slice per step.
    steps_of(input_part(w, x), batch, steps)
        .into_iter()
        .map(|xp| {
            h = step(w, xp, h);
            h
        })
        .collect()
}

/// Panics unless `x` is `[batch, input]`; returns the batch size.
#[track_caller]
pub(crate) fn check_step_input(who: &str, x: &[usize], input: usize) -> usize {
    assert!(
        x.len() == 2 && x[1] == input,
        "{who}: input of shape {x:?} does not match input_size {input}: expected [batch, {input}]"
    );
    x[0]
}

/// Panics unless the state `name` has shape `[batch, hidden]`.
#[track_caller]
pub(crate) fn check_state(who: &str, name: &str, s: &[usize], batch: usize, hidden: usize) {
    assert!(
        s == [batch, hidden],
        "{who}: state {name} of shape {s:?} does not match: expected [{batch}, {hidden}] \
         (batch {batch}, hidden_size {hidden})"
    );
}

/// Panics unless `x` is `[batch, steps, input]` with at least one step; returns `(batch, steps)`.
#[track_caller]
pub(crate) fn check_seq_input(who: &str, x: &[usize], input: usize) -> (usize, usize) {
    assert!(
        x.len() == 3 && x[2] == input,
        "{who}: input of shape {x:?} must be [batch, seq, {input}] (batch-first, input_size {input})"
    );
    assert!(
        x[1] > 0,
        "{who}: the sequence is empty (input shape {x:?}); at least one step is needed"
    );
    (x[0], x[1])
}

/// The parameters of one recurrent cell (shared by a cell and the layer that wraps it), with the
/// settings they were initialised from.
#[derive(Debug)]
pub(crate) struct RecurrentParams<T: Float> {
    pub(crate) gates: usize,
    pub(crate) input: usize,
    pub(crate) hidden: usize,
    pub(crate) config: RecurrentConfig,
    /// LSTM only: the value of the forget-gate slice of `bias_ih` (and 0 in `bias_hh`).
    pub(crate) forget_bias: Option<f64>,
    pub(crate) weight_ih: Param<T>,
    pub(crate) weight_hh: Param<T>,
    pub(crate) bias_ih: Param<T>,
    pub(crate) bias_hh: Param<T>,
}

impl<T: Float> RecurrentParams<T> {
    /// Parameters for `gates` gate blocks, initialised from the default config.
    ///
    /// # Panics
    /// If a size is 0, naming `who`.
    #[track_caller]
    pub(crate) fn new(who: &str, gates: usize, input: usize, hidden: usize) -> Self {
        assert!(
            input > 0 && hidden > 0,
            "{who}::new: input_size ({input}) and hidden_size ({hidden}) must be at least 1"
        );
        let g = gates * hidden;
        let mut p = RecurrentParams {
            gates,
            input,
            hidden,
            config: RecurrentConfig::default(),
            forget_bias: None,
            weight_ih: Param::new(Tensor::zeros(&[g, input])),
            weight_hh: Param::new(Tensor::zeros(&[g, hidden])),
            bias_ih: Param::new(Tensor::zeros(&[g])),
            bias_hh: Param::new(Tensor::zeros(&[g])),
        };
        p.reinit();
        p
    }

    /// Draws every parameter again from `config` (and `forget_bias`), keeping the ids.
    ///
    /// All four are `U(-1/sqrt(H), 1/sqrt(H))` (PyTorch's default), drawn from one `StdRng`
    /// seeded with `config.seed` in the order `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`;
    /// then `weight_hh` is replaced by orthogonal gate blocks if asked for, and the forget-gate
    /// slice of the biases set if asked for.
    pub(crate) fn reinit(&mut self) {
        let (gates, input, hidden) = (self.gates, self.input, self.hidden);
        let g = gates * hidden;
        let k = 1.0 / (hidden as f64).sqrt();
        let mut rng = StdRng::seed_from_u64(self.config.seed);
        let mut uniform =
            |n: usize| -> Vec<f64> { (0..n).map(|_| -k + 2.0 * k * rng.random::<f64>()).collect() };
        let w_ih = uniform(g * input);
        let mut w_hh = uniform(g * hidden);
        let mut b_ih = uniform(g);
        let mut b_hh = uniform(g);
        if self.config.orthogonal_recurrent {
            let mut rng = StdRng::seed_from_u64(self.config.seed ^ 0x6f72_7468_6f67_6f6e);
            for block in 0..gates {
                let q = orthogonal(hidden, &mut rng);
                w_hh[block * hidden * hidden..(block + 1) * hidden * hidden].copy_from_slice(&q);
            }
        }
        if let (Some(b), 4) = (self.forget_bias, gates) {
            // Gate order i, f, g, o: the forget gate is the second block.
            b_ih[hidden..2 * hidden].fill(b);
            b_hh[hidden..2 * hidden].fill(0.0);
        }
        let set = |p: &mut Param<T>, v: Vec<f64>, shape: &[usize]| {
            let t = Tensor::from_slice(&v.into_iter().map(T::from_f64).collect::<Vec<_>>())
                .reshape(shape);
            p.set_value(t)
                .expect("recurrent init: the shape is the parameter's own");
        };
        set(&mut self.weight_ih, w_ih, &[g, input]);
        set(&mut self.weight_hh, w_hh, &[g, hidden]);
        set(&mut self.bias_ih, b_ih, &[g]);
        set(&mut self.bias_hh, b_hh, &[g]);
    }

    /// The four parameters on `tape` (the same leaves at every step).
    pub(crate) fn on<'t>(&self, tape: &'t Tape<T>) -> RecurrentWeights<'t, T> {
        RecurrentWeights {
            weight_ih: self.weight_ih.on(tape),
            weight_hh: self.weight_hh.on(tape),
            bias_ih: self.bias_ih.on(tape),
            bias_hh: self.bias_hh.on(tape),
        }
    }

    /// The parameters in PyTorch order with names `weight_ih{suffix}`, ...
    pub(crate) fn named(&self, suffix: &str) -> Vec<(String, &Param<T>)> {
        vec![
            (format!("weight_ih{suffix}"), &self.weight_ih),
            (format!("weight_hh{suffix}"), &self.weight_hh),
            (format!("bias_ih{suffix}"), &self.bias_ih),
            (format!("bias_hh{suffix}"), &self.bias_hh),
        ]
    }

    /// As [`named`](Self::named), mutably.
    pub(crate) fn named_mut(&mut self, suffix: &str) -> Vec<(String, &mut Param<T>)> {
        vec![
            (format!("weight_ih{suffix}"), &mut self.weight_ih),
            (format!("weight_hh{suffix}"), &mut self.weight_hh),
            (format!("bias_ih{suffix}"), &mut self.bias_ih),
            (format!("bias_hh{suffix}"), &mut self.bias_hh),
        ]
    }

    /// A `[batch, H]` zero state as a constant on `tape`.
    pub(crate) fn zeros<'t>(&self, tape: &'t Tape<T>, batch: usize) -> Var<'t, T> {
        tape.constant(Tensor::zeros(&[batch, self.hidden]))
    }
}

/// A random `n x n` orthogonal matrix, row-major: modified Gram-Schmidt on the columns of a
/// standard normal matrix, which is its `Q` factor with a positive diagonal of `R`, so `Q` is
/// uniformly (Haar) distributed.
fn orthogonal(n: usize, rng: &mut StdRng) -> Vec<f64> {
    loop {
        // Columns of a standard normal matrix (Box-Muller).
        let mut cols: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                (0..n)
                    .map(|_| {
                        let u1 = 1.0 - rng.random::<f64>(); // (0, 1]
                        let u2 = rng.random::<f64>();
                        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
                    })
                    .collect()
            })
            .collect();
        let mut full_rank = true;
        for j in 0..n {
            let (done, rest) = cols.split_at_mut(j);
            let cj = &mut rest[0];
            for qi in done.iter() {
                let d: f64 = qi.iter().zip(cj.iter()).map(|(a, b)| a * b).sum();
                cj.iter_mut().zip(qi).for_each(|(c, q)| *c -= d * q);
            }
            let norm = cols[j].iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm < 1e-10 {
                full_rank = false; // probability 0; draw again
                break;
            }
            cols[j].iter_mut().for_each(|v| *v /= norm);
        }
        if full_rank {
            let mut q = vec![0.0; n * n];
            for (c, col) in cols.iter().enumerate() {
                for (r, v) in col.iter().enumerate() {
                    q[r * n + c] = *v;
                }
            }
            return q;
        }
    }
}

/// The builder methods and accessors every recurrent cell and layer has, on the
/// [`RecurrentParams`] at `self.$field`.
macro_rules! recurrent_common {
    ($ty:ident, $name:literal, $($field:ident).+) => {
        impl<T: Float> $ty<T> {
            #[doc = concat!("The same ", $name, " with its parameters drawn again from `seed` ",
                "(other settings kept). See [`RecurrentConfig`](crate::RecurrentConfig).")]
            pub fn with_seed(mut self, seed: u64) -> Self {
                self.$($field).+.config.seed = seed;
                self.$($field).+.reinit();
                self
            }

            #[doc = concat!("The same ", $name, " with each `[H, H]` gate block of ",
                "`weight_hh` a random orthogonal matrix if `on` (Keras's recurrent default). ",
                "See [`RecurrentConfig::orthogonal_recurrent`](crate::RecurrentConfig).")]
            pub fn with_orthogonal_recurrent(mut self, on: bool) -> Self {
                self.$($field).+.config.orthogonal_recurrent = on;
                self.$($field).+.reinit();
                self
            }

            #[doc = concat!("The same ", $name, " with its parameters drawn again from `config`.")]
            pub fn with_config(mut self, config: crate::RecurrentConfig) -> Self {
                self.$($field).+.config = config;
                self.$($field).+.reinit();
                self
            }

            /// The initialisation settings.
            pub fn config(&self) -> crate::RecurrentConfig {
                self.$($field).+.config
            }

            /// Features per input step, `I`.
            pub fn input_size(&self) -> usize {
                self.$($field).+.input
            }

            /// Features of the hidden state, `H`.
            pub fn hidden_size(&self) -> usize {
                self.$($field).+.hidden
            }

            /// `W_ih`, `[G*H, I]`.
            pub fn weight_ih(&self) -> &crate::Param<T> {
                &self.$($field).+.weight_ih
            }

            /// `W_hh`, `[G*H, H]`.
            pub fn weight_hh(&self) -> &crate::Param<T> {
                &self.$($field).+.weight_hh
            }

            /// `b_ih`, `[G*H]`.
            pub fn bias_ih(&self) -> &crate::Param<T> {
                &self.$($field).+.bias_ih
            }

            /// `b_hh`, `[G*H]`.
            pub fn bias_hh(&self) -> &crate::Param<T> {
                &self.$($field).+.bias_hh
            }

            /// The four parameters on `tape` as `Var`s, for the functional forms
            /// (`step_with`, `forward_seq_with`).
            pub fn weights_on<'t>(
                &self,
                tape: &'t wengert_autograd::Tape<T>,
            ) -> crate::RecurrentWeights<'t, T> {
                self.$($field).+.on(tape)
            }
        }
    };
}
pub(crate) use recurrent_common;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthogonal_blocks_are_orthogonal() {
        let mut rng = StdRng::seed_from_u64(3);
        let n = 5;
        let q = orthogonal(n, &mut rng);
        for i in 0..n {
            for j in 0..n {
                // (Q^T Q)_ij = sum_r Q_ri Q_rj = delta_ij
                let d: f64 = (0..n).map(|r| q[r * n + i] * q[r * n + j]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((d - want).abs() < 1e-12, "(Q^T Q)[{i}][{j}] = {d}");
            }
        }
    }

    #[test]
    fn init_is_pytorch_uniform_and_seeded() {
        let p = RecurrentParams::<f64>::new("Test", 4, 3, 16);
        let k = 1.0 / 4.0;
        for t in [&p.weight_ih, &p.weight_hh, &p.bias_ih, &p.bias_hh] {
            assert!(t.value().data().iter().all(|v| v.abs() <= k));
        }
        // Spread: with 16*4*16 = 1024 draws the extremes come close to +-k.
        let max = p
            .weight_hh
            .value()
            .data()
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(max > 0.9 * k, "max |w| = {max}");
        let q = RecurrentParams::<f64>::new("Test", 4, 3, 16);
        assert_eq!(p.weight_ih.value(), q.weight_ih.value());
        let mut r = RecurrentParams::<f64>::new("Test", 4, 3, 16);
        r.config.seed = 1;
        r.reinit();
        assert_ne!(p.weight_ih.value(), r.weight_ih.value());
    }

    #[test]
    #[should_panic(expected = "Lstm::new: input_size (0) and hidden_size (4) must be at least 1")]
    fn zero_sizes_panic() {
        let _ = RecurrentParams::<f64>::new("Lstm", 4, 0, 4);
    }
}
