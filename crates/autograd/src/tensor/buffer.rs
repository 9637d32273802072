//! Fresh buffers for the kernels: recycled from this thread's cache (`pool.rs`) when one of the
//! right length is there, otherwise newly allocated, and written once: zeroed or filled where the
//! kernel needs that, or written front to back by the kernel itself ([`fresh`]) with no fill.

use std::mem::MaybeUninit;

use super::buf::Buf;
use crate::Float;

/// A fresh zeroed buffer, for kernels that add into it or write only part of it (a kernel that
/// writes every element uses [`fresh`] instead and skips the zero pass).
pub(crate) fn zeroed<T: Float>(n: usize) -> Buf<T> {
    filled(n, T::ZERO)
}

/// A fresh buffer of `n` elements written front to back by `fill` through a [`Filler`], with no
/// zero pass before it (removing the zero fills of buffers that were then overwritten took 2-4 %
/// off an LSTM training step).
///
/// # Panics
/// If `fill` does not write exactly `n` elements (a bug in the kernel).
#[track_caller]
pub(crate) fn fresh<T: Float>(n: usize, fill: impl FnOnce(&mut Filler<'_, T>)) -> Buf<T> {
    // SAFETY: elements `..filler.done` are written (a `Filler` counts only what it wrote, even
    // if a kernel catches a panic of `extend` and goes on), and the assert stops before
    // `written_by` returns unless that is all `n` of them.
    unsafe {
        written_by(n, |buf| {
            let mut filler = Filler { buf, done: 0 };
            fill(&mut filler);
            filler.check_full();
        })
    }
}

/// Write-only access to a fresh buffer, front to back: what [`fresh`] hands its kernel.
pub(crate) struct Filler<'a, T> {
    buf: &'a mut [MaybeUninit<T>],
    /// Elements `..done` are written.
    done: usize,
}

impl<T: Float> Filler<'_, T> {
    /// Writes the next `len` elements from `values`.
    ///
    /// # Panics
    /// If fewer than `len` elements are left, or `values` yields fewer than `len` values.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn extend(&mut self, len: usize, values: impl Iterator<Item = T>) {
        let head = &mut self.buf[self.done..][..len];
        // Counted, not trusted: an iterator that ends early must not leave elements unwritten.
        let written = head.iter_mut().zip(values).fold(0, |k, (o, v)| {
            o.write(v);
            k + 1
        });
        self.done += written;
        assert!(
            written == len,
            "internal: {written} values for {len} elements"
        );
    }

    /// Writes the next `len` elements of `self` and of `other` from the pairs of `values` (two
    /// outputs of one pass, such as a value and its derivative).
    ///
    /// # Panics
    /// If either has fewer than `len` elements left, or `values` yields fewer than `len` pairs.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn extend_pair(
        &mut self,
        other: &mut Filler<'_, T>,
        len: usize,
        values: impl Iterator<Item = (T, T)>,
    ) {
        let head = &mut self.buf[self.done..][..len];
        let other_head = &mut other.buf[other.done..][..len];
        let written = head
            .iter_mut()
            .zip(other_head)
            .zip(values)
            .fold(0, |k, ((o, p), (v, w))| {
                o.write(v);
                p.write(w);
                k + 1
            });
        self.done += written;
        other.done += written;
        assert!(
            written == len,
            "internal: {written} values for {len} elements"
        );
    }

    /// Writes a copy of `src` into the next `src.len()` elements.
    ///
    /// # Panics
    /// If fewer than `src.len()` elements are left.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn copy(&mut self, src: &[T]) {
        let head = &mut self.buf[self.done..][..src.len()];
        // SAFETY: `head` is `src.len()` elements long (the slicing panics otherwise),
        // `MaybeUninit<T>` has `T`'s layout, and a fresh buffer cannot overlap `src`.
        // (`write_copy_of_slice` needs Rust 1.93.)
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), head.as_mut_ptr().cast::<T>(), src.len())
        };
        self.done += src.len();
    }
}

