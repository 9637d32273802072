//! How many threads the kernels use: rayon's global pool runs both the large elementwise maps
//! and reductions and the large matrix products.
//!
//! rayon's pool defaults to the number of logical CPUs (or `RAYON_NUM_THREADS`). The GEMM
//! (`matrixmultiply`, single-threaded) is split by rows of the output across the same pool, so
//! one setting controls everything.
//!
//! Small work stays on the calling thread whatever the setting: elementwise kernels split only
//! above 32,768 elements (`PARALLEL_THRESHOLD` in `tensor/kernels.rs`), and a product
//! `[m, k] @ [k, n]` only when `m k n >= 2^23` and `m >= 32` (`GEMM_PARALLEL_MKN`), so a scalar
//! chain, a small MLP or an LSTM step never pays for a thread hand-off. The calling thread
//! computes one block of rows itself.

use crate::Error;

/// Sets the number of threads for rayon's global pool, which runs the large elementwise kernels,
/// reductions and matrix products (PyTorch's `torch.set_num_threads`).
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
