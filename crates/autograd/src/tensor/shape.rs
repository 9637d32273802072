//! Shapes, strides, axes and numpy broadcasting rules.

use smallvec::SmallVec;

/// A tensor shape: the length of each axis, outermost first. Inline up to 4 axes.
pub type Shape = SmallVec<[usize; 4]>;

/// A copy of `dims` as a [`Shape`]. Unlike `Shape::from_slice`, ranks up to 4 (inline) are
/// copied without a call to `memcpy`: a tensor's shape is copied on every op, and on the scalar
/// chains of a tape that call was a tenth of the time.
#[inline]
pub(crate) fn copy_shape(dims: &[usize]) -> Shape {
    match *dims {
        [] => Shape::new(),
        [a] => Shape::from_buf_and_len([a, 0, 0, 0], 1),
        [a, b] => Shape::from_buf_and_len([a, b, 0, 0], 2),
        [a, b, c] => Shape::from_buf_and_len([a, b, c, 0], 3),
        [a, b, c, d] => Shape::from_buf([a, b, c, d]),
        _ => Shape::from_slice(dims),
    }
}

/// Whether two shapes are equal, compared axis by axis: a slice `==` calls `memcmp`, which
/// costs more than the comparison on the 1-4 axes of a typical shape.
#[inline]
pub(crate) fn same_shape(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Number of elements of a shape (1 for a scalar shape `[]`).
#[inline]
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major (C order) strides of a contiguous tensor of this shape.
pub fn contiguous_strides(shape: &[usize]) -> Shape {
    let mut strides: Shape = SmallVec::from_elem(1, shape.len());
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

/// The shape two shapes broadcast to under numpy rules, or `None` if they are incompatible.
///
/// Shapes are aligned at the right; each pair of lengths must be equal or one of them 1.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Shape> {
    let rank = a.len().max(b.len());
    let mut out: Shape = SmallVec::from_elem(0, rank);
    for i in 0..rank {
        let da = if i < rank - a.len() {
            1
        } else {
            a[i - (rank - a.len())]
        };
        let db = if i < rank - b.len() {
            1
        } else {
            b[i - (rank - b.len())]
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return None;
        };
    }
    Some(out)
}

/// Whether `from` can be broadcast to `to` (so that `sum_to(from)` undoes it).
pub fn broadcasts_to(from: &[usize], to: &[usize]) -> bool {
    from.len() <= to.len()
        && from
            .iter()
            .rev()
            .zip(to.iter().rev())
            .all(|(&f, &t)| f == t || f == 1)
}

/// Strides for reading a contiguous tensor of shape `from` as if it had shape `to`
/// (which it broadcasts to): broadcast axes get stride 0.
pub fn broadcast_strides(from: &[usize], to: &[usize]) -> Shape {
    let own = contiguous_strides(from);
    let pad = to.len() - from.len();
    let mut strides: Shape = SmallVec::from_elem(0, to.len());
    for i in 0..from.len() {
        strides[pad + i] = if from[i] == 1 && to[pad + i] != 1 {
            0
        } else {
            own[i]
        };
    }
    strides
}

/// Resolves a possibly negative axis (`-1` is the last) against a rank.
///
/// # Panics
/// If the axis is out of range; the message names the op and the shape.
#[track_caller]
pub fn normalize_axis(op: &str, axis: isize, shape: &[usize]) -> usize {
    let rank = shape.len() as isize;
    let a = if axis < 0 { axis + rank } else { axis };
    assert!(
        (0..rank).contains(&a),
        "{op}: axis {axis} is out of range for a tensor of shape {shape:?} (rank {rank})"
    );
    a as usize
}

/// Visits the contiguous runs of an n-d iteration over `shape`, giving for each run the offset
/// into each operand (described by its strides) and the run length; the innermost axis forms the
/// run. `f(offsets, inner_strides, len)` is called once per run.
pub(crate) fn for_each_run<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
    mut f: impl FnMut([usize; N], [usize; N], usize),
) {
    let rank = shape.len();
    if numel(shape) == 0 {
        return;
    }
    if rank == 0 {
        f([0; N], [0; N], 1);
        return;
    }
    let inner = shape[rank - 1];
    let inner_strides: [usize; N] = std::array::from_fn(|k| strides[k][rank - 1]);
    let mut index: Shape = SmallVec::from_elem(0, rank - 1);
    let mut offsets = [0usize; N];
    let outer: usize = numel(&shape[..rank - 1]);
    for _ in 0..outer {
        f(offsets, inner_strides, inner);
        // Advance the multi-index over the outer axes, updating offsets incrementally.
        for ax in (0..rank - 1).rev() {
            index[ax] += 1;
            for k in 0..N {
                offsets[k] += strides[k][ax];
            }
            if index[ax] < shape[ax] {
                break;
            }
            for k in 0..N {
                offsets[k] -= strides[k][ax] * shape[ax];
            }
            index[ax] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_shape_copies_every_rank() {
        for rank in 0..7 {
            let dims: Vec<usize> = (2..2 + rank).collect();
            let s = copy_shape(&dims);
            assert_eq!(s.as_slice(), dims.as_slice(), "rank {rank}");
            assert_eq!(s.spilled(), rank > 4);
        }
    }

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(
            broadcast_shapes(&[2, 1, 3], &[4, 1])
                .expect("these shapes broadcast")
                .as_slice(),
            &[2, 4, 3]
        );
        assert_eq!(
            broadcast_shapes(&[], &[2, 3])
                .expect("these shapes broadcast")
                .as_slice(),
            &[2, 3]
        );
        assert!(broadcast_shapes(&[2, 3], &[3, 2]).is_none());
        assert!(broadcasts_to(&[3], &[2, 3]));
        assert!(!broadcasts_to(&[2], &[2, 3]));
        assert_eq!(
            broadcast_strides(&[1, 3], &[2, 2, 3]).as_slice(),
            &[0, 0, 1]
        );
    }

    #[test]
    fn runs_cover_every_element_once() {
        let shape = [2, 3, 4];
        let strides = contiguous_strides(&shape);
        let mut seen = [0; 24];
        for_each_run(&shape, [&strides], |[off], [st], len| {
            for i in 0..len {
                seen[off + i * st] += 1;
            }
        });
        assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    #[should_panic(expected = "sum: axis 2 is out of range for a tensor of shape [2, 3]")]
    fn bad_axis_names_op_and_shape() {
        normalize_axis("sum", 2, &[2, 3]);
    }
}
