//! Large f32 products on the packed kernel, blocked as in BLIS: B is packed [`KC`] rows at a
//! time into 16-column panels, A is copied [`MC`] rows by [`KC`] columns at a time into a
//! row-major block, and C collects the blocks of `k` (the first written, the others added by
//! the kernel starting from C). A B of at most [`IN_PLACE_K`] rows (a weight gradient's `x`,
//! `k` the batch) is read from its own rows instead: W2's `dW1 = g^T x` no longer copies `x`
//! (W2 2-6 % faster).
//!
//! Why: `matrixmultiply`'s AVX2 kernel keeps an `8 x 8` tile of C in eight registers, the least
//! that hides the FMA latency (four cycles, two units), and on a Zen 3 core it ran at 83-85 % of
//! the measured FMA peak (85 of 102.5 GFLOP/s at n = 1024). The `6 x 16` kernel here keeps twelve
//! and ran at 93-96 % from packed panels (`[48, 256] x [256, 1024]`, `[32, 512] x [512, 128]`;
//! `docs/performance.md`, thirteenth round).
//!
//! A is copied, not read in place, because its rows may lie a multiple of 4 KiB apart (n = 1024
//! f32): the six rows of a tile then share one set of the L1 cache and evict each other. The
//! copy's rows are [`A_STRIDE`] values apart, which is not such a multiple.
//!
//! On CPUs with AVX-512F the same products run `blocked512.rs` instead (a `14 x 32` tile from
//! micro-panels of A), with the same thresholds.

use std::any::TypeId;
use std::cell::RefCell;
use std::mem::MaybeUninit;

use super::kernel::{self, Init};
use super::lines::Lines;
use super::transpose::transpose_into;
use super::{NR, Rhs, as_f32, as_f32_out, pack_into, rows_in_place};
use crate::Float;

/// Rows of B packed at a time: a panel (`KC x 16` f32, 32 KiB) stays in L1 or L2 while a block
/// of A's rows runs past it, and C is read and written once per `KC` of `k` (256 was 3 % slower
/// at n = 1024 on the Zen 3 host; 1024 no faster).
const KC: usize = 512;

/// Rows of A (and C) per block: the copy of A (`MC x KC` f32, about 100 KiB) stays in L2 while
/// the panels of B go by.
const MC: usize = 48;

/// Row stride of the copy of A: `KC` plus 16 values, so that its rows do not all map to the
/// same L1 sets. The AVX2 kernel has tiles compiled for this stride (a constant offset per
/// row instead of address arithmetic in the loop).
pub(super) const A_STRIDE: usize = KC + 16;

/// Products with fewer multiply-adds than this keep `matrixmultiply` (or the small-product
/// path): the packing of B would not be paid back.
const MIN_MKN: usize = 1 << 18;

/// Products with fewer rows than this keep `matrixmultiply`: B is packed for few rows (an
/// LSTM's first `h W_hh^T` of a step, 32 rows, before the packed-weight cache takes over). With
/// B's transposed panels gathered value by value that cost W4 1-5 %; with `transpose.rs` 32 rows
/// were no different (W4 medians 8.82-9.05 against 8.90-9.04 ms, three alternating runs).
const MIN_ROWS: usize = 64;

/// B with at most this many rows (a weight gradient `g^T x`, `k` the batch) is read from its
/// own rows rather than packed, when they are not a multiple of 128 values apart: a panel's
/// `k` runs of 16 values then lie in at least 16 L1 sets (rows 4 KiB apart, n = 1,024, would
/// all share one) and in at most `k` pages.
const IN_PLACE_K: usize = 64;

/// Whether a `k`-row B at strides `(rs, cs)` is read from its own rows (see [`IN_PLACE_K`]).
pub(super) fn b_in_place(k: usize, (rs, cs): (usize, usize)) -> bool {
    k <= IN_PLACE_K && cs == 1 && !rs.is_multiple_of(128)
}

/// Whether this CPU takes the path: AVX2 and FMA (with AVX-512F, `blocked512.rs` runs it).
fn runs_here() -> bool {
    kernel::available()
}

thread_local! {
    /// This thread's packed block of B and copy of A (reused: no allocation once warm).
    static BLOCKS: RefCell<(Lines, Lines)> = const { RefCell::new((Lines::new(), Lines::new())) };
}

