//! The AVX-512 kernel of `packed.rs`, used instead of the AVX2 one (`kernel.rs`) on CPUs that
//! have AVX-512F: a 16-column panel is one 16-lane register, and a tile is up to 8 rows of C
//! times two panels (16 accumulators), so each step of `k` loads 2 panel rows and broadcasts 8
//! values of A for 16 multiply-adds. The narrow last panel is written through a lane mask (no
//! copy through an edge buffer). From a micro-panel of A (the values of a step of `k` side by
//! side: `blocked512.rs`, or a transposed A with a short `k` copied on the stack) a tile is 14
//! rows ([`MR`], 28 accumulators).
//!
//! Each value of C is the same chain of fused multiply-adds over `p = 0..k` as in the AVX2
//! kernel, so both give the same bits.

use std::arch::x86_64::*;

use super::kernel::{Init, MICRO_K};
use super::{NR, Rhs};

/// Whether this CPU runs the AVX-512 kernel.
pub(super) fn available() -> bool {
    crate::simd::AVX512_ALLOWED && is_x86_feature_detected!("avx512f")
}

/// Panel `pi`'s first row and the distance between its rows.
fn panel_of(rhs: Rhs<'_>, pi: usize, k: usize, n: usize) -> (*const f32, usize) {
    match rhs {
        Rhs::Panels(panels) => (panels[pi * k * NR..].as_ptr(), NR),
        Rhs::Rows { b, rs, .. } if (pi + 1) * NR <= n => (b[pi * NR..].as_ptr(), rs),
        Rhs::Rows { tail, .. } => (tail.as_ptr(), NR),
    }
}

/// `C = A B`, `C += A B` or `C = S + A B` (as `init`) for the 16-column panels `panels` of C,
/// as the AVX2 kernel (`kernel.rs`) does; C's rows are `ldc >= n` apart.
///
/// # Safety
/// [`available`]; `a` holds an `m x k` matrix at strides `(ars, acs)`, `rhs` holds `k x n`
/// values as its variant describes, `cp` points to `m` rows of `n` writable values `ldc`
/// apart (initialised for `Init::Accumulate`) whose columns in `panels` nothing else reads or
/// writes during the call, and for `Init::From` the start matrix holds `m` readable rows of `n`
/// values at its stride.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    (ars, acs): (usize, usize),
    rhs: Rhs<'_>,
    init: Init,
    (cp, ldc): (*mut f32, usize),
    panels: std::ops::Range<usize>,
) {
    // A transposed with a short `k` (a weight gradient `g^T h` added onto dW, `k` the batch):
    // MR rows at a time from a micro-panel on the stack (the MR values of a step are one run
    // of A), the rest by the tiles below.
    let mut first = 0;
    if ars == 1 && acs != 1 && k <= MICRO_K && m >= MR {
        let mut micro = [0.0f32; NR * MICRO_K];
        while m - first >= MR {
            for p in 0..k {
                micro[p * NR..p * NR + MR].copy_from_slice(&a[first + p * acs..][..MR]);
            }
            // SAFETY: the micro-panel holds `k` steps of 16 values; rows `first..first + MR`
            // of C are inside C (`first + MR <= m`), as the contract gives them.
            unsafe {
                let c = (cp.add(first * ldc), ldc);
                let init = init.below(first);
                micro_rows(k, n, micro.as_ptr(), rhs, init, c, panels.clone());
            }
            first += MR;
        }
    }
    let mut pi = panels.start;
    while pi < panels.end {
        let two = pi + 1 < panels.end;
        let p0 = panel_of(rhs, pi, k, n);
        let p1 = if two { panel_of(rhs, pi + 1, k, n) } else { p0 };
        let j0 = pi * NR;
        let masks = [lanes(n, j0), if two { lanes(n, j0 + NR) } else { 0 }];
        let mut i = first;
        while i < m {
            let rows = match m - i {
                r if r >= 8 => 8,
                r if r >= 4 => 4,
                r if r >= 2 => 2,
                _ => 1,
            };
            let ap = a[i * ars..].as_ptr();
            // SAFETY: `(i, j0)` is inside C (`i < m`, `j0 < n`).
            let out = unsafe { cp.add(i * ldc + j0) };
            let acc = init.block(i, j0, out, ldc);
            // SAFETY: rows `i..i + rows` of A exist (`i + rows <= m`, `k` values each at
            // strides `(ars, acs)`); the panels hold `k x 16` values; the output block is
            // `rows` rows of C from column `j0`, the lanes outside C masked off.
            unsafe {
                let b = [p0, p1];
                match (rows, two, acs) {
                    (8, true, 1) => tile::<8, 2>(k, ap, (ars, 1), b, acc, (out, ldc), masks),
                    (8, false, 1) => tile::<8, 1>(k, ap, (ars, 1), b, acc, (out, ldc), masks),
                    (8, true, _) => tile::<8, 2>(k, ap, (ars, acs), b, acc, (out, ldc), masks),
                    (8, false, _) => tile::<8, 1>(k, ap, (ars, acs), b, acc, (out, ldc), masks),
                    (4, true, _) => tile::<4, 2>(k, ap, (ars, acs), b, acc, (out, ldc), masks),
                    (4, false, _) => tile::<4, 1>(k, ap, (ars, acs), b, acc, (out, ldc), masks),
                    (2, true, _) => tile::<2, 2>(k, ap, (ars, acs), b, acc, (out, ldc), masks),
                    (2, false, _) => tile::<2, 1>(k, ap, (ars, acs), b, acc, (out, ldc), masks),
                    (_, true, _) => tile::<1, 2>(k, ap, (ars, acs), b, acc, (out, ldc), masks),
                    _ => tile::<1, 1>(k, ap, (ars, acs), b, acc, (out, ldc), masks),
                }
            }
            i += rows;
        }
        pi += if two { 2 } else { 1 };
    }
}

