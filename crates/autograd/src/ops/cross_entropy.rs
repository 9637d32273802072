//! `cross_entropy`: mean softmax cross-entropy of logits against integer labels, fused (stable
//! at any logit size, and one node and one pass instead of `log_softmax`, `gather`, `mean` and
//! `neg`: a measured speed-up on small training steps, see `docs/performance-history.md`).

use std::cell::Cell;
use std::sync::Arc;

use crate::tensor::buf::Buf;

use crate::tensor::kernels::{fresh, unique_mut};
use crate::tensor::shape::copy_shape;
use crate::{BackwardContext, Float, InputGrads, Op, Operand, Tensor, Var};

/// `L = mean_r (logsumexp(x_r) - x_r[label_r])` for logits `x` `[N, C]`.
struct CrossEntropy<T: Float> {
    labels: Arc<[usize]>,
    /// `exp(x - max_r)` and its row sums, kept by the forward for the first backward, which
    /// turns them into the gradient in place (no second pass of `exp`, no new buffer).
    kept: Cell<Option<ShiftedExp<T>>>,
}

/// `exp(x_rj - m_r)` of logits `x` `[N, C]` with `m_r` the row maximum, and each row's sum.
struct ShiftedExp<T> {
    exps: Buf<T>,
    sums: Vec<T>,
}

impl<T: Float> ShiftedExp<T> {
    /// Also returns the row maxima. The `exp`s run as one vectorised pass over the rows.
    fn new(x: &[T], c: usize) -> (Self, Vec<T>) {
        if c == 0 {
            // No classes: `check` allows that only for an empty batch, so there are no rows.
            let exps = Buf::empty();
            return (ShiftedExp { exps, sums: vec![] }, vec![]);
        }
        let maxima: Vec<T> = x
            .chunks_exact(c)
            .map(|row| row.iter().copied().fold(T::NEG_INFINITY, T::max))
            .collect();
        let exps = fresh(x.len(), |out| {
            crate::vectorized(
                #[inline(always)]
                || {
                    for (row, &m) in x.chunks_exact(c).zip(&maxima) {
                        out.extend(c, row.iter().map(|&v| (v - m).exp()));
                    }
                },
            )
        });
        let sums = exps
            .chunks_exact(c)
            .map(|row| row.iter().copied().sum())
            .collect();
        (ShiftedExp { exps, sums }, maxima)
    }
}

impl<T: Float> Op<T> for CrossEntropy<T> {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }

    fn forward(&self, x: &[&Tensor<T>]) -> Tensor<T> {
        let c = x[0].shape()[1];
        let n = self.labels.len();
        let d = x[0].data();
        let (kept, maxima) = ShiftedExp::new(d, c);
        // logsumexp - x[label] per row, with the max shifted out: stable for any logits
        let total = (0..n)
            .map(|r| (maxima[r] - d[r * c + self.labels[r]]) + kept.sums[r].ln())
            .sum::<T>();
        self.kept.set(Some(kept));
        Tensor::scalar(total / T::from_usize(n))
    }

    // dL/dx_rj = (softmax(x_r)_j - [j == label_r]) / N, times the upstream (scalar) gradient.
    fn backward<'t>(&self, cx: &BackwardContext<'_, 't, T>) -> InputGrads<'t, T> {
        let (x, g) = (cx.input(0), cx.grad());
        let shape = x.shape();
        let (n, c) = (shape[0], shape[1]);
        let scale = T::ONE / T::from_usize(n);
        if x.is_recorded() || g.is_recorded() {
            let one_hot = Tensor::one_hot(&self.labels, c)
                .unwrap_or_else(|_| unreachable!("labels were checked against C when applied"));
            let d = x.softmax(1) - x.constant_like(one_hot);
            return [Some(d * g.mul_scalar(scale))].into();
        }
        let gv = g.value().item() * scale;
        // Computed again only for a second backward through this node (`retain_graph`).
        let ShiftedExp { mut exps, sums } = self
            .kept
            .take()
            .unwrap_or_else(|| ShiftedExp::new(x.value().data(), c).0);
        if c > 0 {
            let rows = unique_mut(&mut exps).chunks_exact_mut(c).zip(&sums);
            for ((d, &s), &label) in rows.zip(self.labels.iter()) {
                let k = gv / s;
                d.iter_mut().for_each(|d| *d *= k);
                d[label] -= gv;
            }
        }
        [Some(Tensor::from_parts(copy_shape(&shape), exps).into())].into()
    }
}

#[track_caller]
fn check(shape: &[usize], labels: &[usize]) {
    assert!(
        shape.len() == 2,
        "cross_entropy: logits must be [N, C], got shape {shape:?}"
    );
    let (n, c) = (shape[0], shape[1]);
    assert!(
        labels.len() == n,
        "cross_entropy: {} labels for a batch of {n} logits rows",
        labels.len()
    );
    if let Some(p) = labels.iter().position(|&l| l >= c) {
        panic!(
            "cross_entropy: label {} at position {p} is out of range for {c} classes",
            labels[p]
        );
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Mean softmax cross-entropy of logits `self` `[N, C]` against integer class labels
    /// (`labels.len() == N`, each `< C`):
    ///
    /// `L = (1/N) sum_r (logsumexp(x_r) - x_r[label_r])`, a scalar (shape `[]`).
    ///
    /// Derivative `dL/dx_rj = (softmax(x_r)_j - [j == label_r]) / N`. An empty batch (`N = 0`)
    /// gives NaN, the mean of nothing, as in PyTorch. Smooth; stable for any
    /// logits (the row maximum is shifted out before `exp`, so logits of 1e4 give a finite loss
    /// and gradient, in f32 and f64). Equal to `-x.log_softmax(1).gather(1, labels).mean()` in one
    /// node and one pass; any order of derivative works (`Tape::grad` records the derivative
    /// from `softmax`). PyTorch: `torch.nn.functional.cross_entropy(x, labels)`.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![0.0, 0.0, 1e4, 0.0], &[2, 2]).unwrap());
    /// let loss = x.cross_entropy(&[1, 0]);
    /// // row 0: ln 2 - 0; row 1: logsumexp = 1e4, minus x[1][0] = 1e4: 0
    /// assert!((loss.item() - 2f64.ln() / 2.0).abs() < 1e-15);
    /// let g = loss.backward()[x].to_vec();
    /// assert_eq!(g, vec![0.25, -0.25, 0.0, 0.0]); // (softmax - one_hot) / 2
    /// ```
    ///
    /// # Panics
    /// If `self` is not 2-D, the label count is not `N`, or a label is `>= C`
    /// (`cross_entropy: label 7 at position 3 is out of range for 5 classes`).
    #[track_caller]
    pub fn cross_entropy(self, labels: &[usize]) -> Var<'t, T> {
        check(&self.shape(), labels);
        self.tape.apply(
            CrossEntropy {
                labels: labels.into(),
                kept: Cell::new(None),
            },
            &[self],
        )
    }
}

