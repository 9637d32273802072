//! Matrix product on the last two axes, batched with broadcast batch axes, on strided operands.

use crate::tensor::kernels::batched_matmul;
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `C = op(A) op(B)` where `op` transposes the last two axes when its flag is set. The
/// transposes are strides handed to the GEMM, never copies.
struct MatMul {
    ta: bool,
    tb: bool,
}

impl<T: Float> Op<T> for MatMul {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        batched_matmul(x[0], x[1], self.ta, self.tb)
    }

    // With A' = op(A), B' = op(B): dA' = G B'^T and dB' = A'^T G. Undo op() by transposing, and
    // express every transpose through the flags, so backward never copies a transposed operand.
    // sum_to folds broadcast batch axes.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (a, b, g) = (cx.input(0), cx.input(1), cx.grad());
        let (ta, tb) = (self.ta, self.tb);
        let ga = || {
            let d = if ta {
                b.matmul_flags(g, tb, true)
            } else {
                g.matmul_flags(b, false, !tb)
            };
            d.sum_to(&a.shape())
        };
        let gb = || {
            let d = if tb {
                g.matmul_flags(a, true, ta)
            } else {
                a.matmul_flags(g, !ta, false)
            };
            d.sum_to(&b.shape())
        };
        [cx.grad_for(0, ga), cx.grad_for(1, gb)].into()
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Matrix product `C = A B` on the last two axes (PyTorch `torch.matmul` for operands of rank
    /// 2 or more): `[m, k] @ [k, n] -> [m, n]`; leading batch axes broadcast, e.g.
    /// `[b, m, k] @ [k, n] -> [b, m, n]`.
    ///
    /// Derivative: `dA = G B^T`, `dB = A^T G` (batch axes summed where broadcast). The GEMM is
    /// matrixmultiply's, with transposed operands passed as strides, never copied.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let a = tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    /// let b = tape.var(Tensor::from_vec(vec![5.0, 6.0, 7.0, 8.0], &[2, 2]).unwrap());
    /// let c = a.matmul(b);
    /// assert_eq!(c.value().to_vec(), vec![19.0, 22.0, 43.0, 50.0]);
    /// let g = c.sum().backward();
    /// assert_eq!(g[a].to_vec(), vec![11.0, 15.0, 11.0, 15.0]); // ones @ B^T
    /// assert_eq!(g[b].to_vec(), vec![4.0, 4.0, 6.0, 6.0]); // A^T @ ones
    /// ```
    ///
    /// # Panics
    /// If an operand has fewer than 2 axes, the inner dimensions differ
    /// (`matmul: inner dimensions differ: lhs [32, 784] vs rhs [128, 10]`) or the batch axes do
    /// not broadcast.
    #[track_caller]
    pub fn matmul(self, other: Var<'t, T>) -> Var<'t, T> {
        self.matmul_flags(other, false, false)
    }

    /// `A B^T` without copying `B^T`: with `B` of shape `[n, k]` (PyTorch's `Linear` weight
    /// layout), `x.matmul_nt(w)` is `x @ w.T`.
    ///
    /// # Panics
    /// As [`matmul`](Self::matmul), on the transposed shape.
    #[track_caller]
    pub fn matmul_nt(self, other: Var<'t, T>) -> Var<'t, T> {
        self.matmul_flags(other, false, true)
    }

    /// `A^T B` without copying `A^T`.
    ///
    /// # Panics
    /// As [`matmul`](Self::matmul), on the transposed shape.
    #[track_caller]
    pub fn matmul_tn(self, other: Var<'t, T>) -> Var<'t, T> {
        self.matmul_flags(other, true, false)
    }

    /// `op(A) op(B)` where `op` transposes the last two axes when its flag is set.
    ///
    /// # Panics
    /// As [`matmul`](Self::matmul).
    #[track_caller]
    pub fn matmul_flags(
        self,
        other: Var<'t, T>,
        transpose_a: bool,
        transpose_b: bool,
    ) -> Var<'t, T> {
        self.assert_same_tape(other, "matmul");
        self.tape.apply(
            MatMul {
                ta: transpose_a,
                tb: transpose_b,
            },
            &[self, other],
        )
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::matmul`] on operands.
    #[track_caller]
    pub fn matmul(&self, other: &Operand<'t, T>) -> Operand<'t, T> {
        self.matmul_flags(other, false, false)
    }

    /// [`Var::matmul_flags`] on operands.
    #[track_caller]
    pub fn matmul_flags(
        &self,
        other: &Operand<'t, T>,
        transpose_a: bool,
        transpose_b: bool,
    ) -> Operand<'t, T> {
        Operand::apply(
            MatMul {
                ta: transpose_a,
                tb: transpose_b,
            },
            &[self, other],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both};
    use crate::{Tape, Tensor};

    #[test]
    fn transposed_forms_agree_with_explicit_transposes() {
        let tape = Tape::<f64>::new();
        let a = Tensor::randn(&[3, 4], 1);
        let b = Tensor::randn(&[5, 4], 2);
        let bt = b.permute(&[1, 0]);
        let nt = tape.var(a.clone()).matmul_nt(tape.var(b.clone())).value();
        let plain = tape.var(a.clone()).matmul(tape.var(bt.clone())).value();
        assert_close(&nt, plain.data(), 1e-12);
        let tn = tape
            .var(bt.clone())
            .matmul_tn(tape.var(a.permute(&[1, 0])))
            .value();
        assert_close(&tn, b.matmul(&a.permute(&[1, 0])).data(), 1e-12);
    }

    #[test]
    fn gradients_match_finite_differences_for_every_transpose() {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let sa = if ta { [4, 3] } else { [3, 4] };
            let sb = if tb { [2, 4] } else { [4, 2] };
            check_both(
                move |x| x[0].matmul_flags(x[1], ta, tb).tanh(),
                &[Tensor::randn(&sa, 1), Tensor::randn(&sb, 2)],
            );
        }
    }

    #[test]
    fn batched_with_broadcast_batch_axes() {
        // [2, 3, 4] @ [4, 2]: the rhs is shared by both batches, so its gradient sums them.
        check_both(
            |x| x[0].matmul(x[1]).tanh(),
            &[Tensor::randn(&[2, 3, 4], 1), Tensor::randn(&[4, 2], 2)],
        );
        check_both(
            |x| x[0].matmul_nt(x[1]).exp().sum(),
            &[
                Tensor::randn(&[2, 1, 2, 3], 3),
                Tensor::randn(&[3, 2, 3], 4),
            ],
        );
    }

    #[test]
    fn hessian_of_quadratic_form_is_a_plus_a_transpose() {
        // f(x) = x A x^T for a row vector x; grad = x (A + A^T); Hessian = A + A^T
        let tape = Tape::<f64>::new();
        let a = Tensor::randn(&[3, 3], 5);
        let x = tape.var(Tensor::randn(&[1, 3], 6));
        let av = tape.constant(a.clone());
        let f = x.matmul(av).matmul_nt(x);
        let g = tape.grad(&[f], &[x])[0];
        for i in 0..3 {
            let mut e = vec![0.0; 3];
            e[i] = 1.0;
            let gi = (g * tape
                .constant(Tensor::from_vec(e, &[1, 3]).expect("the data fits the shape")))
            .sum();
            let row = tape.grad(&[gi], &[x])[0].value();
            for j in 0..3 {
                let want = a.get(&[i, j]) + a.get(&[j, i]);
                assert!((row.get(&[0, j]) - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    #[should_panic(expected = "matmul: inner dimensions differ: lhs [32, 784] vs rhs [128, 10]")]
    fn inner_dimension_mismatch_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[32, 784]))
            .matmul(tape.var(Tensor::zeros(&[128, 10])));
    }
}