/// Rows of C in one tile of [`gemm_micro`]: 28 accumulators, two panel rows and a broadcast
/// value fill 31 of the 32 registers, and each step of `k` issues 28 multiply-adds for 16 loads
/// (2 panel rows, 14 broadcasts). On the Xeon of the fourteenth round, from warm panels:
/// 8 rows 216-221, 12 rows 227-234, 14 rows 233-235 GFLOP/s (the FMA peak 240).
pub(super) const MR: usize = 14;

/// `C = A B` or `C += A B` (as `init`) for [`MR`] rows of C and all `n` columns, A given as a
/// micro-panel (`a[p * 16 + r]` is `A[r, p]`: the values of a step of `k` side by side, so one
/// pointer steps through them, 16 apart as [`pack_transposed`] writes them) and B as the packed
/// panels of a `k x n` matrix. C's rows are `ldc >= n` apart.
///
/// # Safety
/// [`available`]; `a` holds at least `16 k` values, `panels` at least `n.div_ceil(16) k 16`,
/// and `cp` points to [`MR`] rows of `n` writable values `ldc` apart (initialised for
/// `Init::Accumulate`) that nothing else reads or writes during the call.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn gemm_micro(
    k: usize,
    n: usize,
    a: &[f32],
    rhs: Rhs<'_>,
    init: Init,
    c: (*mut f32, usize),
) {
    let count = n.div_ceil(NR);
    assert!(
        a.len() >= k * NR && rhs.fits(k, n),
        "internal: gemm_micro: A or B out of bounds"
    );
    // SAFETY: A and B hold what the tiles read (asserted); C as the contract gives.
    unsafe { micro_rows(k, n, a.as_ptr(), rhs, init, c, 0..count) };
}

/// Lanes of C written in the panel from column `j`: all 16 but in the last, narrower one.
fn lanes(n: usize, j: usize) -> __mmask16 {
    let w = NR.min(n - j);
    if w == NR { 0xffff } else { (1u16 << w) - 1 }
}

