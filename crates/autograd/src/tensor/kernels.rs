//! Eager kernels shared by the ops: elementwise maps with broadcasting, reductions, copies along
//! axes and batched GEMM. Work above [`PARALLEL_THRESHOLD`] elements is split across rayon's pool.

use crate::tensor::buf::Buf;
use std::mem::MaybeUninit;

use super::Tensor;
use super::shape::{
    Shape, broadcast_shapes, broadcast_strides, broadcasts_to, contiguous_strides, for_each_run,
    numel,
};
use crate::Float;

use super::buffer::written_by;
pub(crate) use super::buffer::{
    Filler, copied, filled, fresh, fresh_rows, fresh_rows_pair, fresh_split, unique_mut, zeroed,
};
pub(crate) use super::linear::linear_forward;

/// Element count above which elementwise kernels split their work across threads.
pub const PARALLEL_THRESHOLD: usize = 1 << 15;

impl<T: Float> Tensor<T> {
    /// Applies `f` to every element.
    #[inline]
    pub fn map(&self, f: impl Fn(T) -> T + Sync + Send) -> Tensor<T> {
        if let Some(v) = self.one_value() {
            return Tensor::from_scalar_parts(crate::tensor::shape::copy_shape(&self.shape), f(v));
        }
        self.map_many(f)
    }

    /// [`map`](Tensor::map) of a tensor with more than one element: kept out of line so that
    /// the one-element path (a scalar chain's every op) does not pay this frame's set-up.
    ///
    /// From [`MIN_LEN`](crate::simd::MIN_LEN) elements the loop runs under
    /// [`vectorized`](crate::vectorized), through a [`Filler`] (`collect` into an `Arc` writes
    /// element by element), so it is 8 lanes wide on AVX2 for any `f` that vectorises: the
    /// rational `tanh`, the polynomial `exp`, `relu`'s comparison, a division.
    #[inline(never)]
    fn map_many(&self, f: impl Fn(T) -> T + Sync + Send) -> Tensor<T> {
        let n = self.numel();
        let d = self.data();
        let data = if n < crate::simd::MIN_LEN {
            fresh(n, |out| out.extend(n, d.iter().map(|&x| f(x))))
        } else if n < PARALLEL_THRESHOLD {
            fresh(n, |out| {
                crate::vectorized(
                    #[inline(always)]
                    || out.extend(n, d.iter().map(|&x| f(x))),
                )
            })
        } else {
            self.par_map_into_fresh(&f)
        };
        Tensor::from_parts(crate::tensor::shape::copy_shape(&self.shape), data)
    }

    /// `f` of every element into a fresh buffer, one range of elements per thread.
    fn par_map_into_fresh(&self, f: &(impl Fn(T) -> T + Sync + Send)) -> Buf<T> {
        let src = self.data();
        fresh_split(src.len(), &|out, s, e| {
            crate::vectorized(
                #[inline(always)]
                || out.extend(e - s, src[s..e].iter().map(|&x| f(x))),
            )
        })
    }

    /// Combines two tensors elementwise with numpy broadcasting; `op` names the caller in the
    /// panic message.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    #[inline]
    pub fn zip_map(
        &self,
        other: &Tensor<T>,
        op: &str,
        f: impl Fn(T, T) -> T + Sync + Send,
    ) -> Tensor<T> {
        if let (Some(x), Some(y)) = (self.one_value(), other.one_value())
            && crate::tensor::shape::same_shape(&self.shape, &other.shape)
        {
            return Tensor::from_scalar_parts(
                crate::tensor::shape::copy_shape(&self.shape),
                f(x, y),
            );
        }
        self.zip_map_many(other, op, f)
    }

