//! The AVX-512 kernel of `packed.rs`, used instead of the AVX2 one (`kernel.rs`) on CPUs that
//! have AVX-512F: a 16-column panel is one 16-lane register, and a tile is up to 8 rows of C
//! times two panels (16 accumulators), so each step of `k` loads 2 panel rows and broadcasts 8
//! values of A for 16 multiply-adds. The narrow last panel is written through a lane mask (no
//! copy through an edge buffer).
//!
//! Each value of C is the same chain of fused multiply-adds over `p = 0..k` as in the AVX2
//! kernel, so both give the same bits.

use std::arch::x86_64::*;

use super::kernel::Init;
use super::{NR, Rhs};

/// Whether this CPU runs the AVX-512 kernel.
pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx512f")
}

/// Panel `pi`'s first row and the distance between its rows.
fn panel_of(rhs: Rhs<'_>, pi: usize, k: usize, n: usize) -> (*const f32, usize) {
    match rhs {
        Rhs::Panels(panels) => (panels[pi * k * NR..].as_ptr(), NR),
        Rhs::Rows { b, rs, .. } if (pi + 1) * NR <= n => (b[pi * NR..].as_ptr(), rs),
        Rhs::Rows { tail, .. } => (tail.as_ptr(), NR),
    }
}

/// `C = A B` or `C += A B` (as `init`) for the 16-column panels `panels` of C, as the AVX2
/// kernel (`kernel.rs`) does.
///
/// # Safety
/// [`available`]; `a` holds an `m x k` matrix at strides `(ars, acs)`, `rhs` holds `k x n`
/// values as its variant describes, and `cp` points to `m n` writable values (initialised for
/// `Init::Accumulate`) whose columns in `panels` nothing else reads or writes during the call.
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
    cp: *mut f32,
    panels: std::ops::Range<usize>,
) {
    let mut pi = panels.start;
    while pi < panels.end {
        let two = pi + 1 < panels.end;
        let p0 = panel_of(rhs, pi, k, n);
        let p1 = if two { panel_of(rhs, pi + 1, k, n) } else { p0 };
        let j0 = pi * NR;
        // Lanes of C written in each panel: all 16 but in the last, narrower one.
        let lanes = |j: usize| -> __mmask16 {
            let w = NR.min(n - j);
            if w == NR { 0xffff } else { (1u16 << w) - 1 }
        };
        let masks = [lanes(j0), if two { lanes(j0 + NR) } else { 0 }];
        let mut i = 0;
        while i < m {
            let rows = match m - i {
                r if r >= 8 => 8,
                r if r >= 4 => 4,
                r if r >= 2 => 2,
                _ => 1,
            };
            let ap = a[i * ars..].as_ptr();
            // SAFETY: `(i, j0)` is inside C (`i < m`, `j0 < n`).
            let out = unsafe { cp.add(i * n + j0) };
            let acc = init == Init::Accumulate;
            // SAFETY: rows `i..i + rows` of A exist (`i + rows <= m`, `k` values each at
            // strides `(ars, acs)`); the panels hold `k x 16` values; the output block is
            // `rows` rows of C from column `j0`, the lanes outside C masked off.
            unsafe {
                let b = [p0, p1];
                match (rows, two, acs) {
                    (8, true, 1) => tile::<8, 2>(k, ap, (ars, 1), b, acc, out, n, masks),
                    (8, false, 1) => tile::<8, 1>(k, ap, (ars, 1), b, acc, out, n, masks),
                    (8, true, _) => tile::<8, 2>(k, ap, (ars, acs), b, acc, out, n, masks),
                    (8, false, _) => tile::<8, 1>(k, ap, (ars, acs), b, acc, out, n, masks),
                    (4, true, _) => tile::<4, 2>(k, ap, (ars, acs), b, acc, out, n, masks),
                    (4, false, _) => tile::<4, 1>(k, ap, (ars, acs), b, acc, out, n, masks),
                    (2, true, _) => tile::<2, 2>(k, ap, (ars, acs), b, acc, out, n, masks),
                    (2, false, _) => tile::<2, 1>(k, ap, (ars, acs), b, acc, out, n, masks),
                    (_, true, _) => tile::<1, 2>(k, ap, (ars, acs), b, acc, out, n, masks),
                    _ => tile::<1, 1>(k, ap, (ars, acs), b, acc, out, n, masks),
                }
            }
            i += rows;
        }
        pi += if two { 2 } else { 1 };
    }
}

/// `MR` rows of C times `NP` panels (1 or 2): `MR x NP` 16-lane accumulators over the whole
/// `k`, starting from zeros or (`accumulate`) from C's values.
///
/// # Safety
/// AVX-512F; `a` points to `MR` rows of `k` values at strides `(ars, acs)`; each panel of
/// `b` (its first row and the distance between rows; the second read only when `NP = 2`)
/// to `k` rows of 16 values; `c` to `MR` rows at stride `ldc` whose lanes in `masks[j]` (panel
/// `j`, 16 columns from `c + 16 j`) are readable when accumulating and writable.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile<const MR: usize, const NP: usize>(
    k: usize,
    a: *const f32,
    (ars, acs): (usize, usize),
    b: [(*const f32, usize); 2],
    accumulate: bool,
    c: *mut f32,
    ldc: usize,
    masks: [__mmask16; 2],
) {
    let mut acc = [[_mm512_setzero_ps(); NP]; MR];
    if accumulate {
        for (r, row) in acc.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                // SAFETY: the masked lanes of row `r`, panel `j` are readable (contract).
                *v = unsafe { _mm512_maskz_loadu_ps(masks[j], c.add(r * ldc + j * NR)) };
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
