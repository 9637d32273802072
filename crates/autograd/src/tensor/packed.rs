//! Products whose right operand is used again and again against few rows: a recurrent weight
//! multiplied at every time step (`h W_hh^T` forward, `dgates W_hh` backward).
//!
//! `matrixmultiply` packs both operands on every call. At 32 rows the packing of a `[128, 512]`
//! weight costs about as much as the product itself, and an LSTM repeats it 35 times a step in
//! each direction. Here the right operand is packed once into 16-column panels, kept in a small
//! per-thread cache keyed by its storage, and an AVX2 + FMA kernel multiplies from the panels
//! (1.2-1.6x faster than `matrixmultiply` with its packing for these shapes), or an AVX-512
//! one on CPUs that have it (`packed/kernel512.rs`: a panel is one 16-lane register; W4's
//! products about 1.6x faster again, and the same bits).
//!
//! The fast path is taken only for `f32` on a CPU with AVX2 and FMA, at most [`MAX_ROWS`] rows,
//! a right operand of at least [`MIN_RHS`] elements, and only from the second product with the
//! same operand (a weight used once is never packed). Everything else runs the general GEMM.
//!
//! Small products (at most [`SMALL_MKN`] multiply-adds, B with contiguous rows) use the same
//! kernel with no packing at all ([`try_small_gemm`]): it reads A and B's rows where they are.
//! A layer's `x W^T` on CPUs with AVX-512 packs W's rows transposed unit by unit
//! (`packed/wt.rs`); large products run the kernels blocked as in BLIS (`packed/blocked.rs`,
//! `packed/blocked512.rs`); packed panels live in cache-line-aligned storage
//! (`packed/lines.rs`).
//!
//! Why the cache is sound: an entry holds a `Weak` to the operand's buffer, so the buffer cannot
//! be freed and its address reused while the entry lives, and no `Arc::get_mut` can succeed on
//! it (in-place writes such as an optimizer's then copy first), so a buffer found in the cache
//! still holds the values that were packed. The cache is emptied when a tape is dropped or
//! reset, so between training steps it holds nothing (the optimizer updates weights in place
//! again).

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::sync::Weak;

use super::buf::Buf;
use crate::Float;

mod blocked;
#[cfg(target_arch = "x86_64")]
mod blocked512;
mod kernel;
#[cfg(target_arch = "x86_64")]
mod kernel512;
mod lines;
mod rhs;
mod split;
mod transpose;
mod wt;

pub(crate) use blocked::try_blocked_gemm;
use lines::Lines;
use rhs::{Rhs, pack, pack_into, rows_in_place};
use split::split_panels;
pub(crate) use wt::try_gemm_wt;

/// Products with more rows than this run the general GEMM (it packs the left operand too and
/// amortises its packing over the rows).
pub(crate) const MAX_ROWS: usize = 48;

/// Right operands with fewer elements than this run the general GEMM (packing is cheap there).
pub(crate) const MIN_RHS: usize = 16 * 1024;

/// Panel width: two 8-lane AVX registers.
const NR: usize = 16;

/// Operands remembered per thread (seen once, or packed).
const CAPACITY: usize = 4;

/// Largest right operand packed (elements): 4 MiB of f32.
const MAX_RHS: usize = 1 << 20;

/// A remembered right operand: its buffer, the view of it that was multiplied, and its panels
/// once it was seen a second time.
struct Entry {
    /// `Weak<[T]>` of the operand's buffer (boxed: the cache is not generic).
    buffer: Box<dyn Any>,
    view: (usize, usize, isize, isize),
    panels: Option<Lines>,
}

thread_local! {
    static CACHE: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Forgets every packed operand of this thread (called when a tape is dropped or reset).
pub(crate) fn clear() {
    let _ = CACHE.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            c.clear();
        }
    });
}

