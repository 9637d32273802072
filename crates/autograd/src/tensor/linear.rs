//! The forward of `linear`, `y = x W^T + b`: which product path computes `x W^T`, and how it is
//! split across threads (by rows of W, so that a weight stays with the thread that computes its
//! gradient and updates it).

use std::mem::MaybeUninit;

use super::Tensor;
use super::buffer::{unique_mut, written_by};
use super::kernels::{GEMM_PARALLEL_MKN, RowsPtr, add_rows, gemm_into};
use super::shape::copy_shape;
use crate::Float;

/// `C = A W^T` for a row-major `W` `[n, k]` with more rows than A (`n > m`), split across
/// threads by columns of C, that is by rows of W, instead of by rows of C. Each thread then
/// reads only its own rows of W, the rows whose gradient it computes (`dW = g^T x` is split by
/// rows of dW) and about the ones it updates in the optimizer (`split_mut` splits by elements:
/// at the same element when `n / threads` is a multiple of 16 rows holding a multiple of 64
/// elements, as for W2's `[128, 784]`), so a weight stays in one core's cache from step to step
/// instead of being read by every thread and written by one. Returns `false` without writing anything when the product is not
/// split this way: below the thresholds of `kernels::split_rows`, `n <= m`, at most
/// [`packed::MAX_ROWS`](super::packed::MAX_ROWS) rows (the packed-operand path splits columns
/// itself), or when a row block would run the dot products of `dot_gemm.rs` (AVX2 without
/// AVX-512), which read W where it is and beat the general GEMM there.
fn try_split_by_weight_rows<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: (&[T], isize, isize),
    w: &[T],
    c: &mut [MaybeUninit<T>],
) -> bool {
    let threads = crate::hot_pool::width();
    if threads < 2
        || m * k * n < GEMM_PARALLEL_MKN
        || n <= m
        || m <= super::packed::MAX_ROWS
        || w.len() < n * k
        || c.len() != m * n
        || super::dot_gemm::takes::<T>(m.div_ceil(threads).next_multiple_of(16), k, n)
    {
        return false;
    }
    let cols = n.div_ceil(threads).next_multiple_of(16);
    let c_start = RowsPtr::new(c.as_mut_ptr());
    crate::hot_pool::run_blocks(n.div_ceil(cols), &|i| {
        let (j0, j1) = (i * cols, ((i + 1) * cols).min(n));
        // Columns j0..j1 of W^T are rows j0..j1 of W.
        let b = (&w[j0 * k..], 1, k as isize);
        // SAFETY: C is `m x n` (checked) and borrowed mutably for this call; each block writes
        // only its own columns j0..j1 of every row.
        unsafe { T::gemm_uninit_block(m, k, j1 - j0, a, b, c_start.ptr().add(j0), n) };
    });
    #[cfg(test)]
    tests::COLUMN_SPLITS.with(|r| r.set(r.get() + 1));
    true
}

