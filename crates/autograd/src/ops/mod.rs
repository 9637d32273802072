//! The primitive ops, one per file: the public method on `Var` (and on `Operand`, for backward
//! rules), its documentation, the `Op` implementation with forward and backward side by side, and
//! its tests. Composite functions (mean, softmax's use in losses, ...) reuse these.

#[cfg(test)]
pub(crate) mod test_util;

mod add;
mod add_scalar;
mod argmax;
mod axis;
mod broadcast_to;
mod div;
mod exp;
mod log_softmax;
mod logsumexp;
mod matmul;
mod max_axis;
mod min_axis;
mod mul;
mod mul_scalar;
mod neg;
mod one_hot;
mod powf;
mod relu;
mod reshape;
mod softmax;
mod sub;
mod sum;
mod sum_to;
mod tanh;