/// [`MR`] rows of C from the micro-panel `a` (`k` steps of 16 values), over the 16-column
/// panels `panels` of B, two at a time.
///
/// # Safety
/// AVX-512F; `a` points to `16 k` readable values, `rhs` holds `k x n` values as its variant
/// describes, and `cp` points to [`MR`] rows of `n` writable values `ldc` apart (initialised
/// for `Init::Accumulate`) whose columns in `panels` nothing else reads or writes meanwhile.
#[target_feature(enable = "avx512f")]
unsafe fn micro_rows(
    k: usize,
    n: usize,
    a: *const f32,
    rhs: Rhs<'_>,
    init: Init,
    (cp, ldc): (*mut f32, usize),
    panels: std::ops::Range<usize>,
) {
    let mut pi = panels.start;
    while pi < panels.end {
        let two = pi + 1 < panels.end;
        let p0 = panel_of(rhs, pi, k, n);
        let p1 = if two { panel_of(rhs, pi + 1, k, n) } else { p0 };
        let j0 = pi * NR;
        let masks = [lanes(n, j0), if two { lanes(n, j0 + NR) } else { 0 }];
        // SAFETY: column `j0 < n` of the first row of C (and of the start matrix, if any); the
        // tile reads `k` steps of 16 values of A and `k` rows of each panel, and writes `MR`
        // rows of C from `j0`, the lanes outside C masked off (contract).
        unsafe {
            let out = cp.add(j0);
            let acc = init.block(0, j0, out, ldc);
            if two {
                tile::<MR, 2>(k, a, (1, NR), [p0, p1], acc, (out, ldc), masks);
            } else {
                tile::<MR, 1>(k, a, (1, NR), [p0, p1], acc, (out, ldc), masks);
            }
        }
        pi += if two { 2 } else { 1 };
    }
}

/// `MR` rows of C times `NP` panels (1 or 2): `MR x NP` 16-lane accumulators over the whole
/// `k`, starting from zeros (`start` null) or from the block at `start` (its own row stride:
/// C's values when adding, another matrix or a repeated row otherwise).
///
/// # Safety
/// AVX-512F; `a` points to `MR` rows of `k` values at strides `(ars, acs)`; each panel of
/// `b` (its first row and the distance between rows; the second read only when `NP = 2`)
/// to `k` rows of 16 values; `c` to `MR` rows at stride `ldc` whose lanes in `masks[j]` (panel
/// `j`, 16 columns from `c + 16 j`) are writable, and the same lanes of `MR` rows of `start`
/// (unless null) readable.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile<const MR: usize, const NP: usize>(
    k: usize,
    a: *const f32,
    (ars, acs): (usize, usize),
    b: [(*const f32, usize); 2],
    (start, ls): (*const f32, usize),
    (c, ldc): (*mut f32, usize),
    masks: [__mmask16; 2],
) {
    let mut acc = [[_mm512_setzero_ps(); NP]; MR];
    if !start.is_null() {
        for (r, row) in acc.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                // SAFETY: the masked lanes of row `r`, panel `j` are readable (contract).
                *v = unsafe { _mm512_maskz_loadu_ps(masks[j], start.add(r * ls + j * NR)) };
            }
        }
    }
    for p in 0..k {
        // SAFETY: `p < k`, so the panel rows and each A element are in bounds (contract).
        unsafe {
            let mut row_b = [_mm512_setzero_ps(); NP];
            for (j, v) in row_b.iter_mut().enumerate() {
                *v = _mm512_loadu_ps(b[j].0.add(p * b[j].1));
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a.add(r * ars + p * acs));
                for (j, v) in row.iter_mut().enumerate() {
                    *v = _mm512_fmadd_ps(x, row_b[j], *v);
                }
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            // SAFETY: the masked lanes of row `r`, panel `j` are writable (contract).
            unsafe { _mm512_mask_storeu_ps(c.add(r * ldc + j * NR), masks[j], *v) };
        }
    }
}