    /// [`zip_map`](Tensor::zip_map) of anything but two one-element tensors of one shape: kept
    /// out of line so that the scalar path does not pay this frame's set-up.
    #[inline(never)]
    #[track_caller]
    fn zip_map_many(
        &self,
        other: &Tensor<T>,
        op: &str,
        f: impl Fn(T, T) -> T + Sync + Send,
    ) -> Tensor<T> {
        let (a, b) = (self, other);
        if a.shape == b.shape {
            let n = a.numel();
            let data: Buf<T> = if n < PARALLEL_THRESHOLD {
                let (x, y) = (a.data(), b.data());
                fresh(n, |out| {
                    crate::vectorized(
                        #[inline(always)]
                        || out.extend(n, x.iter().zip(y).map(|(&x, &y)| f(x, y))),
                    )
                })
            } else {
                let (x, y) = (a.data(), b.data());
                fresh_split(n, &|out, s, e| {
                    let pairs = x[s..e].iter().zip(&y[s..e]);
                    crate::vectorized(
                        #[inline(always)]
                        || out.extend(e - s, pairs.clone().map(|(&x, &y)| f(x, y))),
                    )
                })
            };
            return Tensor::from_parts(crate::tensor::shape::copy_shape(&a.shape), data);
        }
        let Some(out_shape) = broadcast_shapes(&a.shape, &b.shape) else {
            panic!(
                "{op}: shapes {:?} and {:?} do not broadcast",
                a.shape.as_slice(),
                b.shape.as_slice()
            )
        };
        if b.numel() == 1 && out_shape == a.shape {
            let y = b.data()[0];
            return a.map(|x| f(x, y));
        }
        if a.numel() == 1 && out_shape == b.shape {
            let x = a.data()[0];
            return b.map(|y| f(x, y));
        }
        let sa = broadcast_strides(&a.shape, &out_shape);
        let sb = broadcast_strides(&b.shape, &out_shape);
        let (da, db) = (a.data(), b.data());
        // The runs of the output come in its order: written front to back, no zero pass first.
        let out = fresh(numel(&out_shape), |out| {
            for_each_run(&out_shape, [&sa, &sb], |[oa, ob], [ia, ib], len| {
                match (ia, ib) {
                    (1, 1) => out.extend(
                        len,
                        da[oa..oa + len]
                            .iter()
                            .zip(&db[ob..ob + len])
                            .map(|(&x, &y)| f(x, y)),
                    ),
                    (1, 0) => {
                        let y = db[ob];
                        out.extend(len, da[oa..oa + len].iter().map(|&x| f(x, y)))
                    }
                    (0, 1) => {
                        let x = da[oa];
                        out.extend(len, db[ob..ob + len].iter().map(|&y| f(x, y)))
                    }
                    _ => out.extend(len, (0..len).map(|i| f(da[oa + i * ia], db[ob + i * ib]))),
                }
            })
        });
        Tensor::from_parts(out_shape, out)
    }

    /// Repeats elements along broadcast axes to reach `shape` (numpy `broadcast_to`).
    ///
    /// # Panics
    /// If this shape does not broadcast to `shape`.
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor<T> {
        assert!(
            broadcasts_to(&self.shape, shape),
            "broadcast_to: shape {:?} does not broadcast to {:?}",
            self.shape.as_slice(),
            shape
        );
        if self.shape.as_slice() == shape {
            return self.clone();
        }
        if self.numel() == numel(shape) {
            return self.reshape(shape); // only leading or unit axes added
        }
        let d = self.data();
        let out = if let [v] = *d {
            // One value everywhere (the backward of a sum or a mean): by ranges across threads.
            fresh_split(numel(shape), &|out, s, e| {
                crate::vectorized(
                    #[inline(always)]
                    || out.extend(e - s, std::iter::repeat_n(v, e - s)),
                )
            })
        } else {
            let si = broadcast_strides(&self.shape, shape);
            // The runs come in the output's order: written front to back, no zero pass first.
            fresh(numel(shape), |out| {
                for_each_run(shape, [&si], |[oi], [ii], len| {
                    if ii == 1 {
                        out.copy(&d[oi..oi + len]);
                    } else {
                        out.extend(len, std::iter::repeat_n(d[oi], len));
                    }
                })
            })
        };
        Tensor::from_parts(crate::tensor::shape::copy_shape(shape), out)
    }

