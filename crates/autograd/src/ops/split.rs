//! `split` and `chunk`: cut a tensor into consecutive pieces along an axis. Composites of
//! `narrow`, so they need no backward of their own.

use smallvec::SmallVec;

use crate::tensor::shape::normalize_axis;
use crate::{Float, Operand, Var};

/// `(start, len)` of each piece, after checking that `sizes` add up to the axis length.
#[track_caller]
fn split_ranges(axis: isize, sizes: &[usize], shape: &[usize]) -> SmallVec<[(usize, usize); 4]> {
    let a = normalize_axis("split", axis, shape);
    let total: usize = sizes.iter().sum();
    assert!(
        total == shape[a],
        "split: sizes {sizes:?} add up to {total} but axis {a} of shape {shape:?} has length {}",
        shape[a]
    );
    let mut start = 0;
    sizes
        .iter()
        .map(|&n| {
            start += n;
            (start - n, n)
        })
        .collect()
}

/// `(start, len)` of each chunk: `ceil(len / n)` elements each, the last one smaller.
#[track_caller]
fn chunk_ranges(n: usize, axis: isize, shape: &[usize]) -> SmallVec<[(usize, usize); 4]> {
    assert!(
        n > 0,
        "chunk: the number of chunks must be at least 1, got 0"
    );
    let a = normalize_axis("chunk", axis, shape);
    let len = shape[a];
    if len == 0 {
        return SmallVec::from_slice(&[(0, 0)]);
    }
    let size = len.div_ceil(n);
    (0..len)
        .step_by(size)
        .map(|start| (start, size.min(len - start)))
        .collect()
}

