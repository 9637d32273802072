//! Elementwise loops compiled for the widest vector instructions the CPU has, chosen at run time.
//!
//! A library cannot assume `-C target-cpu=native`: without it x86-64 code is built for SSE2, four
//! f32 lanes. [`vectorized`] runs a closure inside a function compiled with AVX-512 enabled when
//! the CPU has it, else AVX2 and FMA when it has those (detected once; `pulp` does the dispatch,
//! and its `unsafe` stays there), so the compiler's auto-vectorisation uses sixteen or eight
//! lanes. The arithmetic is the same: Rust never contracts `a * b + c` into a fused
//! multiply-add, so results are bit-for-bit those of the plain loop on any CPU.

/// Runs `f` compiled for the best vector instruction set this CPU offers (on x86-64 AVX-512
/// when present, else AVX2 + FMA when present, else the baseline) and returns its result.
///
/// Use it around hot elementwise loops over slices: the loop body is inlined into the
/// dispatched function and vectorised for that instruction set (mark the closure
/// `#[inline(always)]`, and loop with `for`: code that is not inlined runs at the baseline
/// width). For arithmetic, `sqrt` and division the results are those of calling `f()`
/// directly (no fused multiply-add is introduced; see the module docs); `min`/`max` may differ
/// in the sign of a zero or a NaN's payload. Work
/// handed to other threads inside `f` (rayon) runs outside the dispatch: call `vectorized`
/// inside each chunk's closure instead. For very short slices the dispatch (a few ns) is not
/// worth it.
///
/// Custom ops can use it for their own kernels; the fused LSTM kernels, `tanh`, the bias add of
/// `linear`, gradient accumulation and the optimizers do.
///
/// ```
/// let x: Vec<f32> = (0..1000).map(|i| i as f32 * 0.01).collect();
/// let mut y = vec![0.0f32; x.len()];
/// wengert_autograd::vectorized(|| {
///     for (y, &x) in y.iter_mut().zip(&x) {
///         *y = 2.0 * x + 1.0;
///     }
/// });
/// assert!(y.iter().zip(&x).all(|(&y, &x)| y == 2.0 * x + 1.0));
/// ```
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(all(wengert_avx2_only, target_arch = "x86_64"))]
    return match pulp::x86::V3::try_new() {
        Some(simd) => pulp::Arch::V3(simd).dispatch(f),
        None => pulp::Arch::Scalar.dispatch(f),
    };
    #[cfg(not(all(wengert_avx2_only, target_arch = "x86_64")))]
    pulp::Arch::new().dispatch(f)
}

/// Whether code may use AVX-512 where the CPU has it: always, unless built with
/// `RUSTFLAGS="--cfg wengert_avx2_only"`, which keeps every kernel (GEMM, elementwise) on its
/// AVX2 + FMA version, to measure on an AVX-512 machine what a CPU without it runs
/// (docs/performance.md; build `matrixmultiply` likewise with `MMTEST_FEATURE=fma,avx2`).
pub(crate) const AVX512_ALLOWED: bool = !cfg!(wengert_avx2_only);

/// Below this many elements the built-in kernels skip the dispatch (it costs a few ns).
pub(crate) const MIN_LEN: usize = 64;

#[cfg(test)]
mod tests {
    use crate::Tensor;

    // The dispatched loop must give the plain loop's bits: no FMA contraction, same order.
    #[test]
    fn vectorized_tanh_map_equals_the_scalar_map_bit_for_bit() {
        let x: Vec<f32> = (0..5000).map(|i| (i as f32 - 2500.0) * 0.0037).collect();
        let t = Tensor::from_vec(x.clone(), &[50, 100]).expect("the data fits the shape");
        let fast = t.map(crate::Float::tanh);
        for (y, &x) in fast.data().iter().zip(&x) {
            assert_eq!(y.to_bits(), crate::Float::tanh(x).to_bits(), "tanh({x})");
        }
    }

    #[test]
    fn vectorized_exp_map_equals_the_scalar_map_bit_for_bit() {
        // Across the whole range: overflow, subnormal results, and underflow to 0.
        let x: Vec<f32> = (0..5000).map(|i| (i as f32 - 3000.0) * 0.037).collect();
        let t = Tensor::from_vec(x.clone(), &[50, 100]).expect("the data fits the shape");
        let fast = t.map(crate::Float::exp);
        for (y, &x) in fast.data().iter().zip(&x) {
            assert_eq!(y.to_bits(), crate::Float::exp(x).to_bits(), "exp({x})");
        }
    }

    #[test]
    fn vectorized_returns_the_closure_result() {
        let a: Vec<f64> = (0..300).map(f64::from).collect();
        let mut b = a.clone();
        let n = super::vectorized(|| {
            for (b, &a) in b.iter_mut().zip(&a) {
                *b = a * 3.0 + 0.5;
            }
            b.len()
        });
        assert_eq!(n, 300);
        assert!(b.iter().zip(&a).all(|(&b, &a)| b == a * 3.0 + 0.5));
    }
}
