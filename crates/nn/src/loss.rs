//! Loss functions and metrics, built from primitive ops: [`mse`], [`cross_entropy`],
//! [`bce_with_logits`], [`l2_penalty`], and the [`accuracy`] metric. Every loss is a mean over
//! the batch (PyTorch's `reduction="mean"`) and is finite and accurate for logits of magnitude
//! `1e3` in f32 and f64.
//!
//! ```
//! use wengert_autograd::{Tape, Tensor};
//! use wengert_nn::loss::cross_entropy;
//! let tape = Tape::<f64>::new();
//! let logits = tape.var(Tensor::from_vec(vec![2.0, 0.0, 0.0, 0.0], &[2, 2]).unwrap());
//! let loss = cross_entropy(logits, &[0, 1]);
//! // mean(-log softmax(z)_label) = (ln(1 + e^-2) + ln 2) / 2
//! let want = ((1.0 + (-2f64).exp()).ln() + 2f64.ln()) / 2.0;
//! assert!((loss.item() - want).abs() < 1e-14);
//! ```

use wengert_autograd::{Float, Tape, Tensor, Var};

use crate::Param;

#[track_caller]
fn same_shape<T: Float>(what: &str, a: &str, x: Var<'_, T>, b: &str, y: Var<'_, T>) {
    let (xs, ys) = (x.shape(), y.shape());
    assert!(
        xs == ys,
        "{what}: {a} shape {:?} differs from {b} shape {:?} (losses do not broadcast)",
        xs.as_slice(),
        ys.as_slice()
    );
}

/// Mean squared error `L = mean((pred - target)^2)` over all elements (PyTorch `mse_loss`).
/// Gradient: `dL/dpred = 2 (pred - target) / n`.
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::loss::mse;
/// let tape = Tape::<f64>::new();
/// let p = tape.var(Tensor::from_vec(vec![1.0, 3.0], &[2]).unwrap());
/// let t = tape.constant(Tensor::from_vec(vec![0.0, 1.0], &[2]).unwrap());
/// let l = mse(p, t);
/// assert_eq!(l.item(), 2.5); // (1 + 4) / 2
/// assert_eq!(l.backward()[p].to_vec(), vec![1.0, 2.0]); // 2 (p - t) / 2
/// ```
///
/// # Panics
/// If the shapes differ: `mse: pred shape [2, 3] differs from target shape [3] (losses do not broadcast)`.
#[track_caller]
pub fn mse<'t, T: Float>(pred: Var<'t, T>, target: Var<'t, T>) -> Var<'t, T> {
    same_shape("mse", "pred", pred, "target", target);
    (pred - target).square().mean()
}

/// Mean softmax cross-entropy from raw logits `z` `[N, C]` and integer class labels:
/// `L = -(1/N) sum_n log_softmax(z_n)[labels[n]]` (PyTorch `cross_entropy`, Keras
/// `SparseCategoricalCrossentropy(from_logits=True)`). One fused node ([`Var::cross_entropy`]), so
/// logits of magnitude `1e3` give finite, exact values. Gradient:
/// `dL/dz_nk = (softmax(z_n)_k - [k == labels[n]]) / N`.
///
/// # Panics
/// If `logits` is not 2-D (`cross_entropy: logits must be [N, C], got shape [10]`), if the
/// label count differs from `N` (`cross_entropy: 3 labels for a batch of 4 logits rows`), or a
/// label is out of range (`cross_entropy: label 7 at position 2 is out of range for 6 classes`).
#[track_caller]
pub fn cross_entropy<'t, T: Float>(logits: Var<'t, T>, labels: &[usize]) -> Var<'t, T> {
    // One fused node (`Var::cross_entropy`), which checks the shapes and labels with the
    // messages above; equal to `-log_softmax(x).gather(labels).mean()`.
    logits.cross_entropy(labels)
}