impl<'t, T: Float> Var<'t, T> {
    /// Cuts `axis` (negative counts from the end) into consecutive pieces of the given `sizes`,
    /// which must add up to the axis length: piece `k` is
    /// [`narrow`](Self::narrow)`(axis, sizes[0] + .. + sizes[k - 1], sizes[k])`.
    ///
    /// Composite of `narrow`: each piece's gradient is padded back into place, and the
    /// gradients of all pieces add up to the input's. Linear, no kinks.
    /// PyTorch: `torch.split(x, sizes, dim=axis)` with a list of sizes.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::arange(5));
    /// let parts = x.split(0, &[2, 3]);
    /// assert_eq!(parts[0].value().to_vec(), vec![0.0, 1.0]);
    /// assert_eq!(parts[1].value().to_vec(), vec![2.0, 3.0, 4.0]);
    /// let g = (parts[0].sum() * 10.0 + parts[1].sum()).backward();
    /// assert_eq!(g[x].to_vec(), vec![10.0, 10.0, 1.0, 1.0, 1.0]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range, or the sizes do not add up to the axis length:
    /// `split: sizes [1, 2] add up to 3 but axis 1 of shape [2, 4] has length 4`.
    #[track_caller]
    pub fn split(self, axis: isize, sizes: &[usize]) -> Vec<Var<'t, T>> {
        split_ranges(axis, sizes, &self.shape())
            .into_iter()
            .map(|(start, len)| self.narrow(axis, start, len))
            .collect()
    }

    /// Cuts `axis` (negative counts from the end) into at most `n` consecutive chunks of
    /// `ceil(len / n)` elements each, the last one smaller if the length does not divide
    /// evenly; so there may be fewer than `n` chunks (length 6 in 4 chunks gives 3 of 2), as in
    /// PyTorch. An empty axis gives one empty chunk.
    ///
    /// Composite of [`narrow`](Self::narrow), like [`split`](Self::split).
    /// PyTorch: `torch.chunk(x, n, dim=axis)`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::arange(10).reshape(&[2, 5]));
    /// let chunks = x.chunk(3, 1);
    /// let widths: Vec<usize> = chunks.iter().map(|c| c.shape()[1]).collect();
    /// assert_eq!(widths, vec![2, 2, 1]);
    /// assert_eq!(chunks[2].value().to_vec(), vec![4.0, 9.0]);
    /// ```
    ///
    /// # Panics
    /// If `n` is 0 (`chunk: the number of chunks must be at least 1, got 0`) or the axis is out
    /// of range (`chunk: axis 2 is out of range for a tensor of shape [2, 5] (rank 2)`).
    #[track_caller]
    pub fn chunk(self, n: usize, axis: isize) -> Vec<Var<'t, T>> {
        chunk_ranges(n, axis, &self.shape())
            .into_iter()
            .map(|(start, len)| self.narrow(axis, start, len))
            .collect()
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::split`] on operands.
    #[track_caller]
    pub fn split(&self, axis: isize, sizes: &[usize]) -> Vec<Operand<'t, T>> {
        split_ranges(axis, sizes, &self.shape())
            .into_iter()
            .map(|(start, len)| self.narrow(axis, start, len))
            .collect()
    }

    /// [`Var::chunk`] on operands.
    #[track_caller]
    pub fn chunk(&self, n: usize, axis: isize) -> Vec<Operand<'t, T>> {
        chunk_ranges(n, axis, &self.shape())
            .into_iter()
            .map(|(start, len)| self.narrow(axis, start, len))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{assert_close, check_both, t};
    use super::chunk_ranges;
    use crate::{Tape, Tensor, Var};

    #[test]
    fn gradient_has_closed_form() {
        let tape = Tape::<f64>::new();
        let x = tape.var(t(&[0.5, -1.0, 2.0], &[3]));
        let p = x.split(0, &[1, 2]);
        // L = tanh(x0) * sum(x1..3): dL/dx0 = (1 - tanh^2(x0)) * (x1 + x2), dL/dx_i = tanh(x0)
        let g = (p[0].tanh() * p[1].sum()).sum().backward();
        let th = 0.5f64.tanh();
        assert_close(&g[x], &[(1.0 - th * th) * 1.0, th, th], 1e-12);
    }

    #[test]
    fn chunk_sizes_follow_pytorch() {
        let widths =
            |len, n| -> Vec<usize> { chunk_ranges(n, 0, &[len]).iter().map(|&(_, l)| l).collect() };
        assert_eq!(widths(6, 3), vec![2, 2, 2]);
        assert_eq!(widths(5, 3), vec![2, 2, 1]);
        assert_eq!(widths(6, 4), vec![2, 2, 2]);
        assert_eq!(widths(2, 5), vec![1, 1]);
        assert_eq!(widths(0, 2), vec![0]);
    }

    #[test]
    fn split_then_concat_is_the_identity() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::randn(&[2, 5, 3], 1));
        let parts = x.split(1, &[2, 0, 3]);
        assert_eq!(Var::concat(&parts, 1).value(), x.value());
        assert_eq!(Var::concat(&x.chunk(2, -1), -1).value(), x.value());
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_both(
            |x| {
                let p = x[0].split(-1, &[1, 3]);
                p[0] * p[1].tanh()
            },
            &[Tensor::randn(&[2, 4], 1)],
        );
        check_both(
            |x| {
                let c = x[0].chunk(2, 0);
                (c[0] * c[1]).exp()
            },
            &[Tensor::randn(&[4, 2], 2)],
        );
    }

    #[test]
    #[should_panic(
        expected = "split: sizes [1, 2] add up to 3 but axis 1 of shape [2, 4] has length 4"
    )]
    fn sizes_not_adding_up_panic() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 4])).split(1, &[1, 2]);
    }

    #[test]
    #[should_panic(expected = "chunk: the number of chunks must be at least 1, got 0")]
    fn zero_chunks_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 4])).chunk(0, 0);
    }

    #[test]
    #[should_panic(expected = "chunk: axis 2 is out of range for a tensor of shape [2, 5]")]
    fn bad_chunk_axis_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 5])).chunk(2, 2);
    }
}