/// `C = A B` through the packed-operand path, where `b` is the storage of B and B is the
/// `k x n` view of it with strides `(brs, bcs)`; `A` is `m x k` with row stride `ars` and
/// contiguous rows. Returns `false` without writing anything when the path does not apply
/// (see the module docs); the caller then runs the general GEMM. With `start` = `(S, stride)`
/// it computes `C = S + A B`, S an `m x n` matrix whose rows are `stride` apart (stride 0: one
/// row on every row, a bias), added by the kernel's first loads: no pass over C of its own.
#[allow(clippy::too_many_arguments)]
pub(crate) fn try_gemm<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: (&[T], isize, isize),
    b: &Buf<T>,
    (brs, bcs): (isize, isize),
    c: &mut [MaybeUninit<T>],
    start: Option<(&[T], usize)>,
) -> bool {
    if TypeId::of::<T>() != TypeId::of::<f32>()
        || m == 0
        || m > MAX_ROWS
        || k * n < MIN_RHS
        || k * n > MAX_RHS
        || a.2 != 1
        || a.1 < k as isize
        || brs < 0
        || bcs < 0
        || !kernel::available()
    {
        return false;
    }
    let view = (k, n, brs, bcs);
    CACHE.with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return false;
        };
        let found = cache.iter().position(|e| {
            e.view == view
                && e.buffer
                    .downcast_ref::<Weak<[T]>>()
                    .is_some_and(|w| std::ptr::addr_eq(w.as_ptr(), b.arc_ptr()))
        });
        let Some(i) = found else {
            // First sighting: remember it, multiply with the general GEMM.
            if cache.len() == CAPACITY {
                cache.remove(0);
            }
            cache.push(Entry {
                buffer: Box::new(b.downgrade()),
                view,
                panels: None,
            });
            return false;
        };
        let entry = &mut cache[i];
        let panels = entry
            .panels
            .get_or_insert_with(|| pack(as_f32(b), k, n, brs as usize, bcs as usize))
            .as_slice();
        let (a, ars, c) = (as_f32(a.0), a.1 as usize, as_f32_out(c));
        let start = start.map(|(s, stride)| (as_f32(s), stride));
        split_panels(m, k, n, a, ars, panels, c, start);
        #[cfg(test)]
        tests::RUNS.with(|r| r.set(r.get() + 1));
        true
    })
}

/// `s` as `&[f32]`, for `T = f32` (checked by the caller).
pub(super) fn as_f32<T: Float>(s: &[T]) -> &[f32] {
    assert_eq!(TypeId::of::<T>(), TypeId::of::<f32>());
    // SAFETY: `T` is `f32` (asserted), so the slice is a slice of f32 of the same length.
    unsafe { std::slice::from_raw_parts(s.as_ptr() as *const f32, s.len()) }
}

/// `s` as `&mut [f32]`, for `T = f32`.
fn as_f32_mut<T: Float>(s: &mut [T]) -> &mut [f32] {
    assert_eq!(TypeId::of::<T>(), TypeId::of::<f32>());
    // SAFETY: `T` is `f32` (asserted); same length, same layout.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut f32, s.len()) }
}

/// `s` as `&mut [MaybeUninit<f32>]`, for `T = f32`.
pub(super) fn as_f32_out<T: Float>(s: &mut [MaybeUninit<T>]) -> &mut [MaybeUninit<f32>] {
    assert_eq!(TypeId::of::<T>(), TypeId::of::<f32>());
    // SAFETY: `T` is `f32` (asserted); same length, same layout.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut MaybeUninit<f32>, s.len()) }
}

/// Products of at most this many multiply-adds (`m k n`) whose B has contiguous rows run the
/// kernel below straight from A and B, instead of `matrixmultiply`, which packs both operands
/// and allocates its packing buffer on every call: at these sizes that packing was 15 % of a
/// W3 training step (`docs/performance-history-2.md`, sixth round).
pub(crate) const SMALL_MKN: usize = 1 << 18;

thread_local! {
    /// The packed last panel of a small product's B (reused: a small product allocates nothing).
    static SCRATCH: RefCell<Lines> = const { RefCell::new(Lines::new()) };
}

/// `C = A B` for a small f32 product (at most [`SMALL_MKN`] multiply-adds; A at any
/// non-negative strides, B with contiguous rows): the kernel reads A and B's rows in place;
/// only B's last `n % 16` columns are copied, into a zero-padded panel in this thread's scratch.
/// Returns `false` without writing anything when the path does not apply (not f32, no AVX2 +
/// FMA, an empty or larger product, B a transposed view); the caller runs the general GEMM.
pub(crate) fn try_small_gemm<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: (&[T], isize, isize),
    b: (&[T], isize, isize),
    c: &mut [MaybeUninit<T>],
) -> bool {
    if m.saturating_mul(k).saturating_mul(n) > SMALL_MKN {
        return false;
    }
    let done = with_rows_of_b(m, k, n, a, b, |a, strides, rhs| {
        kernel::gemm(m, k, n, a, strides, rhs, as_f32_out(c))
    });
    #[cfg(test)]
    if done {
        tests::SMALL_RUNS.with(|r| r.set(r.get() + 1));
    }
    done
}

