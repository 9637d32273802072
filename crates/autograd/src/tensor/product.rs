//! [`Product`]: a matrix product handed to the first-order sweep uncomputed, so that it can be
//! added onto a gradient that is already there by the GEMM itself (`C = A B + C`), with no
//! temporary and no separate addition.
//!
//! Why: a weight used at every step of a sequence (an LSTM's `W_hh`) receives one product per
//! step, `dW += g_t^T h_{t-1}`. Computed and then added, each step wrote a `[512, 128]`
//! temporary and read it back with the accumulated gradient (W4: 35 of each per training step).

use super::Tensor;
use super::kernels::{RowsPtr, batched_matmul, split_rows};
use crate::Float;

/// `op(a) op(b)` for 2-D `a` and `b`, where `op` transposes its operand when the flag is set.
#[derive(Clone)]
pub(crate) struct Product<T: Float> {
    a: Tensor<T>,
    b: Tensor<T>,
    ta: bool,
    tb: bool,
}

impl<T: Float> Product<T> {
    /// The product `op(a) op(b)`, not computed yet.
    ///
    /// # Panics
    /// If an operand is not 2-D or the inner dimensions differ.
    #[track_caller]
    pub(crate) fn new(a: Tensor<T>, b: Tensor<T>, ta: bool, tb: bool) -> Self {
        let p = Product { a, b, ta, tb };
        let (_, ka, kb, _) = p.dims();
        assert!(
            p.a.ndim() == 2 && p.b.ndim() == 2 && ka == kb,
            "internal: product of {:?} and {:?} (transposed: {ta}, {tb})",
            p.a.shape(),
            p.b.shape()
        );
        p
    }

    /// `(m, k of a, k of b, n)`.
    fn dims(&self) -> (usize, usize, usize, usize) {
        let (sa, sb) = (self.a.shape(), self.b.shape());
        let (m, ka) = if self.ta {
            (sa[1], sa[0])
        } else {
            (sa[0], sa[1])
        };
        let (kb, n) = if self.tb {
            (sb[1], sb[0])
        } else {
            (sb[0], sb[1])
        };
        (m, ka, kb, n)
    }

    /// The shape of the result, `[m, n]`.
    pub(crate) fn shape(&self) -> [usize; 2] {
        let (m, _, _, n) = self.dims();
        [m, n]
    }

    /// The product as a new tensor.
    pub(crate) fn eval(&self) -> Tensor<T> {
        batched_matmul(&self.a, &self.b, self.ta, self.tb)
    }

    /// `acc += op(a) op(b)`, by one GEMM with `beta = 1` into `acc`'s buffer (copied first only
    /// if it is shared); a large product is split by rows of `acc` across threads like any other.
    ///
    /// # Panics
    /// If `acc` does not have the product's shape.
    pub(crate) fn add_to(&self, acc: &mut Tensor<T>) {
        let (m, k, _, n) = self.dims();
        assert_eq!(
            acc.shape(),
            &[m, n],
            "internal: product added to another shape"
        );
        // Row and column strides of the stored operands, swapped for a transposed use.
        let strides = |t: &Tensor<T>, transposed: bool| {
            let row = t.shape()[1] as isize;
            if transposed { (1, row) } else { (row, 1) }
        };
        let (ars, acs) = strides(&self.a, self.ta);
        let (brs, bcs) = strides(&self.b, self.tb);
        let a = self.a.data();
        let c_rows = RowsPtr::new(acc.make_mut().as_mut_ptr());
        split_rows(m, k, n, &|r0, r1| {
            // SAFETY: `split_rows` hands out disjoint row ranges of the m x n accumulator.
            let c = unsafe { c_rows.rows(r0, r1, n) };
            let a = (&a[(r0 as isize * ars) as usize..], ars, acs);
            let b = (self.b.data(), brs, bcs);
            if super::packed::try_add_gemm(r1 - r0, k, n, a, b, c) {
                return;
            }
            T::gemm(
                r1 - r0,
                k,
                n,
                T::ONE,
                a,
                (self.b.data(), brs, bcs),
                T::ONE,
                (c, n as isize, 1),
            );
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_products_equal_the_sum_of_computed_ones_for_every_transpose() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (m, k, n) = (7, 5, 6);
            let a = Tensor::<f64>::randn(&if ta { [k, m] } else { [m, k] }, 1);
            let b = Tensor::<f64>::randn(&if tb { [n, k] } else { [k, n] }, 2);
            let p = Product::new(a.clone(), b.clone(), ta, tb);
            assert_eq!(p.shape(), [m, n]);
            let once = batched_matmul(&a, &b, ta, tb);
            assert_eq!(p.eval().to_vec(), once.to_vec());
            // acc = c + op(a) op(b), and a clone of c held elsewhere is left alone
            let c = Tensor::<f64>::randn(&[m, n], 3);
            let mut acc = c.clone();
            p.add_to(&mut acc);
            for ((&s, &c0), &ab) in acc.data().iter().zip(c.data()).zip(once.data()) {
                assert!(
                    (s - (c0 + ab)).abs() < 1e-12,
                    "({ta}, {tb}): {s} vs {c0} + {ab}"
                );
            }
            assert!(!acc.shares_storage(&c));
            assert_eq!(c.to_vec(), Tensor::<f64>::randn(&[m, n], 3).to_vec());
        }
    }

    #[test]
    fn added_products_split_across_threads_land_in_their_rows() {
        // m k n above GEMM_PARALLEL_MKN, m not a multiple of the 16-row blocks
        let (m, k, n) = (101, 110, 100);
        assert!(m * k * n >= crate::tensor::kernels::GEMM_PARALLEL_MKN);
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = Tensor::<f64>::randn(&if ta { [k, m] } else { [m, k] }, 4);
            let b = Tensor::<f64>::randn(&if tb { [n, k] } else { [k, n] }, 5);
            let once = batched_matmul(&a, &b, ta, tb);
            let c = Tensor::<f64>::randn(&[m, n], 6);
            let mut acc = c.clone();
            Product::new(a, b, ta, tb).add_to(&mut acc);
            for (i, ((&s, &c0), &ab)) in
                acc.data().iter().zip(c.data()).zip(once.data()).enumerate()
            {
                assert!(
                    (s - (c0 + ab)).abs() < 1e-12,
                    "({ta}, {tb}) [{i}]: {s} vs {c0} + {ab}"
                );
            }
        }
    }

    #[test]
    #[should_panic(expected = "internal: product of [2, 3] and [4, 5]")]
    fn mismatched_inner_dimensions_panic() {
        let _ = Product::new(
            Tensor::<f32>::zeros(&[2, 3]),
            Tensor::zeros(&[4, 5]),
            false,
            false,
        );
    }
}
