//! Property tests for the elementwise ops: on random shapes (1-3 axes of length 1-4, and for the
//! broadcasting ops random pairs or triples of shapes that broadcast together, scalars included)
//! and random values kept away from kinks, ties and poles, first- and second-order gradients
//! agree with central finite differences (`gradcheck` and `gradgradcheck`, f64).

// Checks pass `&[x.clone()]` and keep `x` for the next check.
#![allow(clippy::cloned_ref_to_slice_refs)]

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use wengert_autograd::check::{CheckOptions, gradcheck, gradgradcheck};
use wengert_autograd::{Tensor, Var};

const CASES: u32 = 24;

/// Runs gradcheck and gradgradcheck, turning a failure report into a proptest failure.
fn check<F>(f: F, inputs: &[Tensor<f64>]) -> Result<(), TestCaseError>
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    let opts = CheckOptions::default();
    gradcheck(&f, inputs, &opts).map_err(|e| TestCaseError::fail(e.to_string()))?;
    gradgradcheck(&f, inputs, &opts).map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(())
}

/// 1 to 3 axes of length 1 to 4.
fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4, 1..=3)
}

/// A shape that broadcasts to `out`: some leading axes dropped (possibly all, giving a scalar),
/// some of the remaining axes set to 1.
fn broadcast_of(out: Vec<usize>) -> impl Strategy<Value = Vec<usize>> {
    let n = out.len();
    (0..=n, prop::collection::vec(any::<bool>(), n)).prop_map(move |(drop, ones)| {
        out[drop..]
            .iter()
            .zip(&ones[drop..])
            .map(|(&len, &one)| if one { 1 } else { len })
            .collect()
    })
}

/// Two shapes that broadcast together.
fn shape_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    shape().prop_flat_map(|out| (broadcast_of(out.clone()), broadcast_of(out)))
}

/// A tensor of `shape` with elements drawn from `values`.
fn tensor<S>(shape: Vec<usize>, values: S) -> impl Strategy<Value = Tensor<f64>>
where
    S: Strategy<Value = f64>,
{
    let n: usize = shape.iter().product();
    prop::collection::vec(values, n)
        .prop_map(move |v| Tensor::from_vec(v, &shape).expect("n elements fit the shape"))
}

/// Values in `[-3, 3)`: for the smooth ops.
fn smooth() -> impl Strategy<Value = f64> {
    -3.0..3.0
}

/// Values in `[0.2, 3)`: for log, sqrt and powf.
fn positive() -> impl Strategy<Value = f64> {
    0.2..3.0
}

/// Values at distance 0.15 to 2 from `kink`, on either side.
fn away_from(kink: f64) -> impl Strategy<Value = f64> {
    (0.15..2.0f64, any::<bool>())
        .prop_map(move |(d, below)| if below { kink - d } else { kink + d })
}

/// Values of magnitude 0.5 to 2, either sign: denominators.
fn nonzero() -> impl Strategy<Value = f64> {
    (0.5..2.0f64, any::<bool>()).prop_map(|(m, neg)| if neg { -m } else { m })
}

/// Moves `x` out of the 0.15-neighbourhood of each kink (kinks at least 0.5 apart).
fn nudge(x: f64, kinks: &[f64]) -> f64 {
    kinks.iter().fold(x, |x, &k| {
        if (x - k).abs() < 0.15 {
            if x < k { k - 0.15 } else { k + 0.15 }
        } else {
            x
        }
    })
}

/// Operands for maximum/minimum without near-ties under any broadcast: one operand's values are
/// `0.25 + k/2`, the other's `k/2` (each jittered by less than 0.05), so every pair differs by more
/// than 0.15. Which operand gets which grid is random.
fn untied_pair() -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
    let grid = |offset: f64| {
        (-4i32..=4, -0.05..0.05f64)
            .prop_map(move |(k, jitter)| f64::from(k) * 0.5 + offset + jitter)
    };
    (shape_pair(), any::<bool>()).prop_flat_map(move |((sa, sb), swap)| {
        let (oa, ob) = if swap { (0.0, 0.25) } else { (0.25, 0.0) };
        (tensor(sa, grid(oa)), tensor(sb, grid(ob)))
    })
}

macro_rules! unary_smooth {
    ($($name:ident: $values:expr => |$x:ident| $body:expr;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(CASES))]
            $(
                #[test]
                fn $name(x in shape().prop_flat_map(|s| tensor(s, $values))) {
                    check(|v| { let $x = v[0]; $body }, &[x])?;
                }
            )*
        }
    };
}