    /// Sums over the axes along which `shape` was broadcast to this tensor's shape: the reduction
    /// that undoes [`broadcast_to`](Self::broadcast_to). The result has shape `shape`.
    ///
    /// # Panics
    /// If `shape` does not broadcast to this tensor's shape.
    #[track_caller]
    pub fn sum_to(&self, shape: &[usize]) -> Tensor<T> {
        assert!(
            broadcasts_to(shape, &self.shape),
            "sum_to: shape {:?} cannot be summed to {:?} (it must broadcast back to the input)",
            self.shape.as_slice(),
            shape
        );
        if self.shape.as_slice() == shape {
            return self.clone();
        }
        if self.numel() == numel(shape) {
            return self.reshape(shape);
        }
        if numel(shape) == 1 {
            let total = super::reduce::sum_all(self.data());
            return Tensor::from_scalar_parts(crate::tensor::shape::copy_shape(shape), total);
        }
        if let Some(width) = leading_sum_width(&self.shape, shape) {
            return self.sum_rows(width, shape);
        }
        let so = broadcast_strides(shape, &self.shape);
        let si = contiguous_strides(&self.shape);
        let mut out = zeroed(numel(shape));
        let buf = unique_mut(&mut out);
        let d = self.data();
        for_each_run(&self.shape, [&si, &so], |[oi, oo], [_, io], len| {
            let x = &d[oi..oi + len];
            if io == 0 {
                buf[oo] += x.iter().copied().sum::<T>();
            } else {
                buf[oo..oo + len]
                    .iter_mut()
                    .zip(x)
                    .for_each(|(o, &x)| *o += x);
            }
        });
        Tensor::from_parts(crate::tensor::shape::copy_shape(shape), out)
    }

    /// The sum of this tensor's consecutive rows of `width` elements (a bias gradient: `[N, C]`
    /// summed to `[C]`), as `shape`: the first row copied, then each next one added, one
    /// vectorised pass (the general strided loop took 4-6 instructions an element).
    fn sum_rows(&self, width: usize, shape: &[usize]) -> Tensor<T> {
        let d = self.data();
        let mut out = copied(&d[..width]);
        let acc = unique_mut(&mut out);
        crate::vectorized(
            #[inline(always)]
            || {
                for row in d[width..].chunks_exact(width) {
                    acc.iter_mut().zip(row).for_each(|(a, &x)| *a += x);
                }
            },
        );
        Tensor::from_parts(crate::tensor::shape::copy_shape(shape), out)
    }

    /// Copies the elements into the axis order `perm` (output axis `i` is input axis `perm[i]`).
    #[track_caller]
    pub fn permute(&self, perm: &[usize]) -> Tensor<T> {
        let rank = self.ndim();
        let mut seen = vec![false; rank];
        assert!(
            perm.len() == rank
                && perm
                    .iter()
                    .all(|&p| p < rank && !std::mem::replace(&mut seen[p], true)),
            "permute: {perm:?} is not a permutation of the axes of a tensor of shape {:?}",
            self.shape.as_slice()
        );
        let own = contiguous_strides(&self.shape);
        let out_shape: Shape = perm.iter().map(|&p| self.shape[p]).collect();
        let si: Shape = perm.iter().map(|&p| own[p]).collect();
        let d = self.data();
        // The runs come in the output's order: written front to back, no zero pass first.
        let out = fresh(self.numel(), |out| {
            for_each_run(&out_shape, [&si], |[oi], [ii], len| {
                out.extend(len, (0..len).map(|k| d[oi + k * ii]))
            })
        });
        Tensor::from_parts(out_shape, out)
    }

    /// Eager matrix product on the last two axes with broadcast batch axes (no tape involved).
    ///
    /// # Panics
    /// As [`Var::matmul`](crate::Var::matmul).
    #[track_caller]
    pub fn matmul(&self, other: &Tensor<T>) -> Tensor<T> {
        batched_matmul(self, other, false, false)
    }

    /// Splits the shape around `axis` into `(outer, len, inner)`: the tensor is an
    /// `outer x len x inner` block, and lane `(o, i)` starts at `o * len * inner + i` with stride
    /// `inner`.
    pub(crate) fn lanes(&self, axis: usize) -> (usize, usize, usize) {
        let outer = numel(&self.shape[..axis]);
        let inner = numel(&self.shape[axis + 1..]);
        (outer, self.shape[axis], inner)
    }
}

/// Products with fewer multiply-adds (`m k n`) than this (about a million: `n = 102` for a
/// square product) stay on the calling thread. Larger ones are split across the spinning helpers
/// of `hot_pool.rs`, which cost a hand-off of about a microsecond (W2's two 6.4 M products and
/// W4's 2.1 M ones gain; 2^19 and 2^21 measured the same as 2^20). With rayon's sleeping workers
/// the threshold had to be 2^23: a wake-up cost tens of microseconds.
pub const GEMM_PARALLEL_MKN: usize = 1 << 20;

