//! `Tensor<T>`: an owned, immutable, contiguous row-major n-d array with shared storage.

pub(crate) mod buf;
mod buffer;
mod dot_gemm;
mod index;
pub(crate) mod kernels;
mod linear;
pub(crate) mod packed;
pub(crate) mod pool;
pub(crate) mod product;
mod reduce;
pub mod shape;

use std::fmt;

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::{Error, Float};
use buf::Buf;
pub use index::IndexTensor;
pub use shape::Shape;
use shape::numel;

/// An n-dimensional array of `f32` or `f64`, contiguous and row-major.
///
/// Storage is shared (`Arc`), so `clone()` is cheap and never copies elements. Tensors are
/// immutable: every operation returns a new tensor.
///
/// ```
/// use wengert_autograd::Tensor;
/// let t = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
/// assert_eq!(t.shape(), &[2, 3]);
/// assert_eq!(t.get(&[1, 0]), 4.0);
/// assert_eq!(t.numel(), 6);
/// ```
pub struct Tensor<T: Float> {
    shape: Shape,
    data: Storage<T>,
}

impl<T: Float> Clone for Tensor<T> {
    #[inline]
    fn clone(&self) -> Self {
        Tensor {
            // `from_slice` copies the inline shape directly; `SmallVec::clone` goes through `extend`.
            shape: crate::tensor::shape::copy_shape(&self.shape),
            data: self.data.clone(),
        }
    }
}

/// Element storage: one-element tensors (losses, scalar chains) live inline and never allocate;
/// everything else is a shared buffer.
#[derive(Clone)]
enum Storage<T: Float> {
    Scalar(T),
    Shared(Buf<T>),
}

/// The last owner of a large buffer hands it to this thread's buffer cache (`pool.rs`), so the
/// next tensor of that size reuses its memory.
impl<T: Float> Drop for Storage<T> {
    #[inline]
    fn drop(&mut self) {
        if let Storage::Shared(a) = self
            && pool::worth_caching::<T>(a.len())
            && a.get_mut().is_some()
        {
            pool::give(std::mem::replace(a, Buf::empty()));
        }
    }
}

impl<T: Float> Storage<T> {
    #[inline]
    fn as_slice(&self) -> &[T] {
        match self {
            Storage::Scalar(v) => std::slice::from_ref(v),
            Storage::Shared(a) => a,
        }
    }
}

impl<T: Float> From<Vec<T>> for Storage<T> {
    fn from(v: Vec<T>) -> Self {
        Storage::Shared(Buf::from(&v[..]))
    }
}

impl<T: Float> From<&[T]> for Storage<T> {
    fn from(v: &[T]) -> Self {
        Storage::Shared(Buf::from(v))
    }
}

impl<T: Float> Tensor<T> {
    /// Builds a tensor from row-major data.
    ///
    /// Returns [`Error::LengthMismatch`] if `data.len()` is not the product of `shape`.
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self, Error> {
        if data.len() != numel(shape) {
            return Err(Error::LengthMismatch {
                len: data.len(),
                shape: shape.to_vec(),
            });
        }
        Ok(Tensor {
            shape: crate::tensor::shape::copy_shape(shape),
            data: data.into(),
        })
    }

    /// Builds a tensor from a shape and a row-major buffer that the caller built to fit.
    #[track_caller]
    pub(crate) fn from_parts(shape: Shape, data: Buf<T>) -> Self {
        assert_eq!(
            data.len(),
            numel(&shape),
            "internal: buffer does not fit {shape:?}"
        );
        Tensor {
            shape,
            data: Storage::Shared(data),
        }
    }

    /// A one-element tensor of the given shape, stored inline (no allocation).
    #[inline]
    pub(crate) fn from_scalar_parts(shape: Shape, value: T) -> Self {
        debug_assert_eq!(numel(&shape), 1);
        Tensor {
            shape,
            data: Storage::Scalar(value),
        }
    }

