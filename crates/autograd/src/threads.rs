//! How many threads the kernels use. The number is rayon's global pool size (default: the
//! number of logical CPUs, or `RAYON_NUM_THREADS`), set once with [`set_num_threads`].
//!
//! The work itself runs on the calling thread and `n - 1` helper threads (`hot_pool.rs`) that
//! spin for a few hundred microseconds after each piece of work before they park, so the
//! products and maps of one training step find them awake (a parked thread takes tens of
//! microseconds to wake on a virtual machine). Large matrix products are split by rows of the
//! output (a layer's `x W^T` with more weight rows than input rows by columns, that is by rows
//! of W), large elementwise maps and optimizer updates ([`split_mut`]) by ranges of elements,
//! one part per thread. The splits agree where they meet: the thread that computes rows of a
//! weight's gradient also updates those rows and multiplies by them in the next forward pass,
//! so a weight stays in one core's cache.
//!
//! A recurrent step's work (its products from a packed weight with at least 16 rows, the bias
//! added onto them, the fused LSTM gate math) is split by batch rows instead, the same rows to
//! the same thread on every op, so each thread reads what it wrote the op before.
//! [`set_thread_limit`] lets fewer threads take part, at any time.
//!
//! Small work stays on the calling thread whatever the setting: elementwise kernels split only
//! above 32,768 elements (`PARALLEL_THRESHOLD` in `tensor/kernels.rs`), and a product
//! `[m, k] @ [k, n]` only when `m k n >= 2^20` and `m >= 32` (`GEMM_PARALLEL_MKN`), so a scalar
//! chain or a small MLP never pays for a hand-off.

use crate::Error;
use crate::tensor::kernels::{PARALLEL_THRESHOLD, split_elements};

/// Sets the number of threads that large matrix products and elementwise kernels are split
/// across (PyTorch's `torch.set_num_threads`), by building rayon's global pool with `n` threads.
///
/// Call it once, at the start of `main`, before any tensor work: the pool can be built only once
/// per process; if it already exists (an earlier call, or parallel work that built it with the
/// default size) this returns an error and changes nothing.
///
/// Without a call the pool has one thread per logical CPU (or `RAYON_NUM_THREADS`).
/// [`num_threads`] reports its size.
///
/// # Errors
/// [`Error::InvalidConfig`] if `n` is 0 (`set_num_threads: n must be at least 1, got 0`) or the
/// pool was already built (`set_num_threads: rayon's global thread pool is already built (with 2
/// threads); call set_num_threads once, at the start of main, before any parallel work`).
///
/// ```no_run
/// // main.rs of a program that wants one thread everywhere (as `taskset -c 0`):
/// wengert_autograd::set_num_threads(1).expect("first call, at the start of main");
/// assert_eq!(wengert_autograd::num_threads(), 1);
/// ```
pub fn set_num_threads(n: usize) -> Result<(), Error> {
    if n == 0 {
        return Err(Error::InvalidConfig {
            message: "set_num_threads: n must be at least 1, got 0".into(),
        });
    }
    if rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .is_err()
    {
        return Err(Error::InvalidConfig {
            message: format!(
                "set_num_threads: rayon's global thread pool is already built (with {} threads); \
                 call set_num_threads once, at the start of main, before any parallel work",
                rayon::current_num_threads()
            ),
        });
    }
    Ok(())
}

/// Lets at most `n` threads take part in the work from now on (1: everything on the calling
/// thread), without changing the pool: unlike [`set_num_threads`] it can be called at any time
/// and as often as wanted, as PyTorch's `torch.set_num_threads` can. A limit above the pool's
/// size ([`num_threads`]) uses the whole pool; the threads left out park after their spin.
///
/// The splits divide outputs (rows, columns, ranges of elements), never a sum, so results are
/// the same bits under any limit, with two exceptions on x86-64 CPUs with AVX2, where a
/// thread's share of an `f32` product can take another kernel than the whole: without AVX-512,
/// an `x W^T` runs dot products where a thread's block has at most 128 rows and the general
/// GEMM above (a product of 129-256 rows); and a product of 64-127 rows runs the blocked packed
/// kernel on one thread but `matrixmultiply` on halves below 64 rows. Such products may differ
/// in the last bits between one and two threads. One use is comparing one and two threads
/// step by step in one process, where both see the same load from the rest of the machine
/// (`docs/performance.md`).
///
/// # Errors
/// [`Error::InvalidConfig`] if `n` is 0 (`set_thread_limit: n must be at least 1, got 0`).
///
/// ```
/// wengert_autograd::set_thread_limit(1).expect("n >= 1");
/// // ... work on one thread ...
/// wengert_autograd::set_thread_limit(usize::MAX).expect("n >= 1"); // the whole pool again
/// ```
pub fn set_thread_limit(n: usize) -> Result<(), Error> {
    if n == 0 {
        return Err(Error::InvalidConfig {
            message: "set_thread_limit: n must be at least 1, got 0".into(),
        });
    }
    crate::hot_pool::set_limit(n);
    Ok(())
}

/// The number of threads in rayon's global pool (building it with the default size, the number
/// of logical CPUs, if no parallel work or [`set_num_threads`] has built it yet).
pub fn num_threads() -> usize {
    rayon::current_num_threads()
}

