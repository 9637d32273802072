//! Test helpers.

use wengert_autograd::{Tape, Var};

use crate::Module;

/// Returns `f` unchanged; passing a closure through this fixes its signature to the
/// higher-ranked one the gradient checkers take, so one closure can be checked twice.
pub(crate) fn check_fn<F>(f: F) -> F
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    f
}

/// The bytes of `tape`'s values once `h` is computed, then the gradients of `sum(tanh(h))` for
/// `x` and every parameter of `module`: what releasing values must leave unchanged.
pub(crate) fn bytes_and_grads<'t>(
    module: &impl Module<f64>,
    tape: &'t Tape<f64>,
    x: Var<'t, f64>,
    h: Var<'t, f64>,
) -> (usize, Vec<Vec<f64>>) {
    let bytes = tape.value_bytes();
    let grads = h.tanh().sum().backward();
    let mut all = vec![grads[x].to_vec()];
    all.extend(
        module
            .named_params()
            .iter()
            .map(|(_, p)| grads[*p].to_vec()),
    );
    (bytes, all)
}