/// Packs `rows <= 16` rows of a row-major W (`k` values each, `ldw` apart) as one panel of
/// `B = W^T`: `out[p * 16 + j] = w[j * ldw + p]` for `p < k`, `j < rows`, and 0 for
/// `j >= rows`. Sixteen rows of W are loaded 16 values at a time and transposed in registers
/// (a gather column by column cost more than the product itself at `[64, 784] x W^T`).
///
/// # Safety
/// [`available`]; `w` points to `rows` rows of `k` readable values `ldw` apart; `out` holds
/// at least `16 k` values.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn pack_transposed(
    w: *const f32,
    ldw: usize,
    k: usize,
    rows: usize,
    out: &mut [f32],
) {
    assert!(
        rows <= NR && out.len() >= k * NR,
        "internal: pack_transposed: out of bounds"
    );
    let mut p0 = 0;
    while p0 < k {
        let width = NR.min(k - p0);
        let lanes: __mmask16 = if width == NR {
            0xffff
        } else {
            (1u16 << width) - 1
        };
        let mut r = [_mm512_setzero_ps(); NR];
        for (j, v) in r.iter_mut().enumerate().take(rows) {
            // SAFETY: row `j < rows` holds `k` values; the lanes past `k - p0` are masked off.
            *v = unsafe { _mm512_maskz_loadu_ps(lanes, w.add(j * ldw + p0)) };
        }
        let t = transpose16(&r);
        // Every row of `t` by a constant index (kept in registers), not `take(width)`: the
        // loop of stores from memory became a `memcpy` call.
        for (q, v) in t.iter().enumerate() {
            if q < width {
                // SAFETY: `p0 + q < k`, and `out` holds `16 k` values (asserted).
                unsafe { _mm512_storeu_ps(out.as_mut_ptr().add((p0 + q) * NR), *v) };
            }
        }
        p0 += NR;
    }
}

/// The transpose of the 16 x 16 matrix whose rows are `r`: row `q` of the result holds column
/// `q` of `r`.
#[target_feature(enable = "avx512f")]
#[inline]
fn transpose16(r: &[__m512; NR]) -> [__m512; NR] {
    // Within each 128-bit lane L (columns 4L..4L+3): after the two unpack stages, u[g][c] holds
    // in lane L column 4L + c of rows 4g..4g+3.
    let mut u = [[_mm512_setzero_ps(); 4]; 4];
    for (g, u) in u.iter_mut().enumerate() {
        let rows = &r[4 * g..4 * g + 4];
        let lo01 = _mm512_castps_pd(_mm512_unpacklo_ps(rows[0], rows[1]));
        let hi01 = _mm512_castps_pd(_mm512_unpackhi_ps(rows[0], rows[1]));
        let lo23 = _mm512_castps_pd(_mm512_unpacklo_ps(rows[2], rows[3]));
        let hi23 = _mm512_castps_pd(_mm512_unpackhi_ps(rows[2], rows[3]));
        u[0] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo01, lo23));
        u[1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo01, lo23));
        u[2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi01, hi23));
        u[3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi01, hi23));
    }
    // Column 4L + c gathers lane L of u[0][c], u[1][c], u[2][c], u[3][c]: a 4 x 4 transpose
    // of 128-bit lanes.
    let mut out = [_mm512_setzero_ps(); NR];
    for c in 0..4 {
        let v0 = _mm512_shuffle_f32x4::<0x44>(u[0][c], u[1][c]);
        let v1 = _mm512_shuffle_f32x4::<0xee>(u[0][c], u[1][c]);
        let v2 = _mm512_shuffle_f32x4::<0x44>(u[2][c], u[3][c]);
        let v3 = _mm512_shuffle_f32x4::<0xee>(u[2][c], u[3][c]);
        out[c] = _mm512_shuffle_f32x4::<0x88>(v0, v2);
        out[4 + c] = _mm512_shuffle_f32x4::<0xdd>(v0, v2);
        out[8 + c] = _mm512_shuffle_f32x4::<0x88>(v1, v3);
        out[12 + c] = _mm512_shuffle_f32x4::<0xdd>(v1, v3);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn packing_transposed_gives_every_value_of_w_t_and_zero_padding() {
        if !super::available() {
            return;
        }
        for rows in 1..=16 {
            for k in [1, 5, 15, 16, 17, 40] {
                let ldw = k + 3;
                let w: Vec<f32> = (0..rows * ldw).map(|i| i as f32 + 0.5).collect();
                let mut out = vec![f32::NAN; 16 * k];
                // SAFETY: the CPU has AVX-512F (checked); `w` holds `rows` rows of `k` values
                // `ldw` apart, `out` holds `16 k` values.
                unsafe { super::pack_transposed(w.as_ptr(), ldw, k, rows, &mut out) };
                for p in 0..k {
                    for j in 0..16 {
                        let want = if j < rows { w[j * ldw + p] } else { 0.0 };
                        assert_eq!(
                            out[p * 16 + j].to_bits(),
                            want.to_bits(),
                            "rows {rows} k {k}: out[{p}, {j}]"
                        );
                    }
                }
            }
        }
    }
}
