//! Products `C = A W^T` with A and W both stored by rows (the forward of `linear`, `x W^T`),
//! as dot products of A's rows with W's rows: nothing is packed or gathered.
//!
//! `matrixmultiply` packs both operands on every call, and for a transposed right operand that
//! packing is a strided gather; at the sizes of a small network's layers it cost as much as the
//! arithmetic. Here a tile of up to 4 rows of A and 3 rows of W keeps 12 vector accumulators
//! over `k` (7 loads for 12 multiply-adds), then sums each across its lanes. f32 only, on CPUs
//! with AVX2 and FMA, for small products (at most [`SMALL_MKN`] multiply-adds) and for few rows
//! against long rows (at most [`LONG_MAX_ROWS`] rows of A, `k` at least [`LONG_MIN_K`] and a
//! multiple of 8: an MLP's first layer, 92 against 71 GFLOP/s at `[64, 784] x [128, 784]^T`,
//! `docs/performance-history-2.md`, eighth round). Everything else runs the general GEMM, which
//! blocks for the caches: with many rows or a short `k` the dot products lose (60 against 81
//! GFLOP/s at `[1120, 64] x [512, 64]^T`, 77 against 86 at 512^3).
//!
//! Not on CPUs with AVX-512: there the general GEMM runs its 16 x 16 AVX-512 kernel and wins
//! these products too (see [`general_gemm_is_wide`]).

use std::any::TypeId;
use std::mem::MaybeUninit;

use super::packed::{SMALL_MKN, as_f32, as_f32_out, simd_kernels_available};
use crate::Float;

/// Most rows of A (of one thread's block) for the long-row case.
pub(crate) const LONG_MAX_ROWS: usize = 128;

/// Shortest `k` for the long-row case.
pub(crate) const LONG_MIN_K: usize = 256;

/// Whether the general GEMM (`matrixmultiply`) runs its 16 x 16 AVX-512 kernel on this CPU.
/// Then it beats these 8-lane dot products (measured on an Intel Xeon with AVX-512: W2's
/// `[64, 784] x [128, 784]^T` 108 against 164 us, W1's forward and backward at n = 64 15.1
/// against 20.2 us, W3 the same), and a 16-lane version of the dot products was no better
/// (no faster at `k = 784`, its rows streamed from L2; slower at `k = 32-64`, the 16-lane
/// sums), so the dot products are not used there.
fn general_gemm_is_wide() -> bool {
    #[cfg(target_arch = "x86_64")]
    return crate::simd::AVX512_ALLOWED && is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// Whether [`try_gemm_nt`] computes an `m x k` by `k x n` product of this type on this CPU
/// (given operands stored by rows).
pub(crate) fn takes<T: Float>(m: usize, k: usize, n: usize) -> bool {
    TypeId::of::<T>() == TypeId::of::<f32>()
        && m > 0
        && k > 0
        && n > 0
        && (m.saturating_mul(k).saturating_mul(n) <= SMALL_MKN
            || (m <= LONG_MAX_ROWS && k >= LONG_MIN_K && k.is_multiple_of(8)))
        && simd_kernels_available()
        && !general_gemm_is_wide()
}

/// `C = A B` where B is the transposed view of a row-major W (B's row stride 1, column stride
/// W's row stride) and A has contiguous rows: computed as dot products when the product is
/// small or has few rows and a long `k` (module docs), f32, and the CPU has AVX2 and FMA but
/// not AVX-512.
/// Returns `false` without writing anything otherwise; the caller then runs the general GEMM.
pub(crate) fn try_gemm_nt<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: (&[T], isize, isize),
    b: (&[T], isize, isize),
    c: &mut [MaybeUninit<T>],
) -> bool {
    if !takes::<T>(m, k, n) || a.2 != 1 || a.1 < k as isize || b.1 != 1 || b.2 < k as isize {
        return false;
    }
    let (lda, ldw) = (a.1 as usize, b.2 as usize);
    assert!(
        (m - 1) * lda + k <= a.0.len() && (n - 1) * ldw + k <= b.0.len() && c.len() == m * n,
        "internal: dot gemm: an operand is out of bounds"
    );
    let (a, w, c) = (as_f32(a.0), as_f32(b.0), as_f32_out(c));
    kernel::gemm_nt(m, k, n, (a, lda), (w, ldw), c);
    #[cfg(test)]
    tests::RUNS.with(|r| r.set(r.get() + 1));
    true
}

#[cfg(target_arch = "x86_64")]
mod kernel {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use super::simd_kernels_available as available;

