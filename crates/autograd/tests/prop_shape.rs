//! Property tests for the shape ops (permute/transpose/t, narrow, pad_axis, concat, stack,
//! split, chunk, index_select, index_add, gather, scatter_add, reshape, broadcast_to, sum_to) and
//! matmul: on random shapes, axes and indices, first- and second-order gradients agree with
//! central finite differences (`gradcheck` and `gradgradcheck`, f64).
//!
//! Every op here is linear, so each test puts `tanh` after it: the upstream gradient is then not
//! constant and the second-order check sees a non-zero Hessian.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use wengert_autograd::check::{CheckOptions, gradcheck, gradgradcheck};
use wengert_autograd::{IndexTensor, Tensor, Var};

const CASES: u32 = 24;

/// gradcheck and gradgradcheck with default tolerances, as a proptest failure.
fn both<F>(f: F, inputs: &[Tensor<f64>]) -> Result<(), TestCaseError>
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    let opts = CheckOptions::default();
    gradcheck(&f, inputs, &opts).map_err(|e| TestCaseError::fail(e.to_string()))?;
    gradgradcheck(&f, inputs, &opts).map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(())
}

/// 1-3 axes of length 1-4.
fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4, 1..=3)
}

/// A shape and one of its axes, given as a non-negative `usize` and as the `isize` to pass
/// (negative half of the time).
fn shape_axis() -> impl Strategy<Value = (Vec<usize>, usize, isize)> {
    shape().prop_flat_map(|s| {
        let rank = s.len();
        (Just(s), 0..rank, any::<bool>()).prop_map(move |(s, a, neg)| {
            let given = if neg {
                a as isize - rank as isize
            } else {
                a as isize
            };
            (s, a, given)
        })
    })
}

fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::randn(shape, seed)
}

