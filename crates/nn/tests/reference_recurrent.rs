//! RNN, LSTM and GRU against PyTorch (float64 values in `layers.safetensors`, see the fixture
//! README): one layer, batch-first, zero initial state, loss = sum(out * r). Checks `out`, `h_n`,
//! `c_n`, `grad_x` and the gradient of every parameter to 1e-9 relative.
//!
//! The fixture directory is `WENGERT_REFERENCE_DIR` if set, else `tests/fixtures/reference`;
//! shapes are read from the file.

use std::collections::HashMap;
use std::path::PathBuf;

use wengert_autograd::{Tape, Tensor};
use wengert_nn::weights::read_tensors;
use wengert_nn::{Gru, Lstm, Module, Rnn};

fn fixture(case: &str) -> HashMap<String, Tensor<f64>> {
    let dir = std::env::var_os("WENGERT_REFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/reference"
            ))
        });
    let path = dir.join("layers.safetensors");
    let all = read_tensors::<f64>(&path)
        .unwrap_or_else(|e| panic!("reading the reference fixture {}: {e}", path.display()));
    let prefix = format!("{case}.");
    let map: HashMap<_, _> = all
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|k| (k.to_string(), v)))
        .collect();
    assert!(
        !map.is_empty(),
        "no `{prefix}*` tensors in {}",
        path.display()
    );
    map
}

fn get<'a>(f: &'a HashMap<String, Tensor<f64>>, case: &str, key: &str) -> &'a Tensor<f64> {
    f.get(key)
        .unwrap_or_else(|| panic!("the fixture has no `{case}.{key}`"))
}

/// `|a - b| <= 1e-9 * max(|b|, 1e-3)` element by element (a relative check that tolerates
/// values near 0 to 1e-12 absolute).
fn assert_close(case: &str, what: &str, got: &Tensor<f64>, want: &Tensor<f64>) {
    assert_eq!(got.shape(), want.shape(), "{case}.{what}: shape");
    for (i, (g, w)) in got.data().iter().zip(want.data()).enumerate() {
        let tol = 1e-9 * w.abs().max(1e-3);
        assert!(
            (g - w).abs() <= tol,
            "{case}.{what}[{i}]: wengert {g:.17e} vs PyTorch {w:.17e} (diff {:.3e})",
            (g - w).abs()
        );
    }
}

/// Loads the fixture's parameters into `model` by name (`weight_ih_l0`, ...), so the names and
/// shapes of the model must be PyTorch's.
fn load_params<M: Module<f64>>(model: &mut M, f: &HashMap<String, Tensor<f64>>, case: &str) {
    for (name, p) in model.named_params_mut() {
        p.set_value(get(f, case, &name).clone())
            .unwrap_or_else(|e| panic!("{case}.{name}: {e}"));
    }
}

/// Sizes `(input, hidden)` read from the fixture's weights, with `gates` row blocks.
fn sizes(f: &HashMap<String, Tensor<f64>>, case: &str, gates: usize) -> (usize, usize) {
    let w = get(f, case, "weight_ih_l0").shape();
    (w[1], w[0] / gates)
}

fn check_param_grads<M: Module<f64>>(
    model: &M,
    grads: &wengert_autograd::Grads<f64>,
    f: &HashMap<String, Tensor<f64>>,
    case: &str,
) {
    let named = model.named_params();
    assert_eq!(named.len(), 4);
    for (name, p) in named {
        let want = get(f, case, &format!("grad_{name}"));
        assert_close(case, &format!("grad_{name}"), &grads[p], want);
    }
}

#[test]
fn rnn_matches_pytorch() {
    let case = "rnn";
    let f = fixture(case);
    let (input, hidden) = sizes(&f, case, 1);
    let mut rnn = Rnn::<f64>::new(input, hidden);
    load_params(&mut rnn, &f, case);
    let tape = Tape::new();
    let x = tape.var(get(&f, case, "x").clone());
    let out = rnn.forward_seq(x, None);
    let loss = (out.output * tape.constant(get(&f, case, "r").clone())).sum();
    assert_close(case, "out", &out.output.value(), get(&f, case, "out"));
    assert_close(case, "h_n", &out.h_n.value(), get(&f, case, "h_n"));
    let grads = loss.backward();
    assert_close(case, "grad_x", &grads[x], get(&f, case, "grad_x"));
    check_param_grads(&rnn, &grads, &f, case);
}

#[test]
fn lstm_matches_pytorch() {
    let case = "lstm";
    let f = fixture(case);
    let (input, hidden) = sizes(&f, case, 4);
    let mut lstm = Lstm::<f64>::new(input, hidden);
    load_params(&mut lstm, &f, case);
    let tape = Tape::new();
    let x = tape.var(get(&f, case, "x").clone());
    let out = lstm.forward_seq(x, None);
    let loss = (out.output * tape.constant(get(&f, case, "r").clone())).sum();
    assert_close(case, "out", &out.output.value(), get(&f, case, "out"));
    assert_close(case, "h_n", &out.h_n.value(), get(&f, case, "h_n"));
    assert_close(case, "c_n", &out.c_n.value(), get(&f, case, "c_n"));
    let grads = loss.backward();
    assert_close(case, "grad_x", &grads[x], get(&f, case, "grad_x"));
    check_param_grads(&lstm, &grads, &f, case);
}

#[test]
fn gru_matches_pytorch() {
    let case = "gru";
    let f = fixture(case);
    let (input, hidden) = sizes(&f, case, 3);
    let mut gru = Gru::<f64>::new(input, hidden);
    load_params(&mut gru, &f, case);
    let tape = Tape::new();
    let x = tape.var(get(&f, case, "x").clone());
    let out = gru.forward_seq(x, None);
    let loss = (out.output * tape.constant(get(&f, case, "r").clone())).sum();
    assert_close(case, "out", &out.output.value(), get(&f, case, "out"));
    assert_close(case, "h_n", &out.h_n.value(), get(&f, case, "h_n"));
    let grads = loss.backward();
    assert_close(case, "grad_x", &grads[x], get(&f, case, "grad_x"));
    check_param_grads(&gru, &grads, &f, case);
}

#[test]
fn the_same_parameters_load_through_the_safetensors_loader() {
    // The fixture's names are the layers' own: `load` from a file holding only the `lstm.*`
    // parameters (prefix stripped) reproduces `out` too.
    let case = "lstm";
    let f = fixture(case);
    let (input, hidden) = sizes(&f, case, 4);
    let src = {
        let mut m = Lstm::<f64>::new(input, hidden);
        load_params(&mut m, &f, case);
        m
    };
    let path = std::env::temp_dir().join(format!(
        "wengert_ref_lstm_{}.safetensors",
        std::process::id()
    ));
    wengert_nn::save(&src, &path).unwrap();
    let mut dst = Lstm::<f64>::new(input, hidden).with_seed(99);
    wengert_nn::load(&mut dst, &path).unwrap();
    std::fs::remove_file(&path).ok();
    let tape = Tape::new();
    let out = dst.forward(tape.constant(get(&f, case, "x").clone()));
    assert_close(case, "out", &out.value(), get(&f, case, "out"));
}
