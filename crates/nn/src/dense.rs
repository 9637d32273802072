//! `Dense`: the fully connected layer `y = act(x W^T + b)`.

use wengert_autograd::{Float, Tensor, Var};

use crate::{Activation, Module, Param, init};

/// `y = x W^T + b` on the last axis of `x`, with `x` of shape `[.., in]`, `weight` `[out, in]`
/// (PyTorch's `Linear` layout) and `bias` `[out]`: the functional form of [`Dense`], for
/// gradient checks and custom layers. One node ([`Var::linear`]); `W^T` is never copied.
///
/// Derivatives (for a 2-D `x` and upstream gradient `G` `[n, out]`): `dx = G W`,
/// `dW = G^T x`, `db = sum_rows G`.
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::dense::linear;
/// let tape = Tape::<f64>::new();
/// let x = tape.var(Tensor::from_vec(vec![1.0, 2.0], &[1, 2]).unwrap());
/// let w = tape.var(Tensor::from_vec(vec![1.0, 0.0, 1.0, 1.0, -1.0, 2.0], &[3, 2]).unwrap());
/// let b = tape.var(Tensor::from_vec(vec![0.5, 0.0, -1.0], &[3]).unwrap());
/// assert_eq!(linear(x, w, Some(b)).value().to_vec(), vec![1.5, 3.0, 2.0]);
/// ```
///
/// # Panics
/// If `weight` is not 2-D, the feature sizes differ
/// (`dense: input has 784 features but the layer expects 128 (input shape [32, 784])`), `x`
/// has rank < 2, or `bias` is not `[out]`.
#[track_caller]
pub fn linear<'t, T: Float>(
    x: Var<'t, T>,
    weight: Var<'t, T>,
    bias: Option<Var<'t, T>>,
) -> Var<'t, T> {
    let (xs, ws) = (x.shape(), weight.shape());
    assert!(
        ws.len() == 2,
        "dense: weight must be [out, in], got shape {:?}",
        ws.as_slice()
    );
    assert!(
        xs.len() >= 2,
        "dense: input must have a batch axis and a feature axis (rank >= 2), got shape {:?}",
        xs.as_slice()
    );
    let features = xs[xs.len() - 1];
    assert!(
        features == ws[1],
        "dense: input has {features} features but the layer expects {} (input shape {:?})",
        ws[1],
        xs.as_slice()
    );
    if let Some(b) = bias {
        assert!(
            b.shape().as_slice() == [ws[0]],
            "dense: bias must have shape [{}], got {:?}",
            ws[0],
            b.shape().as_slice()
        );
    }
    // One node: the GEMM with the bias added in place (`Var::linear`).
    x.linear(weight, bias)
}

/// A fully connected layer: `y = act(x W^T + b)`, applied to the last axis of an input of shape
/// `[.., in]` (rank >= 2), giving `[.., out]`.
///
/// Parameters (PyTorch's `Linear` names and layout): `weight` `[out, in]`, `bias` `[out]`.
/// Defaults (Keras's `Dense`): weight Glorot uniform ([`init::glorot_uniform`] with
/// `fan_in = in`, `fan_out = out`), bias zeros, no activation, bias on. The seed is
/// per-layer (see [`Dense::with_seed`]).
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::{Dense, Module, Relu};
/// let layer = Dense::<f64>::new(3, 2).with_activation(Relu).with_seed(0);
/// assert_eq!(layer.weight().shape(), &[2, 3]);
/// let tape = Tape::new();
/// let x = tape.var(Tensor::ones(&[4, 3]));
/// let y = layer.forward(x);
/// assert_eq!(y.shape().as_slice(), &[4, 2]);
/// assert!(y.value().data().iter().all(|v| *v >= 0.0)); // relu
/// // bias starts at zero, so each output is relu(sum_k W[j, k])
/// let w = layer.weight().value();
/// let want = (w.get(&[1, 0]) + w.get(&[1, 1]) + w.get(&[1, 2])).max(0.0);
/// assert!((y.value().get(&[0, 1]) - want).abs() < 1e-15);
/// ```
#[derive(Debug)]
pub struct Dense<T: Float> {
    weight: Param<T>,
    bias: Option<Param<T>>,
    activation: Option<Activation>,
}

