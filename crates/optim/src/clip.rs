//! Gradient clipping by global L2 norm and by value. Both read gradients from any
//! [`GradSource`] and return a [`ParamGrads`], which any [`Optimizer`](crate::Optimizer)'s
//! `step` accepts, so clipping composes with every optimizer:
//!
//! ```
//! use wengert_autograd::{Tape, Tensor};
//! use wengert_nn::Param;
//! use wengert_optim::{Optimizer, Sgd, SgdConfig, clip_grad_norm};
//!
//! let mut w = Param::new(Tensor::<f64>::from_vec(vec![3.0, 4.0], &[2]).unwrap());
//! let tape = Tape::new();
//! let grads = (w.on(&tape) * w.on(&tape)).sum().backward(); // g = 2w = [6, 8], |g| = 10
//! let (clipped, norm) = clip_grad_norm(&[&w], &grads, 1.0).unwrap();
//! assert_eq!(norm, 10.0);
//! let mut sgd = Sgd::new(SgdConfig { lr: 1.0, ..Default::default() }).unwrap();
//! sgd.step(&mut [&mut w], &clipped).unwrap();
//! // g * 1 / (10 + 1e-6) ~ [0.6, 0.8]
//! let p = w.value().to_vec();
//! assert!((p[0] - 2.4).abs() < 1e-6 && (p[1] - 3.2).abs() < 1e-6);
//! ```

use std::borrow::Borrow;

use wengert_autograd::{Error, Float};
use wengert_nn::Param;

use crate::config::non_negative;
use crate::{GradSource, ParamGrads};

/// The global L2 norm of the gradients of `params`, `sqrt(sum_i |g_i|^2)` over every element of
/// every parameter that has a gradient (accumulated in f64). Parameters without a gradient
/// count as zero.
pub fn grad_norm<T: Float, P: Borrow<Param<T>>>(params: &[P], grads: &dyn GradSource<T>) -> f64 {
    params
        .iter()
        .filter_map(|p| grads.grad_of(p.borrow().id()))
        .flat_map(|g| g.data().iter())
        .map(|&x| {
            let x = x.to_f64();
            x * x
        })
        .sum::<f64>()
        .sqrt()
}

/// Clips gradients by their global L2 norm, as PyTorch's `clip_grad_norm_`:
/// `total = grad_norm(params, grads)`, `scale = min(1, max_norm / (total + 1e-6))`, and every
/// gradient is multiplied by `scale` (in `T`). Returns the scaled gradients of the parameters
/// that have one, and `total` (the norm before clipping, useful for logging).
///
/// If a gradient is infinite or NaN, `total` is too and the scaled gradients are NaN, as in
/// PyTorch; check `total.is_finite()` to skip such a step.
///
/// `params` may be `&[&Param]`, `&[&mut Param]` (e.g. `&model.params_mut()`) or `&[Param]`.
/// Returns [`Error::InvalidConfig`] if `max_norm` is negative or not finite.
pub fn clip_grad_norm<T: Float, P: Borrow<Param<T>>>(
    params: &[P],
    grads: &dyn GradSource<T>,
    max_norm: f64,
) -> Result<(ParamGrads<T>, f64), Error> {
    non_negative("clip_grad_norm max_norm", max_norm)?;
    let total = grad_norm(params, grads);
    let scale = T::from_f64((max_norm / (total + 1e-6)).min(1.0));
    let mut out = ParamGrads::new();
    for p in params {
        let p = p.borrow();
        if let Some(g) = grads.grad_of(p.id()) {
            out.insert(p, g.map(|x| x * scale));
        }
    }
    Ok((out, total))
}

