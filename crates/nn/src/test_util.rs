//! Test helpers.

use wengert_autograd::Var;

/// Returns `f` unchanged; passing a closure through this fixes its signature to the
/// higher-ranked one the gradient checkers take, so one closure can be checked twice.
pub(crate) fn check_fn<F>(f: F) -> F
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    f
}
