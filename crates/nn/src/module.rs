//! The `Module` trait: a layer or model with parameters, applied to `Var`s.

use wengert_autograd::{Float, Var};

use crate::Param;

/// A layer or a model: a function of a `Var` with parameters that live outside the tape.
///
/// Parameters are visited with their stable names (PyTorch's `state_dict` keys: `weight`,
/// `bias`, `0.weight` inside a `Sequential`, `weight_ih_l0` in recurrent layers); save/load and
/// optimizers work through [`named_params`](Module::named_params).
pub trait Module<T: Float> {
    /// Applies the module. Parameters enter `x`'s tape through [`Param::on`].
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T>;

    /// Every parameter with its name, in a stable order.
    fn named_params(&self) -> Vec<(String, &Param<T>)> {
        Vec::new()
    }

    /// Every parameter with its name, mutably, in the same order as
    /// [`named_params`](Module::named_params).
    fn named_params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        Vec::new()
    }

    /// Switches between training (dropout active) and evaluation (dropout is the identity).
    /// Containers forward it to their children. The default does nothing.
    fn set_training(&mut self, training: bool) {
        let _ = training;
    }

    /// Every parameter, in the order of [`named_params`](Module::named_params).
    fn params(&self) -> Vec<&Param<T>> {
        self.named_params().into_iter().map(|(_, p)| p).collect()
    }

    /// Every parameter, mutably.
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.named_params_mut()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// Total number of scalars in the parameters.
    fn num_params(&self) -> usize {
        self.params().iter().map(|p| p.numel()).sum()
    }
}
