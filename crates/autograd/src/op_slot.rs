//! [`OpSlot`]: where a node keeps its op. Most ops are a few bytes (a scalar, an axis, nothing at
//! all), and boxing each one cost a `malloc` and a `free` per recorded op (about a sixth of the
//! W5 tape chain's time); a slot keeps ops of up to three words inline and boxes only larger ones.

use std::marker::PhantomData;
use std::mem::{MaybeUninit, align_of, size_of};

use crate::{Float, Op};

/// Inline capacity, in words: enough for a scalar, a `Vec`, or an axis and a length.
const INLINE_WORDS: usize = 3;
type InlineBuf = MaybeUninit<[usize; INLINE_WORDS]>;

/// An owned `dyn Op<T>`, stored inline when it fits (size <= 3 words, alignment <= a word) and in
/// a `Box` otherwise. Behaves like `Box<dyn Op<T>>`: moving the slot moves the op.
pub(crate) struct OpSlot<T: Float> {
    /// Holds either the op itself or a `Box` of it, as `vtable` says.
    data: InlineBuf,
    vtable: &'static SlotVTable<T>,
    /// Same auto traits as `Box<dyn Op<T>>` (neither `Send` nor `Sync`): the op may hold an `Rc`.
    _not_send: PhantomData<Box<dyn Op<T>>>,
}

struct SlotVTable<T: Float> {
    /// The op, from the address of `data`.
    get: unsafe fn(*const u8) -> *const dyn Op<T>,
    /// Drops what `data` holds (the op, or its box).
    /// `None` for an inline op with nothing to drop (most ops hold a few numbers), so that
    /// dropping a tape makes no call per node.
    drop: Option<unsafe fn(*mut u8)>,
    /// [`Op::scalar_backward`] of the op at `data`, called directly: the scalar sweep's one
    /// indirect call per node instead of two (`get`, then the trait's vtable).
    scalar_backward: ScalarBackward<T>,
}

type ScalarBackward<T> = unsafe fn(*const u8, &[T], T, T, &mut [T]) -> bool;

/// # Safety
/// `p` must point to a live `O`.
unsafe fn scalar_backward_inline<T: Float, O: Op<T>>(
    p: *const u8,
    x: &[T],
    y: T,
    g: T,
    dx: &mut [T],
) -> bool {
    // SAFETY: the caller guarantees `p` points to a live `O`.
    unsafe { &*(p as *const O) }.scalar_backward(x, y, g, dx)
}

/// # Safety
/// `p` must point to a live `Box<O>`.
unsafe fn scalar_backward_boxed<T: Float, O: Op<T>>(
    p: *const u8,
    x: &[T],
    y: T,
    g: T,
    dx: &mut [T],
) -> bool {
    // SAFETY: the caller guarantees `p` points to a live `Box<O>`.
    unsafe { &*(p as *const Box<O>) }.scalar_backward(x, y, g, dx)
}

/// # Safety
/// `p` must point to a live `O`.
unsafe fn get_inline<T: Float, O: Op<T>>(p: *const u8) -> *const dyn Op<T> {
    p as *const O as *const dyn Op<T>
}

/// # Safety
/// `p` must point to a live `Box<O>`.
unsafe fn get_boxed<T: Float, O: Op<T>>(p: *const u8) -> *const dyn Op<T> {
    // SAFETY: the caller guarantees `p` points to a live `Box<O>`.
    let b = unsafe { &*(p as *const Box<O>) };
    &**b as *const O as *const dyn Op<T>
}

/// # Safety
/// `p` must point to a live `S` that is not used again.
unsafe fn drop_as<S>(p: *mut u8) {
    // SAFETY: the caller guarantees `p` points to a live `S`, dropped once.
    unsafe { std::ptr::drop_in_place(p as *mut S) }
}

/// One pair of vtables per op type; `&Self::INLINE` is promoted to a `'static`.
struct VTables<T, O>(PhantomData<(T, O)>);

impl<T: Float, O: Op<T>> VTables<T, O> {
    const INLINE: SlotVTable<T> = SlotVTable {
        get: get_inline::<T, O>,
        drop: if std::mem::needs_drop::<O>() {
            Some(drop_as::<O>)
        } else {
            None
        },
        scalar_backward: scalar_backward_inline::<T, O>,
    };
    const BOXED: SlotVTable<T> = SlotVTable {
        get: get_boxed::<T, O>,
        drop: Some(drop_as::<Box<O>>),
        scalar_backward: scalar_backward_boxed::<T, O>,
    };
}

impl<T: Float> OpSlot<T> {
    /// Stores `op`, inline if it fits.
    #[inline]
    pub(crate) fn new<O: Op<T>>(op: O) -> Self {
        let mut data = InlineBuf::uninit();
        let fits =
            size_of::<O>() <= size_of::<InlineBuf>() && align_of::<O>() <= align_of::<InlineBuf>();
        let vtable = if fits {
            // SAFETY: `data` is large and aligned enough for an `O` (checked just above), and is
            // uninitialised, so nothing is overwritten without being dropped.
            unsafe { (data.as_mut_ptr() as *mut O).write(op) };
            &VTables::<T, O>::INLINE
        } else {
            // SAFETY: a `Box<O>` is one pointer, which `data` holds (3 words, word-aligned).
            unsafe { (data.as_mut_ptr() as *mut Box<O>).write(Box::new(op)) };
            &VTables::<T, O>::BOXED
        };
        OpSlot {
            data,
            vtable,
            _not_send: PhantomData,
        }
    }

