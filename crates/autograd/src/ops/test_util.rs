//! Helpers shared by the ops' unit tests.

use crate::check::{CheckOptions, gradcheck, gradgradcheck};
use crate::{Tensor, Var};

/// An f64 tensor from literal data.
pub fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).expect("test data fits its shape")
}

/// Asserts elementwise closeness with a message showing both tensors.
#[track_caller]
pub fn assert_close(got: &Tensor<f64>, want: &[f64], tol: f64) {
    assert_eq!(got.numel(), want.len(), "got {got}, want {want:?}");
    for (g, w) in got.data().iter().zip(want) {
        assert!((g - w).abs() <= tol, "got {got}, want {want:?}");
    }
}

/// Runs gradcheck and gradgradcheck with default tolerances, panicking with the report.
#[track_caller]
pub fn check_both<F>(f: F, inputs: &[Tensor<f64>])
where
    F: for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
{
    let opts = CheckOptions::default();
    if let Err(e) = gradcheck(&f, inputs, &opts) {
        panic!("{e}");
    }
    if let Err(e) = gradgradcheck(&f, inputs, &opts) {
        panic!("{e}");
    }
}
