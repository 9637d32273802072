//! `Param`: a trainable tensor with a stable identity, living outside any tape.

use std::ops::Index;
use std::sync::atomic::{AtomicU64, Ordering};

use wengert_autograd::{Error, Float, Grads, Tape, Tensor, Var};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A trainable tensor with a unique id. It lives outside any tape (so one model serves many
/// training steps); [`Param::on`] puts it on a tape as a leaf, and the gradient is read back with
/// `grads[&param]`.
///
/// ```
/// use wengert_autograd::{Tape, Tensor};
/// use wengert_nn::Param;
/// let w = Param::new(Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]).unwrap());
/// let tape = Tape::new();
/// let loss = (w.on(&tape) * w.on(&tape)).sum(); // sum w^2; both uses are one leaf
/// let grads = loss.backward();
/// assert_eq!(grads[&w].to_vec(), vec![2.0, 4.0]); // 2w
/// ```
#[derive(Debug)]
pub struct Param<T: Float> {
    id: u64,
    value: Tensor<T>,
}

impl<T: Float> Param<T> {
    /// A parameter holding `value`, with a fresh id.
    pub fn new(value: Tensor<T>) -> Self {
        Param {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            value,
        }
    }

    /// The unique id (the key of its leaf on a tape and of its optimizer state).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The current value.
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }

    /// The shape of the value.
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    /// Number of scalars.
    pub fn numel(&self) -> usize {
        self.value.numel()
    }

    /// Replaces the value (optimizer steps, loading weights); the id stays.
    ///
    /// Returns [`Error::InvalidConfig`] if the shape differs, leaving the value unchanged.
    pub fn set_value(&mut self, value: Tensor<T>) -> Result<(), Error> {
        if value.shape() != self.value.shape() {
            return Err(Error::InvalidConfig {
                message: format!(
                    "parameter value of shape {:?} cannot replace one of shape {:?}",
                    value.shape(),
                    self.value.shape()
                ),
            });
        }
        self.value = value;
        Ok(())
    }

    /// The elements, to update in place (optimizer steps); copied first if a tape or another
    /// tensor still shares them (see [`Tensor::make_mut`]). The shape cannot change.
    pub fn value_mut(&mut self) -> &mut [T] {
        self.value.make_mut()
    }

    /// Puts the parameter on `tape` as a leaf that requires grad. Calling it again on the same
    /// tape returns the same leaf, so a layer used at every time step has one gradient.
    #[track_caller]
    pub fn on<'t>(&self, tape: &'t Tape<T>) -> Var<'t, T> {
        tape.var_with_key(self.value.clone(), self.id)
    }

    /// The gradient of this parameter in `grads`, if it reached the loss.
    pub fn grad<'g>(&self, grads: &'g Grads<T>) -> Option<&'g Tensor<T>> {
        grads.by_key(self.id)
    }
}

impl<T: Float> Clone for Param<T> {
    /// A copy with a new id (an independent parameter with the same value).
    fn clone(&self) -> Self {
        Param::new(self.value.clone())
    }
}

impl<'a, T: Float> Index<&'a Param<T>> for Grads<T> {
    type Output = Tensor<T>;

    /// # Panics
    /// If the parameter has no gradient (it was not used, or not put on this tape).
    #[track_caller]
    fn index(&self, p: &'a Param<T>) -> &Tensor<T> {
        self.by_key(p.id).unwrap_or_else(|| {
            panic!(
                "grads: no gradient for the parameter of shape {:?} (id {}): it was not put on \
                 this tape with Param::on, or does not reach the loss",
                p.shape(),
                p.id
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_clones_are_independent() {
        let a = Param::new(Tensor::<f32>::zeros(&[2]));
        let b = a.clone();
        assert_ne!(a.id(), b.id());
        assert_eq!(a.value(), b.value());
    }

    #[test]
    fn set_value_rejects_a_new_shape_and_keeps_the_old_value() {
        let mut p = Param::new(Tensor::<f32>::zeros(&[2, 3]));
        let err = p.set_value(Tensor::zeros(&[3, 2])).unwrap_err();
        assert!(err.to_string().contains("[3, 2]"), "{err}");
        assert_eq!(p.shape(), &[2, 3]);
        p.set_value(Tensor::ones(&[2, 3]))
            .expect("the new value has the parameter's shape [2, 3]");
        assert_eq!(p.value().to_vec(), vec![1.0; 6]);
    }

    #[test]
    #[should_panic(expected = "grads: no gradient for the parameter of shape [2]")]
    fn indexing_grads_by_an_unused_param_panics() {
        let used = Param::new(Tensor::<f64>::ones(&[1]));
        let unused = Param::new(Tensor::<f64>::ones(&[2]));
        let tape = Tape::new();
        let g = used.on(&tape).sum().backward();
        let _ = &g[&unused];
    }
}