/// `Some(width)` when summing shape `from` to `to` (which broadcasts to it) adds up whole
/// consecutive rows of `width` elements: `to` is `from` with leading axes removed or set to 1.
fn leading_sum_width(from: &[usize], to: &[usize]) -> Option<usize> {
    let pad = from.len() - to.len();
    let len_at = |i: usize| if i < pad { 1 } else { to[i - pad] };
    // The kept axes: the longest suffix on which `to` equals `from`.
    let k = (0..=from.len())
        .rev()
        .take_while(|&k| k == from.len() || len_at(k) == from[k])
        .last()
        .unwrap_or(from.len());
    let width = numel(&from[k..]);
    // No rows (a zero-length leading axis): the general loop's zeros.
    let rows = numel(&from[..k]);
    ((0..k).all(|i| len_at(i) == 1) && width > 0 && rows > 0).then_some(width)
}

/// `C = A B` into the row-major `m x n` buffer `c` (uninitialised is fine; all of it is
/// written), or with `start` = `(S, stride)` `C = S + A B`, S an `m x n` matrix whose rows are
/// `stride` apart (stride 0: one row on every row, a bias). Large products are split by rows of
/// C across rayon's pool, one block of rows per thread (each block a multiple of 16 rows, the
/// GEMM kernel's tile), so every thread runs the single-threaded GEMM on its own rows: no shared
/// packing buffers, no locks. Per block, in order: the dot-product kernel (few rows, `x W^T`),
/// the blocked packed kernel (f32 on AVX2 CPUs, `packed/blocked.rs`; it loads S where it would
/// load zeros), else `matrixmultiply`; on the paths other than the blocked one each block adds
/// S to its rows right after its product, on the thread that wrote them.
pub(super) fn gemm_into<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: (&[T], isize, isize),
    b: (&[T], isize, isize),
    c: &mut [MaybeUninit<T>],
    start: Option<(&[T], usize)>,
) {
    if super::packed::try_small_gemm(m, k, n, a, b, c) {
        if let Some(s) = start {
            // SAFETY: the product wrote all of C.
            add_rows(unsafe { assume_init_mut(c) }, n, s);
        }
        return;
    }
    let (data, ars, acs) = a;
    let c_rows = RowsPtr(c.as_mut_ptr());
    split_rows(m, k, n, &|r0, r1| {
        // SAFETY: `split_rows` hands out disjoint row ranges of the m x n output.
        let c = unsafe { c_rows.rows(r0, r1, n) };
        let a = (&data[r0 * ars as usize..], ars, acs);
        let start = start.map(|(s, stride)| (&s[r0 * stride..], stride));
        // Per block: a thread's rows may be few enough for the dot products.
        let mut started = false;
        if !super::dot_gemm::try_gemm_nt(r1 - r0, k, n, a, b, c) {
            started = super::packed::try_blocked_gemm(r1 - r0, k, n, a, b, c, start);
            if !started {
                T::gemm_uninit(r1 - r0, k, n, a, b, c);
            }
        }
        if let (false, Some(s)) = (started, start) {
            // SAFETY: the product wrote all of this block.
            add_rows(unsafe { assume_init_mut(c) }, n, s);
        }
    });
}

/// `c`, all of whose elements are written, as initialised values.
///
/// # Safety
/// Every element of `c` must be initialised.
unsafe fn assume_init_mut<T>(c: &mut [MaybeUninit<T>]) -> &mut [T] {
    // SAFETY: `MaybeUninit<T>` has `T`'s layout, and every element is initialised (contract).
    unsafe { &mut *(c as *mut [MaybeUninit<T>] as *mut [T]) }
}

/// Adds S (`(values, stride)`: row `r` at `r stride`, stride 0 for one row on every row) onto
/// the rows of `n` values of `out`.
///
/// # Panics
/// If S has fewer rows or values than `out` needs.
pub(super) fn add_rows<T: Float>(out: &mut [T], n: usize, (s, stride): (&[T], usize)) {
    crate::vectorized(
        #[inline(always)]
        || {
            for (r, row) in out.chunks_mut(n).enumerate() {
                let s = &s[r * stride..][..n];
                row.iter_mut().zip(s).for_each(|(y, &b)| *y += b);
            }
        },
    )
}

