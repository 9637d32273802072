//! A per-thread cache of freed buffers, so that a training loop reuses its tensors' memory
//! instead of asking the allocator for it again every step.
//!
//! Why: glibc serves buffers of a few MiB with fresh `mmap`s, and trims the heap top when a step
//! frees its tensors, depending on what was allocated before; every page of a fresh buffer then
//! costs a page fault (about 1-3 us each in a VM). Measured on W1 (`[1024, 1024]` forward +
//! backward): 4,000 faults an iteration, 88 ms instead of 78 ms, when other work had run first;
//! on W4 (an LSTM step's hundreds of `[32, 512]` and `[32, 128]` buffers, 16-64 KiB each) 830
//! faults a step in a plain training loop, about 10 % of its time.
//!
//! A tensor's buffer comes here when its last owner drops it (see `Drop for Storage`) if it is
//! at least [`MIN_BYTES`]; new buffers of exactly that length ([`take`]) are served from here
//! first, the most recently freed one first. Buffers are kept by length and element type
//! (a step's few dozen distinct lengths), at most [`MAX_BYTES`] per thread, the oldest dropped
//! first.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::VecDeque;

use super::buf::Buf;
use crate::Float;

/// Buffers smaller than this go straight back to the allocator (which serves them from its own
/// free lists without touching the kernel).
pub(crate) const MIN_BYTES: usize = 16 << 10;
/// At most this many bytes are cached per thread.
pub(crate) const MAX_BYTES: usize = 64 << 20;
/// Lengths without a cached buffer are forgotten once there are more than this many lengths.
const MAX_CLASSES: usize = 64;

/// The cached buffers of one length and element type.
struct Class {
    len: usize,
    ty: TypeId,
    bytes: usize,
    /// `Buf<T>`s with one owner, each with the time it was cached; the newest last (a deque:
    /// evicting the oldest of thousands of buffers moves none of the others).
    bufs: VecDeque<(u64, Box<dyn Any>)>,
}

#[derive(Default)]
struct Cache {
    classes: Vec<Class>,
    bytes: usize,
    /// Counts the buffers given, to find the oldest.
    clock: u64,
}

impl Cache {
    fn class(&mut self, ty: TypeId, len: usize) -> Option<&mut Class> {
        self.classes.iter_mut().find(|c| c.len == len && c.ty == ty)
    }