/// `C = A B` for an f32 product of at least [`MIN_MKN`] multiply-adds and [`MIN_ROWS`] rows,
/// A and B at any non-negative strides, on a CPU with AVX2 and FMA ([`runs_here`]; with
/// AVX-512F by `blocked512.rs`). With `start` = `(S, stride)`, `C = S + A B` (S's rows `stride`
/// apart; stride 0: one row, a bias), S loaded by the kernel with the first block of `k`.
/// Returns `false` without writing anything when the path does not apply; the caller runs the
/// general GEMM.
pub(crate) fn try_blocked_gemm<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: (&[T], isize, isize),
    b: (&[T], isize, isize),
    c: &mut [MaybeUninit<T>],
    start: Option<(&[T], usize)>,
) -> bool {
    if TypeId::of::<T>() != TypeId::of::<f32>()
        || m < MIN_ROWS
        || k == 0
        || n == 0
        || m.saturating_mul(k).saturating_mul(n) < MIN_MKN
        || a.1 < 0
        || a.2 < 0
        || b.1 < 0
        || b.2 < 0
        || !runs_here()
    {
        return false;
    }
    let (a, ars, acs) = (as_f32(a.0), a.1 as usize, a.2 as usize);
    let (b, brs, bcs) = (as_f32(b.0), b.1 as usize, b.2 as usize);
    let c = as_f32_out(c);
    let start = start.map(|(s, stride)| (as_f32(s), stride));
    assert!(
        c.len() == m * n
            && (m - 1) * ars + (k - 1) * acs < a.len()
            && start.is_none_or(|(s, stride)| (m - 1) * stride + n <= s.len()),
        "internal: blocked gemm: A, C or the start out of bounds"
    );
    let cp = c.as_mut_ptr() as *mut f32;
    // The first block of `k` starts from S (or zeros), the others from C.
    let first = Init::of(start);
    #[cfg(target_arch = "x86_64")]
    if super::kernel512_runs_here() {
        // SAFETY: the CPU has AVX-512F; the views lie inside `a` (asserted) and `b`
        // (checked as each block of it is packed or read in place), C is this call's `m x n`
        // values, and the start holds `m` rows of `n` at its stride (asserted).
        return unsafe {
            super::blocked512::gemm((m, k, n), (a, ars, acs), (b, brs, bcs), cp, first)
        };
    }
    BLOCKS.with(|blocks| {
        let Ok(mut blocks) = blocks.try_borrow_mut() else {
            return false;
        };
        let (b_panels, a_copy) = &mut *blocks;
        a_copy.resize(MC * A_STRIDE);
        let in_place = b_in_place(k, (brs, bcs));
        for p0 in (0..k).step_by(KC) {
            let kc = KC.min(k - p0);
            // Rows p0.. of B, read in place or packed; `gemm_panels` asserts that they fit.
            let rhs = if in_place {
                rows_in_place(b_panels, &b[p0 * brs..], kc, n, brs)
            } else {
                pack_into(b_panels, &b[p0 * brs..], kc, n, brs, bcs);
                Rhs::Panels(b_panels.as_slice())
            };
            for i0 in (0..m).step_by(MC) {
                let init = if p0 == 0 {
                    first.below(i0)
                } else {
                    Init::Accumulate
                };
                let mc = MC.min(m - i0);
                copy_a(a_copy.as_mut_slice(), a, (i0, p0), (mc, kc), (ars, acs));
                // SAFETY: rows i0..i0 + mc of C are inside `c` (asserted), this call's alone,
                // and initialised in every panel when adding (the block p0 = 0 wrote them);
                // those of the start too (asserted).
                unsafe {
                    kernel::gemm_panels(
                        (mc, kc, n),
                        a_copy.as_slice(),
                        (A_STRIDE, 1),
                        rhs,
                        cp.add(i0 * n),
                        0..n.div_ceil(NR),
                        init,
                    )
                };
            }
        }
        true
    })
}

