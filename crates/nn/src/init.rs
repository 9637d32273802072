//! Weight initialisers, as Keras and PyTorch define them. Every random one takes a `seed` and
//! draws through `rand`'s `StdRng`, so the same seed gives the same tensor.
//!
//! | function | distribution | used by |
//! |---|---|---|
//! | [`glorot_uniform`] | `U(-a, a)`, `a = sqrt(6 / (fan_in + fan_out))` | Keras `Dense` kernel (default) |
//! | [`he_normal`] | `N(0, 2 / fan_in)` | relu layers (PyTorch `kaiming_normal_`) |
//! | [`he_uniform`] | `U(-b, b)`, `b = sqrt(6 / fan_in)` | relu layers (PyTorch `kaiming_uniform_`) |
//! | [`orthogonal`] | orthonormal rows or columns, times `gain` | recurrent weights (Keras `recurrent_initializer`) |
//! | [`uniform`] | `U(-bound, bound)` | PyTorch's `Linear`/`RNN` default with `bound = 1/sqrt(fan_in)` |
//! | [`zeros`] | 0 | biases |
//!
//! ```
//! use wengert_nn::init;
//! let w = init::glorot_uniform::<f64>(&[4, 6], 6, 4, 7);
//! let a = (6.0f64 / 10.0).sqrt();
//! assert!(w.data().iter().all(|v| v.abs() < a));
//! assert_eq!(w, init::glorot_uniform::<f64>(&[4, 6], 6, 4, 7)); // seeded
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use wengert_autograd::{Float, Tensor};

static NEXT_DEFAULT_SEED: AtomicU64 = AtomicU64::new(0);

/// A seed for a layer built without an explicit one: `0x5eed_0000 + n`, where `n` counts the
/// layers built so far in this process. A program that builds its model in the same order gets
/// the same weights on every run, and two layers never share a seed; call the layer's
/// `with_seed` for reproducibility that does not depend on construction order.
pub(crate) fn default_seed() -> u64 {
    0x5eed_0000 + NEXT_DEFAULT_SEED.fetch_add(1, Ordering::Relaxed)
}

/// Samples of `U(-a, a)` with `a = sqrt(6 / (fan_in + fan_out))` (Glorot & Bengio 2010; Keras's
/// `GlorotUniform`, the default kernel initialiser of `Dense`; PyTorch `xavier_uniform_`). The
/// variance is `a^2 / 3 = 2 / (fan_in + fan_out)`.
///
/// ```
/// use wengert_nn::init::glorot_uniform;
/// let w = glorot_uniform::<f32>(&[3, 2], 2, 3, 0);
/// assert_eq!(w.shape(), &[3, 2]);
/// assert!(w.data().iter().all(|v| v.abs() < (6.0f32 / 5.0).sqrt()));
/// ```
///
/// # Panics
/// If `fan_in + fan_out == 0`: `glorot_uniform: fan_in + fan_out must be positive (got 0 + 0)`.
#[track_caller]
pub fn glorot_uniform<T: Float>(
    shape: &[usize],
    fan_in: usize,
    fan_out: usize,
    seed: u64,
) -> Tensor<T> {
    assert!(
        fan_in + fan_out > 0,
        "glorot_uniform: fan_in + fan_out must be positive (got {fan_in} + {fan_out})"
    );
    let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
    uniform(shape, a, seed)
}

