//! [`Buf`]: a tensor's shared buffer, its elements starting on a 64-byte boundary when it is
//! large.
//!
//! Why: an `Arc<[T]>` keeps its elements 16 bytes after the allocator's pointer, so a large
//! buffer (mmapped, page-aligned) starts 32 bytes past a cache line, and one from the heap at
//! any multiple of 16: every 64-byte load of an AVX-512 kernel then spans two cache lines, and
//! where a buffer lands depended on what the process allocated before. Measured with a global
//! allocator placing large buffers (`docs/performance.md`, sixteenth round): aligned, an
//! AVX-512 LSTM step (W4) took 5-7 % less time, and an MLP step with AVX2 (W2) up to 7 % less
//! than with its buffers 16 bytes past a line. Here the `Arc<[T]>` has a few elements of slack
//! and the buffer's elements are the aligned run inside it.

use std::mem::MaybeUninit;
use std::ops::Deref;
use std::sync::{Arc, Weak};

use crate::Float;

/// Buffers of at least this many bytes start on a cache line (smaller ones as the allocator
/// places them: the slack is not worth it).
const ALIGNED_BYTES: usize = 1024;

/// The boundary their elements start on.
const LINE: usize = 64;

/// The elements of a shared `Arc<[T]>`: all of it for a small buffer; for one of at least
/// [`ALIGNED_BYTES`], `LINE / size_of::<T>() - 1` elements fewer, from the first one on a cache
/// line. Which of the two a buffer is follows from the `Arc`'s length alone (a large one is
/// longer than any small one by its slack), and where its elements start from the `Arc`'s
/// address, so a `Buf` is as small as the `Arc` (a tape node holds one).
pub(crate) struct Buf<T>(Arc<[T]>);

impl<T> Clone for Buf<T> {
    #[inline]
    fn clone(&self) -> Self {
        Buf(self.0.clone())
    }
}

/// `(smallest aligned length, slack)` in elements of `T`.
#[inline(always)]
const fn class<T: Float>() -> (usize, usize) {
    let size = std::mem::size_of::<T>();
    (ALIGNED_BYTES.div_ceil(size), LINE / size - 1)
}

impl<T: Float> Buf<T> {
    /// `(start, len)` of the elements within the `Arc`.
    #[inline(always)]
    fn range(&self) -> (usize, usize) {
        let (min, slack) = class::<T>();
        let total = self.0.len();
        if total < min {
            return (0, total);
        }
        // Elements are at least `size`-aligned, so the next line is `slack` elements on at most.
        let bytes = self.0.as_ptr().cast::<u8>().align_offset(LINE);
        (bytes / std::mem::size_of::<T>(), total - slack)
    }

    /// A buffer of `n` elements written entirely by `write`, its elements on a cache line when
    /// it holds at least [`ALIGNED_BYTES`] (the slack before and after them zeroed).
    ///
    /// # Safety
    /// `write` must store an initialised value into every one of the `n` elements.
    pub(crate) unsafe fn new_written(n: usize, write: impl FnOnce(&mut [MaybeUninit<T>])) -> Self {
        let (min, slack) = class::<T>();
        let slack = if n >= min { slack } else { 0 };
        let mut arc = Arc::<[T]>::new_uninit_slice(n + slack);
        let all = Arc::get_mut(&mut arc).expect("a new buffer has one owner");
        let start = if slack == 0 {
            0
        } else {
            all.as_ptr().cast::<u8>().align_offset(LINE) / std::mem::size_of::<T>()
        };
        assert!(
            start <= slack,
            "internal: a buffer's elements are not T-aligned"
        );
        // The slack is written too, so that every element of the `Arc` is initialised.
        let (before, rest) = all.split_at_mut(start);
        let (mine, after) = rest.split_at_mut(n);
        for x in before.iter_mut().chain(after) {
            x.write(T::ZERO);
        }
        write(mine);
        // SAFETY: the slack was written above and the caller's `write` initialised the `n`
        // elements in between.
        Buf(unsafe { arc.assume_init() })
    }

