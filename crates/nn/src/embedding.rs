//! `Embedding`: a lookup table of `vocab` vectors of size `dim`.

use wengert_autograd::{Float, Tape, Tensor, Var};

use crate::{Module, Param, init};

/// A table `weight` `[vocab, dim]`; token id `i` maps to row `i`: `y[.., :] = weight[id, :]`
/// (PyTorch `nn.Embedding`, Keras `Embedding`). Built on
/// [`index_select`](wengert_autograd::Var::index_select), whose gradient scatter-adds into the
/// table, so an id used several times gets the sum of its gradients and unused rows get 0.
///
/// Default init: `N(0, 1)` as in PyTorch, seeded (see [`with_seed`](Self::with_seed)).
/// Parameter name: `weight`.
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::Embedding;
/// let emb = Embedding::<f64>::new(10, 4).with_seed(0);
/// let tape = Tape::new();
/// let y = emb.forward_ids(&tape, &[3, 1, 3, 0, 9, 9], &[2, 3]); // 2 sequences of 3 tokens
/// assert_eq!(y.shape().as_slice(), &[2, 3, 4]);
/// assert_eq!(y.value().get(&[0, 0, 2]), emb.weight().value().get(&[3, 2]));
/// let g = y.sum().backward();
/// assert_eq!(g[emb.weight()].get(&[9, 0]), 2.0); // id 9 used twice
/// assert_eq!(g[emb.weight()].get(&[2, 0]), 0.0); // id 2 unused
/// ```
#[derive(Debug)]
pub struct Embedding<T: Float> {
    weight: Param<T>,
}

impl<T: Float> Embedding<T> {
    /// A `[vocab, dim]` table drawn from `N(0, 1)` with a fresh per-layer seed.
    ///
    /// # Panics
    /// If `vocab` or `dim` is 0: `embedding: sizes must be positive, got vocab 0, dim 8`.
    #[track_caller]
    pub fn new(vocab: usize, dim: usize) -> Self {
        assert!(
            vocab > 0 && dim > 0,
            "embedding: sizes must be positive, got vocab {vocab}, dim {dim}"
        );
        Embedding {
            weight: Param::new(Tensor::<f64>::randn(&[vocab, dim], init::default_seed()).cast()),
        }
    }

    /// Redraws the table from `N(0, 1)` with `seed`.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.weight = Param::new(Tensor::<f64>::randn(self.weight.shape(), seed).cast());
        self
    }

    /// Number of rows (token ids `0..vocab`).
    pub fn vocab(&self) -> usize {
        self.weight.shape()[0]
    }

    /// Size of each vector.
    pub fn dim(&self) -> usize {
        self.weight.shape()[1]
    }

    /// The table `[vocab, dim]`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }

    /// Looks up `ids` (row-major, laid out as `shape`) and returns `shape ++ [dim]`.
    ///
    /// # Panics
    /// If `ids.len()` differs from the product of `shape`
    /// (`embedding: 5 ids do not fill shape [2, 3]`), or an id is out of range
    /// (`embedding: id 12 at position 4 is out of range for a vocabulary of 10`).
    #[track_caller]
    pub fn forward_ids<'t>(&self, tape: &'t Tape<T>, ids: &[usize], shape: &[usize]) -> Var<'t, T> {
        let n: usize = shape.iter().product();
        assert!(
            n == ids.len(),
            "embedding: {} ids do not fill shape {shape:?}",
            ids.len()
        );
        let vocab = self.vocab();
        if let Some(p) = ids.iter().position(|&i| i >= vocab) {
            panic!(
                "embedding: id {} at position {p} is out of range for a vocabulary of {vocab}",
                ids[p]
            );
        }
        let mut out_shape = shape.to_vec();
        out_shape.push(self.dim());
        self.weight
            .on(tape)
            .index_select(0, ids)
            .reshape(&out_shape)
    }
}