/// Largest inner dimension of a product the kernel adds onto C ([`try_add_gemm`]): a weight
/// gradient `g^T x` over one batch (`k` = the batch).
pub(crate) const ADD_MAX_K: usize = 32;

/// `C += A B` for f32 with `k <= ADD_MAX_K` (A at any non-negative strides, B with contiguous
/// rows), by the kernel reading A and B in place and starting its accumulators from C.
///
/// Why: `matrixmultiply` packs both operands on every call, and at `k = 32` (an LSTM's
/// `dW_hh += g_t^T h_t`, 35 times a W4 step) its packing and its pass over C cost more than the
/// multiply-adds (`docs/performance-history-2.md`, eighth round). Returns `false` without writing
/// anything when the path does not apply; the caller runs the general GEMM.
pub(crate) fn try_add_gemm<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: (&[T], isize, isize),
    b: (&[T], isize, isize),
    c: &mut [T],
) -> bool {
    if k > ADD_MAX_K {
        return false;
    }
    let done = with_rows_of_b(m, k, n, a, b, |a, strides, rhs| {
        kernel::gemm_add(m, k, n, a, strides, rhs, as_f32_mut(c))
    });
    #[cfg(test)]
    if done {
        tests::ADD_RUNS.with(|r| r.set(r.get() + 1));
    }
    done
}

/// Runs `f(a, a_strides, rhs)` with B read in place (see [`try_small_gemm`]) when the kernel
/// applies to these operands; `false` otherwise.
fn with_rows_of_b<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: (&[T], isize, isize),
    b: (&[T], isize, isize),
    f: impl FnOnce(&[f32], (usize, usize), Rhs<'_>),
) -> bool {
    if TypeId::of::<T>() != TypeId::of::<f32>()
        || m == 0
        || k == 0
        || n == 0
        || a.1 < 0
        || a.2 < 0
        || b.1 < 0
        || b.2 != 1
        || !kernel::available()
    {
        return false;
    }
    let (b, rs) = (as_f32(b.0), b.1 as usize);
    assert!(
        (k - 1) * rs + n <= b.len(),
        "internal: small gemm: B out of bounds"
    );
    SCRATCH.with(|scratch| {
        let Ok(mut tail) = scratch.try_borrow_mut() else {
            return false;
        };
        let rhs = rows_in_place(&mut tail, b, k, n, rs);
        f(as_f32(a.0), (a.1 as usize, a.2 as usize), rhs);
        true
    })
}