/// Calls `block(start, end)` for ranges covering `0..n` elements, one per thread (each a
/// multiple of 64 elements), on the calling thread and the helpers of `hot_pool.rs`.
pub(crate) fn split_elements(n: usize, block: &(dyn Fn(usize, usize) + Sync)) {
    let threads = crate::hot_pool::width();
    let per = n.div_ceil(threads).next_multiple_of(64).max(64);
    let blocks = n.div_ceil(per);
    crate::hot_pool::run_blocks(blocks, &|i| block(i * per, ((i + 1) * per).min(n)));
}

/// The output rows of a product, shared by the threads that each write their own rows.
#[derive(Clone, Copy)]
pub(crate) struct RowsPtr<E>(*mut E);

// SAFETY: each thread writes only the rows `split_rows` gave it.
unsafe impl<E> Sync for RowsPtr<E> {}

impl<E> RowsPtr<E> {
    pub(crate) fn new(p: *mut E) -> Self {
        RowsPtr(p)
    }

    /// The start of the buffer.
    pub(crate) fn ptr(&self) -> *mut E {
        self.0
    }

    /// Rows `r0..r1` of an `n`-column row-major buffer.
    ///
    /// # Safety
    /// The rows must lie in the buffer and no other live slice may overlap them.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn rows(&self, r0: usize, r1: usize, n: usize) -> &mut [E] {
        unsafe { std::slice::from_raw_parts_mut(self.0.add(r0 * n), (r1 - r0) * n) }
    }
}

/// Calls `block(r0, r1)` for row ranges covering `0..m` of an `m x n` product with inner
/// dimension `k`: one range on this thread when the product is small (or one thread is set),
/// otherwise one range per thread, each a multiple of 16 rows (the GEMM kernel's tile), run
/// by the calling thread and the spinning helpers of `hot_pool.rs`.
pub(crate) fn split_rows(m: usize, k: usize, n: usize, block: &(dyn Fn(usize, usize) + Sync)) {
    let threads = crate::hot_pool::width();
    if m * k * n < GEMM_PARALLEL_MKN || m < 32 || threads < 2 {
        block(0, m);
        return;
    }
    let rows = m.div_ceil(threads).next_multiple_of(16);
    let blocks = m.div_ceil(rows);
    crate::hot_pool::run_blocks(blocks, &|i| block(i * rows, ((i + 1) * rows).min(m)));
}

/// The fewest rows [`split_batch`] splits: one 8-row tile of the packed kernel per thread.
pub(crate) const BATCH_SPLIT_ROWS: usize = 16;

/// Calls `block(r0, r1)` for row ranges covering `0..rows` of a batch: with more than one
/// thread and at least [`BATCH_SPLIT_ROWS`] rows, one contiguous range per thread (a multiple of
/// 8 rows; the first on the calling thread, the others on the helpers of `hot_pool.rs`), else
/// one range here. The caller decides whether the work is worth a split.
///
/// Why one partition for many ops: the ops of a recurrent step (its products, the bias added
/// onto them, the gate math, and their backward) all split their rows this way, so each thread
/// reads the rows it wrote itself the op before. Split some other way, every op pulled the
/// other core's rows across (about 9 us for a `[32, 512]` f32 tensor on the machine of
/// `docs/performance.md`), as long as the work it shared.
pub(crate) fn split_batch(rows: usize, block: &(dyn Fn(usize, usize) + Sync)) {
    let threads = crate::hot_pool::width();
    if threads < 2 || rows < BATCH_SPLIT_ROWS {
        block(0, rows);
        return;
    }
    let per = rows.div_ceil(threads).next_multiple_of(8);
    crate::hot_pool::run_blocks(rows.div_ceil(per), &|i| {
        block(i * per, ((i + 1) * per).min(rows))
    });
}

/// `C = A B` where B is the view `(brs, bcs)` of `b`'s elements: through the packed-operand
/// path when it applies (a weight multiplied again and again against few rows, `packed.rs`),
/// otherwise [`gemm_into`].
fn gemm_reused_rhs<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: (&[T], isize, isize),
    b: &Tensor<T>,
    (brs, bcs): (isize, isize),
    c: &mut [MaybeUninit<T>],
) {
    if let Some(buffer) = b.shared_buffer()
        && super::packed::try_gemm(m, k, n, a, buffer, (brs, bcs), c, None)
    {
        return;
    }
    gemm_into(m, k, n, a, (b.data(), brs, bcs), c, None);
}

