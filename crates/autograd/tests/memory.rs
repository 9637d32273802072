//! Peak memory of backward over a long chain, measured with a counting allocator: forward values
//! are freed as the sweep passes them, so backward needs only a few tensors beyond the forward
//! tape. (One test in this binary, so no other test allocates concurrently.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use wengert_autograd::{Tape, Tensor};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: ptr was allocated by System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const LEN: usize = 10_000;
const STEPS: usize = 200;

/// Returns (forward tape bytes, extra peak bytes during backward over the live bytes before it,
/// live bytes after backward).
fn measure(retain: bool) -> (usize, usize, usize) {
    let tape = Tape::<f64>::with_capacity(2 * STEPS + 4);
    let x = tape.var(Tensor::rand_uniform(&[LEN], -1.0, 1.0, 1));
    let mut h = x;
    for _ in 0..STEPS {
        h = (h * 1.01).tanh();
    }
    let loss = h.sum();
    let forward = tape.value_bytes();
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let grads = if retain {
        loss.backward_retain()
    } else {
        loss.backward()
    };
    let peak = PEAK.load(Relaxed);
    assert_eq!(grads[x].shape(), &[LEN]);
    drop(grads);
    let after = tape.value_bytes();
    (forward, peak - before, after)
}

#[test]
fn backward_frees_forward_values_as_it_goes() {
    let tensor = LEN * 8;
    let (forward, extra, after) = measure(false);
    let (forward_r, extra_r, after_r) = measure(true);
    println!(
        "{{\"forward_tape_bytes\":{forward},\"backward_extra_peak_bytes\":{extra},\
         \"backward_extra_peak_tensors\":{:.2},\"peak_over_forward\":{:.4},\"after_backward_bytes\":{after},\
         \"retain_extra_peak_bytes\":{extra_r},\"retain_after_bytes\":{after_r}}}",
        extra as f64 / tensor as f64,
        (forward + extra) as f64 / forward as f64,
    );
    assert_eq!(forward, forward_r);
    assert_eq!(
        forward,
        (2 * STEPS + 1) * tensor + 8,
        "leaf, 2 values per step, the loss"
    );
    // The sweep holds the gradient in flight, the new gradient and the backward rule's
    // temporaries (tanh: y*y, -(y*y), 1-y*y): a handful of tensors, independent of the length.
    assert!(extra <= 6 * tensor, "backward needed {extra} extra bytes");
    // Only the leaf and the loss stay on the tape.
    assert_eq!(after, tensor + 8);
    // Retaining keeps every value.
    assert_eq!(after_r, forward);
}