    /// A 1-D tensor holding a copy of `values`.
    pub fn from_slice(values: &[T]) -> Self {
        Tensor {
            shape: smallvec::smallvec![values.len()],
            data: values.into(),
        }
    }

    /// A 0-dimensional tensor (shape `[]`) holding one value.
    pub fn scalar(value: T) -> Self {
        Tensor {
            shape: Shape::new(),
            data: Storage::Scalar(value),
        }
    }

    /// A tensor of the given shape with every element equal to `value`.
    pub fn full(shape: &[usize], value: T) -> Self {
        Tensor {
            shape: crate::tensor::shape::copy_shape(shape),
            data: Storage::Shared(kernels::filled(numel(shape), value)),
        }
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::ZERO)
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::ONE)
    }

    /// The 1-D tensor `[0, 1, ..., n - 1]`.
    ///
    /// ```
    /// # use wengert_autograd::Tensor;
    /// assert_eq!(Tensor::<f32>::arange(4).to_vec(), vec![0.0, 1.0, 2.0, 3.0]);
    /// ```
    pub fn arange(n: usize) -> Self {
        Tensor {
            shape: smallvec::smallvec![n],
            data: Storage::Shared((0..n).map(T::from_usize).collect()),
        }
    }

    /// `n` evenly spaced values from `start` to `end` inclusive (`n >= 2`; `[start]` if `n == 1`).
    pub fn linspace(start: T, end: T, n: usize) -> Self {
        let step = if n > 1 {
            (end - start) / T::from_usize(n - 1)
        } else {
            T::ZERO
        };
        Tensor {
            shape: smallvec::smallvec![n],
            data: Storage::Shared((0..n).map(|i| start + step * T::from_usize(i)).collect()),
        }
    }

    /// The `n x n` identity matrix.
    pub fn eye(n: usize) -> Self {
        Tensor {
            shape: smallvec::smallvec![n, n],
            data: Storage::Shared(
                (0..n * n)
                    .map(|i| if i / n == i % n { T::ONE } else { T::ZERO })
                    .collect(),
            ),
        }
    }

    /// Independent samples from the uniform distribution on `[low, high)`, reproducible from `seed`.
    pub fn rand_uniform(shape: &[usize], low: T, high: T, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let (lo, hi) = (low.to_f64(), high.to_f64());
        Tensor {
            shape: crate::tensor::shape::copy_shape(shape),
            data: Storage::Shared(
                (0..numel(shape))
                    .map(|_| T::from_f64(lo + (hi - lo) * rng.random::<f64>()))
                    .collect(),
            ),
        }
    }

    /// Independent standard normal samples (mean 0, variance 1), reproducible from `seed`.
    pub fn randn(shape: &[usize], seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        Tensor {
            shape: crate::tensor::shape::copy_shape(shape),
            data: Storage::Shared(
                (0..numel(shape))
                    .map(|_| T::from_f64(standard_normal(&mut rng)))
                    .collect(),
            ),
        }
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

    /// Number of elements.
    #[inline]
    pub fn numel(&self) -> usize {
        self.data.as_slice().len()
    }

    /// The elements in row-major order.
    #[inline]
    pub fn data(&self) -> &[T] {
        self.data.as_slice()
    }

    /// A tensor of this shape holding no elements: what
    /// [`Var::release_value`](crate::Var::release_value) leaves on the tape, so that backward
    /// still has the shape; reading its elements finds none.
    pub(crate) fn shape_only(&self) -> Self {
        Tensor {
            shape: self.shape.clone(),
            data: Storage::Shared(Buf::empty()),
        }
    }

    /// The element of a one-element tensor, `None` for any other.
    #[inline]
    pub(crate) fn one_value(&self) -> Option<T> {
        match &self.data {
            Storage::Scalar(v) => Some(*v),
            Storage::Shared(a) if a.len() == 1 => Some(a[0]),
            Storage::Shared(_) => None,
        }
    }

    /// The shared buffer holding the elements (`None` for an inline one-element tensor).
    pub(crate) fn shared_buffer(&self) -> Option<&Buf<T>> {
        match &self.data {
            Storage::Shared(a) => Some(a),
            Storage::Scalar(_) => None,
        }
    }

    /// Mutable access to the elements if no other tensor shares the buffer.
    pub(crate) fn data_mut(&mut self) -> Option<&mut [T]> {
        match &mut self.data {
            Storage::Scalar(v) => Some(std::slice::from_mut(v)),
            Storage::Shared(a) => a.get_mut(),
        }
    }

    /// The elements for writing in place, copied first if another tensor shares the buffer
    /// (copy-on-write, like `Arc::make_mut`): tensors that share storage never see the write.
    /// Optimizers use it to update a parameter without allocating.
    ///
    /// ```
    /// use wengert_autograd::Tensor;
    /// let mut a = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    /// let b = a.clone(); // shares a's buffer
    /// a.make_mut()[0] = 5.0; // copies first, so b is untouched
    /// assert_eq!((a.to_vec(), b.to_vec()), (vec![5.0, 2.0], vec![1.0, 2.0]));
    /// ```
    pub fn make_mut(&mut self) -> &mut [T] {
        if let Storage::Shared(a) = &mut self.data
            && a.get_mut().is_none()
        {
            *a = buffer::copied(&a[..]);
        }
        self.data_mut()
            .expect("the buffer is unique after the copy")
    }

    /// A copy of the elements in row-major order.
    pub fn to_vec(&self) -> Vec<T> {
        self.data().to_vec()
    }

    /// The element at a multi-index.
    ///
    /// # Panics
    /// If the index has the wrong rank or is out of bounds.
    #[track_caller]
    pub fn get(&self, index: &[usize]) -> T {
        assert!(
            index.len() == self.ndim() && index.iter().zip(&self.shape).all(|(i, n)| i < n),
            "get: index {index:?} is out of bounds for shape {:?}",
            self.shape
        );
        let strides = shape::contiguous_strides(&self.shape);
        self.data()[index
            .iter()
            .zip(&strides)
            .map(|(i, s)| i * s)
            .sum::<usize>()]
    }

    /// The single element of a one-element tensor (any shape with one element).
    ///
    /// # Panics
    /// If the tensor does not have exactly one element.
    #[track_caller]
    pub fn item(&self) -> T {
        assert!(
            self.numel() == 1,
            "item: tensor of shape {:?} has {} elements, not 1",
            self.shape,
            self.numel()
        );
        self.data()[0]
    }

    /// The same elements with another shape (no copy).
    ///
    /// # Panics
    /// If the element counts differ.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Self {
        assert!(
            numel(shape) == self.numel(),
            "reshape: cannot reshape {:?} ({} elements) to {:?} ({} elements)",
            self.shape,
            self.numel(),
            shape,
            numel(shape)
        );
        Tensor {
            shape: crate::tensor::shape::copy_shape(shape),
            data: self.data.clone(),
        }
    }

    /// Converts every element to another float type.
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        Tensor {
            shape: crate::tensor::shape::copy_shape(&self.shape),
            data: Storage::Shared(
                self.data()
                    .iter()
                    .map(|&x| U::from_f64(x.to_f64()))
                    .collect(),
            ),
        }
    }

    /// Whether every element is finite (no NaN or infinity).
    pub fn all_finite(&self) -> bool {
        self.data().iter().all(|x| x.is_finite())
    }

    /// Whether the two tensors share one storage buffer (a clone or a reshape of each other).
    pub fn shares_storage(&self, other: &Self) -> bool {
        match (&self.data, &other.data) {
            (Storage::Shared(a), Storage::Shared(b)) => Buf::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Largest absolute elementwise difference; `None` if the shapes differ.
    pub fn max_abs_diff(&self, other: &Self) -> Option<T> {
        (self.shape == other.shape).then(|| {
            self.data()
                .iter()
                .zip(other.data())
                .fold(T::ZERO, |m, (&a, &b)| m.max((a - b).abs()))
        })
    }
}

/// One standard normal sample by the Box-Muller transform.
fn standard_normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // in (0, 1], so ln is finite
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

impl<T: Float> PartialEq for Tensor<T> {
    fn eq(&self, other: &Self) -> bool {
        self.shape == other.shape && self.data() == other.data()
    }
}

/// Shows the shape and the values, nested like numpy (long axes are elided in the middle).
impl<T: Float> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tensor(")?;
        let strides = shape::contiguous_strides(&self.shape);
        write_nested(f, self.data(), &self.shape, &strides, 0)?;
        write!(
            f,
            ", shape={:?}, dtype={})",
            self.shape.as_slice(),
            T::DTYPE
        )
    }
}

