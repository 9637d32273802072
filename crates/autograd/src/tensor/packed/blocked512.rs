//! Large f32 products on CPUs with AVX-512F, blocked as in BLIS: B is packed [`KC`] rows by at
//! most [`NC`] columns at a time into 16-column panels (a block of at most 1 MiB, which stays in
//! the 2 MiB L2), A [`MR`] rows by [`KC`] columns at a time into a micro-panel (16 KiB, in L1),
//! and each micro-panel runs past every panel of the block (`kernel512::gemm_micro`). C collects
//! the blocks of `k`: the first written, the others added by the kernel starting from C.
//!
//! Why: `matrixmultiply`'s AVX-512 kernel ran at 157-175 GFLOP/s at n = 1024 on the fourteenth
//! round's Xeon (FMA peak 240); the `14 x 32` tile from a micro-panel at 233-235 on warm panels
//! (`docs/performance.md`).

use std::cell::RefCell;

use super::kernel::Init;
use super::kernel512::{self, MR};
use super::lines::Lines;
use super::{NR, Rhs, pack_into, rows_in_place};

/// Rows of B packed at a time: a micro-panel of A (`16 x KC` f32, 16 KiB) stays in L1 beside
/// the two panel rows it meets at each step. One tile run over 1,024 columns of packed B gave
/// 233-235 GFLOP/s at 256, 222-223 at 384 and 202-209 at 512 (the block of B outgrowing half
/// the L2).
const KC: usize = 256;

/// Columns of B packed at a time: a block (`KC x NC` f32) is 1 MiB.
const NC: usize = 1024;

/// Micro-panels of A packed together: a transposed A (a weight gradient's `x^T g`) is read
/// one run of storage per step of `k`, each run in another 4 KiB page (n = 1,024), so one
/// micro-panel at a time touched 256 pages for 14 values each (`A^T B` 11.9 ms against `A B`
/// 11.2 at n = 1,024, the pages' TLB misses); four at a time read 56 values a page.
const GROUP: usize = 4;

thread_local! {
    /// This thread's packed block of B and micro-panel of A (reused: no allocation once warm).
    static BLOCKS: RefCell<(Lines, Vec<f32>)> = const { RefCell::new((Lines::new(), Vec::new())) };
}

/// `C = A B` with A `m x k` at strides `(ars, acs)`, B `k x n` at `(brs, bcs)` and C `m x n`
/// row-major, on a CPU with AVX-512F, the first block of `k` starting from `first` (zeros, or
/// a start matrix S for `C = S + A B`). Returns `false` without writing anything when this
/// thread's blocks are in use (a product inside a product); the caller runs the general GEMM.
///
/// # Safety
/// [`kernel512::available`]; the views lie inside `a` and `b`, `cp` points to `m n` writable
/// values that nothing else reads or writes during the call, and `first` is `Init::Zero` or an
/// `Init::From` whose matrix holds `m` readable rows of `n` values.
pub(super) unsafe fn gemm(
    (m, k, n): (usize, usize, usize),
    (a, ars, acs): (&[f32], usize, usize),
    (b, brs, bcs): (&[f32], usize, usize),
    cp: *mut f32,
    first: Init,
) -> bool {
    BLOCKS.with(|blocks| {
        let Ok(mut blocks) = blocks.try_borrow_mut() else {
            return false;
        };
        let (b_panels, a_micro) = &mut *blocks;
        a_micro.resize(GROUP * NR * KC, 0.0);
        let in_place = super::blocked::b_in_place(k, (brs, bcs));
        for n0 in (0..n).step_by(NC) {
            let nc = NC.min(n - n0);
            for p0 in (0..k).step_by(KC) {
                let kc = KC.min(k - p0);
                // Rows p0.., columns n0.. of B, read in place or packed; a view that leaves
                // `b` panics (safely) here.
                let block = &b[p0 * brs + n0 * bcs..];
                let rhs = if in_place {
                    rows_in_place(b_panels, block, kc, nc, brs)
                } else {
                    pack_into(b_panels, block, kc, nc, brs, bcs);
                    Rhs::Panels(b_panels.as_slice())
                };
                assert!(rhs.fits(kc, nc), "internal: blocked gemm: B out of bounds");
                for g0 in (0..m).step_by(GROUP * MR) {
                    let group = (GROUP * MR).min(m - g0);
                    pack_group(a_micro, a, (g0, p0), (group, kc), (ars, acs));
                    for (j, i0) in (g0..g0 + group).step_by(MR).enumerate() {
                        let rows = MR.min(g0 + group - i0);
                        let micro = &a_micro[j * NR * kc..][..NR * kc];
                        let init = if p0 == 0 {
                            first.at(i0, n0)
                        } else {
                            Init::Accumulate
                        };
                        // SAFETY: rows i0..i0 + rows, columns n0..n0 + nc of C are inside the
                        // `m x n` C (contract), this call's alone, and initialised when adding
                        // (the block p0 = 0 wrote them), and inside the start matrix when there
                        // is one; the micro-panel holds `16 kc` values and the panels `kc x nc`.
                        unsafe {
                            let c = (cp.add(i0 * n + n0), n);
                            if rows == MR {
                                kernel512::gemm_micro(kc, nc, micro, rhs, init, c);
                            } else {
                                let count = nc.div_ceil(NR);
                                kernel512::gemm(
                                    rows,
                                    kc,
                                    nc,
                                    micro,
                                    (1, NR),
                                    rhs,
                                    init,
                                    c,
                                    0..count,
                                );
                            }
                        }
                    }
                }
            }
        }
        true
    })
}

