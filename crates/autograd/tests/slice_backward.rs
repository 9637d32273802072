//! Backward through many slices of one tensor costs its size once, not once per slice: each
//! `narrow`'s gradient is added into its range of the input's gradient in place
//! (`InputGrads::padded`), where padding it back to the whole input would allocate and add a
//! full-size tensor per slice (quadratic when a sequence is cut into its time steps). Measured
//! with a counting allocator (one test in this binary, so nothing else allocates meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use wengert_autograd::{Tape, Tensor, Var};

struct Counting;
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr was allocated by System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn slicing_into_steps_is_linear_in_backward_and_exact() {
    const STEPS: usize = 100;
    // 192 KB of f64: below the 256 KiB from which freed buffers are cached for reuse
    // (tensor/pool.rs), so a full-size buffer per slice would show up as allocations here.
    const WIDTH: usize = 240;
    let bytes = STEPS * WIDTH * std::mem::size_of::<f64>();
    let x0 = Tensor::<f64>::rand_uniform(&[4, STEPS, WIDTH / 4], -1.0, 1.0, 3);
    let tape = Tape::new();
    let x = tape.var(x0.clone());
    // loss = sum_t sum(exp(x[:, t, :]) * (t + 1)): d loss / dx[:, t, :] = (t + 1) exp(x[:, t, :])
    let parts: Vec<Var<'_, f64>> = (0..STEPS)
        .map(|t| (x.narrow(1, t, 1).exp() * (t + 1) as f64).sum())
        .collect();
    let loss = parts.into_iter().reduce(|a, b| a + b).expect("STEPS > 0");
    let before = ALLOCATED.load(Relaxed);
    let grads = loss.backward();
    let allocated = ALLOCATED.load(Relaxed) - before;
    // The input's gradient once, plus each slice's own (exp's backward, the scaled seed): about
    // 3 times the input; padding each slice back would allocate STEPS times the input.
    assert!(
        allocated < 5 * bytes,
        "backward allocated {allocated} bytes for a {bytes}-byte input cut into {STEPS} slices"
    );
    let g = &grads[x];
    for b in 0..4 {
        for t in 0..STEPS {
            for j in 0..WIDTH / 4 {
                let want = (t + 1) as f64 * x0.get(&[b, t, j]).exp();
                assert!((g.get(&[b, t, j]) - want).abs() < 1e-12 * want.abs().max(1.0));
            }
        }
    }
}