/// Clips every gradient element to `[-clip_value, clip_value]`, as PyTorch's
/// `clip_grad_value_`. Returns the clipped gradients of the parameters that have one (NaN stays
/// NaN).
///
/// ```
/// use wengert_autograd::Tensor;
/// use wengert_nn::Param;
/// use wengert_optim::{ParamGrads, clip_grad_value};
/// let p = Param::new(Tensor::<f32>::zeros(&[3]));
/// let mut g = ParamGrads::new();
/// g.insert(&p, Tensor::from_vec(vec![-5.0, 0.5, 2.0], &[3]).unwrap());
/// let clipped = clip_grad_value(&[&p], &g, 1.0).unwrap();
/// assert_eq!(clipped.get(&p).unwrap().to_vec(), vec![-1.0, 0.5, 1.0]);
/// ```
///
/// Returns [`Error::InvalidConfig`] if `clip_value` is negative or not finite.
pub fn clip_grad_value<T: Float, P: Borrow<Param<T>>>(
    params: &[P],
    grads: &dyn GradSource<T>,
    clip_value: f64,
) -> Result<ParamGrads<T>, Error> {
    non_negative("clip_grad_value clip_value", clip_value)?;
    let c = T::from_f64(clip_value);
    let mut out = ParamGrads::new();
    for p in params {
        let p = p.borrow();
        if let Some(g) = grads.grad_of(p.id()) {
            out.insert(
                p,
                g.map(|x| {
                    if x > c {
                        c
                    } else if x < -c {
                        -c
                    } else {
                        x
                    }
                }),
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wengert_autograd::Tensor;

    fn grads_for(ps: &[&Param<f64>], gs: &[&[f64]]) -> ParamGrads<f64> {
        let mut out = ParamGrads::new();
        for (p, g) in ps.iter().zip(gs) {
            out.insert(
                p,
                Tensor::from_vec(g.to_vec(), p.shape()).expect("the data fits the shape"),
            );
        }
        out
    }

    #[test]
    fn norm_is_global_over_parameters() {
        let a = Param::new(Tensor::<f64>::zeros(&[2]));
        let b = Param::new(Tensor::<f64>::zeros(&[1]));
        let unused = Param::new(Tensor::<f64>::zeros(&[1]));
        let g = grads_for(&[&a, &b], &[&[1.0, 2.0], &[2.0]]);
        // sqrt(1 + 4 + 4) = 3; a parameter without gradient adds nothing
        assert_eq!(grad_norm(&[&a, &b, &unused], &g), 3.0);
        let (c, total) = clip_grad_norm(&[&a, &b, &unused], &g, 1.5)
            .expect("max_norm 1.5 is finite and non-negative");
        assert_eq!(total, 3.0);
        let s = 1.5 / (3.0 + 1e-6);
        assert_eq!(
            c.get(&a).expect("a has a gradient").to_vec(),
            vec![s, 2.0 * s]
        );
        assert_eq!(c.get(&b).expect("b has a gradient").to_vec(), vec![2.0 * s]);
        assert!(c.get(&unused).is_none());
        // The clipped norm is max_norm (up to the 1e-6 guard).
        assert!((grad_norm(&[&a, &b], &c) - 1.5).abs() < 1e-6);
    }

    #[test]
    fn small_norms_are_left_alone() {
        let a = Param::new(Tensor::<f64>::zeros(&[2]));
        let g = grads_for(&[&a], &[&[0.3, 0.4]]);
        let (c, total) =
            clip_grad_norm(&[&a], &g, 1.0).expect("max_norm 1.0 is finite and non-negative");
        assert!((total - 0.5).abs() < 1e-15);
        assert_eq!(
            c.get(&a).expect("a has a gradient").to_vec(),
            vec![0.3, 0.4]
        );
    }

    #[test]
    fn value_clipping_is_elementwise() {
        let a = Param::new(Tensor::<f64>::zeros(&[4]));
        let g = grads_for(&[&a], &[&[-3.0, -0.2, 0.2, 3.0]]);
        let c = clip_grad_value(&[&a], &g, 0.5).expect("clip_value 0.5 is finite and non-negative");
        assert_eq!(
            c.get(&a).expect("a has a gradient").to_vec(),
            vec![-0.5, -0.2, 0.2, 0.5]
        );
    }

    #[test]
    fn bad_thresholds_are_rejected() {
        let a = Param::new(Tensor::<f64>::zeros(&[1]));
        let g = grads_for(&[&a], &[&[1.0]]);
        let msg = clip_grad_norm(&[&a], &g, -1.0).unwrap_err().to_string();
        assert!(msg.contains("max_norm` = -1"), "{msg}");
        let msg = clip_grad_value(&[&a], &g, f64::NAN)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("clip_value` = NaN"), "{msg}");
    }
}
