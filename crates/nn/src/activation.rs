//! Activation functions as parameter-free layers: [`Relu`], [`Tanh`], [`Sigmoid`], [`Softmax`]
//! (last axis), [`LeakyRelu`], and the [`Activation`] enum that [`Dense::with_activation`]
//! stores. Each is a [`Module`] for every float type, so it can stand in a
//! [`Sequential`](crate::Sequential) or be fused into a `Dense`.
//!
//! [`Dense::with_activation`]: crate::Dense::with_activation
//!
//! ```
//! use wengert_autograd::{Tape, Tensor};
//! use wengert_nn::{Module, Relu, Softmax};
//! let tape = Tape::<f64>::new();
//! let x = tape.var(Tensor::from_vec(vec![-1.0, 2.0, 0.0, 0.0], &[2, 2]).unwrap());
//! assert_eq!(Relu.forward(x).value().to_vec(), vec![0.0, 2.0, 0.0, 0.0]);
//! assert_eq!(Softmax.forward(x).value().get(&[1, 0]), 0.5);
//! ```

use wengert_autograd::{Float, Var};

use crate::Module;

/// An elementwise (or, for softmax, last-axis) nonlinearity; what
/// [`Dense::with_activation`](crate::Dense::with_activation) applies after `x W^T + b`.
/// Built from the unit structs with `.into()` (`Activation::from(Relu)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `e^x_k / sum_j e^x_j` along the last axis.
    Softmax,
    /// `x` for `x > 0`, `slope * x` otherwise.
    LeakyRelu(f64),
}

impl Activation {
    /// Applies the function to `x` (shape unchanged).
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// use wengert_nn::Activation;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![-2.0, 3.0], &[2]).unwrap());
    /// assert_eq!(Activation::LeakyRelu(0.1).apply(x).value().to_vec(), vec![-0.2, 3.0]);
    /// ```
    ///
    /// # Panics
    /// `Softmax` on a rank-0 value: softmax needs an axis.
    #[track_caller]
    pub fn apply<'t, T: Float>(self, x: Var<'t, T>) -> Var<'t, T> {
        match self {
            Activation::Relu => x.relu(),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Softmax => x.softmax(-1),
            Activation::LeakyRelu(slope) => x.leaky_relu(T::from_f64(slope)),
        }
    }
}

impl<T: Float> Module<T> for Activation {
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        self.apply(x)
    }
}

macro_rules! unit_activation {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct $name;

        impl From<$name> for Activation {
            fn from(_: $name) -> Activation {
                Activation::$name
            }
        }

        impl<T: Float> Module<T> for $name {
            #[track_caller]
            fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
                Activation::$name.apply(x)
            }
        }
    };
}

unit_activation!(
    /// The layer `y = max(x, 0)` (derivative 1 for `x > 0`, else 0). Keras `ReLU`, PyTorch `nn.ReLU`.
    Relu
);
unit_activation!(
    /// The layer `y = tanh(x)` (derivative `1 - y^2`). PyTorch `nn.Tanh`.
    Tanh
);
unit_activation!(
    /// The layer `y = 1 / (1 + e^-x)` (derivative `y (1 - y)`). PyTorch `nn.Sigmoid`.
    Sigmoid
);
unit_activation!(
    /// The layer `y_k = e^x_k / sum_j e^x_j` along the last axis (stable for any magnitude).
    /// PyTorch `nn.Softmax(dim=-1)`. For training, prefer raw logits with
    /// [`cross_entropy`](crate::loss::cross_entropy).
    Softmax
);

/// The layer `y = x` for `x > 0`, `y = slope * x` otherwise. Keras's `LeakyReLU` default slope
/// is 0.3, PyTorch's `nn.LeakyReLU` 0.01; this type has no default, write the slope:
/// `LeakyRelu(0.01)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyRelu(pub f64);

impl From<LeakyRelu> for Activation {
    fn from(l: LeakyRelu) -> Activation {
        Activation::LeakyRelu(l.0)
    }
}

impl<T: Float> Module<T> for LeakyRelu {
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        Activation::LeakyRelu(self.0).apply(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::check_fn;
    use wengert_autograd::check::{CheckOptions, gradcheck, gradgradcheck};
    use wengert_autograd::{Tape, Tensor};

    fn x() -> Tensor<f64> {
        // away from relu's kink at 0
        Tensor::from_vec(vec![-1.3, 0.4, 2.1, -0.2, 0.7, -2.5], &[2, 3])
            .expect("the data fits the shape")
    }

    #[test]
    fn values_match_the_formulas() {
        let tape = Tape::<f64>::new();
        let v = tape.var(x());
        let xs = x().to_vec();
        let check = |got: Vec<f64>, f: &dyn Fn(f64) -> f64| {
            for (g, &xi) in got.iter().zip(&xs) {
                assert!((g - f(xi)).abs() < 1e-15, "{g} vs {}", f(xi));
            }
        };
        check(Module::<f64>::forward(&Relu, v).value().to_vec(), &|a| {
            a.max(0.0)
        });
        check(
            Module::<f64>::forward(&Tanh, v).value().to_vec(),
            &f64::tanh,
        );
        check(Module::<f64>::forward(&Sigmoid, v).value().to_vec(), &|a| {
            1.0 / (1.0 + (-a).exp())
        });
        check(
            Module::<f64>::forward(&LeakyRelu(0.2), v).value().to_vec(),
            &|a| {
                if a > 0.0 { a } else { 0.2 * a }
            },
        );
        let s = Module::<f64>::forward(&Softmax, v).value();
        // row 0: exp(x_k) / sum_j exp(x_j)
        let z: f64 = xs[..3].iter().map(|a| a.exp()).sum();
        assert!((s.get(&[0, 1]) - xs[1].exp() / z).abs() < 1e-15);
        let row1: f64 = (0..3).map(|k| s.get(&[1, k])).sum();
        assert!((row1 - 1.0).abs() < 1e-15);
    }

    #[test]
    fn unit_structs_convert_to_the_enum() {
        assert_eq!(Activation::from(Relu), Activation::Relu);
        assert_eq!(Activation::from(LeakyRelu(0.3)), Activation::LeakyRelu(0.3));
        assert_eq!(Activation::from(Softmax), Activation::Softmax);
    }

    #[test]
    fn gradients_check_first_and_second_order() {
        let opts = CheckOptions::default();
        for act in [
            Activation::Relu,
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Softmax,
            Activation::LeakyRelu(0.1),
        ] {
            // d relu = [x>0], d tanh = 1 - y^2, d sigmoid = y(1-y), d leaky = 1 or slope,
            // d softmax_k/dx_j = y_k (delta_kj - y_j)
            let f = check_fn(move |v: &[Var<'_, f64>]| act.apply(v[0]));
            gradcheck(f, &[x()], &opts).unwrap_or_else(|e| panic!("{act:?}: {e}"));
            gradgradcheck(f, &[x()], &opts).unwrap_or_else(|e| panic!("{act:?}: {e}"));
        }
    }

    #[test]
    fn no_parameters() {
        assert_eq!(Module::<f32>::num_params(&Relu), 0);
        assert!(Module::<f32>::named_params(&Activation::Tanh).is_empty());
    }
}
