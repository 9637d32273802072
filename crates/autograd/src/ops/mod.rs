//! The primitive ops, one per file: the public method on `Var` (and on `Operand`, for backward
//! rules), its documentation, the `Op` implementation with forward and backward side by side, and
//! its tests. Composite functions (mean, softmax's use in losses, ...) reuse these.

#[cfg(test)]
pub(crate) mod test_util;

mod abs;
mod add;
mod add_scalar;
mod argmax;
mod axis;
mod broadcast_to;
mod clamp;
mod concat;
mod cross_entropy;
mod div;
mod exp;
mod gather;
mod gru_cell;
mod index_add;
mod index_select;
mod leaky_relu;
mod linear;
mod log;
mod log1p;
mod log_softmax;
mod logsumexp;
mod lstm_cell;
mod matmul;
mod max_axis;
mod maximum;
mod min_axis;
mod minimum;
mod mul;
mod mul_scalar;
mod narrow;
mod neg;
mod one_hot;
mod pad;
mod permute;
mod powf;
mod relu;
mod reshape;
mod scatter_add;
mod sigmoid;
mod softmax;
mod softplus;
mod split;
mod sqrt;
mod stack;
mod sub;
mod sum;
mod sum_to;
mod tanh;
mod where_;