    /// Drops the buffer cached longest ago; `false` if there is none.
    fn evict_oldest(&mut self) -> bool {
        let oldest = self
            .classes
            .iter_mut()
            .filter(|c| !c.bufs.is_empty())
            .min_by_key(|c| c.bufs[0].0);
        let Some(c) = oldest else {
            return false;
        };
        c.bufs.pop_front(); // dropping a `Buf` here frees it (no `Storage` involved)
        self.bytes -= c.bytes;
        true
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// Whether a buffer of `len` elements of `T` is large enough to be cached.
#[inline]
pub(crate) fn worth_caching<T>(len: usize) -> bool {
    len.saturating_mul(size_of::<T>()) >= MIN_BYTES
}

/// Keeps `buf` (unique, at least [`MIN_BYTES`]) for a later [`take`] on this thread.
pub(crate) fn give<T: Float>(buf: Buf<T>) {
    let (len, bytes) = (buf.len(), std::mem::size_of_val(&*buf));
    if bytes > MAX_BYTES {
        return; // would evict everything else and then itself
    }
    // `try_with`/`try_borrow_mut`: during thread teardown, or if a drop happens inside a cache
    // operation, the buffer is simply freed.
    let _ = CACHE.try_with(|c| {
        let Ok(mut c) = c.try_borrow_mut() else {
            return;
        };
        let c = &mut *c;
        c.clock += 1;
        let stamp = c.clock;
        let ty = TypeId::of::<T>();
        let entry = (stamp, Box::new(buf) as Box<dyn Any>);
        match c.class(ty, len) {
            Some(class) => class.bufs.push_back(entry),
            None => {
                if c.classes.len() >= MAX_CLASSES {
                    c.classes.retain(|c| !c.bufs.is_empty());
                }
                c.classes.push(Class {
                    len,
                    ty,
                    bytes,
                    bufs: VecDeque::from([entry]),
                });
            }
        }
        c.bytes += bytes;
        while c.bytes > MAX_BYTES && c.evict_oldest() {}
    });
}

/// A cached buffer of exactly `len` elements of `T`, with one owner and old contents, if there
/// is one on this thread.
pub(crate) fn take<T: Float>(len: usize) -> Option<Buf<T>> {
    if !worth_caching::<T>(len) {
        return None;
    }
    CACHE
        .try_with(|c| {
            let mut c = c.try_borrow_mut().ok()?;
            let class = c.class(TypeId::of::<T>(), len)?;
            // The newest: the most likely to be in cache.
            let (_, buf) = class.bufs.pop_back()?;
            let bytes = class.bytes;
            c.bytes -= bytes;
            buf.downcast::<Buf<T>>().ok().map(|b| *b)
        })
        .ok()
        .flatten()
}

/// Bytes cached on this thread (for tests and diagnostics).
#[cfg(test)]
pub(crate) fn cached_bytes() -> usize {
    CACHE.with(|c| c.borrow().bytes)
}

/// Buffers cached on this thread (for tests).
#[cfg(test)]
fn cached_buffers() -> usize {
    CACHE.with(|c| c.borrow().classes.iter().map(|c| c.bufs.len()).sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Tape, Tensor};

    const N: usize = 512; // [512, 512] f32 = 1 MiB: cached

    #[test]
    fn a_dropped_product_s_buffer_serves_the_next_product_of_that_size() {
        let (a, b) = (
            Tensor::<f32>::randn(&[N, N], 1),
            Tensor::<f32>::randn(&[N, N], 3),
        );
        let c1 = a.matmul(&a);
        let p1 = c1.data().as_ptr();
        drop(c1);
        let c2 = b.matmul(&b);
        assert_eq!(c2.data().as_ptr(), p1, "the freed buffer was not reused");
        // The reused buffer holds the new product (b b), not the stale one (a a): compare with
        // an element computed directly.
        let dot = |i: usize, j: usize| (0..N).map(|k| b.get(&[i, k]) * b.get(&[k, j])).sum::<f32>();
        for (i, j) in [(0, 0), (7, 300), (N - 1, N - 1)] {
            assert!((c2.get(&[i, j]) - dot(i, j)).abs() < 1e-3, "c2[{i}, {j}]");
        }
    }

    #[test]
    fn a_shared_buffer_is_not_recycled_while_a_clone_lives() {
        let a = Tensor::<f32>::randn(&[N, N], 2);
        let c = a.matmul(&a);
        let keep = c.clone();
        let before = keep.to_vec();
        drop(c); // one owner left: nothing is cached
        let other = Tensor::<f32>::ones(&[N, N]).matmul(&Tensor::ones(&[N, N]));
        assert!(!other.shares_storage(&keep));
        assert_eq!(keep.to_vec(), before);
    }

    #[test]
    fn zeros_from_a_recycled_buffer_are_zero() {
        let full = Tensor::<f64>::full(&[N, N / 2], 7.5); // 1 MiB of f64
        let p = full.data().as_ptr();
        drop(full);
        let z = Tensor::<f64>::zeros(&[N, N / 2]);
        assert_eq!(z.data().as_ptr(), p, "the freed buffer was not reused");
        assert!(z.data().iter().all(|&v| v == 0.0));
        // A gradient padded with zeros (narrow's backward) into a recycled buffer of 7.5s.
        let tape = Tape::<f64>::new();
        let x = tape.var(z);
        let loss = x.narrow(0, 0, 1).sum();
        drop(Tensor::<f64>::full(&[N, N / 2], 7.5));
        assert_eq!(
            cached_bytes(),
            N * N / 2 * 8,
            "a stale buffer is waiting in the cache"
        );
        let g = loss.backward();
        assert!(g[x].data()[..N / 2].iter().all(|&v| v == 1.0));
        assert!(g[x].data()[N / 2..].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn the_cache_is_bounded_drops_the_oldest_and_skips_small_and_huge_buffers() {
        // bytes: 16 MiB buffers of six lengths, more than MAX_BYTES in all
        let len = |i: usize| 4 * N * (8 * N + i);
        for i in 0..6 {
            drop(Tensor::<f32>::full(&[len(i)], 1.0));
        }
        let cached = cached_bytes();
        assert!(
            cached <= MAX_BYTES && cached > MAX_BYTES / 2,
            "{cached} bytes cached"
        );
        // the first ones given were dropped, the last one is there
        assert!(take::<f32>(len(0)).is_none());
        assert!(take::<f32>(len(5)).is_some());
        // small and oversized buffers are not kept
        let cached = cached_bytes();
        drop(Tensor::<f32>::full(&[16, 16], 1.0));
        drop(Tensor::<f32>::full(&[MAX_BYTES / 4 + 1], 1.0));
        assert_eq!(cached_bytes(), cached);
    }

    #[test]
    fn buffers_are_kept_by_length_and_element_type() {
        // 16 KiB: an LSTM step's [32, 128] f32, the smallest length cached
        let small = Tensor::<f32>::full(&[32, 128], 2.0);
        let p = small.data().as_ptr();
        drop(small);
        assert!(
            take::<f64>(32 * 128).is_none(),
            "an f32 buffer served as f64"
        );
        assert!(
            take::<f32>(32 * 128 + 1).is_none(),
            "served for another length"
        );
        let z = Tensor::<f32>::zeros(&[32, 128]);
        assert_eq!(z.data().as_ptr(), p, "the freed buffer was not reused");
        assert!(z.data().iter().all(|&v| v == 0.0));
        // many lengths, then all taken: the empty lengths are forgotten when a new one comes
        let lens: Vec<usize> = (0..2 * MAX_CLASSES).map(|i| 4096 + i).collect();
        for &n in &lens {
            drop(Tensor::<f32>::full(&[n], 1.0));
        }
        assert_eq!(cached_buffers(), lens.len());
        for &n in &lens {
            assert!(take::<f32>(n).is_some(), "length {n}");
        }
        drop(Tensor::<f32>::full(&[8192], 1.0));
        let classes = CACHE.with(|c| c.borrow().classes.len());
        assert!(classes <= MAX_CLASSES, "{classes} lengths remembered");
        assert_eq!((cached_buffers(), cached_bytes()), (1, 8192 * 4));
    }
}
