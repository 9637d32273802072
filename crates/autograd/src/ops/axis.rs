//! Helpers shared by the axis-wise ops (max/min, argmax/argmin, logsumexp, softmax,
//! log_softmax): reduced shapes and lane kernels built on [`Tensor::lanes`].
//!
//! A lane is the 1-D run of elements along the reduced axis for one fixed position of every
//! other axis. Lanes are numbered in the row-major order of the shape with the axis kept as
//! length 1, so lane `j` of a reduction is element `j` of its output.

use crate::tensor::shape::{Shape, normalize_axis};
use crate::{Float, Tensor};

/// The elements of one lane: `start + k * stride` for `k` in `0..len`.
#[derive(Clone, Copy)]
pub(super) struct Lane {
    start: usize,
    stride: usize,
    len: usize,
}

impl Lane {
    /// Flat indices of the lane's elements, in axis order.
    pub(super) fn indices(self) -> impl Iterator<Item = usize> {
        (0..self.len).map(move |k| self.start + k * self.stride)
    }

    /// Flat index of the lane's `k`-th element.
    pub(super) fn at(self, k: usize) -> usize {
        self.start + k * self.stride
    }
}

/// The lanes of `x` along `axis` (already normalised), in output order.
pub(super) fn lanes<T: Float>(x: &Tensor<T>, axis: usize) -> impl Iterator<Item = Lane> {
    let (outer, len, inner) = x.lanes(axis);
    (0..outer * inner).map(move |j| Lane {
        start: (j / inner) * len * inner + j % inner,
        stride: inner,
        len,
    })
}

/// `shape` with `axis` set to length 1 (`keepdim`) or removed.
pub(super) fn reduced_shape(shape: &[usize], axis: usize, keepdim: bool) -> Shape {
    let mut out: Shape = shape.into();
    if keepdim {
        out[axis] = 1;
    } else {
        out.remove(axis);
    }
    out
}

/// Normalises `axis` for a reduction that needs at least one element per lane (max, argmax).
///
/// # Panics
/// If the axis is out of range, or has length 0:
/// `max: axis 1 has length 0 in shape [2, 0]; the reduction of no elements is undefined`.
#[track_caller]
pub(super) fn nonempty_axis(op: &str, axis: isize, shape: &[usize]) -> usize {
    let a = normalize_axis(op, axis, shape);
    assert!(
        shape[a] > 0,
        "{op}: axis {axis} has length 0 in shape {shape:?}; the reduction of no elements is undefined"
    );
    a
}

/// Which extremum a lane search looks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Extremum {
    Max,
    Min,
}

impl Extremum {
    /// Whether `v` beats the current best `best`: strictly larger (smaller), or the first NaN
    /// (NaN propagates, as in PyTorch). Ties keep the earlier element.
    #[inline]
    fn beats<T: Float>(self, v: T, best: T) -> bool {
        if best.is_nan() {
            return false;
        }
        v.is_nan()
            || match self {
                Extremum::Max => v > best,
                Extremum::Min => v < best,
            }
    }
}

/// Per lane along `axis`: the position (along the axis) of the first maximum or minimum.
/// Every lane must be non-empty (see [`nonempty_axis`]).
pub(super) fn arg_extremum<T: Float>(x: &Tensor<T>, axis: usize, kind: Extremum) -> Vec<usize> {
    let d = x.data();
    lanes(x, axis)
        .map(|lane| {
            let mut best = 0;
            for k in 1..lane.len {
                if kind.beats(d[lane.at(k)], d[lane.at(best)]) {
                    best = k;
                }
            }
            best
        })
        .collect()
}

/// Per lane along `axis`: `(m, s)` with `m` the maximum (or 0 when it is infinite, so that
/// `x - m` is never `inf - inf`) and `s = sum_k exp(x_k - m)`. Then `logsumexp = m + ln(s)`,
/// `softmax = exp(x - m) / s` and `log_softmax = (x - m) - ln(s)`, all without overflow.
pub(super) fn shifted_sum_exp<T: Float>(x: &Tensor<T>, axis: usize) -> Vec<(T, T)> {
    let d = x.data();
    if let Some(len) = last_axis_len(x, axis) {
        // Contiguous lanes (the usual softmax over classes): plain slices, no index arithmetic.
        return d
            .chunks_exact(len)
            .map(|l| lane_stat(|| l.iter().copied()))
            .collect();
    }
    lanes(x, axis)
        .map(|lane| lane_stat(|| lane.indices().map(|i| d[i])))
        .collect()
}