/// `y = x W^T (+ b)` for `x` `[rows, k]` (any leading shape, flattened), `w` `[n, k]` and `b`
/// `[n]` (or an addend of the output's shape), into a fresh `[.., n]` tensor: one GEMM (W^T as
/// strides), the bias added by the kernel's first loads or else onto the rows afterwards.
/// Shapes are checked by the caller.
pub(crate) fn linear_forward<T: Float>(
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
) -> Tensor<T> {
    let (n, k) = (w.shape()[0], w.shape()[1]);
    // The leading axes flattened (not `numel / k`, which is wrong for k = 0).
    let rows: usize = x.shape()[..x.ndim() - 1].iter().product();
    let mut out_shape = copy_shape(x.shape());
    *out_shape.last_mut().expect("linear: x has rank >= 2") = n;
    // A bias `[n]` on every row (stride 0), or an addend of the output's shape (row r at `r n`).
    let start = b
        .filter(|_| n > 0)
        .map(|b| (b.data(), if b.ndim() > 1 { n } else { 0 }));
    // `C = x W^T` into the fresh output; whether the bias went on with it.
    let product = |c: &mut [MaybeUninit<T>]| -> bool {
        let a = (x.data(), k as isize, 1);
        // A weight multiplied again within the step (packed once, `packed::try_gemm`), then
        // W^T packed unit by unit (`packed::try_gemm_wt`), then the general GEMM: their
        // kernels' accumulators start from the bias or addend (no pass of its own) or, where
        // a block runs another kernel, the thread that wrote it adds it (`gemm_into`).
        let view = (1, k as isize);
        if w.shared_buffer()
            .is_some_and(|w| super::packed::try_gemm(rows, k, n, a, w, view, c, start))
            || super::packed::try_gemm_wt(rows, k, n, a, w.data(), c, start)
        {
            return true;
        }
        if try_split_by_weight_rows(rows, k, n, a, w.data(), c) {
            return false;
        }
        gemm_into(rows, k, n, a, (w.data(), 1, k as isize), c, start);
        true
    };
    let mut added = false;
    // SAFETY: every path of `product` initialises all `rows x n` elements of its output.
    let mut out = unsafe { written_by(rows * n, |c| added = product(c)) };
    if let (false, Some(s)) = (added, start) {
        add_rows(unique_mut(&mut out), n, s);
    }
    Tensor::from_parts(out_shape, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts `y` within 1e-10 (f64) or 1e-3 (f32) of the f64 reference `want`.
    #[track_caller]
    fn assert_near<T: Float>(y: &Tensor<T>, want: &Tensor<f64>, what: &str) {
        let err = y.cast::<f64>().max_abs_diff(want).expect("equal shapes");
        let tol = if T::DTYPE == crate::DType::F64 {
            1e-10
        } else {
            1e-3
        };
        assert!(err < tol, "{what}: off by {err}");
    }

    thread_local! {
        /// Products split by columns (`try_split_by_weight_rows`) on this thread.
        pub(super) static COLUMN_SPLITS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    #[test]
    fn linear_split_by_weight_rows_lands_every_column_in_its_place() {
        fn check<T: Float>(m: usize, k: usize, n: usize) {
            let x = Tensor::<f64>::randn(&[m, k], 1);
            let w = Tensor::<f64>::randn(&[n, k], 2);
            let b = Tensor::<f64>::randn(&[n], 3);
            let before = COLUMN_SPLITS.with(std::cell::Cell::get);
            let y = linear_forward(&x.cast::<T>(), &w.cast::<T>(), Some(&b.cast::<T>()));
            let split = COLUMN_SPLITS.with(std::cell::Cell::get) - before;
            // Split by columns wherever a second thread exists and neither the W^T kernel
            // (f32 with AVX-512) nor, in a row block, the dot products (f32 on AVX2 without
            // AVX-512) take the product.
            let rows = m.div_ceil(2).next_multiple_of(16);
            let f32_wt =
                T::DTYPE == crate::DType::F32 && super::super::packed::kernel512_runs_here();
            let expected = crate::hot_pool::width() >= 2
                && !f32_wt
                && !super::super::dot_gemm::takes::<T>(rows, k, n);
            assert_eq!(split == 1, expected, "[{m}, {k}] x [{n}, {k}]^T");
            let want = x
                .matmul(&w.permute(&[1, 0]))
                .zip_map(&b, "test", |p, b| p + b);
            assert_near(&y, &want, &format!("[{m}, {k}] x [{n}, {k}]^T"));
        }
        // Above GEMM_PARALLEL_MKN with more weight rows than input rows; n a multiple of the
        // 16-column blocks and not; k not a multiple of a vector.
        for (m, k, n) in [(64, 300, 200), (50, 257, 1001), (49, 784, 128)] {
            assert!(m * k * n >= GEMM_PARALLEL_MKN && n > m && m > super::super::packed::MAX_ROWS);
            check::<f64>(m, k, n);
            check::<f32>(m, k, n);
        }
        // More input rows than weight rows: split by rows as before.
        let before = COLUMN_SPLITS.with(std::cell::Cell::get);
        let _ = linear_forward(
            &Tensor::<f64>::randn(&[300, 300], 4),
            &Tensor::<f64>::randn(&[200, 300], 5),
            None,
        );
        assert_eq!(COLUMN_SPLITS.with(std::cell::Cell::get), before);
    }

    #[test]
    fn a_bias_or_addend_goes_onto_the_rows_of_a_packed_product_once() {
        // Packed from the second call; the kernel's accumulators start from the bias or the
        // addend. [40, 128] x [512, 128]^T splits by batch rows (blocks of 24 and 16) with two
        // threads, [8, 1024] x [160, 1024]^T by panels, [5, 64] x [257, 64]^T not at all (a
        // narrow last panel).
        for (m, k, n) in [(40, 128, 512), (8, 1024, 160), (5, 64, 257)] {
            super::super::packed::clear();
            let x = Tensor::<f32>::randn(&[m, k], 7);
            let w = Tensor::<f32>::randn(&[n, k], 8);
            let bias = Tensor::<f32>::randn(&[n], 9);
            let addend = Tensor::<f32>::randn(&[m, n], 10);
            let product = x.cast::<f64>().matmul(&w.cast::<f64>().permute(&[1, 0]));
            for _ in 0..3 {
                for (b, want) in [
                    (
                        &bias,
                        product.zip_map(&bias.cast::<f64>(), "test", |p, b| p + b),
                    ),
                    (
                        &addend,
                        product.zip_map(&addend.cast::<f64>(), "test", |p, b| p + b),
                    ),
                ] {
                    let y = linear_forward(&x, &w, Some(b));
                    assert_near(&y, &want, &format!("[{m}, {k}] x [{n}, {k}]^T"));
                }
            }
        }
    }

    #[test]
    fn a_bias_or_addend_goes_onto_every_path_of_a_fresh_product_once() {
        // Each shape's path, f32: [4, 16] x [8, 16]^T the small-product kernel (added after);
        // [64, 784] x [128, 784]^T the W^T kernel with AVX-512 (from the start), the dot
        // products without (added after); [1120, 64] x [512, 64]^T the W^T kernel, or the
        // blocked AVX2 kernel from the start, by blocks of rows with two threads;
        // [300, 512] x [200, 512]^T and [1100, 130] x [1040, 130]^T (two blocks of columns
        // with AVX-512) the blocked kernel from the start, AVX-512 or AVX2 (fewer weight rows
        // than input rows: not split by weight rows). f64 runs `matrixmultiply`, added after.
        fn check<T: Float>(m: usize, k: usize, n: usize) {
            let x = Tensor::<f64>::randn(&[m, k], 11);
            let w = Tensor::<f64>::randn(&[n, k], 12);
            let bias = Tensor::<f64>::randn(&[n], 13);
            let addend = Tensor::<f64>::randn(&[m, n], 14);
            let product = x.matmul(&w.permute(&[1, 0]));
            for b in [&bias, &addend] {
                let want = product.zip_map(b, "test", |p, b| p + b);
                let y = linear_forward(&x.cast::<T>(), &w.cast::<T>(), Some(&b.cast::<T>()));
                let what = if b.ndim() > 1 { "addend" } else { "bias" };
                assert_near(&y, &want, &format!("[{m}, {k}] x [{n}, {k}]^T + {what}"));
            }
        }
        for (m, k, n) in [
            (4, 16, 8),
            (64, 784, 128),
            (1120, 64, 512),
            (300, 512, 200),
            (1100, 130, 1040),
        ] {
            check::<f32>(m, k, n);
            check::<f64>(m, k, n);
        }
    }
}
