//! `Sequential`: modules applied one after another.

use wengert_autograd::{Float, Var};

use crate::{Module, Param};

/// A chain of modules: `forward(x) = m_k(.. m_1(m_0(x)))`. Parameter names get the child's
/// index as a prefix, as PyTorch's `nn.Sequential` does (`0.weight`, `2.bias`);
/// [`set_training`](Module::set_training) reaches every child.
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::{Dense, Flatten, Module, Relu, Sequential};
/// let model = Sequential::<f32>::new()
///     .add(Flatten)
///     .add(Dense::new(784, 128).with_activation(Relu))
///     .add(Dense::new(128, 10));
/// let names: Vec<String> = model.named_params().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["1.weight", "1.bias", "2.weight", "2.bias"]);
/// assert_eq!(model.num_params(), 784 * 128 + 128 + 128 * 10 + 10);
/// let tape = Tape::new();
/// let logits = model.forward(tape.var(Tensor::zeros(&[32, 28, 28])));
/// assert_eq!(logits.shape().as_slice(), &[32, 10]);
/// ```
pub struct Sequential<T: Float> {
    layers: Vec<Box<dyn Module<T>>>,
}

impl<T: Float> Default for Sequential<T> {
    fn default() -> Self {
        Sequential::new()
    }
}

impl<T: Float> std::fmt::Debug for Sequential<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequential")
            .field("layers", &self.layers.len())
            .field("params", &self.num_params())
            .finish()
    }
}

impl<T: Float> Sequential<T> {
    /// An empty chain (the identity).
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// Appends a module (builder style).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module<T> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends an already boxed module.
    pub fn push(&mut self, layer: Box<dyn Module<T>>) {
        self.layers.push(layer);
    }

    /// Number of child modules.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no children.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The child at `index`, if any.
    pub fn get(&self, index: usize) -> Option<&dyn Module<T>> {
        self.layers.get(index).map(|l| l.as_ref())
    }
}

impl<T: Float> Module<T> for Sequential<T> {
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        self.layers.iter().fold(x, |h, layer| layer.forward(h))
    }

    fn named_params(&self) -> Vec<(String, &Param<T>)> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                l.named_params()
                    .into_iter()
                    .map(move |(n, p)| (format!("{i}.{n}"), p))
            })
            .collect()
    }

    fn named_params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        self.layers
            .iter_mut()
            .enumerate()
            .flat_map(|(i, l)| {
                l.named_params_mut()
                    .into_iter()
                    .map(move |(n, p)| (format!("{i}.{n}"), p))
            })
            .collect()
    }

    fn set_training(&mut self, training: bool) {
        for l in &mut self.layers {
            l.set_training(training);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::check_fn;
    use crate::{Dense, Dropout, Relu, Tanh};
    use wengert_autograd::check::{CheckOptions, gradcheck, gradgradcheck};
    use wengert_autograd::{Tape, Tensor};

    fn mlp() -> Sequential<f64> {
        Sequential::new()
            .add(Dense::new(3, 5).with_activation(Tanh).with_seed(1))
            .add(Dense::new(5, 4).with_seed(2))
            .add(Relu)
            .add(Dense::new(4, 2).with_seed(3))
    }

    #[test]
    fn forward_chains_children_in_order() {
        let m = mlp();
        let tape = Tape::new();
        let x = tape.var(Tensor::randn(&[6, 3], 0));
        let mut h = x;
        for i in 0..m.len() {
            h = m.get(i).expect("i is below m.len()").forward(h);
        }
        assert_eq!(m.forward(x).value(), h.value());
        let names: Vec<_> = m.named_params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"
            ]
        );
        assert!(Sequential::<f64>::new().forward(x).id() == x.id());
    }

    #[test]
    fn nested_names_and_set_training_propagate() {
        let mut m = Sequential::<f64>::new()
            .add(
                Sequential::new()
                    .add(Dense::new(2, 2))
                    .add(Dropout::new(0.5).expect("keep_prob 0.5 is in (0, 1]")),
            )
            .add(Dense::new(2, 1));
        let names: Vec<_> = m.named_params_mut().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["0.0.weight", "0.0.bias", "1.weight", "1.bias"]);
        let tape = Tape::new();
        let x = tape.var(Tensor::ones(&[50, 2]));
        // training: the dropout mask changes between calls
        assert_ne!(m.forward(x).value(), m.forward(x).value());
        m.set_training(false);
        assert_eq!(m.forward(x).value(), m.forward(x).value());
    }

    #[test]
    fn gradcheck_mlp_wrt_input() {
        let m = mlp();
        let f = check_fn(|v: &[Var<'_, f64>]| m.forward(v[0]));
        let x = [Tensor::rand_uniform(&[3, 3], -1.0, 1.0, 4)];
        gradcheck(f, &x, &CheckOptions::default())
            .expect("the MLP's input gradient must pass gradcheck");
        gradgradcheck(f, &x, &CheckOptions::default())
            .expect("the MLP's second derivative must pass gradgradcheck");
    }

    #[test]
    fn param_gradients_match_finite_differences() {
        // L = sum(model(x) * r); dL/dp by central differences through set_value.
        let mut m = mlp();
        let x = Tensor::rand_uniform(&[4, 3], -1.0, 1.0, 5);
        let r = Tensor::rand_uniform(&[4, 2], 0.5, 1.5, 6);
        let loss = |m: &Sequential<f64>| {
            let tape = Tape::new();
            (m.forward(tape.var(x.clone())) * tape.constant(r.clone()))
                .sum()
                .item()
        };
        let analytic: Vec<Tensor<f64>> = {
            let tape = Tape::new();
            let g = (m.forward(tape.var(x.clone())) * tape.constant(r.clone()))
                .sum()
                .backward();
            m.params().iter().map(|p| g[*p].clone()).collect()
        };
        let eps = 1e-6;
        for (pi, want) in analytic.iter().enumerate() {
            for k in 0..want.numel() {
                let base = m.params()[pi].value().clone();
                let shifted = |d: f64| {
                    let mut v = base.to_vec();
                    v[k] += d;
                    Tensor::from_vec(v, base.shape()).expect("the data fits the shape")
                };
                m.params_mut()[pi]
                    .set_value(shifted(eps))
                    .expect("the shifted copy keeps the parameter's shape");
                let up = loss(&m);
                m.params_mut()[pi]
                    .set_value(shifted(-eps))
                    .expect("the shifted copy keeps the parameter's shape");
                let down = loss(&m);
                m.params_mut()[pi]
                    .set_value(base)
                    .expect("base is the parameter's own earlier value");
                let numeric = (up - down) / (2.0 * eps);
                let a = want.data()[k];
                assert!(
                    (a - numeric).abs() <= 1e-6 + 1e-5 * numeric.abs(),
                    "param {pi}[{k}]: {a} vs {numeric}"
                );
            }
        }
    }
}