/// Samples of `N(0, 2 / fan_in)`, i.e. standard deviation `gain / sqrt(fan_in)` with the relu
/// gain `sqrt(2)` (He et al. 2015; PyTorch `kaiming_normal_(mode="fan_in",
/// nonlinearity="relu")`; Keras's `HeNormal` truncates the normal at two standard deviations,
/// this does not).
///
/// ```
/// use wengert_nn::init::he_normal;
/// let w = he_normal::<f64>(&[200, 100], 100, 1);
/// let var = w.data().iter().map(|v| v * v).sum::<f64>() / w.numel() as f64;
/// assert!((var - 0.02).abs() < 0.001); // 2 / fan_in
/// ```
///
/// # Panics
/// If `fan_in == 0`: `he_normal: fan_in must be positive`.
#[track_caller]
pub fn he_normal<T: Float>(shape: &[usize], fan_in: usize, seed: u64) -> Tensor<T> {
    assert!(fan_in > 0, "he_normal: fan_in must be positive");
    let std = (2.0 / fan_in as f64).sqrt();
    Tensor::<f64>::randn(shape, seed)
        .map(|v| v * std)
        .cast::<T>()
}

/// Samples of `U(-b, b)` with `b = gain * sqrt(3 / fan_in) = sqrt(6 / fan_in)` (relu gain
/// `sqrt(2)`; PyTorch `kaiming_uniform_(mode="fan_in", nonlinearity="relu")`, Keras
/// `HeUniform`). The variance is `2 / fan_in`.
///
/// ```
/// use wengert_nn::init::he_uniform;
/// let w = he_uniform::<f64>(&[4, 6], 6, 3);
/// assert!(w.data().iter().all(|v| v.abs() < 1.0)); // b = sqrt(6 / 6)
/// ```
///
/// # Panics
/// If `fan_in == 0`: `he_uniform: fan_in must be positive`.
#[track_caller]
pub fn he_uniform<T: Float>(shape: &[usize], fan_in: usize, seed: u64) -> Tensor<T> {
    assert!(fan_in > 0, "he_uniform: fan_in must be positive");
    uniform(shape, (6.0 / fan_in as f64).sqrt(), seed)
}

/// Samples of `U(-bound, bound)`. PyTorch initialises `Linear`, `RNN`, `LSTM` and `GRU`
/// weights and biases this way with `bound = 1 / sqrt(fan_in)` (`1 / sqrt(hidden)` for the
/// recurrent layers).
///
/// ```
/// use wengert_nn::init::uniform;
/// let w = uniform::<f64>(&[1000], 0.5, 9);
/// assert!(w.data().iter().all(|v| (-0.5..0.5).contains(v)));
/// ```
///
/// # Panics
/// If `bound` is negative or not finite: `uniform: bound must be finite and >= 0 (got -1)`.
#[track_caller]
pub fn uniform<T: Float>(shape: &[usize], bound: f64, seed: u64) -> Tensor<T> {
    assert!(
        bound.is_finite() && bound >= 0.0,
        "uniform: bound must be finite and >= 0 (got {bound})"
    );
    Tensor::rand_uniform(shape, T::from_f64(-bound), T::from_f64(bound), seed)
}

/// All zeros (Keras's and this crate's default bias).
///
/// ```
/// assert_eq!(wengert_nn::init::zeros::<f32>(&[2]).to_vec(), vec![0.0, 0.0]);
/// ```
pub fn zeros<T: Float>(shape: &[usize]) -> Tensor<T> {
    Tensor::zeros(shape)
}