unary_smooth! {
    neg: smooth() => |x| -x;
    exp: smooth() => |x| x.exp();
    tanh: smooth() => |x| x.tanh();
    sigmoid: -8.0..8.0 => |x| x.sigmoid();
    softplus: -8.0..8.0 => |x| x.softplus();
    log: positive() => |x| x.log();
    log1p: -0.8..3.0 => |x| x.log1p();
    sqrt: positive() => |x| x.sqrt();
    relu: away_from(0.0) => |x| x.relu();
    abs: away_from(0.0) => |x| x.abs();
    relu_times_x: away_from(0.0) => |x| x.relu() * x;
    abs_times_x: away_from(0.0) => |x| x.abs() * x;
    square: smooth() => |x| x.square();
}

macro_rules! binary_broadcast {
    ($($name:ident: ($a:expr, $b:expr) => |$x:ident, $y:ident| $body:expr;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(CASES))]
            $(
                #[test]
                fn $name(
                    (a, b) in shape_pair().prop_flat_map(|(sa, sb)| (tensor(sa, $a), tensor(sb, $b)))
                ) {
                    check(|v| { let ($x, $y) = (v[0], v[1]); $body }, &[a, b])?;
                }
            )*
        }
    };
}

binary_broadcast! {
    add: (smooth(), smooth()) => |a, b| a + b;
    sub: (smooth(), smooth()) => |a, b| a - b;
    mul: (smooth(), smooth()) => |a, b| a * b;
    div: (smooth(), nonzero()) => |a, b| a / b;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn powf(x in shape().prop_flat_map(|s| tensor(s, positive())), p in -2.0..3.0f64) {
        check(|v| v[0].powf(p), &[x])?;
    }

    #[test]
    fn leaky_relu(x in shape().prop_flat_map(|s| tensor(s, away_from(0.0))), slope in 0.01..0.9f64) {
        check(|v| v[0].leaky_relu(slope), &[x.clone()])?;
        check(|v| v[0].leaky_relu(slope) * v[0], &[x])?;
    }

    #[test]
    fn clamp(
        (x, lo, hi) in (shape(), -1.5..0.0f64, 0.5..2.0f64).prop_flat_map(|(s, lo, width)| {
            let hi = lo + width;
            (tensor(s, smooth().prop_map(move |x| nudge(x, &[lo, hi]))), Just(lo), Just(hi))
        })
    ) {
        check(|v| v[0].clamp(lo, hi), &[x.clone()])?;
        check(|v| v[0].clamp(lo, hi) * v[0], &[x])?;
    }

    #[test]
    fn scalar_forms(x in shape().prop_flat_map(|s| tensor(s, nonzero())), c in nonzero()) {
        check(|v| v[0] + c, &[x.clone()])?;
        check(|v| c + v[0], &[x.clone()])?;
        check(|v| v[0] - c, &[x.clone()])?;
        check(|v| c - v[0], &[x.clone()])?;
        check(|v| v[0] * c, &[x.clone()])?;
        check(|v| c * v[0], &[x.clone()])?;
        check(|v| v[0] / c, &[x.clone()])?;
        check(|v| c / v[0], &[x.clone()])?;
        check(|v| v[0].add_scalar(c) * v[0].mul_scalar(c), &[x])?;
    }

    #[test]
    fn maximum((a, b) in untied_pair()) {
        check(|v| v[0].maximum(v[1]), &[a.clone(), b.clone()])?;
        check(|v| v[0].maximum(v[1]) * v[0], &[a, b])?;
    }

    #[test]
    fn minimum((a, b) in untied_pair()) {
        check(|v| v[0].minimum(v[1]), &[a.clone(), b.clone()])?;
        check(|v| v[0].minimum(v[1]) * v[1], &[a, b])?;
    }

    #[test]
    fn where_(
        (mask, t, f) in shape().prop_flat_map(|out| {
            (broadcast_of(out.clone()), broadcast_of(out.clone()), broadcast_of(out))
        })
        .prop_flat_map(|(sm, st, sf)| {
            (
                tensor(sm, prop_oneof![Just(0.0), Just(1.0), Just(-2.5)]),
                tensor(st, smooth()),
                tensor(sf, smooth()),
            )
        })
    ) {
        let m = mask.clone();
        check(move |v| Var::where_(&m, v[0], v[1]), &[t.clone(), f.clone()])?;
        check(move |v| Var::where_(&mask, v[0].tanh(), v[1] * v[1]), &[t, f])?;
    }
}