/// Packs rows `g0..g0 + rows` (at most [`GROUP`] micro-panels' worth), columns `p0..p0 + kc`
/// of A (strides `ars`, `acs`) into `out` as consecutive micro-panels of `16 kc` values each
/// (see [`pack_micro`]).
fn pack_group(
    out: &mut [f32],
    a: &[f32],
    (g0, p0): (usize, usize),
    (rows, kc): (usize, usize),
    (ars, acs): (usize, usize),
) {
    if ars == 1 {
        // A transposed view: a step of `k` is one run of A's storage for the whole group.
        for p in 0..kc {
            let start = g0 + (p0 + p) * acs;
            for (j, run) in a[start..start + rows].chunks(MR).enumerate() {
                out[j * NR * kc + p * NR..][..run.len()].copy_from_slice(run);
            }
        }
    } else {
        for (j, i0) in (0..rows).step_by(MR).enumerate() {
            let micro = &mut out[j * NR * kc..][..NR * kc];
            let r = MR.min(rows - i0);
            pack_micro(micro, a, (g0 + i0, p0), (r, kc), (ars, acs));
        }
    }
}

/// Copies rows `i0..i0 + rows` (at most [`NR`]), columns `p0..p0 + kc` of A (strides `ars`,
/// `acs`) into `out` as a micro-panel: `out[p * NR + r] = A[i0 + r, p0 + p]` (the lanes past
/// `rows` are not read by the kernel).
fn pack_micro(
    out: &mut [f32],
    a: &[f32],
    (i0, p0): (usize, usize),
    (rows, kc): (usize, usize),
    (ars, acs): (usize, usize),
) {
    if acs == 1 {
        let first = i0 * ars + p0;
        // `pack_transposed` reads `rows` runs of `kc` values `ars` apart from `first`.
        assert!(
            first + (rows - 1) * ars + kc <= a.len(),
            "internal: pack_micro: A out of bounds"
        );
        // SAFETY: the CPU has AVX-512F (the caller's contract); the runs lie inside `a`
        // (asserted) and `out` holds `16 kc` values.
        unsafe { kernel512::pack_transposed(a[first..].as_ptr(), ars, kc, rows, out) };
    } else {
        for r in 0..rows {
            let row = &a[(i0 + r) * ars + p0 * acs..];
            for (p, slot) in out[r..].iter_mut().step_by(NR).enumerate() {
                *slot = row[p * acs];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every path of the driver: two blocks of columns (1,024 + 6, the last panel narrow), two
    /// blocks of `k` (256 + 4), two groups of micro-panels (4 x 14 rows, then 5 rows), and A
    /// read row-major, transposed and at strides of which neither is 1. Against an f64
    /// reference.
    #[test]
    fn products_across_column_row_and_k_blocks_match_an_f64_reference() {
        if !super::kernel512::available() {
            return; // the driver does not run here; `blocked.rs` tests the AVX2 one
        }
        let (m, k, n) = (61, 260, 1030);
        let bv: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.1)
            .collect();
        let av: Vec<f32> = (0..4 * m * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.1)
            .collect();
        // (row stride, column stride) of A inside `av`.
        for (ars, acs) in [(k, 1), (1, m), (2 * k, 2), (2, 2 * m)] {
            let mut c = vec![f32::NAN; m * n];
            // SAFETY: the CPU has AVX-512F; A's view reaches at most (m - 1) ars + (k - 1) acs
            // < 4 m k, B's is all of `bv`, and C holds m n values.
            let done = unsafe {
                super::gemm(
                    (m, k, n),
                    (&av, ars, acs),
                    (&bv, n, 1),
                    c.as_mut_ptr(),
                    super::Init::Zero,
                )
            };
            assert!(done);
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = (0..k)
                        .map(|p| av[i * ars + p * acs] as f64 * bv[p * n + j] as f64)
                        .sum();
                    let got = c[i * n + j] as f64;
                    assert!(
                        (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                        "A strides ({ars}, {acs}): C[{i}, {j}] = {got}, want {want}"
                    );
                }
            }
        }
    }
}