/// `(m, sum exp(x - m))` of one lane, read twice through `values`.
#[inline]
fn lane_stat<T: Float, I: Iterator<Item = T>>(values: impl Fn() -> I) -> (T, T) {
    let m = values().fold(T::NEG_INFINITY, |m, v| if v > m { v } else { m });
    let m = if m.is_finite() { m } else { T::ZERO };
    (m, values().map(|v| (v - m).exp()).sum::<T>())
}

/// The lane length if `axis` is the last axis with a non-empty tensor, so that lanes are
/// consecutive slices of that length.
fn last_axis_len<T: Float>(x: &Tensor<T>, axis: usize) -> Option<usize> {
    let len = x.shape()[axis];
    (axis + 1 == x.ndim() && len > 0).then_some(len)
}

/// Builds a tensor of `x`'s shape by mapping each element with its lane's statistic:
/// `out[i] = f(x[i], stat[lane of i])`.
pub(super) fn map_lanes<T: Float, S: Copy>(
    x: &Tensor<T>,
    axis: usize,
    stats: &[S],
    f: impl Fn(T, S) -> T,
) -> Tensor<T> {
    let d = x.data();
    if let Some(len) = last_axis_len(x, axis) {
        let mut out = Vec::with_capacity(d.len());
        for (l, &s) in d.chunks_exact(len).zip(stats) {
            out.extend(l.iter().map(|&v| f(v, s)));
        }
        return Tensor::from_vec(out, x.shape()).expect("one output element per input element");
    }
    let mut out = vec![T::ZERO; d.len()];
    for (lane, &s) in lanes(x, axis).zip(stats) {
        for i in lane.indices() {
            out[i] = f(d[i], s);
        }
    }
    Tensor::from_vec(out, x.shape()).expect("one output element per input element")
}

/// A tensor of the reduced shape from one value per lane.
pub(super) fn from_lanes<T: Float>(
    values: Vec<T>,
    shape: &[usize],
    axis: usize,
    keepdim: bool,
) -> Tensor<T> {
    Tensor::from_vec(values, &reduced_shape(shape, axis, keepdim))
        .expect("one output element per lane")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_cover_each_element_once_in_output_order() {
        let x = Tensor::<f64>::arange(24).reshape(&[2, 3, 4]);
        let firsts: Vec<usize> = lanes(&x, 1).map(|l| l.at(0)).collect();
        // kept shape [2, 1, 4]: lane (o, i) starts at o * 12 + i
        assert_eq!(firsts, vec![0, 1, 2, 3, 12, 13, 14, 15]);
        let mut seen: Vec<usize> = lanes(&x, 1).flat_map(|l| l.indices()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..24).collect::<Vec<_>>());
        assert_eq!(reduced_shape(&[2, 3, 4], 1, true).as_slice(), &[2, 1, 4]);
        assert_eq!(reduced_shape(&[2, 3, 4], 1, false).as_slice(), &[2, 4]);
    }

    #[test]
    fn extremum_keeps_first_tie_and_propagates_nan() {
        let x = Tensor::from_vec(vec![1.0, 3.0, 3.0, f64::NAN, 2.0, f64::NAN], &[2, 3])
            .expect("the data fits the shape");
        assert_eq!(arg_extremum(&x, 1, Extremum::Max), vec![1, 0]);
        assert_eq!(arg_extremum(&x, 1, Extremum::Min), vec![0, 0]);
        let y = Tensor::from_vec(vec![2.0, 1.0, 1.0, 2.0], &[4]).expect("the data fits the shape");
        assert_eq!(arg_extremum(&y, 0, Extremum::Min), vec![1]);
    }

    #[test]
    fn shifted_sum_exp_handles_infinities() {
        let x =
            Tensor::from_vec(vec![f64::NEG_INFINITY; 2], &[1, 2]).expect("the data fits the shape");
        assert_eq!(shifted_sum_exp(&x, 1), vec![(0.0, 0.0)]);
        let x = Tensor::from_vec(vec![1000.0, 1000.0], &[2]).expect("the data fits the shape");
        assert_eq!(shifted_sum_exp(&x, 0), vec![(1000.0, 2.0)]);
    }
}
