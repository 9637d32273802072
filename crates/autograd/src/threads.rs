//! How many threads the kernels use: rayon's global pool (large elementwise maps and reductions)
//! and the GEMM (`matrixmultiply`).
//!
//! rayon's pool defaults to the number of logical CPUs (or `RAYON_NUM_THREADS`). The GEMM is
//! currently built without `matrixmultiply`'s `threading` feature, so it runs on one thread: with
//! the feature it split even the small products of an MLP or LSTM step and made them slower
//! (fashion_mnist: 0.86 s instead of 0.62 s). When the feature is enabled, it reads
//! `MATMUL_NUM_THREADS`, which [`set_num_threads`] sets.
//!
//! Small work stays on the calling thread whatever the setting: elementwise kernels split only
//! above 32,768 elements (`PARALLEL_THRESHOLD` in `tensor/kernels.rs`), and
//! the GEMM uses a second thread only when `m k + k n >= 32,768` (for `[m, k] @ [k, n]`; a 4th
//! only above 65,536), so a scalar chain or a small MLP never pays for a thread hand-off.

use crate::Error;

/// Sets the number of threads for rayon's global pool and for the GEMM, both to `n`.
///
/// Call it once, at the start of `main`, before any tensor work and before spawning threads:
///
/// - rayon's global pool is built here with `n` threads (PyTorch's `torch.set_num_threads`). It
///   can be built only once per process; if it already exists (an earlier call, or parallel work
///   that built it with the default size) this returns an error and changes nothing.
/// - the GEMM (`matrixmultiply`) reads its thread count once, from the environment variable
///   `MATMUL_NUM_THREADS`, at the first matrix product of the process. This function sets that
///   variable to `n` (replacing any value it had), so it takes effect only if no matrix product
///   has run yet. `matrixmultiply` uses at most 4 threads; larger `n` gives it 4.
///
/// Without a call rayon's pool defaults to the number of cores (the GEMM is single-threaded in
/// this build, see the module docs). [`num_threads`] reports the pool's size.
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
    // SAFETY: `set_var` is unsound only if another thread reads or writes the environment at the
    // same time. The only threads this crate has started are the pool's workers, built just now
    // and idle (rayon reads `RAYON_NUM_THREADS` on this thread, during `build_global`); the
    // documented contract is a call at the start of `main`, before the program spawns threads.
    unsafe { std::env::set_var("MATMUL_NUM_THREADS", n.to_string()) };
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