/// Mean binary cross-entropy of `sigmoid(logits)` against `targets` in `[0, 1]`:
/// `L = mean(-t log sigmoid(x) - (1 - t) log(1 - sigmoid(x)))`, computed as
/// `mean(softplus(x) - x t)` (the same function; `softplus(x) = max(x, 0) + ln(1 + e^-|x|)`
/// never overflows), so it is finite for logits of any magnitude (PyTorch
/// `binary_cross_entropy_with_logits`). Gradient: `dL/dx = (sigmoid(x) - t) / n`, exact
/// everywhere, including `x = 0`.
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::loss::bce_with_logits;
/// let tape = Tape::<f32>::new();
/// let x = tape.var(Tensor::from_vec(vec![1000.0, -1000.0, 0.0], &[3]).unwrap());
/// let t = tape.constant(Tensor::from_vec(vec![1.0, 0.0, 1.0], &[3]).unwrap());
/// let l = bce_with_logits(x, t);
/// assert!((l.item() - 2f32.ln() / 3.0).abs() < 1e-7); // only the x = 0 term is nonzero
/// let g = l.backward()[x].to_vec();
/// assert_eq!(g[..2], [0.0, 0.0]);
/// assert!((g[2] + 0.5 / 3.0).abs() < 1e-7); // (sigmoid(0) - 1) / 3
/// ```
///
/// # Panics
/// If the shapes differ:
/// `bce_with_logits: logits shape [4] differs from targets shape [4, 1] (losses do not broadcast)`.
#[track_caller]
pub fn bce_with_logits<'t, T: Float>(logits: Var<'t, T>, targets: Var<'t, T>) -> Var<'t, T> {
    same_shape("bce_with_logits", "logits", logits, "targets", targets);
    (logits.softplus() - logits * targets).mean()
}

/// The L2 penalty `sum_p sum_i p_i^2` over `params` (a sum of squares, no 1/2 and no lambda:
/// multiply by your `lambda` and add it to the loss, e.g. `loss + l2_penalty(&tape,
/// &model.params()) * 1e-4`). Gradient: `2 p`. An empty list gives a constant 0.
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::{loss::l2_penalty, Param};
/// let a = Param::new(Tensor::<f64>::from_vec(vec![1.0, -2.0], &[2]).unwrap());
/// let b = Param::new(Tensor::<f64>::from_vec(vec![3.0], &[1]).unwrap());
/// let tape = Tape::new();
/// let pen = l2_penalty(&tape, &[&a, &b]);
/// assert_eq!(pen.item(), 14.0);
/// let g = (pen * 0.5).backward(); // lambda = 0.5: gradient lambda * 2p = p
/// assert_eq!(g[&a].to_vec(), vec![1.0, -2.0]);
/// ```
pub fn l2_penalty<'t, T: Float>(tape: &'t Tape<T>, params: &[&Param<T>]) -> Var<'t, T> {
    params
        .iter()
        .map(|p| p.on(tape).square().sum())
        .reduce(|a, b| a + b)
        .unwrap_or_else(|| tape.constant(Tensor::scalar(T::ZERO)))
}