/// Batched matrix product on the last two axes with broadcast batch axes:
/// `C[..] = op(A[..]) op(B[..])` where `op` transposes when the flag is set.
/// Panics (naming `matmul` and both shapes) on inner-dimension or batch mismatches.
#[track_caller]
pub(crate) fn batched_matmul<T: Float>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    ta: bool,
    tb: bool,
) -> Tensor<T> {
    let (sa, sb) = (a.shape(), b.shape());
    #[track_caller]
    fn fail(what: &str, sa: &[usize], sb: &[usize], ta: bool, tb: bool) -> ! {
        let t = |flag: bool| if flag { "^T" } else { "" };
        panic!("matmul: {what}: lhs {sa:?}{} vs rhs {sb:?}{}", t(ta), t(tb))
    }
    if sa.len() < 2 || sb.len() < 2 {
        fail("both operands need at least 2 dimensions", sa, sb, ta, tb);
    }
    let (ra, rb) = (sa.len(), sb.len());
    let (m, ka) = if ta {
        (sa[ra - 1], sa[ra - 2])
    } else {
        (sa[ra - 2], sa[ra - 1])
    };
    let (kb, n) = if tb {
        (sb[rb - 1], sb[rb - 2])
    } else {
        (sb[rb - 2], sb[rb - 1])
    };
    if ka != kb {
        fail("inner dimensions differ", sa, sb, ta, tb);
    }
    let k = ka;
    let Some(batch) = broadcast_shapes(&sa[..ra - 2], &sb[..rb - 2]) else {
        fail("batch dimensions do not broadcast", sa, sb, ta, tb)
    };
    let nbatch = numel(&batch);
    let mut out_shape = batch.clone();
    out_shape.extend_from_slice(&[m, n]);
    // Strides of the last two axes of each stored operand, swapped for a transposed use.
    let (ars, acs) = (sa[ra - 1] as isize, 1isize);
    let (ars, acs) = if ta { (acs, ars) } else { (ars, acs) };
    let (brs, bcs) = (sb[rb - 1] as isize, 1isize);
    let (brs, bcs) = if tb { (bcs, brs) } else { (brs, bcs) };
    let (amat, bmat) = (m * k, k * n);
    // SAFETY: every batch block `[pc, pc + m n)` of the `nbatch * m * n` buffer is written by
    // `gemm_into` (the blocks tile the buffer: `oo` runs over all batch indices), and
    // `gemm_into` initialises all of its `m x n` output.
    let out = unsafe {
        written_by(nbatch * m * n, |c| {
            if nbatch == 1 {
                gemm_reused_rhs(m, k, n, (a.data(), ars, acs), b, (brs, bcs), c);
                return;
            }
            let ba = broadcast_strides(&sa[..ra - 2], &batch);
            let bb = broadcast_strides(&sb[..rb - 2], &batch);
            let bo = contiguous_strides(&batch);
            for_each_run(
                &batch,
                [&ba, &bb, &bo],
                |[oa, ob, oo], [ia, ib, io], len| {
                    for j in 0..len {
                        let (pa, pb, pc) = (
                            (oa + j * ia) * amat,
                            (ob + j * ib) * bmat,
                            (oo + j * io) * m * n,
                        );
                        gemm_into(
                            m,
                            k,
                            n,
                            (&a.data()[pa..pa + amat], ars, acs),
                            (&b.data()[pb..pb + bmat], brs, bcs),
                            &mut c[pc..pc + m * n],
                            None,
                        );
                    }
                },
            );
        })
    };
    Tensor::from_parts(out_shape, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64], s: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(v.to_vec(), s).expect("the data fits the shape")
    }

    /// `op(A) op(B)` by the textbook triple loop, for `[m, k]` / `[k, n]` after transposition.
    fn naive(a: &Tensor<f64>, b: &Tensor<f64>, ta: bool, tb: bool) -> Vec<f64> {
        let (sa, sb) = (a.shape(), b.shape());
        let (m, k) = if ta { (sa[1], sa[0]) } else { (sa[0], sa[1]) };
        let n = if tb { sb[0] } else { sb[1] };
        let at = |i: usize, p: usize| if ta { a.get(&[p, i]) } else { a.get(&[i, p]) };
        let bt = |p: usize, j: usize| if tb { b.get(&[j, p]) } else { b.get(&[p, j]) };
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
            }
        }
        c
    }

    #[test]
    fn products_split_across_threads_equal_the_triple_loop() {
        // m k n above GEMM_PARALLEL_MKN, m not a multiple of the 16-row blocks, every
        // transposition: each block of rows must land in its place in the uninitialised output.
        let (m, k, n) = (250, 260, 170);
        assert!(m * k * n >= GEMM_PARALLEL_MKN);
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = Tensor::<f64>::randn(&if ta { [k, m] } else { [m, k] }, 1);
            let b = Tensor::<f64>::randn(&if tb { [n, k] } else { [k, n] }, 2);
            let c = batched_matmul(&a, &b, ta, tb);
            assert_eq!(c.shape(), &[m, n]);
            let want = naive(&a, &b, ta, tb);
            for (i, (x, y)) in c.data().iter().zip(&want).enumerate() {
                assert!(
                    (x - y).abs() <= 1e-10 * (1.0 + y.abs()),
                    "({ta}, {tb}) [{i}]: {x} vs {y}"
                );
            }
        }
    }

    #[test]
    fn empty_inner_dimension_gives_zeros_not_uninitialised_memory() {
        let a = Tensor::<f64>::zeros(&[3, 0]);
        let b = Tensor::<f64>::zeros(&[0, 4]);
        let c = batched_matmul(&a, &b, false, false);
        assert_eq!(c.shape(), &[3, 4]);
        assert_eq!(c.to_vec(), vec![0.0; 12]);
    }

    #[test]
    fn zip_broadcasts_rows_and_columns() {
        let a = t(&[1., 2., 3.], &[3, 1]);
        let b = t(&[10., 20.], &[2]);
        let c = a.zip_map(&b, "add", |x, y| x + y);
        assert_eq!(c.shape(), &[3, 2]);
        assert_eq!(c.to_vec(), vec![11., 21., 12., 22., 13., 23.]);
    }

    #[test]
    fn sum_to_over_leading_axes_adds_rows() {
        // [2, 2, 3] to [3], [1, 1, 3], [2, 3] ([2, 1, 3] is not whole rows: the general loop)
        let x = t(&(1..=12).map(f64::from).collect::<Vec<_>>(), &[2, 2, 3]);
        assert_eq!(leading_sum_width(&[2, 2, 3], &[3]), Some(3));
        assert_eq!(leading_sum_width(&[2, 2, 3], &[1, 1, 3]), Some(3));
        assert_eq!(leading_sum_width(&[2, 2, 3], &[2, 3]), Some(6));
        assert_eq!(leading_sum_width(&[2, 2, 3], &[2, 1, 3]), None);
        assert_eq!(leading_sum_width(&[2, 2, 3], &[2, 2, 1]), None);
        assert_eq!(leading_sum_width(&[4, 0], &[0]), None);
        assert_eq!(leading_sum_width(&[0, 3], &[3]), None);
        assert_eq!(
            Tensor::<f64>::zeros(&[0, 3]).sum_to(&[3]).to_vec(),
            vec![0.0; 3]
        );
        assert_eq!(x.sum_to(&[3]).to_vec(), vec![22., 26., 30.]);
        assert_eq!(x.sum_to(&[1, 1, 3]).shape(), &[1, 1, 3]);
        assert_eq!(x.sum_to(&[1, 1, 3]).to_vec(), vec![22., 26., 30.]);
        assert_eq!(
            x.sum_to(&[2, 3]).to_vec(),
            vec![8., 10., 12., 14., 16., 18.]
        );
        assert_eq!(
            x.sum_to(&[2, 1, 3]).to_vec(),
            vec![5., 7., 9., 17., 19., 21.]
        );
        // Long rows, many of them, against the general loop's order of addition.
        let y = Tensor::<f32>::randn(&[37, 300], 5);
        let rows = y.sum_to(&[300]);
        for j in [0, 151, 299] {
            let want: f32 = (0..37).map(|i| y.get(&[i, j])).sum();
            assert_eq!(rows.get(&[j]), want, "column {j}");
        }
    }

    #[test]
    fn sum_to_undoes_broadcast() {
        let x = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
        assert_eq!(x.sum_to(&[3]).to_vec(), vec![5., 7., 9.]);
        assert_eq!(x.sum_to(&[2, 1]).to_vec(), vec![6., 15.]);
        assert_eq!(x.sum_to(&[]).to_vec(), vec![21.]);
        assert_eq!(
            t(&[1., 2.], &[2, 1]).broadcast_to(&[2, 3]).to_vec(),
            vec![1., 1., 1., 2., 2., 2.]
        );
    }

    #[test]
    fn large_maps_match_serial() {
        let x = Tensor::<f64>::randn(&[PARALLEL_THRESHOLD + 77], 3);
        let y = x.map(|v| v * 2.0);
        assert!(x.data().iter().zip(y.data()).all(|(a, b)| *b == 2.0 * a));
        let z = x.zip_map(&y, "add", |a, b| a + b);
        assert!(x.data().iter().zip(z.data()).all(|(a, b)| *b == 3.0 * a));
    }

    #[test]
    fn large_broadcasts_zips_and_permutes_write_every_element_in_place() {
        // [300, 131] = 39,300 elements: the one-value broadcast splits across threads, into a
        // recycled buffer of NaNs (every element must be overwritten).
        let (m, n) = (300, 131);
        drop(Tensor::<f64>::full(&[m, n], f64::NAN));
        let all = t(&[2.5], &[1, 1]).broadcast_to(&[m, n]);
        assert!(all.data().iter().all(|&v| v == 2.5));
        let col = Tensor::<f64>::from_vec((0..m).map(|i| i as f64).collect(), &[m, 1])
            .expect("m values for [m, 1]");
        let row = Tensor::<f64>::from_vec((0..n).map(|j| j as f64 * 1e-3).collect(), &[1, n])
            .expect("n values for [1, n]");
        let wide = col.broadcast_to(&[m, n]);
        let sum = col.zip_map(&row, "add", |a, b| a + b);
        for i in 0..m {
            for j in 0..n {
                assert_eq!(wide.get(&[i, j]), i as f64, "broadcast [{i}, {j}]");
                assert_eq!(
                    sum.get(&[i, j]),
                    i as f64 + j as f64 * 1e-3,
                    "zip [{i}, {j}]"
                );
            }
        }
        let x = Tensor::<f64>::from_vec((0..60).map(f64::from).collect(), &[3, 4, 5])
            .expect("60 values for [3, 4, 5]");
        let p = x.permute(&[2, 0, 1]);
        assert_eq!(p.shape(), &[5, 3, 4]);
        for (c, a, b) in
            (0..5).flat_map(|c| (0..3).flat_map(move |a| (0..4).map(move |b| (c, a, b))))
        {
            assert_eq!(
                p.get(&[c, a, b]),
                x.get(&[a, b, c]),
                "permute [{c}, {a}, {b}]"
            );
        }
    }

    #[test]
    fn permute_moves_axes() {
        let x = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
        let y = x.permute(&[1, 0]);
        assert_eq!(y.shape(), &[3, 2]);
        assert_eq!(y.to_vec(), vec![1., 4., 2., 5., 3., 6.]);
    }

    #[test]
    fn matmul_with_transposes_and_batches() {
        let a = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
        let b = t(&[1., 0., 0., 1., 1., 1.], &[3, 2]);
        assert_eq!(
            batched_matmul(&a, &b, false, false).to_vec(),
            vec![4., 5., 10., 11.]
        );
        // a^T (3x2) @ a (2x3)
        let ata = batched_matmul(&a, &a, true, false);
        assert_eq!(ata.shape(), &[3, 3]);
        assert_eq!(ata.get(&[0, 0]), 17.);
        // batch broadcast: [2,2,3] @ [3,2]
        let a2 = t(
            &[1., 2., 3., 4., 5., 6., 1., 2., 3., 4., 5., 6.],
            &[2, 2, 3],
        );
        let c = batched_matmul(&a2, &b, false, false);
        assert_eq!(c.shape(), &[2, 2, 2]);
        assert_eq!(c.to_vec(), vec![4., 5., 10., 11., 4., 5., 10., 11.]);
    }

    #[test]
    #[should_panic(expected = "matmul: inner dimensions differ: lhs [32, 784] vs rhs [128, 10]")]
    fn matmul_mismatch_names_shapes() {
        batched_matmul(
            &Tensor::<f32>::zeros(&[32, 784]),
            &Tensor::zeros(&[128, 10]),
            false,
            false,
        );
    }
}