impl<T: Float> Dense<T> {
    /// A layer from `inputs` features to `outputs` features, initialised as Keras does (Glorot
    /// uniform weight, zero bias) with a fresh per-layer seed.
    ///
    /// # Panics
    /// If `inputs` or `outputs` is 0: `dense: sizes must be positive, got in 0, out 10`.
    #[track_caller]
    pub fn new(inputs: usize, outputs: usize) -> Self {
        assert!(
            inputs > 0 && outputs > 0,
            "dense: sizes must be positive, got in {inputs}, out {outputs}"
        );
        Dense {
            weight: Param::new(init::glorot_uniform(
                &[outputs, inputs],
                inputs,
                outputs,
                init::default_seed(),
            )),
            bias: Some(Param::new(init::zeros(&[outputs]))),
            activation: None,
        }
    }

    /// A layer with the given weight `[out, in]` and optional bias `[out]` (e.g. copied from
    /// PyTorch), no activation.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](wengert_autograd::Error::InvalidConfig) if the weight is not 2-D
    /// or the bias is not `[out]`.
    pub fn from_tensors(
        weight: Tensor<T>,
        bias: Option<Tensor<T>>,
    ) -> Result<Self, wengert_autograd::Error> {
        let bad = |message: String| wengert_autograd::Error::InvalidConfig { message };
        if weight.ndim() != 2 {
            return Err(bad(format!(
                "dense: weight must be [out, in], got shape {:?}",
                weight.shape()
            )));
        }
        if let Some(b) = &bias
            && b.shape() != [weight.shape()[0]]
        {
            return Err(bad(format!(
                "dense: bias must have shape [{}] to match weight {:?}, got {:?}",
                weight.shape()[0],
                weight.shape(),
                b.shape()
            )));
        }
        Ok(Dense {
            weight: Param::new(weight),
            bias: bias.map(Param::new),
            activation: None,
        })
    }

    /// Applies `act` after the affine map: `Relu`, `Tanh`, `Sigmoid`, `Softmax`,
    /// `LeakyRelu(slope)` or an [`Activation`].
    pub fn with_activation(mut self, act: impl Into<Activation>) -> Self {
        self.activation = Some(act.into());
        self
    }

    /// Removes the bias: `y = act(x W^T)`.
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }

    /// Redraws the weight (Glorot uniform) from `seed`, so the layer is reproducible regardless
    /// of how many layers were built before it. The bias is reset to zeros.
    pub fn with_seed(mut self, seed: u64) -> Self {
        let [outputs, inputs] = [self.weight.shape()[0], self.weight.shape()[1]];
        self.weight = Param::new(init::glorot_uniform(
            &[outputs, inputs],
            inputs,
            outputs,
            seed,
        ));
        if self.bias.is_some() {
            self.bias = Some(Param::new(init::zeros(&[outputs])));
        }
        self
    }

    /// Input features (`in`).
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Output features (`out`).
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }

    /// The weight `[out, in]`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }

    /// The bias `[out]`, if the layer has one.
    pub fn bias(&self) -> Option<&Param<T>> {
        self.bias.as_ref()
    }

    /// The activation, if any.
    pub fn activation(&self) -> Option<Activation> {
        self.activation
    }
}

