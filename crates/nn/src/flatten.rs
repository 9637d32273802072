//! `Flatten`: `[N, d1, d2, ..] -> [N, d1 * d2 * ..]`.

use wengert_autograd::{Float, Var};

use crate::Module;

/// Keeps the first (batch) axis and merges all the others: `[N, d1, .., dk] -> [N, d1 * .. *
/// dk]` (Keras `Flatten`, PyTorch `nn.Flatten()`); a rank-1 input `[N]` becomes `[N, 1]` as in
/// Keras. A reshape: the gradient is reshaped back. No parameters.
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::{Flatten, Module};
/// let tape = Tape::<f32>::new();
/// let x = tape.var(Tensor::zeros(&[32, 28, 28]));
/// assert_eq!(Flatten.forward(x).shape().as_slice(), &[32, 784]);
/// ```
///
/// # Panics
/// On a rank-0 (scalar) input: `flatten: input must have a batch axis, got shape []`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flatten;

impl<T: Float> Module<T> for Flatten {
    #[track_caller]
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        let shape = x.shape();
        assert!(
            !shape.is_empty(),
            "flatten: input must have a batch axis, got shape {:?}",
            shape.as_slice()
        );
        let rest: usize = shape[1..].iter().product();
        x.reshape(&[shape[0], rest])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::check_fn;
    use wengert_autograd::check::{CheckOptions, gradcheck};
    use wengert_autograd::{Tape, Tensor};

    #[test]
    fn keeps_batch_and_row_major_order() {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::arange(24).reshape(&[2, 3, 4]));
        let y = Flatten.forward(x);
        assert_eq!(y.shape().as_slice(), &[2, 12]);
        assert_eq!(y.value().get(&[1, 5]), 17.0); // x[1, 1, 1] = 12 + 4 + 1
        assert_eq!(
            Flatten
                .forward(tape.var(Tensor::zeros(&[3])))
                .shape()
                .as_slice(),
            &[3, 1]
        );
        // gradient is reshaped back: d sum(y * r)/dx = r reshaped
        let r = Tensor::<f64>::arange(24).reshape(&[2, 12]);
        let g = (y * tape.constant(r)).sum().backward();
        assert_eq!(g[x].shape(), &[2, 3, 4]);
        assert_eq!(g[x].to_vec(), Tensor::<f64>::arange(24).to_vec());
    }

    #[test]
    fn gradcheck_flatten() {
        let f = check_fn(|v: &[Var<'_, f64>]| Flatten.forward(v[0]).tanh());
        gradcheck(f, &[Tensor::randn(&[2, 2, 3], 1)], &CheckOptions::default())
            .expect("flatten's gradient must pass gradcheck");
    }

    #[test]
    #[should_panic(expected = "flatten: input must have a batch axis, got shape []")]
    fn scalar_panics() {
        let tape = Tape::<f64>::new();
        let _ = Flatten.forward(tape.var(Tensor::scalar(1.0)));
    }
}