/// Copies rows `i0..i0 + mc`, columns `p0..p0 + kc` of A (strides `ars`, `acs`) into `out`,
/// row-major at stride [`A_STRIDE`].
fn copy_a(
    out: &mut [f32],
    a: &[f32],
    (i0, p0): (usize, usize),
    (mc, kc): (usize, usize),
    (ars, acs): (usize, usize),
) {
    if acs == 1 {
        for (r, row) in out.chunks_exact_mut(A_STRIDE).take(mc).enumerate() {
            let start = (i0 + r) * ars + p0;
            row[..kc].copy_from_slice(&a[start..start + kc]);
        }
    } else if ars == 1 {
        // A transposed view (a weight gradient's `g^T x`): a column of the block is a run of
        // A's storage, eight runs at a time transposed in registers.
        transpose_into(out, A_STRIDE, &a[i0 + p0 * acs..], acs, (mc, kc));
    } else {
        for p in 0..kc {
            for r in 0..mc {
                out[r * A_STRIDE + p] = a[(i0 + r) * ars + (p0 + p) * acs];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;

    use super::*;

    /// `C = A B` in f64 from f32 operands at the given strides.
    fn reference(
        m: usize,
        k: usize,
        n: usize,
        a: (&[f32], usize, usize),
        b: (&[f32], usize, usize),
    ) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k)
                    .map(|p| a.0[i * a.1 + p * a.2] as f64 * b.0[p * b.1 + j * b.2] as f64)
                    .sum();
            }
        }
        c
    }

    /// Every element of a written C within f32 rounding of the f64 reference.
    /// `len` values `((i * mul % modulo) - modulo / 2) / 10`: small, exact in f32, varied.
    fn filled(len: usize, mul: usize, modulo: usize) -> Vec<f32> {
        let mid = (modulo / 2) as f32;
        (0..len)
            .map(|i| ((i * mul % modulo) as f32 - mid) * 0.1)
            .collect()
    }

    fn assert_close(c: &[MaybeUninit<f32>], want: &[f64], what: &str) {
        for (i, (got, want)) in c.iter().zip(want).enumerate() {
            // SAFETY: the product wrote every element.
            let got = unsafe { got.assume_init() } as f64;
            assert!(
                (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                "{what}: element {i}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn blocked_products_match_an_f64_reference_at_every_stride_and_block_edge() {
        if !runs_here() {
            return; // the path does not run here; the general GEMM is tested elsewhere
        }
        // k = 1100: three blocks of k (512, 512, 76); m = 100: blocks of 48, 48, 4 rows;
        // n = 37: two full panels and a padded one.
        let (m, k, n) = (100, 1100, 37);
        let (av, bv) = (filled(m * k, 7, 13), filled(k * n, 5, 11));
        // Row-major and transposed views of each operand.
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = if ta { (&av[..], 1, m) } else { (&av[..], k, 1) };
            let b = if tb { (&bv[..], 1, k) } else { (&bv[..], n, 1) };
            let want = reference(m, k, n, a, b);
            let mut c = vec![MaybeUninit::new(f32::NAN); m * n];
            let (ai, bi) = (
                (a.0, a.1 as isize, a.2 as isize),
                (b.0, b.1 as isize, b.2 as isize),
            );
            assert!(try_blocked_gemm(m, k, n, ai, bi, &mut c, None));
            assert_close(&c, &want, &format!("A^T {ta}, B^T {tb}"));
        }
    }

    #[test]
    fn a_short_b_is_read_in_place_and_matches_the_reference() {
        if !runs_here() {
            return;
        }
        // W2's weight gradient `g^T x` (`[64, 128]^T x [64, 784]`: 49 full panels), and a B
        // whose rows are padded (stride n + 5) with 1,100 columns: 68 full panels and a packed
        // tail of 12, and with AVX-512 two blocks of columns (1,024 and 76).
        for (m, k, n, rs) in [(128, 64, 784, 784), (100, 40, 1100, 1105)] {
            assert!(b_in_place(k, (rs, 1)));
            let (av, bv) = (filled(m * k, 7, 13), filled(k * rs, 5, 11));
            for ta in [false, true] {
                let a = if ta { (&av[..], 1, m) } else { (&av[..], k, 1) };
                let want = reference(m, k, n, a, (&bv, rs, 1));
                let mut c = vec![MaybeUninit::new(f32::NAN); m * n];
                let ai = (a.0, a.1 as isize, a.2 as isize);
                let bi = (&bv[..], rs as isize, 1);
                assert!(try_blocked_gemm(m, k, n, ai, bi, &mut c, None));
                assert_close(&c, &want, &format!("[{m}, {k}] x [{k}, {n}], A^T {ta}"));
            }
        }
    }

    #[test]
    fn b_is_packed_when_long_strided_or_rows_share_l1_sets() {
        assert!(b_in_place(64, (784, 1)));
        assert!(!b_in_place(65, (784, 1)), "more than IN_PLACE_K rows");
        assert!(!b_in_place(64, (784, 2)), "columns not contiguous");
        assert!(
            !b_in_place(64, (1024, 1)),
            "rows 4 KiB apart share one L1 set"
        );
        assert!(!b_in_place(32, (128, 1)), "rows 512 B apart cover 8 sets");
    }

    #[test]
    fn small_few_row_and_f64_products_are_left_to_the_general_gemm() {
        let a = vec![1.0f32; 512 * 512];
        let mut c = vec![MaybeUninit::new(0.0f32); 512 * 512];
        // 64 x 8 x 8 = 4,096 multiply-adds: below MIN_MKN.
        assert!(!try_blocked_gemm(
            64,
            8,
            8,
            (&a, 8, 1),
            (&a, 8, 1),
            &mut c[..64 * 8],
            None
        ));
        // 32 rows: below MIN_ROWS (8 M multiply-adds).
        let (a32, b) = ((&a[..32 * 512], 512, 1), (&a[..], 512, 1));
        assert!(!try_blocked_gemm(
            32,
            512,
            512,
            a32,
            b,
            &mut c[..32 * 512],
            None
        ));
        if runs_here() {
            // The same operands with 64 rows do take the path.
            let a64 = (&a[..64 * 512], 512, 1);
            assert!(try_blocked_gemm(
                64,
                512,
                512,
                a64,
                b,
                &mut c[..64 * 512],
                None
            ));
        }
        let a = vec![1.0f64; 1 << 12];
        let mut c = vec![MaybeUninit::new(0.0f64); 1 << 12];
        assert!(!try_blocked_gemm(
            64,
            64,
            64,
            (&a, 64, 1),
            (&a, 64, 1),
            &mut c,
            None
        ));
    }
}
