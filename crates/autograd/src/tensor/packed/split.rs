//! How a product from packed panels (`packed::try_gemm`) is shared between threads: by rows of
//! A and C for a batch (the rows each thread owns in the rest of a recurrent step), by panels of
//! B for fewer rows.

use std::mem::MaybeUninit;

use super::kernel::{self, Init};
use super::{NR, Rhs};
use crate::tensor::kernels::{BATCH_SPLIT_ROWS, RowsPtr, split_batch};

/// `C = A B` (or `C = S + A B` with `start` = `(S, row stride)`, stride 0 for one row on every
/// row) from B's packed panels, split across threads when the product has at least 2^20
/// multiply-adds and more than one thread is set: by rows of A and C when there are at least
/// [`BATCH_SPLIT_ROWS`] (`kernels::split_batch`: each thread the batch rows it owns in the
/// rest of a recurrent step, so A's rows are in its cache and C's stay there), otherwise by
/// panels (each thread writes its own columns of C).
#[allow(clippy::too_many_arguments)]
pub(super) fn split_panels(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    ars: usize,
    panels: &[f32],
    c: &mut [MaybeUninit<f32>],
    start: Option<(&[f32], usize)>,
) {
    let count = n.div_ceil(NR);
    let threads = crate::hot_pool::width();
    let by_rows = m >= BATCH_SPLIT_ROWS;
    // Rows `r0..r1` of C (`c` holding just those), from `start`'s same rows.
    let rows = |r0: usize, r1: usize, a: &[f32], c: &mut [MaybeUninit<f32>]| {
        let (m, rhs) = (r1 - r0, Rhs::Panels(panels));
        match start {
            Some((s, stride)) => {
                kernel::gemm_from(m, k, n, a, (ars, 1), rhs, (&s[r0 * stride..], stride), c)
            }
            None => kernel::gemm(m, k, n, a, (ars, 1), rhs, c),
        }
    };
    if threads < 2
        || (count < 2 && !by_rows)
        || m * k * n < crate::tensor::kernels::GEMM_PARALLEL_MKN
    {
        rows(0, m, a, c);
        return;
    }
    assert_eq!(c.len(), m * n, "internal: packed gemm: C out of bounds");
    let cp = RowsPtr::new(c.as_mut_ptr());
    if by_rows {
        split_batch(m, &|r0, r1| {
            // SAFETY: C holds `m n` values (asserted) and is borrowed mutably for this call;
            // `split_batch` hands out disjoint row ranges.
            let c = unsafe { cp.rows(r0, r1, n) };
            rows(r0, r1, &a[r0 * ars..], c);
        });
    } else {
        if let Some((s, stride)) = start {
            assert!(
                (m - 1) * stride + n <= s.len(),
                "internal: packed gemm: the start matrix out of bounds"
            );
        }
        let per = count.div_ceil(threads);
        crate::hot_pool::run_blocks(count.div_ceil(per), &|i| {
            let mine = i * per..((i + 1) * per).min(count);
            let init = Init::of(start);
            // SAFETY: C holds `m n` values (asserted) and is borrowed mutably for this call;
            // each block writes only the columns of its own panels; the start matrix holds
            // `m` rows (asserted).
            unsafe {
                let rhs = Rhs::Panels(panels);
                kernel::gemm_panels((m, k, n), a, (ars, 1), rhs, cp.ptr().cast(), mine, init)
            };
        });
    }
    #[cfg(test)]
    super::tests::SPLIT_RUNS.with(|r| r.set(r.get() + 1));
}