/// Runs `f` on matching pieces of `N` equal-length slices, one piece per thread, for in-place
/// elementwise updates too large for one thread (an optimizer's step over a `[128, 784]`
/// weight and its moments). `f(start, pieces)` gets the pieces' offset in the whole slices (to
/// take the same range of read-only inputs) and the pieces themselves.
///
/// The split is the one of the elementwise kernels and of large matrix products' rows: slices
/// shorter than 32,768 elements, or one thread, make one call with the whole slices on the
/// calling thread; otherwise piece `i` is elements `[i p, (i + 1) p)` with `p = ceil(len /
/// threads)` rounded up to a multiple of 64, and the calling thread takes the first. A
/// gradient whose rows were split across threads is then updated by the thread that wrote it,
/// so it is read from that core's cache. `f` runs outside [`vectorized`](crate::vectorized)'s
/// dispatch: call `vectorized` inside it.
///
/// # Panics
/// If the slices' lengths differ (`split_mut: slices of lengths [..]`), or if `f` panics (after
/// every piece has finished).
///
/// ```
/// // m <- 0.9 m + g and p <- p - 0.1 m, in place, over 100k elements.
/// let n = 100_000;
/// let g: Vec<f32> = (0..n).map(|i| i as f32).collect();
/// let (mut p, mut m) = (vec![1.0f32; n], vec![0.0f32; n]);
/// wengert_autograd::split_mut([&mut p, &mut m], |start, [p, m]| {
///     let g = &g[start..start + p.len()];
///     for ((p, m), &g) in p.iter_mut().zip(m.iter_mut()).zip(g) {
///         *m = 0.9 * *m + g;
///         *p -= 0.1 * *m;
///     }
/// });
/// assert_eq!(m[12_345], 12_345.0);
/// assert_eq!(p[99_999], 1.0 - 0.1 * 99_999.0);
/// ```
#[track_caller]
pub fn split_mut<E: Send, const N: usize>(
    slices: [&mut [E]; N],
    f: impl Fn(usize, [&mut [E]; N]) + Sync,
) {
    let n = slices.first().map_or(0, |s| s.len());
    if slices.iter().any(|s| s.len() != n) {
        panic!(
            "split_mut: slices of lengths {:?}; they must all have the same length",
            slices.iter().map(|s| s.len()).collect::<Vec<_>>()
        );
    }
    if n < PARALLEL_THRESHOLD || crate::hot_pool::width() < 2 {
        f(0, slices);
        return;
    }
    let starts = slices.map(|s| Start(s.as_mut_ptr()));
    split_elements(n, &|s, e| {
        // SAFETY: the slices are borrowed mutably for this call and `split_elements` hands out
        // disjoint ranges `s..e` within their common length, so the pieces never overlap.
        let pieces = starts
            .each_ref()
            .map(|p| unsafe { std::slice::from_raw_parts_mut(p.0.add(s), e - s) });
        f(s, pieces);
    });
}

/// The start of a slice whose disjoint pieces go to different threads.
struct Start<E>(*mut E);

// SAFETY: only disjoint pieces are made from it (see `split_mut`), and `E: Send` is required
// there for the pieces to be used on other threads.
unsafe impl<E: Send> Sync for Start<E> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_mut_hands_each_element_to_one_piece_with_its_offset() {
        // Above the threshold (split on two or more threads) and below it (one call).
        for n in [PARALLEL_THRESHOLD * 3 + 17, 1000] {
            let (mut a, mut b) = (vec![0usize; n], vec![0usize; n]);
            let calls = std::sync::atomic::AtomicUsize::new(0);
            split_mut([&mut a, &mut b], |start, [a, b]| {
                calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                assert_eq!(a.len(), b.len());
                for (i, (a, b)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
                    *a += start + i;
                    *b += 1;
                }
            });
            assert!(a.iter().enumerate().all(|(i, &a)| a == i), "n = {n}");
            assert!(b.iter().all(|&b| b == 1), "n = {n}");
            let expected = if n < PARALLEL_THRESHOLD {
                1
            } else {
                num_threads()
            };
            assert_eq!(calls.into_inner(), expected.min(crate::hot_pool::width()));
        }
    }

    #[test]
    #[should_panic(expected = "split_mut: slices of lengths [3, 4]")]
    fn split_mut_of_unequal_slices_panics() {
        split_mut([&mut [0.0f32; 3][..], &mut [0.0; 4][..]], |_, _| {});
    }

    #[test]
    fn zero_threads_is_an_error() {
        let e = set_num_threads(0).unwrap_err();
        assert!(e.to_string().contains("n must be at least 1, got 0"), "{e}");
    }

    #[test]
    fn a_second_call_is_an_error_naming_the_pool_size() {
        // `num_threads` builds the pool with its default size, so the call must fail (and never
        // reaches `set_var` while other tests run on other threads).
        assert!(num_threads() >= 1);
        let e = set_num_threads(1).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("set_num_threads: rayon's global thread pool is already built (with ")
                && msg.contains("call set_num_threads once, at the start of main"),
            "{msg}"
        );
    }
}
