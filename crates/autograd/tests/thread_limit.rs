//! `set_thread_limit`: the limit decides how many threads take part, and results are the same
//! bits under any limit. (One test in this binary: the limit is process-wide, so no other test
//! may run while it changes.)

use wengert_autograd::{Tape, Tensor, set_thread_limit, split_mut};

/// The gradients of an LSTM-sized step at f32 (batch 32, hidden 128: its products, the bias
/// added onto them and the gate math are all large enough to be split by batch rows).
fn lstm_step_grads() -> Vec<Vec<f32>> {
    let tape = Tape::<f32>::new();
    let x = tape.constant(Tensor::randn(&[32, 64], 1));
    let h = tape.var(Tensor::randn(&[32, 128], 2));
    let c = tape.var(Tensor::randn(&[32, 128], 3));
    let w_ih = tape.var(Tensor::rand_uniform(&[512, 64], -0.1, 0.1, 4));
    let w_hh = tape.var(Tensor::rand_uniform(&[512, 128], -0.1, 0.1, 5));
    let b = tape.var(Tensor::randn(&[512], 6));
    let mut state = (h, c);
    // Three steps, so W_hh is seen again (the packed path) and gradients accumulate.
    for _ in 0..3 {
        let xp = x.linear(w_ih, Some(b));
        let a = state.0.linear(w_hh, Some(xp));
        state = a.lstm_cell(state.1);
    }
    let loss = (state.0 * state.0).sum() + state.1.sum();
    let g = loss.backward();
    [h, c, w_ih, w_hh, b]
        .iter()
        .map(|v| g[*v].data().to_vec())
        .collect()
}

#[test]
fn the_limit_decides_the_threads_and_never_the_bits() {
    let e = set_thread_limit(0).unwrap_err();
    assert!(
        e.to_string()
            .contains("set_thread_limit: n must be at least 1, got 0"),
        "{e}"
    );
    let pieces = || {
        let mut v = vec![0.0f32; 100_000];
        let calls = std::sync::atomic::AtomicUsize::new(0);
        split_mut([&mut v[..]], |_, _| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        calls.into_inner()
    };
    let threads = wengert_autograd::num_threads();

    set_thread_limit(1).expect("n >= 1");
    assert_eq!(pieces(), 1, "one thread: one piece");
    let one = lstm_step_grads();

    set_thread_limit(usize::MAX).expect("n >= 1");
    assert_eq!(
        pieces() > 1,
        threads > 1,
        "the whole pool again ({threads} threads)"
    );
    let all = lstm_step_grads();
    assert_eq!(one, all, "the same bits with one thread and with {threads}");
    assert!(one.iter().flatten().all(|v| v.is_finite()));
    assert!(one[3].iter().any(|&v| v != 0.0), "W_hh gets a gradient");
}
