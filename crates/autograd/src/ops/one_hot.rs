//! `one_hot`: integer class labels as rows of a `[n, classes]` indicator matrix. A constant: it
//! has no inputs that could carry a gradient.

use crate::{Error, Float, Tape, Tensor, Var};

impl<T: Float> Tensor<T> {
    /// The `[labels.len(), classes]` matrix whose row `i` is 1 at column `labels[i]` and 0
    /// elsewhere: the targets of a classification loss. PyTorch:
    /// `torch.nn.functional.one_hot(labels, num_classes)` (which returns int64; this is float).
    ///
    /// Labels are external data, so a label outside `0..classes` is an
    /// [`Error::InvalidConfig`] naming the label, its position and the class count, not a panic.
    ///
    /// ```
    /// use wengert_autograd::{Error, Tensor};
    /// let y = Tensor::<f32>::one_hot(&[2, 0, 1], 3).unwrap();
    /// assert_eq!(y.shape(), &[3, 3]);
    /// assert_eq!(y.to_vec(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    ///
    /// let err = Tensor::<f32>::one_hot(&[1, 10], 10).unwrap_err();
    /// assert!(matches!(err, Error::InvalidConfig { .. }));
    /// assert!(err.to_string().contains("label 10 at position 1"));
    /// ```
    pub fn one_hot(labels: &[usize], classes: usize) -> Result<Tensor<T>, Error> {
        let mut data = vec![T::ZERO; labels.len() * classes];
        for (i, &label) in labels.iter().enumerate() {
            if label >= classes {
                return Err(Error::InvalidConfig {
                    message: format!(
                        "one_hot: label {label} at position {i} is out of range for {classes} \
                         classes; labels must lie in 0..{classes} (check the dataset's labels or \
                         the class count)"
                    ),
                });
            }
            data[i * classes + label] = T::ONE;
        }
        Tensor::from_vec(data, &[labels.len(), classes])
    }
}

impl<T: Float> Tape<T> {
    /// [`Tensor::one_hot`] entered on the tape as a constant (it never requires grad), ready to
    /// multiply with log-probabilities.
    ///
    /// ```
    /// use wengert_autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let logits = tape.var(Tensor::from_vec(vec![2.0, 0.0, 0.0, 1.0], &[2, 2]).unwrap());
    /// let targets = tape.one_hot(&[0, 1], 2).unwrap();
    /// assert!(!targets.requires_grad());
    /// // cross-entropy = -mean_i sum_k t_ik log_softmax(z)_ik
    /// let loss = -(targets * logits.log_softmax(1)).sum() * 0.5;
    /// let want = 0.5 * ((1.0 + (-2.0f64).exp()).ln() + (1.0 + (-1.0f64).exp()).ln());
    /// assert!((loss.item() - want).abs() < 1e-14);
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if a label is not below `classes`.
    #[track_caller]
    pub fn one_hot(&self, labels: &[usize], classes: usize) -> Result<Var<'_, T>, Error> {
        Ok(self.constant(Tensor::one_hot(labels, classes)?))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::assert_close;
    use crate::{Error, Tape, Tensor};

    #[test]
    fn rows_are_indicators() {
        let y =
            Tensor::<f64>::one_hot(&[1, 1, 3], 4).expect("every label is below the class count");
        assert_eq!(y.shape(), &[3, 4]);
        assert_close(&y, &[0., 1., 0., 0., 0., 1., 0., 0., 0., 0., 0., 1.], 0.0);
        assert_eq!(
            Tensor::<f32>::one_hot(&[], 5)
                .expect("every label is below the class count")
                .shape(),
            &[0, 5]
        );
    }

    #[test]
    fn out_of_range_label_is_an_error_naming_it() {
        let err = Tensor::<f64>::one_hot(&[0, 2, 5, 1], 5).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }));
        let msg = err.to_string();
        assert!(
            msg.contains("label 5 at position 2 is out of range for 5 classes"),
            "{msg}"
        );
        assert!(Tensor::<f64>::one_hot(&[0], 0).is_err());
        let tape = Tape::<f32>::new();
        assert!(tape.one_hot(&[3], 3).is_err());
    }

    #[test]
    fn tape_constant_has_no_gradient_but_passes_one_through() {
        let tape = Tape::<f64>::new();
        let t = tape
            .one_hot(&[2, 0], 3)
            .expect("every label is below the class count");
        assert!(!t.requires_grad());
        let z = tape.var(Tensor::randn(&[2, 3], 1));
        // d/dz sum(t * z) = t
        let g = (t * z).sum().backward();
        assert_close(&g[z], &[0., 0., 1., 1., 0., 0.], 0.0);
    }
}
