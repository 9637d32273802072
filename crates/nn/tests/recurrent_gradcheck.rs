//! gradcheck and gradgradcheck (f64, central differences) of every recurrent cell and layer with
//! respect to the input, the initial state and all four parameters; the layers over 5 steps
//! (backpropagation through time).
//!
//! The analytic gradients checked here are the BPTT recursions, which autograd derives from the
//! primitive ops; with `dh_t` the total gradient reaching `h_t`:
//! - RNN, `h_t = tanh(a_t)`, `a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh`:
//!   `da_t = dh_t * (1 - h_t^2)`, `dh_{t-1} += da_t W_hh`, `dx_t = da_t W_ih`,
//!   `dW_hh = sum_t da_t^T h_{t-1}`, `dW_ih = sum_t da_t^T x_t`, `db_ih = db_hh = sum_t sum_b da_t`.
//! - LSTM: `dc_t += dh_t * o * (1 - tanh^2 c_t)`, `dc_{t-1} = dc_t * f` (the additive path),
//!   `di = dc_t * g`, `df = dc_t * c_{t-1}`, `dg = dc_t * i`, `do = dh_t * tanh c_t`, and each gate's
//!   pre-activation gradient is its output's times `s (1 - s)` (sigmoid) or `1 - g^2` (tanh).
//! - GRU: `dh_{t-1} = dh_t * z + ...` through `z`, `r` and `n`, with `dn = dh_t * (1 - z)`,
//!   `dz = dh_t * (h_{t-1} - n)`, `dr = dn (1 - n^2) * (h_{t-1} W_hn^T + b_hn)`.
//!
//! A wrong derivative anywhere in these (e.g. a gate in the wrong block) fails the checks.

use wengert_autograd::check::{CheckOptions, gradcheck, gradgradcheck};
use wengert_autograd::{Tensor, Var};
use wengert_nn::{Gru, GruCell, Lstm, LstmCell, LstmState, RecurrentWeights, Rnn, RnnCell};

const B: usize = 2;
const T: usize = 5;
const I: usize = 3;

/// Inputs: x, h0, [c0], weight_ih, weight_hh, bias_ih, bias_hh; values away from saturation.
fn inputs(
    x_shape: &[usize],
    hidden: usize,
    gates: usize,
    with_c: bool,
    seed: u64,
) -> Vec<Tensor<f64>> {
    let mut v = vec![
        Tensor::rand_uniform(x_shape, -1.0, 1.0, seed),
        Tensor::rand_uniform(&[B, hidden], -0.8, 0.8, seed + 1),
    ];
    if with_c {
        v.push(Tensor::rand_uniform(&[B, hidden], -1.5, 1.5, seed + 2));
    }
    let g = gates * hidden;
    v.push(Tensor::rand_uniform(&[g, I], -0.7, 0.7, seed + 3));
    v.push(Tensor::rand_uniform(&[g, hidden], -0.7, 0.7, seed + 4));
    v.push(Tensor::rand_uniform(&[g], -0.5, 0.5, seed + 5));
    v.push(Tensor::rand_uniform(&[g], -0.5, 0.5, seed + 6));
    v
}

fn weights<'t>(v: &[Var<'t, f64>]) -> RecurrentWeights<'t, f64> {
    let n = v.len();
    RecurrentWeights {
        weight_ih: v[n - 4],
        weight_hh: v[n - 3],
        bias_ih: v[n - 2],
        bias_hh: v[n - 1],
    }
}

/// `[B, T, H]` output and `[B, H]` final states side by side: `[B, T*H + k*H]`.
fn flat<'t>(output: Var<'t, f64>, finals: &[Var<'t, f64>]) -> Var<'t, f64> {
    let s = output.shape();
    let mut parts = vec![output.reshape(&[s[0], s[1] * s[2]])];
    parts.extend_from_slice(finals);
    Var::concat(&parts, 1)
}

fn both(name: &str, f: for<'t> fn(&[Var<'t, f64>]) -> Var<'t, f64>, x: &[Tensor<f64>]) {
    let opts = CheckOptions::default();
    let r = gradcheck(f, x, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(r.checked > 0);
    gradgradcheck(f, x, &opts).unwrap_or_else(|e| panic!("{name} (second order): {e}"));
}

// ---- cells, one step ----

#[test]
fn rnn_cell_first_and_second_order() {
    fn f<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
        RnnCell::step_with(&weights(v), v[0], v[1])
    }
    both("RnnCell", f, &inputs(&[B, I], 3, 1, false, 10));
}

#[test]
fn lstm_cell_first_and_second_order() {
    fn f<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
        let s = LstmCell::step_with(&weights(v), v[0], LstmState { h: v[1], c: v[2] });
        Var::concat(&[s.h, s.c], 1)
    }
    both("LstmCell", f, &inputs(&[B, I], 3, 4, true, 20));
}