fn index(data: Vec<usize>, shape: &[usize]) -> IndexTensor {
    IndexTensor::from_vec(data, shape).expect("generated to fit")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn permute_matches_finite_differences(
        (s, perm) in shape().prop_flat_map(|s| {
            let rank = s.len();
            (Just(s), Just((0..rank).collect::<Vec<_>>()).prop_shuffle())
        }),
        seed in any::<u64>(),
    ) {
        both(move |x| x[0].permute(&perm).tanh(), &[randn(&s, seed)])?;
    }

    #[test]
    fn transpose_and_t_match_finite_differences(
        (s, a0, a1) in shape().prop_flat_map(|s| {
            let r = s.len() as isize;
            (Just(s), -r..r, -r..r)
        }),
        (m, n) in (1usize..=4, 1usize..=4),
        seed in any::<u64>(),
    ) {
        both(move |x| x[0].transpose(a0, a1).tanh(), &[randn(&s, seed)])?;
        both(|x| x[0].t().tanh(), &[randn(&[m, n], seed ^ 1)])?;
    }

    #[test]
    fn narrow_matches_finite_differences(
        (s, axis, start, len) in shape_axis().prop_flat_map(|(s, a, given)| {
            let n = s[a];
            (0..n).prop_flat_map(move |start| {
                (Just(s.clone()), Just(given), Just(start), 0..=n - start)
            })
        }),
        seed in any::<u64>(),
    ) {
        both(move |x| x[0].narrow(axis, start, len).tanh(), &[randn(&s, seed)])?;
    }

    #[test]
    fn pad_axis_matches_finite_differences(
        (s, _, axis) in shape_axis(),
        before in 0usize..=2,
        after in 0usize..=2,
        seed in any::<u64>(),
    ) {
        both(move |x| x[0].pad_axis(axis, before, after).tanh(), &[randn(&s, seed)])?;
    }

    #[test]
    fn concat_matches_finite_differences(
        (s, a, axis) in shape_axis(),
        lens in prop::collection::vec(1usize..=3, 1..=3),
        seed in any::<u64>(),
    ) {
        let parts: Vec<Tensor<f64>> = lens
            .iter()
            .enumerate()
            .map(|(k, &n)| {
                let mut p = s.clone();
                p[a] = n;
                randn(&p, seed ^ k as u64)
            })
            .collect();
        both(move |x| Var::concat(x, axis).tanh(), &parts)?;
    }

    #[test]
    fn stack_matches_finite_differences(
        (s, axis) in shape().prop_flat_map(|s| {
            let r = s.len() as isize;
            (Just(s), -(r + 1)..=r)
        }),
        count in 1usize..=3,
        seed in any::<u64>(),
    ) {
        let parts: Vec<Tensor<f64>> = (0..count).map(|k| randn(&s, seed ^ k as u64)).collect();
        both(move |x| Var::stack(x, axis).tanh(), &parts)?;
    }

    #[test]
    fn split_matches_finite_differences(
        (s, a, axis) in shape_axis(),
        sizes in prop::collection::vec(0usize..=3, 1..=3).prop_filter("non-empty axis", |v| {
            v.iter().sum::<usize>() > 0
        }),
        seed in any::<u64>(),
    ) {
        let mut s = s;
        s[a] = sizes.iter().sum();
        // Reassemble the pieces in reverse order, so each piece's gradient lands elsewhere.
        both(
            move |x| {
                let mut pieces = x[0].split(axis, &sizes);
                pieces.reverse();
                Var::concat(&pieces, axis).tanh()
            },
            &[randn(&s, seed)],
        )?;
    }

    #[test]
    fn chunk_matches_finite_differences(
        (s, _, axis) in shape_axis(),
        n in 1usize..=4,
        seed in any::<u64>(),
    ) {
        both(
            move |x| {
                let mut chunks = x[0].chunk(n, axis);
                chunks.reverse();
                Var::concat(&chunks, axis).tanh()
            },
            &[randn(&s, seed)],
        )?;
    }

    #[test]
    fn index_select_matches_finite_differences(
        (s, axis, indices) in shape_axis().prop_flat_map(|(s, a, given)| {
            let n = s[a];
            (Just(s), Just(given), prop::collection::vec(0..n, 0..=5))
        }),
        seed in any::<u64>(),
    ) {
        both(move |x| x[0].index_select(axis, &indices).tanh(), &[randn(&s, seed)])?;
    }

    #[test]
    fn index_add_matches_finite_differences(
        (s, axis, len, indices) in shape_axis().prop_flat_map(|(s, a, given)| {
            let m = s[a];
            (1usize..=4).prop_flat_map(move |len| {
                (Just(s.clone()), Just(given), Just(len), prop::collection::vec(0..len, m))
            })
        }),
        seed in any::<u64>(),
    ) {
        both(move |x| x[0].index_add(axis, &indices, len).tanh(), &[randn(&s, seed)])?;
    }

    #[test]
    fn gather_matches_finite_differences(
        (s, axis, ishape, data) in shape_axis().prop_flat_map(|(s, a, given)| {
            // The index may be shorter than the input on every axis and longer on `axis`.
            let dims: Vec<BoxedStrategy<usize>> = s
                .iter()
                .enumerate()
                .map(|(d, &n)| if d == a { (1usize..=4).boxed() } else { (1..=n).boxed() })
                .collect();
            let n = s[a];
            dims.prop_flat_map(move |ishape| {
                let count = ishape.iter().product::<usize>();
                (
                    Just(s.clone()),
                    Just(given),
                    Just(ishape),
                    prop::collection::vec(0..n, count),
                )
            })
        }),
        seed in any::<u64>(),
    ) {
        let idx = index(data, &ishape);
        both(move |x| x[0].gather(axis, &idx).tanh(), &[randn(&s, seed)])?;
    }

    #[test]
    fn scatter_add_matches_finite_differences(
        (out, axis, ishape, data) in shape_axis().prop_flat_map(|(out, a, given)| {
            // The source (= index) may be shorter than the output on every axis, any length on
            // `axis`.
            let dims: Vec<BoxedStrategy<usize>> = out
                .iter()
                .enumerate()
                .map(|(d, &n)| if d == a { (1usize..=4).boxed() } else { (1..=n).boxed() })
                .collect();
            let n = out[a];
            dims.prop_flat_map(move |ishape| {
                let count = ishape.iter().product::<usize>();
                (
                    Just(out.clone()),
                    Just(given),
                    Just(ishape),
                    prop::collection::vec(0..n, count),
                )
            })
        }),
        seed in any::<u64>(),
    ) {
        let idx = index(data, &ishape);
        both(move |x| x[0].scatter_add(axis, &idx, &out).tanh(), &[randn(&ishape, seed)])?;
    }

    #[test]
    fn reshape_matches_finite_differences(
        (s, target) in shape().prop_flat_map(|s| {
            // Same element count: the lengths in another order, or everything in one axis.
            let flat = vec![s.iter().product::<usize>()];
            (Just(s.clone()), prop_oneof![Just(s).prop_shuffle(), Just(flat)])
        }),
        seed in any::<u64>(),
    ) {
        both(move |x| x[0].reshape(&target).tanh(), &[randn(&s, seed)])?;
    }

    #[test]
    fn broadcast_to_and_sum_to_match_finite_differences(
        (full, small) in shape().prop_flat_map(|full| {
            let rank = full.len();
            (
                Just(full),
                prop::collection::vec(any::<bool>(), rank),
                0..rank,
            )
                .prop_map(|(full, ones, drop)| {
                    // Axes of length 1 where `ones` says so, then the leading `drop` axes removed.
                    let small: Vec<usize> = full
                        .iter()
                        .zip(&ones)
                        .map(|(&n, &one)| if one { 1 } else { n })
                        .skip(drop)
                        .collect();
                    (full, small)
                })
        }),
        seed in any::<u64>(),
    ) {
        let t = full.clone();
        both(move |x| x[0].broadcast_to(&t).tanh(), &[randn(&small, seed)])?;
        both(move |x| x[0].sum_to(&small).tanh(), &[randn(&full, seed ^ 1)])?;
    }

    #[test]
    fn matmul_2d_matches_finite_differences_for_all_transposes(
        (m, k, n) in (1usize..=4, 1usize..=4, 1usize..=4),
        (ta, tb) in (any::<bool>(), any::<bool>()),
        seed in any::<u64>(),
    ) {
        let sa = if ta { [k, m] } else { [m, k] };
        let sb = if tb { [n, k] } else { [k, n] };
        both(
            move |x| x[0].matmul_flags(x[1], ta, tb).tanh(),
            &[randn(&sa, seed), randn(&sb, seed ^ 1)],
        )?;
    }

    #[test]
    fn matmul_batched_matches_finite_differences_with_broadcast_batches(
        (batch, m, k, n) in (1usize..=3, 1usize..=3, 1usize..=3, 1usize..=3),
        // lhs batch: full or 1; rhs: full batch, batch 1, or a plain matrix.
        (a_full, b_kind) in (any::<bool>(), 0u8..3),
        (ta, tb) in (any::<bool>(), any::<bool>()),
        seed in any::<u64>(),
    ) {
        let ba = if a_full { batch } else { 1 };
        let sa = if ta { vec![ba, k, m] } else { vec![ba, m, k] };
        let mat = if tb { vec![n, k] } else { vec![k, n] };
        let sb = match b_kind {
            0 => [vec![batch], mat].concat(),
            1 => [vec![1], mat].concat(),
            _ => mat,
        };
        both(
            move |x| x[0].matmul_flags(x[1], ta, tb).tanh(),
            &[randn(&sa, seed), randn(&sb, seed ^ 1)],
        )?;
    }
}
