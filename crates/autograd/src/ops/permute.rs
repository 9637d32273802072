//! `permute`: reorder the axes; `transpose` (swap two axes) and `t` (2-D transpose) on top of it.

use smallvec::SmallVec;

use crate::tensor::shape::normalize_axis;
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

type Axes = SmallVec<[usize; 4]>;

/// `y = x with output axis i taken from input axis perm[i]`.
struct Permute(Axes);

impl<T: Float> Op<T> for Permute {
    fn name(&self) -> &'static str {
        "permute"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        x[0].permute(&self.0)
    }

    // A relabelling of elements: move the gradient's axes back with the inverse permutation.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let mut inverse: Axes = SmallVec::from_elem(0, self.0.len());
        for (i, &p) in self.0.iter().enumerate() {
            inverse[p] = i;
        }
        [Some(cx.grad().permute(&inverse))].into()
    }
}

#[track_caller]
fn check(perm: &[usize], shape: &[usize]) {
    let rank = shape.len();
    let mut seen: SmallVec<[bool; 4]> = SmallVec::from_elem(false, rank);
    assert!(
        perm.len() == rank
            && perm
                .iter()
                .all(|&p| p < rank && !std::mem::replace(&mut seen[p], true)),
        "permute: {perm:?} is not a permutation of the axes of a tensor of shape {shape:?}"
    );
}

/// The permutation that swaps axes `a0` and `a1` of a tensor of this shape.
#[track_caller]
fn swap(a0: isize, a1: isize, shape: &[usize]) -> Axes {
    let (a0, a1) = (
        normalize_axis("transpose", a0, shape),
        normalize_axis("transpose", a1, shape),
    );
    let mut perm: Axes = (0..shape.len()).collect();
    perm.swap(a0, a1);
    perm
}

/// `t()` on a tensor of this shape: `Some(perm)` for 2-D, `None` (unchanged) for 0-D and 1-D.
#[track_caller]
fn t_perm(shape: &[usize]) -> Option<Axes> {
    assert!(
        shape.len() <= 2,
        "t: expects a tensor with at most 2 axes, got shape {shape:?}; use transpose or permute"
    );
    (shape.len() == 2).then(|| SmallVec::from_slice(&[1, 0]))
}