/// Whether this CPU runs the AVX-512 kernel (and with it [`try_gemm_wt`]).
pub(crate) fn kernel512_runs_here() -> bool {
    #[cfg(target_arch = "x86_64")]
    return kernel512::available();
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// Whether this CPU has AVX2 and FMA (the kernels here and in `dot_gemm.rs` need both).
pub(super) fn simd_kernels_available() -> bool {
    kernel::available()
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use crate::Tensor;
    use crate::tensor::kernels::{batched_matmul, linear_forward};

    thread_local! {
        /// Products run by the packed kernel on this thread.
        pub(super) static RUNS: Cell<usize> = const { Cell::new(0) };
        /// Small products run by the kernel with B packed on the spot, on this thread.
        pub(super) static SMALL_RUNS: Cell<usize> = const { Cell::new(0) };
        /// Products added onto C by the kernel, on this thread.
        pub(super) static ADD_RUNS: Cell<usize> = const { Cell::new(0) };
        /// Packed products split by panels across threads, on this thread.
        pub(super) static SPLIT_RUNS: Cell<usize> = const { Cell::new(0) };
    }

    fn runs() -> usize {
        RUNS.with(Cell::get)
    }

    pub(super) fn filled(shape: &[usize], seed: usize) -> Tensor<f32> {
        let n: usize = shape.iter().product();
        let v = (0..n)
            .map(|i| ((i * 7 + seed * 13) % 23) as f32 / 11.0 - 1.0)
            .collect();
        Tensor::from_vec(v, shape).expect("n elements were made for this shape")
    }

    /// `x W^T` in f64, row by row.
    fn reference(x: &Tensor<f32>, w: &Tensor<f32>) -> Vec<f64> {
        let (n, k) = (w.shape()[0], w.shape()[1]);
        let rows = x.numel() / k;
        let mut out = vec![0.0; rows * n];
        for i in 0..rows {
            for j in 0..n {
                out[i * n + j] = (0..k)
                    .map(|p| f64::from(x.data()[i * k + p]) * f64::from(w.data()[j * k + p]))
                    .sum();
            }
        }
        out
    }

    fn assert_close(got: &Tensor<f32>, want: &[f64], what: &str) {
        assert_eq!(got.numel(), want.len(), "{what}");
        for (i, (&g, &w)) in got.data().iter().zip(want).enumerate() {
            assert!(
                (f64::from(g) - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "{what}: element {i}: {g} vs {w}"
            );
        }
    }

    fn kernel_runs_here() -> bool {
        super::kernel::available()
    }

    fn small_runs() -> usize {
        SMALL_RUNS.with(Cell::get)
    }

    /// `(A B)[i, j]` in f64, A at strides `(ars, acs)`, B's rows `rs` apart, over `k`.
    fn product_at(
        a: &[f32],
        (ars, acs): (usize, usize),
        b: &[f32],
        rs: usize,
        k: usize,
    ) -> impl Fn(usize, usize) -> f64 {
        move |i, j| {
            (0..k)
                .map(|p| f64::from(a[i * ars + p * acs]) * f64::from(b[p * rs + j]))
                .sum()
        }
    }

    #[test]
    fn small_products_read_a_and_b_in_place_at_any_stride_and_size() {
        use std::mem::MaybeUninit;
        if !kernel_runs_here() {
            return;
        }
        // Row counts through every tile height and their mixes; column counts below one panel,
        // exactly one, one over, and a full panel plus a tail; k from 1.
        for m in [1, 2, 3, 5, 6, 7, 8, 13, 14] {
            for n in [1, 8, 15, 16, 17, 40] {
                for k in [1, 7, 33] {
                    // A transposed or not (column stride m + 1 or 1) inside a padded buffer;
                    // B's rows `n + 3` apart.
                    for a_transposed in [false, true] {
                        let (ars, acs) = if a_transposed { (1, m + 1) } else { (k + 2, 1) };
                        let a = filled(&[(m + 1) * (k + 2)], m + k);
                        let rs = n + 3;
                        let b = filled(&[k * rs], n);
                        let ab = product_at(a.data(), (ars, acs), b.data(), rs, k);
                        // Stale values in C must all be overwritten.
                        let mut c = vec![MaybeUninit::new(f32::NAN); m * n];
                        let before = small_runs();
                        assert!(super::try_small_gemm(
                            m,
                            k,
                            n,
                            (a.data(), ars as isize, acs as isize),
                            (b.data(), rs as isize, 1),
                            &mut c,
                        ));
                        assert_eq!(small_runs(), before + 1);
                        for i in 0..m {
                            for j in 0..n {
                                // SAFETY: the product wrote every element (checked here).
                                let got = f64::from(unsafe { c[i * n + j].assume_init() });
                                let want = ab(i, j);
                                assert!(
                                    (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                                    "m {m} k {k} n {n} A^T {a_transposed}: C[{i}, {j}] = {got}, \
                                     want {want}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    fn add_runs() -> usize {
        ADD_RUNS.with(Cell::get)
    }

    #[test]
    fn products_added_onto_c_keep_c_and_cover_every_tile() {
        if !kernel_runs_here() {
            return;
        }
        // Every tile height and a tail panel; A transposed (a weight gradient g^T x) or not.
        for (m, k, n) in [(13, 32, 40), (7, 1, 17), (512, 32, 128), (1, 5, 16)] {
            for a_transposed in [false, true] {
                let (ars, acs) = if a_transposed { (1, m) } else { (k, 1) };
                let a = filled(&[m * k], m + k);
                let b = filled(&[k * n], n);
                let c0 = filled(&[m * n], 7);
                let mut c = c0.to_vec();
                let ab = product_at(a.data(), (ars, acs), b.data(), n, k);
                let before = add_runs();
                assert!(super::try_add_gemm(
                    m,
                    k,
                    n,
                    (a.data(), ars as isize, acs as isize),
                    (b.data(), n as isize, 1),
                    &mut c,
                ));
                assert_eq!(add_runs(), before + 1);
                for i in 0..m {
                    for j in 0..n {
                        let want = f64::from(c0.data()[i * n + j]) + ab(i, j);
                        let got = f64::from(c[i * n + j]);
                        assert!(
                            (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                            "m {m} k {k} n {n} A^T {a_transposed}: C[{i}, {j}] = {got}, want {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn only_short_f32_products_with_contiguous_b_rows_are_added_by_the_kernel() {
        if !kernel_runs_here() {
            return;
        }
        let mut c = vec![0.0f32; 8 * 16];
        let (a, b) = (filled(&[8 * 33], 1), filled(&[33 * 16], 2));
        let before = add_runs();
        // k = 33 > ADD_MAX_K, B transposed (column stride 33), f64: the caller's GEMM.
        assert!(!super::try_add_gemm(
            8,
            33,
            16,
            (a.data(), 33, 1),
            (b.data(), 16, 1),
            &mut c
        ));
        assert!(!super::try_add_gemm(
            8,
            16,
            16,
            (a.data(), 16, 1),
            (b.data(), 1, 33),
            &mut c
        ));
        let mut c64 = vec![0.0f64; 4];
        let ones = [1.0f64; 4];
        assert!(!super::try_add_gemm(
            2,
            2,
            2,
            (&ones[..], 2, 1),
            (&ones[..], 2, 1),
            &mut c64
        ));
        assert_eq!(add_runs(), before);
        assert!(
            c.iter().all(|&v| v == 0.0) && c64 == [0.0; 4],
            "nothing written"
        );
        // A weight gradient added by `Product::add_to`, as an LSTM's `dW_hh` is every step.
        let (g, h) = (filled(&[32, 512], 3), filled(&[32, 128], 4));
        let mut acc = filled(&[512, 128], 5);
        let ab = batched_matmul(&g.cast::<f64>(), &h.cast::<f64>(), true, false);
        let want = acc.cast::<f64>().zip_map(&ab, "add", |c, ab| c + ab);
        crate::tensor::product::Product::new(g, h, true, false).add_to(&mut acc);
        assert!(acc.cast::<f64>().max_abs_diff(&want).expect("equal shapes") < 1e-4);
    }

    #[test]
    fn only_small_f32_products_with_contiguous_b_rows_take_the_small_path() {
        if !kernel_runs_here() {
            return;
        }
        let (a, b) = (filled(&[32, 64], 1), filled(&[64, 10], 2));
        let want = a.cast::<f64>().matmul(&b.cast::<f64>());
        let before = small_runs();
        let nn = a.matmul(&b);
        assert_eq!(small_runs(), before + 1, "[32, 64] x [64, 10]");
        assert!(nn.cast::<f64>().max_abs_diff(&want).expect("equal shapes") < 1e-4);
        // A transposed (x^T g, a weight gradient) also reads B's rows in place.
        let tn = batched_matmul(&filled(&[64, 32], 1).permute(&[1, 0]), &b, false, false);
        assert_eq!(small_runs(), before + 2);
        let at = batched_matmul(&filled(&[64, 32], 1), &b, true, false);
        assert_eq!(small_runs(), before + 3, "A^T as strides");
        assert_eq!(at.to_vec(), tn.to_vec());
        // B transposed (x W^T), f64, and products over the limit go to matrixmultiply.
        let _ = batched_matmul(&a, &filled(&[10, 64], 2), false, true);
        let _ = a.cast::<f64>().matmul(&b.cast::<f64>());
        let _ = filled(&[128, 64], 3).matmul(&filled(&[64, 64], 4)); // 2^19 > 2^18
        assert_eq!(small_runs(), before + 3);
    }

    #[test]
    fn a_weight_used_twice_is_packed_and_every_row_and_column_count_is_right() {
        super::clear();
        // Row counts hit every tile height (6, 5, 4, 2, 1) and their mixes; column counts a
        // whole number of panels, one column over, and one short of a panel.
        for (rows, k, n) in [
            (1, 128, 128),
            (5, 64, 257),
            (7, 96, 175),
            (13, 1024, 17),
            (32, 128, 512),
            (48, 40, 431),
            // split by panels across threads (m k n >= 2^20): a short last panel, a 1-row tile
            (48, 600, 40),
            (7, 1024, 175),
        ] {
            let w = filled(&[n, k], n);
            let x = filled(&[rows, k], rows);
            let want = reference(&x, &w);
            let before = runs();
            let first = linear_forward(&x, &w, None);
            let second = linear_forward(&x, &w, None);
            let third = linear_forward(&filled(&[rows, k], 1), &w, None);
            assert_close(&first, &want, "general GEMM");
            assert_close(
                &second,
                &want,
                &format!("packed [{rows}, {k}] x [{n}, {k}]^T"),
            );
            assert_close(&third, &reference(&filled(&[rows, k], 1), &w), "another x");
            if kernel_runs_here() {
                assert_eq!(
                    runs() - before,
                    2,
                    "the second and third products use the panels"
                );
            }
        }
    }

    #[test]
    fn large_packed_products_split_across_threads_by_rows_or_panels() {
        super::clear();
        let split_runs = || SPLIT_RUNS.with(Cell::get);
        // [32, 128] x [512, 128]^T: an LSTM's h W_hh^T, 2^21 multiply-adds, split by rows (and
        // 40 rows: blocks of 24 and 16); 8 rows, split by panels; then one of 2^18, not split.
        let cases = [
            (32, 128, 512, true),
            (40, 128, 512, true),
            (8, 256, 512, true),
            (32, 128, 128, false),
        ];
        for (rows, k, n, split) in cases {
            let (x, w) = (filled(&[rows, k], 5), filled(&[n, k], 6));
            let _ = linear_forward(&x, &w, None);
            let before = split_runs();
            assert_close(&linear_forward(&x, &w, None), &reference(&x, &w), "split");
            if kernel_runs_here() {
                let want = split && crate::hot_pool::width() > 1;
                assert_eq!(
                    split_runs() - before,
                    usize::from(want),
                    "[{rows}, {k}] x [{n}, {k}]^T"
                );
            }
        }
    }

    #[test]
    fn a_plain_right_operand_is_packed_for_matmul() {
        super::clear();
        // dgates [32, 512] @ W [512, 128]: B is W itself (row-major, not transposed).
        let (g, w) = (filled(&[32, 512], 3), filled(&[512, 128], 4));
        let wt = Tensor::from_vec(
            (0..128 * 512)
                .map(|i| w.data()[(i % 512) * 128 + i / 512])
                .collect(),
            &[128, 512],
        )
        .expect("128 x 512 elements were made for this shape");
        let want = reference(&g, &wt);
        let before = runs();
        for _ in 0..3 {
            assert_close(&batched_matmul(&g, &w, false, false), &want, "g @ W");
        }
        if kernel_runs_here() {
            assert_eq!(runs() - before, 2);
        }
    }

    #[test]
    fn products_outside_the_fast_path_do_not_use_it() {
        super::clear();
        let before = runs();
        let (x, w) = (filled(&[49, 128], 1), filled(&[512, 128], 2)); // too many rows
        let (xs, ws) = (filled(&[4, 64], 1), filled(&[64, 64], 2)); // operand too small
        let (x64, w64) = (
            Tensor::<f64>::ones(&[4, 128]),
            Tensor::<f64>::ones(&[512, 128]),
        ); // f64
        for _ in 0..3 {
            assert_close(&linear_forward(&x, &w, None), &reference(&x, &w), "49 rows");
            assert_close(
                &linear_forward(&xs, &ws, None),
                &reference(&xs, &ws),
                "small",
            );
            let y = linear_forward(&x64, &w64, None);
            assert!(y.data().iter().all(|&v| v == 128.0));
        }
        assert_eq!(runs(), before);
    }

    #[test]
    fn a_weight_changed_in_place_is_not_read_from_stale_panels() {
        super::clear();
        let x = filled(&[8, 128], 1);
        let mut w = filled(&[256, 128], 2);
        let _ = linear_forward(&x, &w, None);
        let _ = linear_forward(&x, &w, None); // packed now
        let before = w.data().as_ptr();
        w.make_mut()[0] += 1.0; // the cache's Weak makes this copy, not write in place
        assert_ne!(
            w.data().as_ptr(),
            before,
            "no in-place write under a cached weight"
        );
        let y = linear_forward(&x, &w, None);
        assert_close(&y, &reference(&x, &w), "after the change");
    }

    #[test]
    fn dropping_or_resetting_a_tape_empties_the_cache_so_weights_update_in_place_again() {
        for reset in [false, true] {
            super::clear();
            let mut tape = crate::Tape::<f32>::new();
            let x = filled(&[8, 128], 1);
            let mut w = filled(&[256, 128], 2);
            let _ = linear_forward(&x, &w, None);
            let _ = linear_forward(&x, &w, None);
            if reset {
                tape.reset();
            } else {
                drop(tape);
            }
            let before = w.data().as_ptr();
            w.make_mut()[0] += 1.0;
            assert_eq!(
                w.data().as_ptr(),
                before,
                "no cache entry holds the weight any more (reset: {reset})"
            );
            let y = linear_forward(&x, &w, None);
            assert_close(&y, &reference(&x, &w), "after the change");
        }
    }
}