impl<'t, T: Float> Operand<'t, T> {
    /// [`Var::cross_entropy`] on operands.
    #[track_caller]
    pub fn cross_entropy(&self, labels: &[usize]) -> Operand<'t, T> {
        check(&self.shape(), labels);
        Operand::apply(
            CrossEntropy {
                labels: labels.into(),
                kept: Cell::new(None),
            },
            &[self],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::check_both;
    use crate::{IndexTensor, Tape, Tensor};

    #[test]
    fn equals_the_composite_in_value_and_gradient() {
        let x0 = Tensor::<f64>::randn(&[5, 4], 1).map(|v| 3.0 * v);
        let labels = [3, 0, 1, 1, 2];
        let run = |fused: bool| {
            let tape = Tape::new();
            let x = tape.var(x0.clone());
            let loss = if fused {
                x.cross_entropy(&labels)
            } else {
                let idx = IndexTensor::from_vec(labels.to_vec(), &[5, 1])
                    .expect("the data fits the shape");
                -x.log_softmax(1).gather(1, &idx).mean()
            };
            // d/dL exp(L) = exp(L): the upstream gradient is not one
            let v = loss.item();
            let g = loss.exp().backward();
            (v, g[x].to_vec())
        };
        let ((vf, gf), (vc, gc)) = (run(true), run(false));
        assert!((vf - vc).abs() < 1e-14, "{vf} vs {vc}");
        for (a, b) in gf.iter().zip(&gc) {
            assert!((a - b).abs() < 1e-14, "{a} vs {b}");
        }
    }

    #[test]
    fn a_second_sweep_recomputes_what_the_first_consumed() {
        // The forward keeps exp(x - max) for the first backward, which turns it into the
        // gradient in place; a second sweep through the node (retained graph) must compute it
        // again and give the same gradient, in f32 where exp is the polynomial.
        let x0 = Tensor::<f32>::randn(&[6, 5], 4).map(|v| 4.0 * v);
        let labels = [4, 0, 2, 2, 1, 3];
        let tape = Tape::new();
        let x = tape.var(x0.clone());
        let loss = (x * 1.5).cross_entropy(&labels).tanh();
        let first = loss.backward_retain()[x].to_vec();
        let second = loss.backward()[x].to_vec();
        assert_eq!(first, second);
        // Against the composite in f64, to f32 precision:
        // d/dx tanh(CE(1.5 x)) = 1.5 (1 - tanh^2(CE)) (softmax(1.5 x) - onehot) / N
        let x64 = x0.cast::<f64>();
        let tape = Tape::<f64>::new();
        let x = tape.var(x64);
        let idx = IndexTensor::from_vec(labels.to_vec(), &[6, 1]).expect("the data fits the shape");
        let want = (-(x * 1.5).log_softmax(1).gather(1, &idx).mean())
            .tanh()
            .backward()[x]
            .to_vec();
        for (a, b) in first.iter().zip(&want) {
            assert!((f64::from(*a) - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn gradients_match_finite_differences_to_second_order() {
        let x = Tensor::randn(&[3, 4], 2);
        check_both(|v| v[0].cross_entropy(&[1, 3, 0]).exp(), &[x.clone()]);
        check_both(|v| (v[0] * v[0]).cross_entropy(&[2, 2, 1]), &[x]);
    }

    #[test]
    fn finite_at_extreme_logits_in_f32() {
        let tape = Tape::<f32>::new();
        let x = tape.var(
            Tensor::from_vec(vec![1e4, -1e4, 0.0, 5e3], &[2, 2]).expect("the data fits the shape"),
        );
        let loss = x.cross_entropy(&[1, 0]);
        // row 0: 2e4 (the wrong class by 2e4), row 1: 5e3
        assert!((loss.item() - 12_500.0).abs() < 1e-2, "{}", loss.item());
        let g = loss.backward()[x].to_vec();
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
        assert_eq!(g, vec![0.5, -0.5, -0.5, 0.5]);
    }

    #[test]
    fn an_empty_batch_gives_nan_and_an_empty_gradient() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::zeros(&[0, 3]));
        let loss = x.cross_entropy(&[]);
        assert!(loss.item().is_nan());
        assert_eq!(loss.backward()[x].shape(), &[0, 3]);
    }

    #[test]
    #[should_panic(expected = "cross_entropy: label 7 at position 1 is out of range for 4 classes")]
    fn out_of_range_label_panics() {
        let tape = Tape::<f32>::new();
        tape.var(Tensor::zeros(&[2, 4])).cross_entropy(&[0, 7]);
    }
}