/// A `[rows, cols]` matrix with orthonormal columns (if `rows >= cols`: `W^T W = I`) or
/// orthonormal rows (if `rows < cols`: `W W^T = I`), times `gain` (Saxe et al. 2014; PyTorch
/// `orthogonal_`, Keras `Orthogonal`, the default recurrent initialiser of Keras's RNN layers).
///
/// Drawn as PyTorch does: a Gaussian matrix, made tall by transposing if needed, is factored
/// `A = Q R`, here by modified Gram-Schmidt (run twice for accuracy), whose `R` has a positive
/// diagonal, so `Q` is uniformly (Haar) distributed; `Q` is transposed back if needed.
///
/// ```
/// use wengert_nn::init::orthogonal;
/// let w = orthogonal::<f64>(3, 5, 1.0, 4); // 3 orthonormal rows of length 5
/// let d = w.matmul(&w.permute(&[1, 0])); // W W^T
/// for i in 0..3 {
///     for j in 0..3 {
///         let want = if i == j { 1.0 } else { 0.0 };
///         assert!((d.get(&[i, j]) - want).abs() < 1e-12);
///     }
/// }
/// ```
///
/// # Panics
/// If `rows` or `cols` is 0: `orthogonal: shape [0, 4] has no elements`.
#[track_caller]
pub fn orthogonal<T: Float>(rows: usize, cols: usize, gain: f64, seed: u64) -> Tensor<T> {
    assert!(
        rows > 0 && cols > 0,
        "orthogonal: shape [{rows}, {cols}] has no elements"
    );
    // Work on the tall m x n matrix (m >= n), stored column by column.
    let (m, n) = if rows >= cols {
        (rows, cols)
    } else {
        (cols, rows)
    };
    let mut rng_seed = seed;
    let mut cols_q: Vec<Vec<f64>> = Vec::with_capacity(n);
    for _ in 0..n {
        // The Gaussian matrix's next column; a (probability-zero) dependent one is redrawn.
        loop {
            let mut v = Tensor::<f64>::randn(&[m], rng_seed).to_vec();
            rng_seed = rng_seed.wrapping_add(0x632b_e59b_d9b4_e019);
            let norm0 = dot(&v, &v).sqrt();
            for _ in 0..2 {
                for q in &cols_q {
                    let p = dot(&v, q);
                    v.iter_mut().zip(q).for_each(|(a, b)| *a -= p * b);
                }
            }
            let norm = dot(&v, &v).sqrt();
            if norm > 1e-8 * norm0 {
                v.iter_mut().for_each(|a| *a /= norm);
                cols_q.push(v);
                break;
            }
        }
    }
    let mut data = vec![T::ZERO; rows * cols];
    for (j, q) in cols_q.iter().enumerate() {
        for (i, &qi) in q.iter().enumerate() {
            // Q is m x n with column j = q; tall case: W[i, j] = Q[i, j]; wide: W = Q^T.
            let at = if rows >= cols {
                i * cols + j
            } else {
                j * cols + i
            };
            data[at] = T::from_f64(gain * qi);
        }
    }
    Tensor::from_vec(data, &[rows, cols]).unwrap_or_else(|_| unreachable!("length is rows*cols"))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_var(t: &Tensor<f64>) -> (f64, f64) {
        let n = t.numel() as f64;
        let mean = t.data().iter().sum::<f64>() / n;
        let var = t.data().iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        (mean, var)
    }

    #[test]
    fn glorot_uniform_has_its_bound_and_variance() {
        // 100_000 samples: the sample variance of U(-a, a) has relative sd ~ 0.9%/sqrt(10).
        let (fan_in, fan_out) = (300, 200);
        let w = glorot_uniform::<f64>(&[200, 500], fan_in, fan_out, 11);
        let a = (6.0f64 / 500.0).sqrt();
        assert!(w.data().iter().all(|v| v.abs() < a));
        // the extremes come close to the bound (so it is not a narrower distribution)
        assert!(w.data().iter().any(|v| *v > 0.999 * a));
        assert!(w.data().iter().any(|v| *v < -0.999 * a));
        let (mean, var) = mean_var(&w);
        assert!(mean.abs() < 0.002, "{mean}");
        let want = 2.0 / 500.0; // a^2 / 3
        assert!((var / want - 1.0).abs() < 0.02, "{var} vs {want}");
    }

    #[test]
    fn he_normal_and_he_uniform_have_variance_two_over_fan_in() {
        let fan_in = 50;
        let want = 2.0 / fan_in as f64;
        let n = he_normal::<f64>(&[400, 250], fan_in, 5);
        let (mean, var) = mean_var(&n);
        assert!(mean.abs() < 0.002, "{mean}");
        assert!((var / want - 1.0).abs() < 0.02, "{var} vs {want}");
        // a normal has about 4.55% of its mass beyond 2 sd (so it is not truncated or uniform)
        let sd = want.sqrt();
        let beyond = n.data().iter().filter(|v| v.abs() > 2.0 * sd).count() as f64 / 1e5;
        assert!((beyond - 0.0455).abs() < 0.004, "{beyond}");

        let u = he_uniform::<f64>(&[400, 250], fan_in, 6);
        let b = (6.0f64 / fan_in as f64).sqrt();
        assert!(u.data().iter().all(|v| v.abs() < b));
        let (_, var) = mean_var(&u);
        assert!((var / want - 1.0).abs() < 0.02, "{var} vs {want}");
    }

    #[test]
    fn uniform_is_pytorch_default_range_and_seeded() {
        let bound = 1.0 / (64f64).sqrt();
        let w = uniform::<f32>(&[64, 64], bound, 1);
        assert!(w.data().iter().all(|v| (v.abs() as f64) <= bound));
        assert_eq!(w, uniform::<f32>(&[64, 64], bound, 1));
        assert_ne!(w, uniform::<f32>(&[64, 64], bound, 2));
        let (_, var) = mean_var(&uniform::<f64>(&[100_000], 1.0, 3));
        assert!((var - 1.0 / 3.0).abs() < 0.01);
    }

    #[test]
    fn zeros_are_zero() {
        assert!(zeros::<f64>(&[3, 4]).data().iter().all(|v| *v == 0.0));
    }

    fn gram(w: &Tensor<f64>, rows: bool) -> Tensor<f64> {
        let wt = w.permute(&[1, 0]);
        if rows { w.matmul(&wt) } else { wt.matmul(w) }
    }

    fn assert_identity(g: &Tensor<f64>, scale: f64) {
        let n = g.shape()[0];
        for i in 0..n {
            for j in 0..n {
                let want = if i == j { scale } else { 0.0 };
                assert!(
                    (g.get(&[i, j]) - want).abs() < 1e-10,
                    "[{i},{j}] {}",
                    g.get(&[i, j])
                );
            }
        }
    }

    #[test]
    fn orthogonal_tall_square_and_wide() {
        // tall: W^T W = I (orthonormal columns)
        assert_identity(&gram(&orthogonal(12, 5, 1.0, 0), false), 1.0);
        // square: both
        let sq = orthogonal::<f64>(8, 8, 1.0, 1);
        assert_identity(&gram(&sq, false), 1.0);
        assert_identity(&gram(&sq, true), 1.0);
        // wide: W W^T = I (orthonormal rows); gain g scales the Gram matrix by g^2
        assert_identity(&gram(&orthogonal(4, 16, 2.0, 2), true), 4.0);
        assert_eq!(
            orthogonal::<f64>(5, 3, 1.0, 9),
            orthogonal::<f64>(5, 3, 1.0, 9)
        );
        assert_ne!(
            orthogonal::<f64>(5, 3, 1.0, 9),
            orthogonal::<f64>(5, 3, 1.0, 10)
        );
    }

    #[test]
    fn orthogonal_entries_are_spread_like_haar() {
        // For a Haar-random orthogonal n x n matrix, E[w_ij^2] = 1/n.
        let w = orthogonal::<f64>(64, 64, 1.0, 3);
        let ms = w.data().iter().map(|v| v * v).sum::<f64>() / w.numel() as f64;
        assert!((ms - 1.0 / 64.0).abs() < 1e-12); // exactly n rows of norm 1
        let mean = w.data().iter().sum::<f64>() / w.numel() as f64;
        assert!(mean.abs() < 0.01);
    }

    #[test]
    #[should_panic(expected = "glorot_uniform: fan_in + fan_out must be positive (got 0 + 0)")]
    fn glorot_rejects_empty_fans() {
        let _ = glorot_uniform::<f32>(&[1], 0, 0, 0);
    }
}