fn write_nested<T: Float>(
    f: &mut fmt::Formatter<'_>,
    data: &[T],
    shape: &[usize],
    strides: &[usize],
    offset: usize,
) -> fmt::Result {
    const EDGE: usize = 3;
    let Some((&len, rest)) = shape.split_first() else {
        return write!(f, "{}", data[offset]);
    };
    write!(f, "[")?;
    let mut i = 0;
    while i < len {
        if i > 0 {
            write!(f, ", ")?;
        }
        if len > 2 * EDGE + 1 && i == EDGE {
            write!(f, "...")?;
            i = len - EDGE;
            continue;
        }
        write_nested(f, data, rest, &strides[1..], offset + i * strides[0])?;
        i += 1;
    }
    write!(f, "]")
}

impl<T: Float> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_vec_rejects_wrong_length() {
        let err = Tensor::<f32>::from_vec(vec![1.0; 5], &[2, 3]).unwrap_err();
        assert!(matches!(err, Error::LengthMismatch { len: 5, .. }));
        assert!(err.to_string().contains("shape [2, 3] needs 6"), "{err}");
    }

    #[test]
    fn constructors_fill_as_documented() {
        assert_eq!(Tensor::<f64>::eye(2).to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
        assert_eq!(Tensor::<f64>::full(&[2], 7.0).to_vec(), vec![7.0, 7.0]);
        assert_eq!(Tensor::<f64>::scalar(3.0).shape(), &[] as &[usize]);
        assert_eq!(
            Tensor::<f64>::linspace(0.0, 1.0, 3).to_vec(),
            vec![0.0, 0.5, 1.0]
        );
        let u = Tensor::<f64>::rand_uniform(&[1000], -2.0, 3.0, 7);
        assert!(u.data().iter().all(|&x| (-2.0..3.0).contains(&x)));
        assert_eq!(
            u,
            Tensor::rand_uniform(&[1000], -2.0, 3.0, 7),
            "same seed, same values"
        );
        let n = Tensor::<f64>::randn(&[20000], 1);
        let mean = n.data().iter().sum::<f64>() / 20000.0;
        let var = n.data().iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 20000.0;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "mean {mean} var {var}"
        );
    }

    #[test]
    fn display_shows_shape_and_values() {
        let t = Tensor::<f32>::from_vec(vec![1.0, 2.5, 3.0, 4.0], &[2, 2])
            .expect("the data fits the shape");
        assert_eq!(
            t.to_string(),
            "tensor([[1, 2.5], [3, 4]], shape=[2, 2], dtype=f32)"
        );
        let long = Tensor::<f64>::arange(10);
        assert_eq!(
            format!("{long:?}"),
            "tensor([0, 1, 2, ..., 7, 8, 9], shape=[10], dtype=f64)"
        );
    }

    #[test]
    #[should_panic(expected = "get: index [2, 0] is out of bounds for shape [2, 3]")]
    fn get_out_of_bounds_panics() {
        Tensor::<f32>::zeros(&[2, 3]).get(&[2, 0]);
    }

    #[test]
    #[should_panic(expected = "reshape: cannot reshape [2, 3] (6 elements) to [4] (4 elements)")]
    fn reshape_wrong_count_panics() {
        Tensor::<f32>::zeros(&[2, 3]).reshape(&[4]);
    }
}