impl<T: Float> Module<T> for Dense<T> {
    /// `act(x W^T + b)`.
    ///
    /// # Panics
    /// On a wrong feature size:
    /// `dense: input has 784 features but the layer expects 128 (input shape [32, 784])`, or an
    /// input of rank < 2.
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        let tape = x.tape();
        let y = linear(
            x,
            self.weight.on(tape),
            self.bias.as_ref().map(|b| b.on(tape)),
        );
        match self.activation {
            Some(act) => act.apply(y),
            None => y,
        }
    }

    fn named_params(&self) -> Vec<(String, &Param<T>)> {
        let mut out = vec![("weight".to_string(), &self.weight)];
        if let Some(b) = &self.bias {
            out.push(("bias".to_string(), b));
        }
        out
    }

    fn named_params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        let mut out = vec![("weight".to_string(), &mut self.weight)];
        if let Some(b) = &mut self.bias {
            out.push(("bias".to_string(), b));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::check_fn;
    use crate::{LeakyRelu, Relu, Sigmoid, Softmax, Tanh};
    use wengert_autograd::Tape;
    use wengert_autograd::check::{CheckOptions, gradcheck, gradgradcheck};

    fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(data.to_vec(), shape).expect("the data fits the shape")
    }

    #[test]
    fn defaults_are_keras() {
        let d = Dense::<f64>::new(30, 20);
        let a = (6.0f64 / 50.0).sqrt();
        assert_eq!(d.weight().shape(), &[20, 30]);
        assert!(d.weight().value().data().iter().all(|v| v.abs() < a));
        assert_eq!(
            d.bias().expect("Dense::new has a bias").value().to_vec(),
            vec![0.0; 20]
        );
        assert_eq!(d.activation(), None);
        assert_eq!(Module::num_params(&d), 20 * 30 + 20);
        let names: Vec<_> = d.named_params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias"]);
        // two layers get different seeds; with_seed makes them equal
        assert_ne!(
            Dense::<f64>::new(3, 2).weight().value(),
            Dense::<f64>::new(3, 2).weight().value()
        );
        assert_eq!(
            Dense::<f64>::new(3, 2).with_seed(5).weight().value(),
            Dense::<f64>::new(3, 2).with_seed(5).weight().value()
        );
        let nb = Dense::<f32>::new(3, 2).without_bias();
        assert!(nb.bias().is_none());
        assert_eq!(Module::named_params(&nb).len(), 1);
    }

    #[test]
    fn forward_and_param_grads_match_the_closed_form() {
        // x [2, 2], W [3, 2], b [3]; L = sum(y) with y = x W^T + b
        let d = Dense::from_tensors(
            t(&[1.0, 2.0, -1.0, 0.5, 0.0, 3.0], &[3, 2]),
            Some(t(&[0.1, 0.2, 0.3], &[3])),
        )
        .expect("W [3, 2] with b [3] is a valid layer");
        let tape = Tape::new();
        let x = tape.var(t(&[1.0, -2.0, 3.0, 4.0], &[2, 2]));
        let y = d.forward(x);
        // row 0: [1*1 + -2*2 + .1, 1*-1 + -2*.5 + .2, 0 + -6 + .3]
        assert_eq!(y.value().to_vec(), vec![-2.9, -1.8, -5.7, 11.1, -0.8, 12.3]);
        let g = y.sum().backward_retain();
        // dL/dW[j, k] = sum_n x[n, k] = [4, 2] per row; dL/db = n = 2; dL/dx[n, k] = sum_j W[j, k]
        assert_eq!(g[d.weight()].to_vec(), vec![4.0, 2.0, 4.0, 2.0, 4.0, 2.0]);
        assert_eq!(
            g[d.bias().expect("the layer was built with a bias")].to_vec(),
            vec![2.0; 3]
        );
        assert_eq!(g[x].to_vec(), vec![0.0, 5.5, 0.0, 5.5]);
    }

    #[test]
    fn batch_axes_broadcast() {
        let d = Dense::<f64>::new(4, 3).with_seed(1);
        let tape = Tape::new();
        let x = Tensor::randn(&[2, 5, 4], 3);
        let y = d.forward(tape.var(x.clone())).value();
        assert_eq!(y.shape(), &[2, 5, 3]);
        // each [4] row maps like a 2-D batch
        let flat = d.forward(tape.var(x.reshape(&[10, 4]))).value();
        assert_eq!(y.reshape(&[10, 3]), flat);
    }

    #[test]
    #[should_panic(
        expected = "dense: input has 784 features but the layer expects 128 (input shape [32, 784])"
    )]
    fn wrong_feature_size_panics_naming_shapes() {
        let d = Dense::<f32>::new(128, 10);
        let tape = Tape::new();
        let _ = d.forward(tape.var(Tensor::zeros(&[32, 784])));
    }

    #[test]
    #[should_panic(
        expected = "dense: input must have a batch axis and a feature axis (rank >= 2), got shape [5]"
    )]
    fn rank_one_input_panics() {
        let d = Dense::<f32>::new(5, 1);
        let tape = Tape::new();
        let _ = d.forward(tape.var(Tensor::zeros(&[5])));
    }

    #[test]
    fn from_tensors_rejects_bad_shapes() {
        let e = Dense::<f64>::from_tensors(Tensor::zeros(&[3, 2]), Some(Tensor::zeros(&[2])))
            .unwrap_err();
        assert!(e.to_string().contains("bias must have shape [3]"), "{e}");
        assert!(Dense::<f64>::from_tensors(Tensor::zeros(&[3]), None).is_err());
    }

    fn inputs(bias: bool) -> Vec<Tensor<f64>> {
        let mut v = vec![
            Tensor::rand_uniform(&[3, 4], -1.5, 1.5, 10),
            Tensor::rand_uniform(&[2, 4], -1.0, 1.0, 11),
        ];
        if bias {
            v.push(Tensor::rand_uniform(&[2], -0.5, 0.5, 12));
        }
        v
    }

    #[test]
    fn gradcheck_each_activation_with_and_without_bias() {
        let opts = CheckOptions::default();
        let acts: [Option<Activation>; 6] = [
            None,
            Some(Relu.into()),
            Some(Tanh.into()),
            Some(Sigmoid.into()),
            Some(Softmax.into()),
            Some(LeakyRelu(0.05).into()),
        ];
        for act in acts {
            for bias in [true, false] {
                // v = [x, W, b?]; y = act(x W^T + b)
                let f = check_fn(move |v: &[Var<'_, f64>]| {
                    let y = linear(v[0], v[1], v.get(2).copied());
                    act.map_or(y, |a| a.apply(y))
                });
                let ins = inputs(bias);
                gradcheck(f, &ins, &opts).unwrap_or_else(|e| panic!("{act:?} bias {bias}: {e}"));
                gradgradcheck(f, &ins, &opts)
                    .unwrap_or_else(|e| panic!("{act:?} bias {bias}: {e}"));
            }
        }
    }

    #[test]
    fn module_forward_equals_linear_and_its_param_grads() {
        // The Module path (params through Param::on) gives the functional form's gradients.
        let d = Dense::<f64>::new(4, 2).with_activation(Tanh).with_seed(4);
        let ins = inputs(false);
        let tape = Tape::new();
        let x = tape.var(ins[0].clone());
        let w = tape.var(d.weight().value().clone());
        let b = tape.var(d.bias().expect("Dense::new has a bias").value().clone());
        let r = tape.constant(Tensor::rand_uniform(&[3, 2], 0.5, 1.5, 1));
        let l1 = (d.forward(x) * r).sum();
        let l2 = (linear(x, w, Some(b)).tanh() * r).sum();
        assert_eq!(l1.item(), l2.item());
        let g1 = l1.backward_retain();
        let g2 = l2.backward_retain();
        assert_eq!(g1[d.weight()], g2[w]);
        assert_eq!(g1[d.bias().expect("Dense::new has a bias")], g2[b]);
    }
}