/// As [`fresh`] for a `[rows, width]` buffer, by row ranges: `fill(out, r0, r1)` writes rows
/// `r0..r1` front to back through `out`; with `split` the ranges are those of
/// `kernels::split_batch` (one per thread), else `0..rows` on this thread.
///
/// # Panics
/// If `fill` does not write exactly its rows' elements (a bug in the kernel).
#[track_caller]
pub(crate) fn fresh_rows<T: Float>(
    rows: usize,
    width: usize,
    split: bool,
    fill: &(dyn Fn(&mut Filler<'_, T>, usize, usize) + Sync),
) -> Buf<T> {
    fresh_in_ranges(rows, width, Ranges::batch_if(split), fill)
}

/// As [`fresh`], written by ranges of elements: from
/// [`PARALLEL_THRESHOLD`](super::kernels::PARALLEL_THRESHOLD) elements one range per thread
/// (`kernels::split_elements`), each thread writing its own part of the fresh buffer (no zero
/// pass on the caller first), else `0..n` here. `fill(out, s, e)` writes elements `s..e`
/// front to back through `out`.
///
/// # Panics
/// If `fill` does not write exactly its range's elements (a bug in the kernel).
#[track_caller]
pub(crate) fn fresh_split<T: Float>(
    n: usize,
    fill: &(dyn Fn(&mut Filler<'_, T>, usize, usize) + Sync),
) -> Buf<T> {
    let ranges = if n >= super::kernels::PARALLEL_THRESHOLD {
        Ranges::Elements
    } else {
        Ranges::Here
    };
    fresh_in_ranges(n, 1, ranges, fill)
}

/// How the rows of fresh buffers are shared between threads.
#[derive(Clone, Copy)]
enum Ranges {
    /// All rows on this thread.
    Here,
    /// By batch rows (`kernels::split_batch`).
    Batch,
    /// By ranges of elements (`kernels::split_elements`), rows of one element.
    Elements,
}

impl Ranges {
    /// By batch rows with `split`, else here.
    fn batch_if(split: bool) -> Self {
        if split { Ranges::Batch } else { Ranges::Here }
    }

    /// Calls `block(r0, r1)` on ranges covering `0..rows`.
    fn run(self, rows: usize, block: &(dyn Fn(usize, usize) + Sync)) {
        match self {
            Ranges::Here => block(0, rows),
            Ranges::Batch => super::kernels::split_batch(rows, block),
            Ranges::Elements => super::kernels::split_elements(rows, block),
        }
    }
}

/// [`fresh_rows`] and [`fresh_split`]: a `[rows, width]` buffer written by `fill` over the row
/// ranges of `ranges`.
#[track_caller]
fn fresh_in_ranges<T: Float>(
    rows: usize,
    width: usize,
    ranges: Ranges,
    fill: &(dyn Fn(&mut Filler<'_, T>, usize, usize) + Sync),
) -> Buf<T> {
    // SAFETY: each range's filler writes all of its `(r1 - r0) width` elements or panics
    // (`check_full`), the ranges cover `0..rows`, and a panic in any range reaches the caller
    // before `written_by` returns, so every element is written when it does.
    unsafe {
        written_by(rows * width, |buf| {
            let start = super::kernels::RowsPtr::new(buf.as_mut_ptr());
            ranges.run(rows, &|r0, r1| {
                // SAFETY: the ranges are disjoint rows of the `rows x width` buffer, borrowed
                // mutably for this call.
                let mut out = Filler {
                    buf: start.rows(r0, r1, width),
                    done: 0,
                };
                fill(&mut out, r0, r1);
                out.check_full();
            })
        })
    }
}

/// What [`fresh_rows_pair`] calls for each range of rows: `fill(a, b, r0, r1)`.
pub(crate) type PairFill<'f, T> =
    dyn Fn(&mut Filler<'_, T>, &mut Filler<'_, T>, usize, usize) + Sync + 'f;

/// As [`fresh_rows`] for two buffers with the same rows, `[rows, widths.0]` and
/// `[rows, widths.1]`, written in one pass: `fill(a, b, r0, r1)` writes rows `r0..r1` of both.
///
/// # Panics
/// If `fill` does not write exactly its rows' elements of both (a bug in the kernel).
#[track_caller]
pub(crate) fn fresh_rows_pair<T: Float>(
    rows: usize,
    (wa, wb): (usize, usize),
    split: bool,
    fill: &PairFill<'_, T>,
) -> (Buf<T>, Buf<T>) {
    let mut second = None;
    // SAFETY: as in `fresh_in_ranges`, for each buffer: every range writes all of its rows of
    // both or panics, and the ranges cover `0..rows`.
    let first = unsafe {
        written_by(rows * wa, |a| {
            let a = super::kernels::RowsPtr::new(a.as_mut_ptr());
            second = Some(written_by(rows * wb, |b| {
                let b = super::kernels::RowsPtr::new(b.as_mut_ptr());
                Ranges::batch_if(split).run(rows, &|r0, r1| {
                    // SAFETY: the ranges are disjoint rows of the two buffers, borrowed
                    // mutably for this call.
                    let (mut a, mut b) = (
                        Filler {
                            buf: a.rows(r0, r1, wa),
                            done: 0,
                        },
                        Filler {
                            buf: b.rows(r0, r1, wb),
                            done: 0,
                        },
                    );
                    fill(&mut a, &mut b, r0, r1);
                    a.check_full();
                    b.check_full();
                })
            }));
        })
    };
    (first, second.expect("written_by calls its closure"))
}

impl<T> Filler<'_, T> {
    /// Panics unless every element was written.
    #[track_caller]
    fn check_full(&self) {
        let len = self.buf.len();
        assert!(
            self.done == len,
            "internal: a kernel left {} of {len} elements unwritten",
            len - self.done
        );
    }
}

/// A fresh buffer of `n` copies of `value`: a recycled one from this thread's cache
/// (`pool.rs`) when a large buffer of that length is there, else a new allocation, written in
/// one pass (collecting `repeat_n(value, n)` into an `Arc<[T]>` writes element by element
/// through a generic path: 6 % of an LSTM step went there).
pub(crate) fn filled<T: Float>(n: usize, value: T) -> Buf<T> {
    // SAFETY: the closure writes an initialised value into every element.
    unsafe {
        written_by(n, |c| {
            for x in c {
                x.write(value);
            }
        })
    }
}

/// A fresh buffer holding a copy of `src` (recycled from the buffer cache when it has that
/// length).
pub(crate) fn copied<T: Float>(src: &[T]) -> Buf<T> {
    // SAFETY: the closure writes an initialised value into every one of `src.len()` elements.
    unsafe {
        written_by(src.len(), |c| {
            for (x, &v) in c.iter_mut().zip(src) {
                x.write(v);
            }
        })
    }
}

/// A buffer of `n` elements written entirely by `write` (a GEMM): a recycled one when the
/// cache has that length (old contents, overwritten), else a new uninitialised allocation.
///
/// # Safety
/// `write` must store an initialised value into every one of the `n` elements and must never
/// store `MaybeUninit::uninit()` (`gemm_into` over the whole buffer does both, as do `filled`
/// and `copied`).
pub(super) unsafe fn written_by<T: Float>(
    n: usize,
    write: impl FnOnce(&mut [MaybeUninit<T>]),
) -> Buf<T> {
    if let Some(mut buf) = super::pool::take::<T>(n) {
        let s: &mut [T] = unique_mut(&mut buf);
        // SAFETY: `[T]` and `[MaybeUninit<T>]` have the same layout; the slice starts fully
        // initialised and `write` (`gemm_into`) stores only initialised values, so it stays so.
        let s = unsafe { &mut *(s as *mut [T] as *mut [MaybeUninit<T>]) };
        write(s);
        return buf;
    }
    // SAFETY: the caller's `write` initialises all `n` elements (this function's contract).
    unsafe { Buf::new_written(n, write) }
}

/// Mutable access to a buffer this kernel just created.
pub(crate) fn unique_mut<T: Float>(buf: &mut Buf<T>) -> &mut [T] {
    buf.get_mut()
        .expect("internal: a freshly allocated buffer has one owner")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;

    #[test]
    fn fresh_writes_every_element_in_order_also_into_a_recycled_buffer() {
        // 2^16 f64 = 512 KiB: large enough for the buffer cache, so the second call gets the
        // stale buffer of 7s back, all of which must be overwritten.
        let n = 1 << 16;
        let src: Vec<f64> = (0..n / 2).map(|i| i as f64).collect();
        let write = |out: &mut Filler<'_, f64>| {
            out.copy(&src);
            out.extend(n / 4, src[..n / 4].iter().map(|&x| -x));
            out.extend(n / 4, std::iter::repeat_n(0.5, n / 4));
        };
        let check = |buf: &[f64]| {
            for (i, &v) in buf.iter().enumerate() {
                let want = match i {
                    i if i < n / 2 => i as f64,
                    i if i < 3 * n / 4 => -((i - n / 2) as f64),
                    _ => 0.5,
                };
                assert_eq!(v, want, "element {i}");
            }
        };
        check(&fresh(n, write));
        let stale = Tensor::<f64>::full(&[n], 7.0);
        let p = stale.data().as_ptr();
        drop(stale);
        let recycled = fresh(n, write);
        assert_eq!(recycled.as_ptr(), p, "the cached buffer was not reused");
        check(&recycled);
    }

    #[test]
    fn fresh_rows_pair_writes_every_row_of_both_on_every_thread() {
        // 100 rows: split across the threads when there are two (`split_batch`), and once not.
        for split in [true, false] {
            let (a, b) = fresh_rows_pair::<f64>(100, (3, 2), split, &|a, b, r0, r1| {
                for r in r0..r1 {
                    a.extend(1, std::iter::once(r as f64));
                    let pairs = (1..3).map(|j| ((r * 10 + j) as f64, -((r * 10 + j) as f64)));
                    a.extend_pair(b, 2, pairs);
                }
            });
            for r in 0..100 {
                let (row_a, row_b) = (&a[r * 3..][..3], &b[r * 2..][..2]);
                let j = |j: usize| (r * 10 + j) as f64;
                assert_eq!(row_a, [r as f64, j(1), j(2)], "split {split}: row {r} of a");
                assert_eq!(row_b, [-j(1), -j(2)], "split {split}: row {r} of b");
            }
        }
    }

    #[test]
    #[should_panic(expected = "internal: a kernel left 1 of 2 elements unwritten")]
    fn fresh_rows_pair_panics_when_the_second_buffer_is_left_short() {
        let _ = fresh_rows_pair::<f32>(1, (1, 2), false, &|a, b, _, _| {
            a.extend_pair(b, 1, std::iter::once((1.0, 2.0)));
        });
    }

    #[test]
    #[should_panic(expected = "internal: a kernel left 2 of 5 elements unwritten")]
    fn fresh_panics_when_a_kernel_leaves_elements_unwritten() {
        let _ = fresh::<f32>(5, |out| out.copy(&[1.0, 2.0, 3.0]));
    }

    #[test]
    #[should_panic(expected = "internal: 3 values for 4 elements")]
    fn extend_panics_when_the_values_run_out() {
        let _ = fresh::<f32>(4, |out| out.extend(4, [1.0, 2.0, 3.0].into_iter()));
    }

    #[test]
    #[should_panic(expected = "internal: a kernel left 2 of 4 elements unwritten")]
    fn a_short_write_caught_by_the_kernel_still_counts_as_unwritten() {
        let _ = fresh::<f32>(4, |out| {
            let short = std::panic::AssertUnwindSafe(|| out.extend(4, [1.0, 2.0].into_iter()));
            assert!(std::panic::catch_unwind(short).is_err());
        });
    }

    #[test]
    #[should_panic]
    fn writing_past_the_end_panics() {
        let _ = fresh::<f32>(2, |out| out.copy(&[1.0, 2.0, 3.0]));
    }
}
