//! Mini-batches: [`Batches`] splits `0..n` into (shuffled) batches of indices, one epoch at a
//! time; [`take_rows`] gathers those rows of a tensor; [`Dataset`] pairs inputs and targets.
//!
//! ```
//! use wengert_autograd::Tensor;
//! use wengert_optim::{BatchConfig, Dataset};
//!
//! // 5 examples with 2 features, targets [5, 1]; batches of 2, shuffled with seed 7.
//! let x = Tensor::<f64>::from_vec((0..10).map(f64::from).collect(), &[5, 2]).unwrap();
//! let y = Tensor::<f64>::from_vec(vec![0.0, 1.0, 2.0, 3.0, 4.0], &[5, 1]).unwrap();
//! let data = Dataset::new(x, y).unwrap();
//! let mut batches = data.batches(2, BatchConfig { seed: 7, ..Default::default() }).unwrap();
//! let mut seen = vec![];
//! for idx in batches.epoch(0) {
//!     let (xb, yb) = data.batch(idx);
//!     assert_eq!(xb.shape()[0], idx.len());
//!     assert_eq!(xb.get(&[0, 0]), 2.0 * yb.get(&[0, 0])); // rows stay paired
//!     seen.extend_from_slice(idx);
//! }
//! seen.sort();
//! assert_eq!(seen, vec![0, 1, 2, 3, 4]); // every example once; the last batch has 1
//! ```

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use wengert_autograd::{Error, Float, Tensor};

/// How [`Batches`] orders and cuts an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Shuffle the examples at the start of every epoch. Default `true`.
    pub shuffle: bool,
    /// Seed of the shuffle; epoch `e` is shuffled with a generator derived from `(seed, e)`, so
    /// an epoch's order does not depend on which epochs were drawn before. Default `0`.
    pub seed: u64,
    /// Drop the last batch if it is smaller than the batch size. Default `false` (kept).
    pub drop_last: bool,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            shuffle: true,
            seed: 0,
            drop_last: false,
        }
    }
}

/// Batches of example indices over `0..n`: batch size 1 is stochastic gradient descent, `n` is
/// full-batch gradient descent. Each epoch visits every example exactly once (or, with
/// `drop_last`, every example of the `floor(n / batch_size)` full batches).
#[derive(Debug, Clone)]
pub struct Batches {
    n: usize,
    batch_size: usize,
    config: BatchConfig,
    order: Vec<usize>,
}

impl Batches {
    /// Batches of `batch_size` over `n` examples. Returns [`Error::InvalidConfig`] if
    /// `batch_size` is 0 or larger than `n` (which must be at least 1).
    pub fn new(n: usize, batch_size: usize, config: BatchConfig) -> Result<Self, Error> {
        if n == 0 {
            return Err(Error::InvalidConfig {
                message: "batches over an empty dataset: expected at least 1 example".into(),
            });
        }
        if batch_size == 0 || batch_size > n {
            return Err(Error::InvalidConfig {
                message: format!(
                    "`batch_size` = {batch_size} is out of range: expected 1 <= batch_size <= \
                     {n} (the number of examples)"
                ),
            });
        }
        Ok(Batches {
            n,
            batch_size,
            config,
            order: (0..n).collect(),
        })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always `false`: a `Batches` has at least one example.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Batches per epoch: `ceil(n / batch_size)`, or `floor(n / batch_size)` with `drop_last`.
    pub fn num_batches(&self) -> usize {
        if self.config.drop_last {
            self.n / self.batch_size
        } else {
            self.n.div_ceil(self.batch_size)
        }
    }

    /// The batches of epoch `epoch` (shuffled for that epoch if `config.shuffle`), as slices of
    /// example indices.
    pub fn epoch(&mut self, epoch: u64) -> EpochIter<'_> {
        self.order.clear();
        self.order.extend(0..self.n);
        if self.config.shuffle {
            // SplitMix64-style mixing of (seed, epoch): distinct epochs get unrelated streams.
            let mixed = self
                .config
                .seed
                .wrapping_add(epoch.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut rng = StdRng::seed_from_u64(mixed);
            self.order.shuffle(&mut rng);
        }
        let end = if self.config.drop_last {
            self.n - self.n % self.batch_size
        } else {
            self.n
        };
        EpochIter {
            rest: &self.order[..end],
            batch_size: self.batch_size,
        }
    }
}

/// The batches of one epoch; see [`Batches::epoch`].
#[derive(Debug, Clone)]
pub struct EpochIter<'a> {
    rest: &'a [usize],
    batch_size: usize,
}