/// The fraction of rows of `logits` `[N, C]` (or `[.., C]`) whose largest entry (the first, on
/// ties) is at the label: a metric, not differentiable. An empty batch gives 0.
///
/// ```
/// use wengert_autograd::Tensor;
/// use wengert_nn::loss::accuracy;
/// let logits = Tensor::<f32>::from_vec(vec![0.1, 0.9, 0.8, 0.2, 0.3, 0.7], &[3, 2]).unwrap();
/// assert_eq!(accuracy(&logits, &[1, 0, 0]), 2.0 / 3.0);
/// ```
///
/// # Panics
/// If the label count differs from the number of rows:
/// `accuracy: 2 labels for 3 rows of logits (shape [3, 2])`.
#[track_caller]
pub fn accuracy<T: Float>(logits: &Tensor<T>, labels: &[usize]) -> f64 {
    let pred = logits.argmax_axis(-1);
    assert!(
        pred.len() == labels.len(),
        "accuracy: {} labels for {} rows of logits (shape {:?})",
        labels.len(),
        pred.len(),
        logits.shape()
    );
    if labels.is_empty() {
        return 0.0;
    }
    let hits = pred.iter().zip(labels).filter(|(p, l)| p == l).count();
    hits as f64 / labels.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::check_fn;
    use wengert_autograd::check::{CheckOptions, gradcheck, gradgradcheck};

    fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(data.to_vec(), shape).expect("the data fits the shape")
    }

    fn ce_closed_form(z: &[f64], c: usize, labels: &[usize]) -> (f64, Vec<f64>) {
        // L = mean_n (lse(z_n) - z_n[label]); dL/dz = (softmax - onehot) / N, in f64 with the
        // max shifted out.
        let n = labels.len();
        let mut loss = 0.0;
        let mut grad = vec![0.0; z.len()];
        for (i, &l) in labels.iter().enumerate() {
            let row = &z[i * c..(i + 1) * c];
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
            loss += m + s.ln() - row[l];
            for k in 0..c {
                grad[i * c + k] =
                    ((row[k] - m).exp() / s - if k == l { 1.0 } else { 0.0 }) / n as f64;
            }
        }
        (loss / n as f64, grad)
    }

    fn check_ce<T: Float>(z: &[f64], c: usize, labels: &[usize], tol: f64) {
        let (want, want_g) = ce_closed_form(z, c, labels);
        let tape = Tape::<T>::new();
        let x = tape.var(t(z, &[labels.len(), c]).cast());
        let l = cross_entropy(x, labels);
        let got = l.item().to_f64();
        assert!(got.is_finite());
        assert!(
            (got - want).abs() <= tol * want.abs().max(1.0),
            "{got} vs {want}"
        );
        let g = l.backward()[x].clone();
        for (a, b) in g.data().iter().zip(&want_g) {
            assert!((a.to_f64() - b).abs() <= tol, "{a} vs {b}");
        }
    }

    #[test]
    fn cross_entropy_matches_closed_form_at_extreme_logits_f32_f64() {
        let z = [1000.0, -1000.0, 0.0, -500.0, 999.0, 1000.0, 3.0, -2.0, 0.5];
        check_ce::<f64>(&z, 3, &[1, 2, 0], 1e-12);
        check_ce::<f32>(&z, 3, &[1, 2, 0], 1e-5);
        // the reference itself: row 0 costs 1000 - (-1000) = 2000, row 1 ln(1 + e^-1) + tiny,
        // row 2 ln(1 + e^-5 + e^-2.5); a naive exp would overflow on every row
        let (want, _) = ce_closed_form(&z, 3, &[1, 2, 0]);
        let rows = 2000.0
            + (1.0 + (-1.0f64).exp() + (-1500.0f64).exp()).ln()
            + (1.0 + (-5.0f64).exp() + (-2.5f64).exp()).ln();
        assert!((want - rows / 3.0).abs() < 1e-12);
    }

    #[test]
    #[should_panic(expected = "cross_entropy: label 7 at position 2 is out of range for 6 classes")]
    fn cross_entropy_rejects_large_label() {
        let tape = Tape::<f32>::new();
        let _ = cross_entropy(tape.var(Tensor::zeros(&[3, 6])), &[0, 1, 7]);
    }

    #[test]
    #[should_panic(expected = "cross_entropy: 3 labels for a batch of 4 logits rows")]
    fn cross_entropy_rejects_length_mismatch() {
        let tape = Tape::<f32>::new();
        let _ = cross_entropy(tape.var(Tensor::zeros(&[4, 6])), &[0, 1, 2]);
    }

    fn check_bce<T: Float>(x: &[f64], tg: &[f64], tol: f64) {
        // L = mean(softplus(x) - x t), dL/dx = (sigmoid(x) - t) / n, evaluated stably in f64
        let n = x.len() as f64;
        let sp = |v: f64| v.max(0.0) + (-v.abs()).exp().ln_1p();
        let sig = |v: f64| {
            if v >= 0.0 {
                1.0 / (1.0 + (-v).exp())
            } else {
                v.exp() / (1.0 + v.exp())
            }
        };
        let want: f64 = x.iter().zip(tg).map(|(v, t)| sp(*v) - v * t).sum::<f64>() / n;
        let tape = Tape::<T>::new();
        let xv = tape.var(t(x, &[x.len()]).cast());
        let l = bce_with_logits(xv, tape.constant(t(tg, &[tg.len()]).cast()));
        let got = l.item().to_f64();
        assert!(
            (got - want).abs() <= tol * want.abs().max(1.0),
            "{got} vs {want}"
        );
        let g = l.backward()[xv].clone();
        for ((a, v), tt) in g.data().iter().zip(x).zip(tg) {
            assert!((a.to_f64() - (sig(*v) - tt) / n).abs() <= tol, "{a}");
        }
    }

    #[test]
    fn bce_with_logits_is_finite_and_correct_at_extreme_logits_f32_f64() {
        let x = [1000.0, -1000.0, 1000.0, -1000.0, 0.0, 2.5, -0.3];
        let tg = [1.0, 0.0, 0.0, 1.0, 0.3, 0.9, 0.0];
        check_bce::<f64>(&x, &tg, 1e-12);
        check_bce::<f32>(&x, &tg, 1e-5);
    }

    #[test]
    fn mse_value_and_shape_check() {
        let tape = Tape::<f32>::new();
        let p = tape.var(Tensor::from_vec(vec![1e3, -1e3], &[2]).expect("the data fits the shape"));
        let q = tape
            .constant(Tensor::from_vec(vec![-1e3, -1e3], &[2]).expect("the data fits the shape"));
        assert_eq!(mse(p, q).item(), 2e6); // (2000^2 + 0) / 2
        let r = std::panic::catch_unwind(|| {
            let tape = Tape::<f32>::new();
            let _ = mse(
                tape.var(Tensor::zeros(&[2, 3])),
                tape.var(Tensor::zeros(&[3])),
            );
        });
        let msg = *r
            .unwrap_err()
            .downcast::<String>()
            .expect("the caught panic carries a formatted String message");
        assert!(
            msg.contains("mse: pred shape [2, 3] differs from target shape [3]"),
            "{msg}"
        );
    }

    #[test]
    fn l2_penalty_sums_squares_and_empty_is_zero() {
        let a = Param::new(
            Tensor::<f64>::from_vec(vec![1.0, 2.0, 2.0], &[3]).expect("the data fits the shape"),
        );
        let tape = Tape::new();
        assert_eq!(l2_penalty(&tape, &[&a, &a]).item(), 18.0);
        assert_eq!(l2_penalty::<f64>(&tape, &[]).item(), 0.0);
    }

    #[test]
    fn accuracy_counts_argmax_hits() {
        let z = Tensor::<f64>::from_vec(vec![1.0, 5.0, 2.0, 9.0, 0.0, 0.0, 3.0, 3.0, 1.0], &[3, 3])
            .expect("9 values fill [3, 3]");
        assert_eq!(accuracy(&z, &[1, 0, 0]), 1.0); // ties go to the first
        assert_eq!(accuracy(&z, &[2, 2, 2]), 0.0);
        assert_eq!(accuracy(&Tensor::<f64>::zeros(&[0, 3]), &[]), 0.0);
    }

    #[test]
    fn gradcheck_each_loss() {
        let opts = CheckOptions::default();
        let z = t(&[0.2, -1.0, 0.5, 1.5, 0.3, -0.7, 0.0, 0.9], &[2, 4]);
        let tgt = t(&[0.0, 1.0, 0.2, 0.7, 1.0, 0.5, 0.0, 0.3], &[2, 4]);
        // cross-entropy: dL/dz = (softmax - onehot) / N
        let ce = check_fn(|v: &[Var<'_, f64>]| cross_entropy(v[0], &[2, 0]));
        gradcheck(ce, std::slice::from_ref(&z), &opts)
            .expect("cross_entropy's gradient must pass gradcheck");
        gradgradcheck(ce, std::slice::from_ref(&z), &opts)
            .expect("cross_entropy's second derivative must pass gradgradcheck");
        // bce: dL/dx = (sigmoid(x) - t) / n, dL/dt = -x / n
        let bce = check_fn(|v: &[Var<'_, f64>]| bce_with_logits(v[0], v[1]));
        gradcheck(bce, &[z.clone(), tgt.clone()], &opts)
            .expect("bce_with_logits' gradient must pass gradcheck");
        gradgradcheck(bce, &[z.clone(), tgt.clone()], &opts)
            .expect("bce_with_logits' second derivative must pass gradgradcheck");
        // mse: dL/dp = 2 (p - t) / n = -dL/dt
        let m = check_fn(|v: &[Var<'_, f64>]| mse(v[0], v[1]));
        gradcheck(m, &[z.clone(), tgt.clone()], &opts).expect("mse's gradient must pass gradcheck");
        gradgradcheck(m, &[z.clone(), tgt.clone()], &opts)
            .expect("mse's second derivative must pass gradgradcheck");
        // l2 through params is sum(p^2): gradient 2p; checked as a function of the value
        let l2 = check_fn(|v: &[Var<'_, f64>]| v[0].square().sum() + v[1].square().sum());
        gradcheck(l2, &[z.clone(), tgt], &opts)
            .expect("the gradient of the sum of squares must pass gradcheck");
    }

    #[test]
    fn l2_penalty_gradient_is_two_p() {
        let a = Param::new(
            Tensor::<f64>::from_vec(vec![0.5, -1.5], &[2]).expect("the data fits the shape"),
        );
        let b =
            Param::new(Tensor::<f64>::from_vec(vec![2.0], &[1]).expect("the data fits the shape"));
        let tape = Tape::new();
        let g = l2_penalty(&tape, &[&a, &b]).backward();
        assert_eq!(g[&a].to_vec(), vec![1.0, -3.0]);
        assert_eq!(g[&b].to_vec(), vec![4.0]);
    }
}
