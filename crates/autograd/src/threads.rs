//! How many threads the kernels use. The number is rayon's global pool size (default: the
//! number of logical CPUs, or `RAYON_NUM_THREADS`), set once with [`set_num_threads`].
//!
//! The work itself runs on the calling thread and `n - 1` helper threads (`hot_pool.rs`) that
//! spin for a few hundred microseconds after each piece of work before they park, so the
//! products and maps of one training step find them awake (a parked thread takes tens of
//! microseconds to wake on a virtual machine). Large matrix products are split by rows of the
//! output, large elementwise maps by ranges of elements, one part per thread.
//!
//! Small work stays on the calling thread whatever the setting: elementwise kernels split only
//! above 32,768 elements (`PARALLEL_THRESHOLD` in `tensor/kernels.rs`), and a product
//! `[m, k] @ [k, n]` only when `m k n >= 2^20` and `m >= 32` (`GEMM_PARALLEL_MKN`), so a scalar
//! chain or a small MLP never pays for a hand-off.

use crate::Error;

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

/// The number of threads in rayon's global pool (building it with the default size, the number
/// of logical CPUs, if no parallel work or [`set_num_threads`] has built it yet).
pub fn num_threads() -> usize {
    rayon::current_num_threads()
}

#[cfg(test)]
mod tests {
    use super::*;

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