impl<'a> Iterator for EpochIter<'a> {
    type Item = &'a [usize];

    fn next(&mut self) -> Option<&'a [usize]> {
        if self.rest.is_empty() {
            return None;
        }
        let k = self.batch_size.min(self.rest.len());
        let (batch, rest) = self.rest.split_at(k);
        self.rest = rest;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len().div_ceil(self.batch_size);
        (n, Some(n))
    }
}

impl ExactSizeIterator for EpochIter<'_> {}

/// Rows `rows` of `t` along axis 0, in that order: shape `[rows.len(), rest..]`.
///
/// ```
/// use wengert_autograd::Tensor;
/// use wengert_optim::take_rows;
/// let t = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]).unwrap();
/// let b = take_rows(&t, &[2, 0]);
/// assert_eq!(b.shape(), &[2, 2]);
/// assert_eq!(b.to_vec(), vec![5.0, 6.0, 1.0, 2.0]);
/// ```
///
/// # Panics
/// If `t` is a scalar ("take_rows: a 0-d tensor has no rows") or an index is out of range
/// ("take_rows: row 7 is out of range for shape [3, 2]").
#[track_caller]
pub fn take_rows<T: Float>(t: &Tensor<T>, rows: &[usize]) -> Tensor<T> {
    assert!(t.ndim() >= 1, "take_rows: a 0-d tensor has no rows");
    let n = t.shape()[0];
    let width: usize = t.shape()[1..].iter().product();
    let mut data = Vec::with_capacity(rows.len() * width);
    for &r in rows {
        assert!(
            r < n,
            "take_rows: row {r} is out of range for shape {:?}",
            t.shape()
        );
        data.extend_from_slice(&t.data()[r * width..(r + 1) * width]);
    }
    let mut shape = t.shape().to_vec();
    shape[0] = rows.len();
    match Tensor::from_vec(data, &shape) {
        Ok(t) => t,
        Err(e) => panic!("take_rows: internal: {e}"),
    }
}

/// Inputs and targets with one example per row (axis 0).
#[derive(Debug, Clone)]
pub struct Dataset<T: Float> {
    inputs: Tensor<T>,
    targets: Tensor<T>,
}

impl<T: Float> Dataset<T> {
    /// Pairs `inputs` `[n, ..]` with `targets` `[n, ..]`. Returns [`Error::InvalidConfig`] if
    /// either is 0-d or their first dimensions differ.
    pub fn new(inputs: Tensor<T>, targets: Tensor<T>) -> Result<Self, Error> {
        if inputs.ndim() == 0 || targets.ndim() == 0 {
            return Err(Error::InvalidConfig {
                message: "Dataset: inputs and targets need one example per row (at least 1-d)"
                    .into(),
            });
        }
        if inputs.shape()[0] != targets.shape()[0] {
            return Err(Error::InvalidConfig {
                message: format!(
                    "Dataset: inputs {:?} have {} examples but targets {:?} have {}: expected \
                     the same number of rows",
                    inputs.shape(),
                    inputs.shape()[0],
                    targets.shape(),
                    targets.shape()[0]
                ),
            });
        }
        Ok(Dataset { inputs, targets })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.inputs.shape()[0]
    }