#[test]
fn gru_cell_first_and_second_order() {
    fn f<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
        GruCell::step_with(&weights(v), v[0], v[1])
    }
    both("GruCell", f, &inputs(&[B, I], 3, 3, false, 30));
}

// ---- layers, backpropagation through T = 5 steps ----

#[test]
fn rnn_layer_bptt_first_and_second_order() {
    fn f<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
        let o = Rnn::forward_seq_with(&weights(v), v[0], Some(v[1]));
        flat(o.output, &[o.h_n])
    }
    both("Rnn", f, &inputs(&[B, T, I], 4, 1, false, 40));
}

#[test]
fn lstm_layer_bptt_first_and_second_order() {
    fn f<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
        let s0 = LstmState { h: v[1], c: v[2] };
        let o = Lstm::forward_seq_with(&weights(v), v[0], Some(s0));
        flat(o.output, &[o.h_n, o.c_n])
    }
    both("Lstm", f, &inputs(&[B, T, I], 3, 4, true, 50));
}

#[test]
fn gru_layer_bptt_first_and_second_order() {
    fn f<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
        let o = Gru::forward_seq_with(&weights(v), v[0], Some(v[1]));
        flat(o.output, &[o.h_n])
    }
    both("Gru", f, &inputs(&[B, T, I], 3, 3, false, 60));
}

#[test]
fn lstm_layer_bptt_with_hidden_4_first_order() {
    // The fixture's size (H = 4), first order only, from the zero state (as PyTorch's default).
    fn f<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
        let o = Lstm::forward_seq_with(&weights(v), v[0], None);
        flat(o.output, &[o.c_n])
    }
    let mut x = inputs(&[B, T, I], 4, 4, false, 70);
    x.remove(1); // no h0
    gradcheck(f, &x, &CheckOptions::default()).unwrap();
}

// ---- the parameter path equals the functional path ----

#[test]
fn param_gradients_equal_the_functional_gradients() {
    let lstm = Lstm::<f64>::new(I, 2).with_seed(3);
    let tape = wengert_autograd::Tape::new();
    let x = tape.constant(Tensor::rand_uniform(&[B, T, I], -1.0, 1.0, 0));
    let by_param = lstm.forward_seq(x, None).output.sum().backward();
    let tape2 = wengert_autograd::Tape::new();
    let w = RecurrentWeights {
        weight_ih: tape2.var(lstm.weight_ih().value().clone()),
        weight_hh: tape2.var(lstm.weight_hh().value().clone()),
        bias_ih: tape2.var(lstm.bias_ih().value().clone()),
        bias_hh: tape2.var(lstm.bias_hh().value().clone()),
    };
    let x2 = tape2.constant(x.value());
    let by_var = Lstm::forward_seq_with(&w, x2, None).output.sum().backward();
    assert_eq!(by_param[lstm.weight_ih()], by_var[w.weight_ih]);
    assert_eq!(by_param[lstm.weight_hh()], by_var[w.weight_hh]);
    assert_eq!(by_param[lstm.bias_ih()], by_var[w.bias_ih]);
    assert_eq!(by_param[lstm.bias_hh()], by_var[w.bias_hh]);
}

// ---- why the gated cell keeps long-term information ----

#[test]
fn the_lstm_cell_path_carries_gradient_where_the_rnn_path_vanishes() {
    // d c_T / d c_0 along the cell path is prod_t f_t (elementwise); with a forget bias of 6
    // (f ~ sigmoid(6) = 0.9975) it stays of order 1 over 20 steps (0.9975^20 = 0.95). The plain RNN's d h_T / d h_0 is
    // a product of diag(1 - h_t^2) W_hh factors, which shrinks geometrically when |W_hh| < 1.
    let steps = 20;
    let tape = wengert_autograd::Tape::new();
    let x = tape.constant(Tensor::rand_uniform(&[1, steps, I], -1.0, 1.0, 1));

    let lstm = Lstm::<f64>::new(I, 2).with_seed(1).with_forget_bias(6.0);
    let c0 = tape.var(Tensor::zeros(&[1, 2]));
    let h0 = tape.constant(Tensor::zeros(&[1, 2]));
    let out = lstm.forward_seq(x, Some(LstmState { h: h0, c: c0 }));
    let g_lstm = out.c_n.sum().backward()[c0].clone();

    let rnn = Rnn::<f64>::new(I, 2).with_seed(1);
    let h0 = tape.var(Tensor::zeros(&[1, 2]));
    let out = rnn.forward_seq(x, Some(h0));
    let g_rnn = out.h_n.sum().backward()[h0].clone();

    let norm = |t: &Tensor<f64>| t.data().iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!(norm(&g_lstm) > 0.5, "LSTM |dc_T/dc_0| = {}", norm(&g_lstm));
    assert!(norm(&g_rnn) < 1e-3, "RNN |dh_T/dh_0| = {}", norm(&g_rnn));
}
