//! [`IndexTensor`]: an n-d array of indices with a shape, for [`Var::gather`](crate::Var::gather)
//! and [`Var::scatter_add`](crate::Var::scatter_add).

use std::sync::Arc;

use super::shape::{Shape, numel};
use crate::Error;

/// An n-dimensional array of `usize` indices, contiguous and row-major (PyTorch's `LongTensor`
/// as used by `torch.gather` and `Tensor.scatter_add_`).
///
/// Storage is shared (`Arc`), so `clone()` is cheap: ops keep a clone for their backward rule.
/// Whether the indices are in range is checked by the op that uses them, against its input.
///
/// ```
/// use wengert_autograd::IndexTensor;
/// let idx = IndexTensor::from_vec(vec![0, 2, 1, 0], &[2, 2]).unwrap();
/// assert_eq!(idx.shape(), &[2, 2]);
/// assert_eq!(idx.data(), &[0, 2, 1, 0]);
/// assert!(IndexTensor::from_vec(vec![0, 1, 2], &[2, 2]).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IndexTensor {
    shape: Shape,
    data: Arc<[usize]>,
}

impl IndexTensor {
    /// Builds an index tensor from row-major data.
    ///
    /// Returns [`Error::LengthMismatch`] if `data.len()` is not the product of `shape`.
    pub fn from_vec(data: Vec<usize>, shape: &[usize]) -> Result<Self, Error> {
        if data.len() != numel(shape) {
            return Err(Error::LengthMismatch {
                len: data.len(),
                shape: shape.to_vec(),
            });
        }
        Ok(IndexTensor {
            shape: shape.into(),
            data: data.into(),
        })
    }

    /// The shape: the length of each axis, outermost first.
    #[inline]
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of axes.
    #[inline]
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of indices.
    #[inline]
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The indices in row-major order.
    #[inline]
    pub fn data(&self) -> &[usize] {
        &self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_vec_rejects_wrong_length() {
        let err = IndexTensor::from_vec(vec![0; 5], &[2, 3]).unwrap_err();
        assert!(matches!(err, Error::LengthMismatch { len: 5, .. }));
        assert!(err.to_string().contains("shape [2, 3] needs 6"), "{err}");
    }

    #[test]
    fn clones_share_storage() {
        let a = IndexTensor::from_vec(vec![1, 2, 3], &[3]).expect("the data fits the shape");
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.data, &b.data));
        assert_eq!((b.ndim(), b.numel()), (1, 3));
    }
}