impl<T: Float> Module<T> for Embedding<T> {
    /// Looks up the ids held in `x` as floats (`0.0, 1.0, ..`; any shape), returning
    /// `x.shape ++ [dim]`. `x` gets no gradient (ids are discrete).
    ///
    /// # Panics
    /// If a value of `x` is not a non-negative integer
    /// (`embedding: input value 1.5 at position 0 is not a token id`), or is out of range.
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        let v = x.value();
        let ids: Vec<usize> = v
            .data()
            .iter()
            .enumerate()
            .map(|(p, &f)| {
                let f = f.to_f64();
                assert!(
                    f >= 0.0 && f.fract() == 0.0,
                    "embedding: input value {f} at position {p} is not a token id"
                );
                f as usize
            })
            .collect();
        self.forward_ids(x.tape(), &ids, v.shape())
    }

    fn named_params(&self) -> Vec<(String, &Param<T>)> {
        vec![("weight".to_string(), &self.weight)]
    }

    fn named_params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        vec![("weight".to_string(), &mut self.weight)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::check_fn;
    use wengert_autograd::check::{CheckOptions, gradcheck, gradgradcheck};

    #[test]
    fn init_is_standard_normal() {
        let e = Embedding::<f64>::new(500, 200).with_seed(2);
        let d = e.weight().value().data();
        let n = d.len() as f64;
        let mean = d.iter().sum::<f64>() / n;
        let var = d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
        assert_eq!(Module::named_params(&e)[0].0, "weight");
    }

    #[test]
    fn repeated_ids_accumulate_gradient() {
        // L = sum(y * r): d L / d weight[i] = sum of r rows at the positions holding id i.
        let e = Embedding::<f64>::new(4, 2).with_seed(1);
        let tape = Tape::new();
        let y = e.forward_ids(&tape, &[1, 3, 1], &[3]);
        let r = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2])
            .expect("the data fits the shape");
        let g = (y * tape.constant(r)).sum().backward();
        assert_eq!(
            g[e.weight()].to_vec(),
            vec![0.0, 0.0, 6.0, 8.0, 0.0, 0.0, 3.0, 4.0]
        );
    }

    #[test]
    fn module_forward_reads_float_ids() {
        let e = Embedding::<f32>::new(5, 3).with_seed(0);
        let tape = Tape::new();
        let x = tape
            .constant(Tensor::from_vec(vec![4.0, 0.0], &[2, 1]).expect("the data fits the shape"));
        let y = e.forward(x).value();
        assert_eq!(y.shape(), &[2, 1, 3]);
        assert_eq!(y.get(&[0, 0, 1]), e.weight().value().get(&[4, 1]));
    }

    #[test]
    #[should_panic(
        expected = "embedding: id 12 at position 1 is out of range for a vocabulary of 10"
    )]
    fn out_of_range_id_panics() {
        let e = Embedding::<f32>::new(10, 2);
        let tape = Tape::new();
        let _ = e.forward_ids(&tape, &[0, 12], &[2]);
    }

    #[test]
    #[should_panic(expected = "embedding: 5 ids do not fill shape [2, 3]")]
    fn ids_must_fill_shape() {
        let e = Embedding::<f32>::new(10, 2);
        let tape = Tape::new();
        let _ = e.forward_ids(&tape, &[0; 5], &[2, 3]);
    }

    #[test]
    fn gradcheck_lookup() {
        // the lookup as a function of the table: y = table[ids] (then tanh for curvature)
        let f = check_fn(|v: &[Var<'_, f64>]| {
            v[0].index_select(0, &[2, 0, 2, 1])
                .reshape(&[2, 2, 3])
                .tanh()
        });
        let w = [Tensor::randn(&[3, 3], 7)];
        gradcheck(f, &w, &CheckOptions::default())
            .expect("the lookup's gradient must pass gradcheck");
        gradgradcheck(f, &w, &CheckOptions::default())
            .expect("the lookup's second derivative must pass gradgradcheck");
    }
}
