//! The [`Optimizer`] trait and where optimizers read gradients from ([`GradSource`]).

use std::collections::HashMap;

use wengert_autograd::{Error, Float, Grads, Tensor};
use wengert_nn::Param;

/// Where an optimizer finds each parameter's gradient, by [`Param::id`]: the [`Grads`] of a
/// backward pass, or a [`ParamGrads`] (e.g. clipped gradients from
/// [`clip_grad_norm`](crate::clip_grad_norm)).
pub trait GradSource<T: Float> {
    /// The gradient of the parameter with this id, or `None` if it has none.
    fn grad_of(&self, param_id: u64) -> Option<&Tensor<T>>;
}

impl<T: Float> GradSource<T> for Grads<T> {
    fn grad_of(&self, param_id: u64) -> Option<&Tensor<T>> {
        self.by_key(param_id)
    }
}

/// Gradients owned and keyed by parameter id: what the clipping functions return, and a way to
/// feed an optimizer gradients computed elsewhere.
///
/// ```
/// use wengert_autograd::Tensor;
/// use wengert_nn::Param;
/// use wengert_optim::{GradSource, ParamGrads};
/// let p = Param::new(Tensor::<f32>::zeros(&[2]));
/// let mut g = ParamGrads::new();
/// g.insert(&p, Tensor::ones(&[2]));
/// assert_eq!(g.grad_of(p.id()).unwrap().to_vec(), vec![1.0, 1.0]);
/// assert_eq!(g.len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct ParamGrads<T: Float> {
    map: HashMap<u64, Tensor<T>>,
}

impl<T: Float> Default for ParamGrads<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> ParamGrads<T> {
    /// No gradients.
    pub fn new() -> Self {
        ParamGrads {
            map: HashMap::new(),
        }
    }

    /// Sets the gradient of `param`.
    ///
    /// # Panics
    /// If `grad`'s shape is not the parameter's: "ParamGrads::insert: gradient of shape .. for a
    /// parameter of shape ..".
    #[track_caller]
    pub fn insert(&mut self, param: &Param<T>, grad: Tensor<T>) {
        assert_eq!(
            grad.shape(),
            param.shape(),
            "ParamGrads::insert: gradient of shape {:?} for a parameter of shape {:?}",
            grad.shape(),
            param.shape()
        );
        self.map.insert(param.id(), grad);
    }

    /// The gradient of `param`, if any.
    pub fn get(&self, param: &Param<T>) -> Option<&Tensor<T>> {
        self.map.get(&param.id())
    }

    /// Number of parameters with a gradient.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there is no gradient.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl<T: Float> GradSource<T> for ParamGrads<T> {
    fn grad_of(&self, param_id: u64) -> Option<&Tensor<T>> {
        self.map.get(&param_id)
    }
}

/// A first-order optimizer: updates parameters in place from their gradients.
///
/// State (momentum buffers, moment estimates, step counts) is kept per parameter, keyed by
/// [`Param::id`], so a parameter added to the model later starts with fresh state, and
/// [`reset`](Optimizer::reset) forgets everything.
///
/// Use [`step`](Optimizer::step) with the [`Grads`] of a backward pass (or a [`ParamGrads`] from
/// [`clip_grad_norm`](crate::clip_grad_norm)); a parameter without a gradient is skipped and its
/// state is left as it is.
pub trait Optimizer<T: Float> {
    /// Updates one parameter from its gradient (and the optimizer's state for it).
    ///
    /// # Panics
    /// If `grad`'s shape is not the parameter's (a programming mistake).
    fn update(&mut self, param: &mut Param<T>, grad: &Tensor<T>) -> Result<(), Error>;

    /// One optimization step: [`update`](Optimizer::update) every parameter that has a gradient
    /// in `grads`, in order. Pass `&mut model.params_mut()` or `&mut [&mut w, &mut b]`.
    fn step(
        &mut self,
        params: &mut [&mut Param<T>],
        grads: &dyn GradSource<T>,
    ) -> Result<(), Error> {
        for p in params.iter_mut() {
            if let Some(g) = grads.grad_of(p.id()) {
                self.update(p, g)?;
            }
        }
        Ok(())
    }

    /// Forgets all state (as if newly built); the hyperparameters, including a learning rate set
    /// with [`set_lr`](Optimizer::set_lr), stay.
    fn reset(&mut self);

    /// The current learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate (what a [`Schedule`](crate::Schedule) drives). Returns
    /// [`Error::InvalidConfig`] if `lr` is negative or not finite, leaving the old value.
    fn set_lr(&mut self, lr: f64) -> Result<(), Error>;
}

/// Checks that `grad` fits `param`.
#[track_caller]
pub(crate) fn check_shapes<T: Float>(name: &str, param: &Param<T>, grad: &Tensor<T>) {
    assert_eq!(
        grad.shape(),
        param.shape(),
        "{name}: gradient of shape {:?} for a parameter of shape {:?}",
        grad.shape(),
        param.shape()
    );
}