    /// Whether there is no example.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All inputs.
    pub fn inputs(&self) -> &Tensor<T> {
        &self.inputs
    }

    /// All targets.
    pub fn targets(&self) -> &Tensor<T> {
        &self.targets
    }

    /// Batches over this dataset; see [`Batches::new`].
    pub fn batches(&self, batch_size: usize, config: BatchConfig) -> Result<Batches, Error> {
        Batches::new(self.len(), batch_size, config)
    }

    /// The inputs and targets of the examples `indices`.
    ///
    /// # Panics
    /// If an index is out of range (see [`take_rows`]).
    #[track_caller]
    pub fn batch(&self, indices: &[usize]) -> (Tensor<T>, Tensor<T>) {
        (
            take_rows(&self.inputs, indices),
            take_rows(&self.targets, indices),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_size_zero_and_too_large_are_errors() {
        let msg = Batches::new(10, 0, BatchConfig::default())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`batch_size` = 0"), "{msg}");
        assert!(Batches::new(10, 11, BatchConfig::default()).is_err());
        assert!(Batches::new(0, 1, BatchConfig::default()).is_err());
        assert!(Batches::new(10, 10, BatchConfig::default()).is_ok());
    }

    #[test]
    fn unshuffled_batches_are_in_order_with_a_partial_last() {
        let cfg = BatchConfig {
            shuffle: false,
            ..Default::default()
        };
        let mut b = Batches::new(7, 3, cfg).expect("batch size 3 fits 7 examples");
        let got: Vec<Vec<usize>> = b.epoch(0).map(<[usize]>::to_vec).collect();
        assert_eq!(got, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
        let mut b = Batches::new(
            7,
            3,
            BatchConfig {
                drop_last: true,
                ..cfg
            },
        )
        .expect("batch size 3 fits 7 examples");
        assert_eq!(b.num_batches(), 2);
        assert_eq!(b.epoch(0).len(), 2);
    }

    #[test]
    fn shuffle_is_seeded_and_differs_between_epochs() {
        let cfg = BatchConfig {
            seed: 42,
            ..Default::default()
        };
        let mut a = Batches::new(50, 50, cfg).expect("batch size 50 fits 50 examples");
        let mut b = Batches::new(50, 50, cfg).expect("batch size 50 fits 50 examples");
        let e0: Vec<usize> = a.epoch(0).flatten().copied().collect();
        let e1: Vec<usize> = a.epoch(1).flatten().copied().collect();
        assert_eq!(e0, b.epoch(0).flatten().copied().collect::<Vec<_>>());
        assert_ne!(e0, e1);
        assert_ne!(e0, (0..50).collect::<Vec<_>>());
        let mut c = Batches::new(50, 50, BatchConfig { seed: 43, ..cfg })
            .expect("batch size 50 fits 50 examples");
        assert_ne!(e0, c.epoch(0).flatten().copied().collect::<Vec<_>>());
    }

    #[test]
    fn take_rows_keeps_trailing_dims() {
        let t = Tensor::<f64>::from_vec((0..12).map(f64::from).collect(), &[3, 2, 2])
            .expect("the data fits the shape");
        let r = take_rows(&t, &[1, 1]);
        assert_eq!(r.shape(), &[2, 2, 2]);
        assert_eq!(r.to_vec(), vec![4.0, 5.0, 6.0, 7.0, 4.0, 5.0, 6.0, 7.0]);
    }

    #[test]
    #[should_panic(expected = "take_rows: row 3 is out of range for shape [3, 2]")]
    fn take_rows_out_of_range_panics() {
        let _ = take_rows(&Tensor::<f32>::zeros(&[3, 2]), &[0, 3]);
    }

    #[test]
    fn dataset_rejects_mismatched_rows() {
        let msg = Dataset::new(Tensor::<f32>::zeros(&[4, 2]), Tensor::zeros(&[3]))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("4 examples") && msg.contains("have 3"),
            "{msg}"
        );
    }
}
