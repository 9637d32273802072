//! `argmax` and `argmin` over an axis: the position of the extremum, for predictions. Not
//! differentiable (integer-valued, piecewise constant).

use super::axis::{Extremum, arg_extremum, from_lanes, nonempty_axis};
use crate::{Float, Op, Operand, Tensor, Var};

/// `y = index of the first max (min) of x along axis`, stored as floats.
struct ArgExtremum {
    axis: usize,
    keepdim: bool,
    kind: Extremum,
}

impl<T: Float> Op<T> for ArgExtremum {
    fn name(&self) -> &'static str {
        match self.kind {
            Extremum::Max => "argmax",
            Extremum::Min => "argmin",
        }
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let idx = arg_extremum(x[0], self.axis, self.kind);
        let values = idx.into_iter().map(T::from_usize).collect();
        from_lanes(values, x[0].shape(), self.axis, self.keepdim)
    }

    // No backward: the output is piecewise constant in x, so it never requires grad and the
    // sweep never reaches this op (the default `backward` would report it loudly if it did).
    fn differentiable(&self) -> bool {
        false
    }
}

#[track_caller]
fn arg_op(kind: Extremum, axis: isize, shape: &[usize], keepdim: bool) -> ArgExtremum {
    let name = match kind {
        Extremum::Max => "argmax",
        Extremum::Min => "argmin",
    };
    ArgExtremum {
        axis: nonempty_axis(name, axis, shape),
        keepdim,
        kind,
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// The index of the largest element along `axis` (negative counts from the end), as a float
    /// (exact up to 2^24 in f32). The axis is kept as length 1 if `keepdim`, removed otherwise.
    ///
    /// Ties go to the first occurrence; a NaN counts as the maximum (the first NaN wins), as in
    /// PyTorch. Not differentiable: the result never requires grad, whatever the input.
    /// PyTorch: `torch.argmax(x, dim, keepdim)` (which returns int64).
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f32>::new();
    /// let logits = tape.var(Tensor::from_vec(vec![0.1, 2.0, 2.0, 5.0, -1.0, 0.0], &[2, 3]).unwrap());
    /// let pred = logits.argmax(-1, false);
    /// assert_eq!(pred.value().to_vec(), vec![1.0, 0.0]); // first of the tied 2.0s
    /// assert!(!pred.requires_grad());
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range (`argmax: axis 2 is out of range for a tensor of shape [2, 3]`)
    /// or has length 0 (`argmax: axis 1 has length 0 in shape [2, 0]`).
    #[track_caller]
    pub fn argmax(self, axis: isize, keepdim: bool) -> Var<'t, T> {
        let op = arg_op(Extremum::Max, axis, &self.shape(), keepdim);
        self.tape.apply(op, &[self])
    }

    /// The index of the smallest element along `axis`, as a float; as [`argmax`](Self::argmax)
    /// otherwise (first occurrence on ties, NaN counts as the minimum, no gradient).
    /// PyTorch: `torch.argmin(x, dim, keepdim)`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![3.0, 1.0, 1.0, 4.0], &[2, 2]).unwrap());
    /// let y = x.argmin(0, true);
    /// assert_eq!(y.shape().as_slice(), &[1, 2]);
    /// assert_eq!(y.value().to_vec(), vec![1.0, 0.0]);
    /// assert!(!y.requires_grad());
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range or has length 0, as [`argmax`](Self::argmax) (named `argmin`).
    #[track_caller]
    pub fn argmin(self, axis: isize, keepdim: bool) -> Var<'t, T> {
        let op = arg_op(Extremum::Min, axis, &self.shape(), keepdim);
        self.tape.apply(op, &[self])
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::argmax`] on operands.
    #[track_caller]
    pub fn argmax(&self, axis: isize, keepdim: bool) -> Operand<'t, T> {
        Operand::apply(arg_op(Extremum::Max, axis, &self.shape(), keepdim), &[self])
    }

    /// [`Var::argmin`] on operands.
    #[track_caller]
    pub fn argmin(&self, axis: isize, keepdim: bool) -> Operand<'t, T> {
        Operand::apply(arg_op(Extremum::Min, axis, &self.shape(), keepdim), &[self])
    }
}

impl<T: Float> Tensor<T> {
    /// The index of the first largest element of each lane along `axis`, as `usize`s in the
    /// row-major order of the shape without that axis: the predicted classes of a batch of
    /// logits with `axis = -1`. NaN counts as the maximum, as in [`Var::argmax`].
    ///
    /// ```
    /// use wengert_autograd::Tensor;
    /// let logits = Tensor::from_vec(vec![0.1, 2.0, 5.0, -3.0, 4.0, 9.0], &[3, 2]).unwrap();
    /// assert_eq!(logits.argmax_axis(-1), vec![1, 0, 1]);
    /// assert_eq!(logits.argmax_axis(0), vec![1, 2]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range or has length 0, as [`Var::argmax`].
    #[track_caller]
    pub fn argmax_axis(&self, axis: isize) -> Vec<usize> {
        let axis = nonempty_axis("argmax", axis, self.shape());
        arg_extremum(self, axis, Extremum::Max)
    }

    /// The index of the first smallest element of each lane along `axis`; as
    /// [`argmax_axis`](Self::argmax_axis) otherwise.
    ///
    /// ```
    /// use wengert_autograd::Tensor;
    /// let x = Tensor::from_vec(vec![0.1, 2.0, -3.0, 5.0, 4.0, -9.0], &[3, 2]).unwrap();
    /// assert_eq!(x.argmin_axis(1), vec![0, 0, 1]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range or has length 0, as [`Var::argmin`].
    #[track_caller]
    pub fn argmin_axis(&self, axis: isize) -> Vec<usize> {
        let axis = nonempty_axis("argmin", axis, self.shape());
        arg_extremum(self, axis, Extremum::Min)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, t};
    use crate::{Operand, Tape, Tensor};

    #[test]
    fn indices_follow_first_occurrence_on_every_axis() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(
            &[1.0, 7.0, 7.0, 0.0, -2.0, 5.0, 9.0, -2.0, 3.0, 3.0, 3.0, 3.0],
            &[2, 2, 3],
        ));
        let a = x.argmax(-1, false);
        assert_eq!(a.shape().as_slice(), &[2, 2]);
        assert_close(&a.value(), &[1.0, 2.0, 0.0, 0.0], 0.0);
        let b = x.argmin(0, true);
        assert_eq!(b.shape().as_slice(), &[1, 2, 3]);
        assert_close(&b.value(), &[0.0, 1.0, 1.0, 0.0, 0.0, 1.0], 0.0);
        assert_close(
            &x.argmax(1, false).value(),
            &[0, 0, 0, 0, 1, 0].map(f64::from),
            0.0,
        );
        assert_eq!(x.value().argmin_axis(-1), vec![0, 1, 1, 0]);
        let eager = Operand::from(x.value()).argmax(-1, false).value();
        assert_eq!(eager, a.value());
    }

    #[test]
    fn result_does_not_require_grad_and_does_not_cut_other_paths() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[0.5, -1.0, 2.0], &[3]));
        let i = x.argmax(0, false);
        assert!(!i.requires_grad());
        assert!(!x.argmin(0, true).requires_grad());
        assert_eq!(i.item(), 2.0);
        // d/dx sum(x * argmax(x)) = argmax(x) = 2 everywhere: the index is a constant.
        let g = (x * i).sum().backward();
        assert_close(&g[x], &[2.0, 2.0, 2.0], 0.0);
        // Recorded (create_graph) use inside a backward rule stays non-differentiable too.
        let o = Operand::from(x).argmax(0, false);
        assert!(o.as_var().is_some_and(|v| !v.requires_grad()));
    }

    #[test]
    fn nan_counts_as_the_extremum() {
        let x =
            Tensor::from_vec(vec![1.0f32, f32::NAN, 5.0], &[3]).expect("the data fits the shape");
        assert_eq!((x.argmax_axis(0), x.argmin_axis(0)), (vec![1], vec![1]));
    }

    #[test]
    #[should_panic(expected = "argmax: axis 2 is out of range for a tensor of shape [2, 3]")]
    fn bad_axis_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 3])).argmax(2, false);
    }

    #[test]
    #[should_panic(expected = "argmin: axis 1 has length 0 in shape [2, 0]")]
    fn empty_axis_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 0])).argmin(1, false);
    }

    #[test]
    #[should_panic(expected = "argmax: axis -3 is out of range for a tensor of shape [4, 2]")]
    fn eager_bad_axis_panics() {
        Tensor::<f64>::zeros(&[4, 2]).argmax_axis(-3);
    }
}