    /// `C[i, j] = dot(A row i, W row j)` for `i < m`, `j < n`, over `k`; C row-major `m x n`.
    /// The caller checked the bounds and the CPU.
    pub(super) fn gemm_nt(
        m: usize,
        k: usize,
        n: usize,
        (a, lda): (&[f32], usize),
        (w, ldw): (&[f32], usize),
        c: &mut [MaybeUninit<f32>],
    ) {
        assert!(available(), "internal: dot gemm kernel without AVX2 + FMA");
        assert!(
            m > 0 && n > 0 && (m - 1) * lda + k <= a.len() && (n - 1) * ldw + k <= w.len(),
            "internal: dot gemm: A or W out of bounds"
        );
        assert_eq!(c.len(), m * n, "internal: dot gemm: C is not m x n");
        let c = c.as_mut_ptr() as *mut f32;
        for i in (0..m).step_by(4) {
            for j in (0..n).step_by(3) {
                let ap = a[i * lda..].as_ptr();
                let wp = w[j * ldw..].as_ptr();
                // SAFETY: AVX2 and FMA (asserted); rows `i..i + R` of A and `j..j + C` of W hold
                // `k` values each (bounds asserted above, `R <= m - i`, `C <= n - j`), and the
                // output block lies inside C (`m x n`, row-major).
                unsafe {
                    let out = c.add(i * n + j);
                    match ((m - i).min(4), (n - j).min(3)) {
                        (4, 3) => tile::<4, 3>(k, ap, lda, wp, ldw, out, n),
                        (4, 2) => tile::<4, 2>(k, ap, lda, wp, ldw, out, n),
                        (4, _) => tile::<4, 1>(k, ap, lda, wp, ldw, out, n),
                        (3, 3) => tile::<3, 3>(k, ap, lda, wp, ldw, out, n),
                        (3, 2) => tile::<3, 2>(k, ap, lda, wp, ldw, out, n),
                        (3, _) => tile::<3, 1>(k, ap, lda, wp, ldw, out, n),
                        (2, 3) => tile::<2, 3>(k, ap, lda, wp, ldw, out, n),
                        (2, 2) => tile::<2, 2>(k, ap, lda, wp, ldw, out, n),
                        (2, _) => tile::<2, 1>(k, ap, lda, wp, ldw, out, n),
                        (_, 3) => tile::<1, 3>(k, ap, lda, wp, ldw, out, n),
                        (_, 2) => tile::<1, 2>(k, ap, lda, wp, ldw, out, n),
                        _ => tile::<1, 1>(k, ap, lda, wp, ldw, out, n),
                    }
                }
            }
        }
    }