impl<'t, T: Float> Var<'t, T> {
    /// Reorders the axes: output axis `i` is input axis `perm[i]`, so
    /// `y[i_0, .., i_{n-1}] = x` at the index whose axis `perm[k]` is `i_k`. The elements are
    /// copied into the new row-major order.
    ///
    /// Derivative: a relabelling of elements, so the gradient is permuted back with the inverse
    /// permutation (linear, no kinks). PyTorch: `x.permute(perm)`; numpy: `x.transpose(perm)`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::arange(6).reshape(&[1, 2, 3]));
    /// let y = x.permute(&[2, 0, 1]);
    /// assert_eq!(y.shape().as_slice(), &[3, 1, 2]);
    /// assert_eq!(y.value().to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    /// // weight each output element by its position: the gradient is those weights, put back
    /// let w = tape.constant(Tensor::arange(6).reshape(&[3, 1, 2]));
    /// let g = (y * w).sum().backward();
    /// assert_eq!(g[x].to_vec(), vec![0.0, 2.0, 4.0, 1.0, 3.0, 5.0]);
    /// ```
    ///
    /// # Panics
    /// If `perm` is not a permutation of `0..rank`:
    /// `permute: [0, 0] is not a permutation of the axes of a tensor of shape [2, 3]`.
    #[track_caller]
    pub fn permute(self, perm: &[usize]) -> Var<'t, T> {
        check(perm, &self.shape());
        self.tape.apply(Permute(perm.into()), &[self])
    }

    /// Swaps axes `a0` and `a1` (negative counts from the end): [`permute`](Self::permute) with
    /// a transposition. Derivative: the gradient's axes are swapped back. PyTorch:
    /// `x.transpose(a0, a1)`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::arange(6).reshape(&[1, 2, 3]));
    /// let y = x.transpose(-1, -2); // the batched matrix transpose
    /// assert_eq!(y.shape().as_slice(), &[1, 3, 2]);
    /// assert_eq!(y.value().to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    /// ```
    ///
    /// # Panics
    /// If an axis is out of range:
    /// `transpose: axis 2 is out of range for a tensor of shape [2, 3] (rank 2)`.
    #[track_caller]
    pub fn transpose(self, a0: isize, a1: isize) -> Var<'t, T> {
        let perm = swap(a0, a1, &self.shape());
        self.tape.apply(Permute(perm), &[self])
    }

    /// The matrix transpose of a 2-D tensor; 0-D and 1-D tensors are returned unchanged, as in
    /// PyTorch's `x.t()`. Derivative: the gradient is transposed back.
    ///
    /// To multiply by a transpose, prefer [`matmul_nt`](Self::matmul_nt) or
    /// [`matmul_tn`](Self::matmul_tn), which pass the transpose to the GEMM as strides instead of
    /// copying it.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap());
    /// let y = x.t();
    /// assert_eq!(y.shape().as_slice(), &[3, 2]);
    /// assert_eq!(y.value().to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    /// ```
    ///
    /// # Panics
    /// If the tensor has more than 2 axes:
    /// `t: expects a tensor with at most 2 axes, got shape [2, 3, 4]; use transpose or permute`.
    #[track_caller]
    pub fn t(self) -> Var<'t, T> {
        match t_perm(&self.shape()) {
            Some(perm) => self.tape.apply(Permute(perm), &[self]),
            None => self,
        }
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::permute`] on operands; returns a clone for the identity permutation.
    #[track_caller]
    pub fn permute(&self, perm: &[usize]) -> Operand<'t, T> {
        check(perm, &self.shape());
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return self.clone();
        }
        Operand::apply(Permute(perm.into()), &[self])
    }

    /// [`Var::transpose`] on operands.
    #[track_caller]
    pub fn transpose(&self, a0: isize, a1: isize) -> Operand<'t, T> {
        self.permute(&swap(a0, a1, &self.shape()))
    }

    /// [`Var::t`] on operands.
    #[track_caller]
    pub fn t(&self) -> Operand<'t, T> {
        match t_perm(&self.shape()) {
            Some(perm) => self.permute(&perm),
            None => self.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use crate::{Tape, Tensor};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], &[2, 3]));
        let w = tape.constant(t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]));
        // d/dx sum(w * tanh(x^T)) = (w * (1 - tanh^2(x^T)))^T, i.e. w_ji (1 - tanh^2(x_ij))
        let g = (w * x.t().tanh()).sum().backward();
        let (xv, wv) = (x.value(), w.value());
        let want: Vec<f64> = (0..6)
            .map(|k| {
                let (i, j) = (k / 3, k % 3);
                wv.get(&[j, i]) * (1.0 - xv.get(&[i, j]).tanh().powi(2))
            })
            .collect();
        assert_close(&g[x], &want, 1e-12);
    }

    #[test]
    fn transpose_and_t_agree_with_permute() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::randn(&[2, 3, 4], 1));
        assert_eq!(x.transpose(0, -1).value(), x.permute(&[2, 1, 0]).value());
        assert_eq!(x.transpose(1, 1).value(), x.value());
        let v = tape.var(Tensor::randn(&[3], 2));
        assert_eq!(
            v.t().id(),
            v.id(),
            "t() of a 1-D tensor is the tensor itself"
        );
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::randn(&[2, 3, 4], 1);
        check_both(|x| x[0].permute(&[1, 2, 0]).tanh(), &[x.clone()]);
        check_both(
            |x| (x[0].transpose(0, 2) * x[0].transpose(2, 0)).sum(),
            &[x],
        );
        check_both(
            |x| x[0].t().matmul(x[0]).tanh(),
            &[Tensor::randn(&[3, 2], 2)],
        );
    }

    #[test]
    #[should_panic(
        expected = "permute: [0, 0] is not a permutation of the axes of a tensor of shape [2, 3]"
    )]
    fn bad_permutation_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 3])).permute(&[0, 0]);
    }

    #[test]
    #[should_panic(expected = "transpose: axis 2 is out of range for a tensor of shape [2, 3]")]
    fn bad_transpose_axis_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 3])).transpose(0, 2);
    }

    #[test]
    #[should_panic(
        expected = "t: expects a tensor with at most 2 axes, got shape [2, 3, 4]; use transpose"
    )]
    fn t_of_3d_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 3, 4])).t();
    }
}
