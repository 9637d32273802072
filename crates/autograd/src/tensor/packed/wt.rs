//! `C = A W^T` with W's rows packed transposed, unit by unit, for the AVX-512 kernel: the
//! forward of `linear` (`x W^T`) in f32 on CPUs with AVX-512.

use std::any::TypeId;
use std::cell::RefCell;
use std::mem::MaybeUninit;

use super::{Lines, NR, Rhs, as_f32, as_f32_out, kernel512_runs_here};
use crate::Float;
use crate::tensor::kernels::RowsPtr;

/// Largest A (`m k` elements: 512 KiB of f32) for [`try_gemm_wt`]: every unit of 32 columns
/// reads all of A, which must stay in the core's L2 cache.
pub(crate) const WT_MAX_A: usize = 1 << 17;

thread_local! {
    /// The two panels of W^T a unit of [`try_gemm_wt`] packs (reused from call to call).
    static WT_PANELS: RefCell<Lines> = const { RefCell::new(Lines::new()) };
}

/// `C = A W^T` for a row-major `W` `[n, k]` and an `A` with contiguous rows (the forward of
/// `linear`, `x W^T`), f32 on CPUs with AVX-512, A of at most [`WT_MAX_A`] elements.
///
/// The columns of C are cut into units of two 16-column panels (32 rows of W). A unit packs
/// its rows of W transposed into this thread's scratch (`super::kernel512::pack_transposed`, 16 x 16
/// register transposes) and multiplies all of A by them with the AVX-512 kernel. Nothing is
/// packed twice, and A is read where it is. A product of at least 2^20 multiply-adds is spread
/// over the threads with `hot_pool::run_units`: each thread runs its own contiguous share of
/// the units (the same rows of W from step to step, the rows whose gradient it computes and
/// that it updates) and then takes what is left of the others' shares, so a virtual CPU the
/// host slows down does not hold the product up.
///
/// Measured on an Intel Xeon with AVX-512 at `[64, 784] x [128, 784]^T` (W2's first layer):
/// 91 us against 109 us for `matrixmultiply`, which packs both operands, `W^T` by a strided
/// gather (`docs/performance.md`). With `start` = `(S, stride)` it computes `C = S + A W^T` (S's
/// rows `stride` apart; stride 0: one row, a bias), S loaded by the kernel. Returns `false`
/// without writing anything when the path does not apply; the caller runs the general GEMM.
pub(crate) fn try_gemm_wt<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: (&[T], isize, isize),
    w: &[T],
    c: &mut [MaybeUninit<T>],
    start: Option<(&[T], usize)>,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if TypeId::of::<T>() != TypeId::of::<f32>()
            || m == 0
            || k == 0
            || n == 0
            || m * k > WT_MAX_A
            || a.2 != 1
            || a.1 < k as isize
            || !kernel512_runs_here()
        {
            return false;
        }
        let ars = a.1 as usize;
        let (a, w, c) = (as_f32(a.0), as_f32(w), as_f32_out(c));
        let start = start.map(|(s, stride)| (as_f32(s), stride));
        assert!(
            (m - 1) * ars + k <= a.len()
                && n * k <= w.len()
                && c.len() == m * n
                && start.is_none_or(|(s, stride)| (m - 1) * stride + n <= s.len()),
            "internal: gemm with W^T: an operand is out of bounds"
        );
        let c_start = RowsPtr::new(c.as_mut_ptr() as *mut f32);
        let unit = |u: usize| {
            let j0 = u * 2 * NR;
            let cols = (2 * NR).min(n - j0);
            let panels = cols.div_ceil(NR);
            WT_PANELS.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                scratch.resize(2 * NR * k);
                for q in 0..panels {
                    let rows = NR.min(cols - q * NR);
                    // SAFETY: AVX-512F (checked); rows j0 + 16 q .. + rows of W exist (`n k`
                    // values, asserted), and the scratch holds two panels of `16 k`.
                    unsafe {
                        super::kernel512::pack_transposed(
                            w[(j0 + q * NR) * k..].as_ptr(),
                            k,
                            k,
                            rows,
                            &mut scratch.as_mut_slice()[q * NR * k..],
                        )
                    };
                }
                let rhs = Rhs::Panels(&scratch.as_slice()[..panels * NR * k]);
                // The start's columns j0.. (C's pointer is moved there below).
                let init = super::kernel::Init::of(start).at(0, j0);
                // SAFETY: AVX-512F; A holds `m x k` at `(ars, 1)` (asserted), the panels
                // `k x cols`; C is `m x n` (asserted) and borrowed mutably for this call, and
                // this unit writes only its columns j0..j0 + cols of every row (and reads those
                // of the start, `m` rows of `n`: asserted).
                unsafe {
                    super::kernel512::gemm(
                        m,
                        k,
                        cols,
                        a,
                        (ars, 1),
                        rhs,
                        init,
                        (c_start.ptr().add(j0), n),
                        0..panels,
                    )
                };
            });
        };
        let units = n.div_ceil(2 * NR);
        if m * k * n >= crate::tensor::kernels::GEMM_PARALLEL_MKN {
            crate::hot_pool::run_units(units, &unit);
        } else {
            (0..units).for_each(unit);
        }
        #[cfg(test)]
        tests::WT_RUNS.with(|r| r.set(r.get() + 1));
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (m, k, n, a, w, c);
        false
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::super::tests::filled;

    thread_local! {
        /// Products `A W^T` run by `try_gemm_wt`, on this thread.
        pub(super) static WT_RUNS: Cell<usize> = const { Cell::new(0) };
    }

    #[test]
    fn products_with_w_transposed_cover_every_unit_panel_and_tile() {
        use std::mem::MaybeUninit;
        if !super::super::kernel512_runs_here() {
            return;
        }
        let wt_runs = || WT_RUNS.with(Cell::get);
        // Row counts through every tile height (8, 4, 2, 1) and mixes; column counts through a
        // narrow panel, one panel, a unit of two, a unit and a narrow panel; k below, at and
        // over 16 (the transposes' width); A's rows `k + 5` apart. The last shape is above
        // 2^20 multiply-adds, so its units are spread over the threads.
        let mut shapes = Vec::new();
        for m in [1, 3, 8, 15] {
            for n in [1, 15, 16, 17, 32, 33, 70] {
                for k in [1, 15, 16, 17, 40] {
                    shapes.push((m, k, n));
                }
            }
        }
        shapes.push((64, 300, 200));
        for (m, k, n) in shapes {
            let lda = k + 5;
            let a = filled(&[m * lda], m + k);
            let w = filled(&[n * k], n);
            let mut c = vec![MaybeUninit::new(f32::NAN); m * n];
            let before = wt_runs();
            assert!(super::try_gemm_wt(
                m,
                k,
                n,
                (a.data(), lda as isize, 1),
                w.data(),
                &mut c,
                None
            ));
            assert_eq!(wt_runs(), before + 1);
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = (0..k)
                        .map(|p| f64::from(a.data()[i * lda + p]) * f64::from(w.data()[j * k + p]))
                        .sum();
                    // SAFETY: the product wrote every element (checked here).
                    let got = f64::from(unsafe { c[i * n + j].assume_init() });
                    assert!(
                        (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                        "m {m} k {k} n {n}: C[{i}, {j}] = {got}, want {want}"
                    );
                }
            }
        }
        // f64, A with a column stride, or A over WT_MAX_A: the caller's GEMM.
        let mut c = vec![MaybeUninit::new(0.0f32); 4 * 4];
        let a = filled(&[64], 1);
        assert!(!super::try_gemm_wt(
            4,
            4,
            4,
            (a.data(), 1, 4),
            a.data(),
            &mut c,
            None
        ));
        let big = filled(&[super::WT_MAX_A + 1], 2);
        let mut c = vec![MaybeUninit::new(0.0f32); super::WT_MAX_A + 1];
        assert!(!super::try_gemm_wt(
            super::WT_MAX_A + 1,
            1,
            1,
            (big.data(), 1, 1),
            big.data(),
            &mut c,
            None
        ));
        let a64 = vec![0.0f64; 16];
        let mut c64 = vec![MaybeUninit::new(0.0f64); 16];
        assert!(!super::try_gemm_wt(
            4,
            4,
            4,
            (&a64[..], 4, 1),
            &a64,
            &mut c64,
            None
        ));
    }
}