    /// `R x C` dot products: `out[r * ldc + q] = dot(a + r lda, w + q ldw)` over `k`.
    ///
    /// # Safety
    /// AVX2 and FMA; `a` points to `R` rows of `k` values `lda` apart, `w` to `C` rows of `k`
    /// values `ldw` apart, `out` to `R` rows of `C` writable values `ldc` apart.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const R: usize, const C: usize>(
        k: usize,
        a: *const f32,
        lda: usize,
        w: *const f32,
        ldw: usize,
        out: *mut f32,
        ldc: usize,
    ) {
        let mut acc = [[_mm256_setzero_ps(); C]; R];
        let whole = k / 8 * 8;
        let mut p = 0;
        while p < whole {
            // SAFETY: `p + 8 <= k`: inside every row (contract).
            unsafe {
                let mut wv = [_mm256_setzero_ps(); C];
                for (q, v) in wv.iter_mut().enumerate() {
                    *v = _mm256_loadu_ps(w.add(q * ldw + p));
                }
                for (r, acc) in acc.iter_mut().enumerate() {
                    let av = _mm256_loadu_ps(a.add(r * lda + p));
                    for q in 0..C {
                        acc[q] = _mm256_fmadd_ps(av, wv[q], acc[q]);
                    }
                }
            }
            p += 8;
        }
        for (r, acc) in acc.iter().enumerate() {
            for (q, &v) in acc.iter().enumerate() {
                let mut sum = hsum(v);
                for p in whole..k {
                    // SAFETY: `p < k`: inside both rows (contract).
                    unsafe { sum = (*a.add(r * lda + p)).mul_add(*w.add(q * ldw + p), sum) };
                }
                // SAFETY: `r < R`, `q < C`: inside the output block (contract).
                unsafe { *out.add(r * ldc + q) = sum };
            }
        }
    }

    /// The sum of the 8 lanes.
    #[target_feature(enable = "avx2,fma")]
    fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod kernel {
    use std::mem::MaybeUninit;

    pub(super) fn gemm_nt(
        _m: usize,
        _k: usize,
        _n: usize,
        _a: (&[f32], usize),
        _w: (&[f32], usize),
        _c: &mut [MaybeUninit<f32>],
    ) {
        unreachable!("internal: the dot-product kernel exists on x86-64 only")
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::mem::MaybeUninit;

    use crate::Tensor;

    thread_local! {
        /// Products run by the dot-product kernel on this thread.
        pub(super) static RUNS: Cell<usize> = const { Cell::new(0) };
    }

    fn runs() -> usize {
        RUNS.with(Cell::get)
    }

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7 + seed * 13) % 23) as f32 / 11.0 - 1.0)
            .collect()
    }

    #[test]
    fn every_tile_shape_and_k_tail_matches_f64_dot_products() {
        if !super::simd_kernels_available() {
            return;
        }
        // Row counts through every tile height (4, 3, 2, 1) and their mixes, column counts
        // through every tile width (3, 2, 1), k below, at and over a vector; rows `k + 3` apart
        // in both operands.
        for m in [1, 2, 3, 4, 5, 6, 7, 9] {
            for n in [1, 2, 3, 4, 5, 7, 10, 11] {
                for k in [1, 7, 8, 9, 33, 64] {
                    let ld = k + 3;
                    let (a, w) = (values(m * ld, m), values(n * ld, n + k));
                    let mut c = vec![MaybeUninit::new(f32::NAN); m * n];
                    // The kernel itself: `try_gemm_nt` does not use it on AVX-512 CPUs.
                    super::kernel::gemm_nt(m, k, n, (&a, ld), (&w, ld), &mut c);
                    for i in 0..m {
                        for j in 0..n {
                            let want: f64 = (0..k)
                                .map(|p| f64::from(a[i * ld + p]) * f64::from(w[j * ld + p]))
                                .sum();
                            // SAFETY: the product wrote every element (checked here).
                            let got = f64::from(unsafe { c[i * n + j].assume_init() });
                            assert!(
                                (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                                "m {m} n {n} k {k}: C[{i}, {j}] = {got}, want {want}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn linear_forward_of_a_small_layer_takes_this_path_and_others_do_not() {
        if !super::simd_kernels_available() {
            return;
        }
        let x = Tensor::from_vec(values(32 * 64, 1), &[32, 64]).expect("32 x 64 values");
        let w = Tensor::from_vec(values(10 * 64, 2), &[10, 64]).expect("10 x 64 values");
        // Taken where the general GEMM is not AVX-512 (module docs).
        let here = usize::from(!super::general_gemm_is_wide());
        let before = runs();
        let y = crate::tensor::kernels::linear_forward(&x, &w, None);
        assert_eq!(runs(), before + here);
        let want = x.cast::<f64>().matmul(&w.cast::<f64>().permute(&[1, 0]));
        assert!(y.cast::<f64>().max_abs_diff(&want).expect("equal shapes") < 1e-4);
        // Not transposed (x W), f64, or over the size limit: the general GEMM or the small path.
        let _ = x.matmul(&w.permute(&[1, 0]));
        let _ = crate::tensor::kernels::linear_forward(&x.cast::<f64>(), &w.cast::<f64>(), None);
        let big = Tensor::from_vec(values(512 * 64, 3), &[512, 64]).expect("512 x 64 values");
        let _ = crate::tensor::kernels::linear_forward(&x, &big, None); // 2^20 > 2^18
        assert_eq!(runs(), before + here);
    }

    #[test]
    fn few_rows_against_long_rows_take_this_path_above_the_small_limit() {
        if !super::simd_kernels_available() {
            return;
        }
        let check = |m: usize, k: usize, n: usize| {
            let x = Tensor::from_vec(values(m * k, m), &[m, k]).expect("m x k values");
            let w = Tensor::from_vec(values(n * k, n), &[n, k]).expect("n x k values");
            let before = runs();
            let y = crate::tensor::kernels::linear_forward(&x, &w, None);
            let want = x.cast::<f64>().matmul(&w.cast::<f64>().permute(&[1, 0]));
            let err = y.cast::<f64>().max_abs_diff(&want).expect("equal shapes");
            assert!(err < 1e-3, "[{m}, {k}] x [{n}, {k}]^T: off by {err}");
            runs() - before
        };
        // Above 2^18 multiply-adds and below the two-thread split (2^20): on this thread,
        // unless the general GEMM has its AVX-512 kernel here (module docs).
        let long = usize::from(!super::general_gemm_is_wide());
        assert_eq!(check(16, 512, 64), long, "16 rows, k = 512");
        assert_eq!(check(128, 256, 16), long, "128 rows, k = 256");
        assert_eq!(check(129, 256, 16), 0, "more than 128 rows");
        assert_eq!(check(64, 248, 32), 0, "k below 256");
        assert_eq!(check(64, 260, 32), 0, "k not a multiple of 8");
        // An MLP's first layer, split by rows when two threads are set: right either way.
        let _ = check(200, 784, 128);
    }
}