    /// An empty buffer (no allocation of elements).
    pub(crate) fn empty() -> Self {
        Buf(Arc::from(Vec::new()))
    }

    /// The elements, mutably, if no other `Buf` or `Weak` shares the buffer.
    #[inline]
    pub(crate) fn get_mut(&mut self) -> Option<&mut [T]> {
        let (start, len) = self.range();
        Arc::get_mut(&mut self.0).map(|all| &mut all[start..start + len])
    }

    /// Whether the two share one buffer.
    #[inline]
    pub(crate) fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }

    /// A weak reference to the whole buffer (the packed-operand cache keys on it).
    pub(crate) fn downgrade(&self) -> Weak<[T]> {
        Arc::downgrade(&self.0)
    }

    /// The address of the whole buffer, as [`Weak::as_ptr`] gives it for [`downgrade`].
    ///
    /// [`downgrade`]: Self::downgrade
    pub(crate) fn arc_ptr(&self) -> *const [T] {
        Arc::as_ptr(&self.0)
    }
}

impl<T: Float> Deref for Buf<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        let (start, len) = self.range();
        // SAFETY: `start + len <= arc.len()` (`range`: the start is within the slack).
        unsafe { self.0.get_unchecked(start..start + len) }
    }
}

impl<T: Float> FromIterator<T> for Buf<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Self::from(&iter.into_iter().collect::<Vec<T>>()[..])
    }
}

impl<T: Float> From<&[T]> for Buf<T> {
    /// A copy of `src` (on a cache line when large).
    fn from(src: &[T]) -> Self {
        // SAFETY: every element is written from `src`.
        unsafe {
            Buf::new_written(src.len(), |out| {
                for (o, &v) in out.iter_mut().zip(src) {
                    o.write(v);
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_buffers_start_on_a_cache_line_and_keep_every_value() {
        for n in [255usize, 256, 1000, 4096, 100_003] {
            for _ in 0..4 {
                // SAFETY: every element is written.
                let b = unsafe {
                    Buf::<f32>::new_written(n, |out| {
                        for (i, x) in out.iter_mut().enumerate() {
                            x.write(i as f32);
                        }
                    })
                };
                assert_eq!(b.len(), n);
                assert!(b.iter().enumerate().all(|(i, &x)| x == i as f32));
                if n * 4 >= ALIGNED_BYTES {
                    assert_eq!(b.as_ptr() as usize % LINE, 0, "{n} elements");
                }
                let mut c = b.clone();
                assert!(Buf::ptr_eq(&b, &c) && c.get_mut().is_none(), "shared");
                drop(b);
                assert_eq!(c.get_mut().map(|s| s.len()), Some(n), "unique again");
            }
        }
        // f64, and a buffer from a plain Arc keeps all of it.
        // SAFETY: every element is written.
        let d = unsafe { Buf::<f64>::new_written(300, |out| out.fill(MaybeUninit::new(1.5))) };
        assert_eq!(d.as_ptr() as usize % LINE, 0);
        assert!(d.iter().all(|&x| x == 1.5));
        let e: Buf<f64> = [1.0, 2.0].into_iter().collect();
        assert_eq!(&e[..], &[1.0, 2.0]);
        let big: Buf<f32> = (0..1000).map(|i| i as f32).collect();
        assert_eq!(big.as_ptr() as usize % LINE, 0);
        assert!(big.iter().enumerate().all(|(i, &x)| x == i as f32));
    }

    #[test]
    fn large_tensors_hold_their_elements_on_a_cache_line() {
        use crate::Tensor;
        let aligned = |t: &Tensor<f32>| (t.data().as_ptr() as usize).is_multiple_of(LINE);
        let x = Tensor::<f32>::from_vec((0..4096).map(|i| i as f32).collect(), &[64, 64])
            .expect("the data fits the shape");
        assert!(aligned(&x), "from_vec");
        assert!(aligned(&Tensor::zeros(&[300])), "zeros");
        assert!(aligned(&x.matmul(&x)), "a product");
        assert!(aligned(&x.map(|v| v * 2.0)), "a map");
        assert_eq!(x.data()[4095], 4095.0);
    }
}