    /// The op.
    #[inline]
    pub(crate) fn get(&self) -> &dyn Op<T> {
        // SAFETY: `data` holds what `vtable` was chosen for in `new`, alive until `drop`; the
        // returned reference borrows `self`, so the op cannot be dropped or moved while it lives.
        unsafe { &*(self.vtable.get)(self.data.as_ptr() as *const u8) }
    }
}

impl<T: Float> OpSlot<T> {
    /// The op's [`Op::scalar_backward`].
    #[inline(always)]
    pub(crate) fn scalar_backward(&self, x: &[T], y: T, g: T, dx: &mut [T]) -> bool {
        // SAFETY: `data` holds what `vtable` was chosen for, alive while `self` is borrowed.
        unsafe { (self.vtable.scalar_backward)(self.data.as_ptr() as *const u8, x, y, g, dx) }
    }
}

impl<T: Float> Drop for OpSlot<T> {
    fn drop(&mut self) {
        // SAFETY: `data` holds what `vtable` was chosen for, and this is its only drop.
        if let Some(drop) = self.vtable.drop {
            unsafe { drop(self.data.as_mut_ptr() as *mut u8) }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;
    use crate::{BackwardContext, InputGrads, Tensor};

    /// Counts its drops; `N` sets its size, to land inline or boxed.
    struct Probe<const N: usize> {
        drops: Rc<Cell<usize>>,
        payload: [u8; N],
    }

    impl<T: Float, const N: usize> Op<T> for Probe<N> {
        fn name(&self) -> &'static str {
            "probe"
        }
        fn forward(&self, inputs: &[&Tensor<T>]) -> Tensor<T> {
            let s = self.payload.iter().map(|&b| b as f64).sum::<f64>();
            inputs[0].map(|x| x + T::from_f64(s))
        }
        fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
            [Some(cx.grad().clone())].into()
        }
    }
    impl<const N: usize> Drop for Probe<N> {
        fn drop(&mut self) {
            self.drops.set(self.drops.get() + 1);
        }
    }

    #[repr(align(32))]
    struct Aligned(#[allow(dead_code)] f64);
    impl<T: Float> Op<T> for Aligned {
        fn name(&self) -> &'static str {
            "aligned"
        }
        fn forward(&self, inputs: &[&Tensor<T>]) -> Tensor<T> {
            // Reads through the reference: a misaligned slot would be undefined behaviour.
            assert_eq!(self as *const Self as usize % 32, 0);
            inputs[0].clone()
        }
    }

    fn run<O: Op<f64>>(op: O, payload_sum: f64) {
        let slot = OpSlot::<f64>::new(op);
        let moved = slot; // moving the slot moves an inline op with it
        let y = moved.get().forward(&[&Tensor::scalar(1.0)]);
        assert_eq!(y.item(), 1.0 + payload_sum);
        assert_eq!(moved.get().name(), "probe");
    }

    #[test]
    fn small_ops_are_inline_large_ones_boxed_and_both_drop_once() {
        for n in [0usize, 8, 16, 24, 25, 64] {
            let drops = Rc::new(Cell::new(0));
            let payload_sum = (0..n).map(|i| (i % 7) as f64).sum::<f64>();
            macro_rules! probe {
                ($n:literal) => {{
                    let mut payload = [0u8; $n];
                    payload
                        .iter_mut()
                        .enumerate()
                        .for_each(|(i, b)| *b = (i % 7) as u8);
                    Probe::<$n> {
                        drops: drops.clone(),
                        payload,
                    }
                }};
            }
            match n {
                0 => run(probe!(0), payload_sum),
                8 => run(probe!(8), payload_sum),
                16 => run(probe!(16), payload_sum),
                24 => run(probe!(24), payload_sum),
                25 => run(probe!(25), payload_sum),
                _ => run(probe!(64), payload_sum),
            }
            assert_eq!(drops.get(), 1, "payload of {n} bytes");
        }
    }

    #[test]
    fn which_ops_fit_inline() {
        // An Rc (1 word) + payload: 16 bytes fits inline, 24 does not (32 bytes in all).
        let fits = |size: usize, align: usize| {
            size <= size_of::<InlineBuf>() && align <= align_of::<InlineBuf>()
        };
        assert!(fits(size_of::<Probe<16>>(), align_of::<Probe<16>>()));
        assert!(!fits(size_of::<Probe<24>>(), align_of::<Probe<24>>()));
        assert!(!fits(size_of::<Aligned>(), align_of::<Aligned>()));
    }

    #[test]
    fn over_aligned_ops_are_boxed_and_aligned() {
        let slot = OpSlot::<f32>::new(Aligned(2.0));
        let y = slot.get().forward(&[&Tensor::scalar(3.0)]);
        assert_eq!(y.item(), 3.0);
        assert_eq!(slot.get().name(), "aligned");
    }
}
