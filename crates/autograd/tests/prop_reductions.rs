//! Property tests for the reductions and axis-wise ops: on random shapes (1-3 axes of length
//! 1-4), random axes (negative included) and both `keepdim` settings, first- and second-order
//! gradients agree with central finite differences (`gradcheck` and `gradgradcheck`, f64).
//!
//! Covered: sum, sum_axis, sum_axes, mean, mean_axes, sum_to, broadcast_to, max_axis, min_axis,
//! max, min, logsumexp, softmax, log_softmax; argmax/argmin (values and no gradient) and
//! one_hot (values and errors).

use std::slice;

use proptest::prelude::*;
use wengert_autograd::check::{CheckOptions, gradcheck, gradgradcheck};
use wengert_autograd::{Tensor, Var};

const CASES: u32 = 32;

/// Runs gradcheck and gradgradcheck with default tolerances.
fn check_both<F>(f: F, inputs: &[Tensor<f64>]) -> Result<(), TestCaseError>
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    let opts = CheckOptions::default();
    gradcheck(&f, inputs, &opts).map_err(|e| TestCaseError::fail(e.to_string()))?;
    gradgradcheck(&f, inputs, &opts).map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(())
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4, 1..=3)
}

/// A tensor with values in [-2, 2] and an axis in `-rank..rank`.
fn tensor_and_axis() -> impl Strategy<Value = (Tensor<f64>, isize)> {
    shape().prop_flat_map(|s| {
        let n = s.iter().product::<usize>();
        let r = s.len() as isize;
        (prop::collection::vec(-2.0f64..2.0, n), -r..r)
            .prop_map(move |(v, a)| (Tensor::from_vec(v, &s).unwrap(), a))
    })
}

/// A tensor of pairwise distinct values (any two differ by at least 0.25), so that the
/// arg-max/arg-min of every lane is unique and stable under finite-difference probes, and an
/// axis in `-rank..rank`.
fn distinct_tensor_and_axis() -> impl Strategy<Value = (Tensor<f64>, isize)> {
    shape().prop_flat_map(|s| {
        let n: usize = s.iter().product();
        let r = s.len() as isize;
        let ranks = Just((0..n).collect::<Vec<usize>>()).prop_shuffle();
        let jitter = prop::collection::vec(0.0f64..0.1, n);
        (ranks, jitter, -r..r).prop_map(move |(ranks, jitter, a)| {
            let v = ranks
                .iter()
                .zip(&jitter)
                .map(|(&k, j)| 0.35 * k as f64 - 0.175 * n as f64 + j)
                .collect();
            (Tensor::from_vec(v, &s).unwrap(), a)
        })
    })
}

/// A shape and a shape that broadcasts to it (leading axes dropped, others kept or set to 1).
fn shape_and_reduced() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    shape().prop_flat_map(|s| {
        let r = s.len();
        (Just(s), 0..r, prop::collection::vec(any::<bool>(), r)).prop_map(|(s, drop, ones)| {
            let reduced = s[drop..]
                .iter()
                .zip(&ones[drop..])
                .map(|(&n, &one)| if one { 1 } else { n })
                .collect();
            (s, reduced)
        })
    })
}

fn values(shape: &[usize]) -> impl Strategy<Value = Tensor<f64>> + use<> {
    let shape = shape.to_vec();
    prop::collection::vec(-2.0f64..2.0, shape.iter().product::<usize>())
        .prop_map(move |v| Tensor::from_vec(v, &shape).unwrap())
}

/// A tensor and a subset of its axes, each written as non-negative or negative at random.
fn tensor_and_axes() -> impl Strategy<Value = (Tensor<f64>, Vec<isize>)> {
    shape().prop_flat_map(|s| {
        let r = s.len();
        (
            values(&s),
            prop::collection::vec(any::<bool>(), r),
            prop::collection::vec(any::<bool>(), r),
        )
            .prop_map(move |(x, pick, negative)| {
                let axes = (0..r)
                    .filter(|&i| pick[i])
                    .map(|i| {
                        if negative[i] {
                            i as isize - r as isize
                        } else {
                            i as isize
                        }
                    })
                    .collect();
                (x, axes)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn sum_axis_and_mean_axis((x, axis) in tensor_and_axis(), keepdim in any::<bool>()) {
        check_both(move |v| v[0].sum_axis(axis, keepdim).tanh(), slice::from_ref(&x))?;
        check_both(move |v| v[0].mean_axis(axis, keepdim).exp(), slice::from_ref(&x))?;
        check_both(move |v| (v[0].mean_axis(axis, true) * v[0]).sum(), &[x])?;
    }

    #[test]
    fn sum_axes_and_mean_axes((x, axes) in tensor_and_axes(), keepdim in any::<bool>()) {
        let a = axes.clone();
        check_both(move |v| v[0].sum_axes(&a, keepdim).tanh(), slice::from_ref(&x))?;
        check_both(move |v| v[0].mean_axes(&axes, keepdim).exp(), &[x])?;
    }

    #[test]
    fn sum_and_mean_of_everything((x, _) in tensor_and_axis()) {
        check_both(|v| v[0].sum().tanh(), slice::from_ref(&x))?;
        check_both(|v| (v[0].mean() * v[0]).sum(), &[x])?;
    }

    #[test]
    fn sum_to_undoes_broadcast_to(
        (x, small) in shape_and_reduced().prop_flat_map(|(s, r)| (values(&s), Just(r))),
    ) {
        let target = small.clone();
        check_both(move |v| v[0].sum_to(&target).tanh(), slice::from_ref(&x))?;
        // broadcast_to from the reduced shape back to the full one
        let full = x.shape().to_vec();
        let tape = wengert_autograd::Tape::<f64>::new();
        let y = tape.var(x).sum_to(&small).value();
        check_both(move |v| v[0].broadcast_to(&full).tanh(), &[y])?;
    }

    #[test]
    fn max_axis_and_min_axis(
        (x, axis) in distinct_tensor_and_axis(),
        keepdim in any::<bool>(),
    ) {
        check_both(move |v| v[0].max_axis(axis, keepdim).tanh(), slice::from_ref(&x))?;
        check_both(move |v| (v[0].min_axis(axis, keepdim) * 0.7).exp(), slice::from_ref(&x))?;
        // values agree with the eager arg-extremum
        let tape = wengert_autograd::Tape::<f64>::new();
        let v = tape.var(x.clone());
        let m = v.max_axis(axis, false).value();
        let idx = x.argmax_axis(axis);
        let picked = v.argmax(axis, false).value();
        prop_assert_eq!(idx.len(), m.numel());
        prop_assert!(picked.data().iter().zip(&idx).all(|(&p, &i)| p == i as f64));
    }

    #[test]
    fn max_and_min_of_everything((x, _) in distinct_tensor_and_axis()) {
        check_both(|v| (v[0].max() * v[0].min()).tanh(), slice::from_ref(&x))?;
        let data = x.data();
        let tape = wengert_autograd::Tape::<f64>::new();
        let v = tape.var(x.clone());
        let want = data.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        prop_assert_eq!(v.max().item(), want);
        let want = data.iter().copied().fold(f64::INFINITY, f64::min);
        prop_assert_eq!(v.min().item(), want);
    }

    #[test]
    fn logsumexp_gradients((x, axis) in tensor_and_axis(), keepdim in any::<bool>()) {
        check_both(move |v| v[0].logsumexp(axis, keepdim).tanh(), &[x])?;
    }

    #[test]
    fn softmax_gradients((x, axis) in tensor_and_axis()) {
        check_both(move |v| (v[0].softmax(axis) * 3.0).tanh(), slice::from_ref(&x))?;
        // each lane sums to one
        let tape = wengert_autograd::Tape::<f64>::new();
        let s = tape.var(x).softmax(axis).sum_axis(axis, false).value();
        prop_assert!(s.data().iter().all(|v| (v - 1.0).abs() < 1e-12));
    }

    #[test]
    fn log_softmax_gradients((x, axis) in tensor_and_axis()) {
        check_both(move |v| (v[0].log_softmax(axis) * 0.5).tanh(), slice::from_ref(&x))?;
        // log_softmax = x - logsumexp
        let tape = wengert_autograd::Tape::<f64>::new();
        let v = tape.var(x);
        let diff = (v.log_softmax(axis) - (v - v.logsumexp(axis, true))).value();
        prop_assert!(diff.data().iter().all(|d| d.abs() < 1e-12));
    }

    #[test]
    fn argmax_and_argmin_have_no_gradient(
        (x, axis) in distinct_tensor_and_axis(),
        keepdim in any::<bool>(),
    ) {
        let tape = wengert_autograd::Tape::<f64>::new();
        let v = tape.var(x.clone());
        let (a, b) = (v.argmax(axis, keepdim), v.argmin(axis, keepdim));
        prop_assert!(!a.requires_grad() && !b.requires_grad());
        prop_assert_eq!(a.shape(), v.max_axis(axis, keepdim).shape());
        let want: Vec<f64> = x.argmin_axis(axis).into_iter().map(|i| i as f64).collect();
        prop_assert_eq!(b.value().to_vec(), want);
        // x gathered at the arg-max of each lane is max_axis, and at the arg-min is min_axis
        let gathered = |idx: Vec<usize>| -> Vec<f64> {
            let s = x.shape();
            let a = axis.rem_euclid(s.len() as isize) as usize;
            let (len, inner) = (s[a], s[a + 1..].iter().product::<usize>());
            idx.iter()
                .enumerate()
                .map(|(j, &k)| x.data()[(j / inner) * len * inner + j % inner + k * inner])
                .collect()
        };
        prop_assert_eq!(gathered(x.argmax_axis(axis)), v.max_axis(axis, false).value().to_vec());
        prop_assert_eq!(gathered(x.argmin_axis(axis)), v.min_axis(axis, false).value().to_vec());
    }

    #[test]
    fn one_hot_rows_pick_their_label(
        (classes, labels) in (1usize..6).prop_flat_map(|c| (Just(c), prop::collection::vec(0..c, 0..8))),
        bad in 0usize..3,
    ) {
        let y = Tensor::<f64>::one_hot(&labels, classes).unwrap();
        prop_assert_eq!(y.shape(), &[labels.len(), classes][..]);
        prop_assert_eq!(y.data().iter().sum::<f64>(), labels.len() as f64);
        if !labels.is_empty() {
            prop_assert_eq!(y.argmax_axis(-1), labels.clone());
        }
        let mut wrong = labels.clone();
        wrong.push(classes + bad);
        let err = Tensor::<f32>::one_hot(&wrong, classes).unwrap_err().to_string();
        let needle = format!("label {} at position {}", classes + bad, labels.len());
        prop_assert!(err.contains(&needle), "{}", err);
    }
}
