//! What [`fit`](super::fit) and [`evaluate`](super::evaluate) return.

use std::fmt::Write;

/// The metrics of one epoch of [`fit`](super::fit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    /// The epoch's number, counted from 1 (as Keras prints it).
    pub epoch: usize,
    /// Mean training loss over the epoch's batches, weighted by batch size.
    pub loss: f64,
    /// Training accuracy over the epoch (for [`Loss::CrossEntropy`](super::Loss::CrossEntropy)
    /// and [`Loss::BceWithLogits`](super::Loss::BceWithLogits); `None` for `Mse`).
    pub accuracy: Option<f64>,
    /// Mean loss on the validation data at the end of the epoch, if validation data was given.
    pub val_loss: Option<f64>,
    /// Accuracy on the validation data, if given and the loss has an accuracy.
    pub val_accuracy: Option<f64>,
    /// Wall-clock seconds the epoch took, validation included.
    pub seconds: f64,
}

/// The result of [`evaluate`](super::evaluate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalStats {
    /// Mean loss over all examples.
    pub loss: f64,
    /// Accuracy over all examples, for losses that have one.
    pub accuracy: Option<f64>,
}

/// Per-epoch metrics of a [`fit`](super::fit) run, in order (Keras's `History`).
///
/// ```
/// use wengert::train::{EpochStats, History};
/// let e = EpochStats {
///     epoch: 1, loss: 0.5, accuracy: Some(0.75), val_loss: None, val_accuracy: None,
///     seconds: 1.25,
/// };
/// let h = History { epochs: vec![e] };
/// assert_eq!(h.losses(), vec![0.5]);
/// assert_eq!(
///     h.to_json(),
///     r#"{"epochs":[{"epoch":1,"loss":0.5,"accuracy":0.75,"val_loss":null,"val_accuracy":null,"seconds":1.25}]}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// One entry per epoch trained.
    pub epochs: Vec<EpochStats>,
}

impl History {
    /// The last epoch's metrics, if any epoch ran.
    pub fn last(&self) -> Option<&EpochStats> {
        self.epochs.last()
    }

    /// The training loss of every epoch.
    pub fn losses(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.loss).collect()
    }

    /// The validation loss of every epoch (`None` where there was no validation data).
    pub fn val_losses(&self) -> Vec<Option<f64>> {
        self.epochs.iter().map(|e| e.val_loss).collect()
    }

    /// The history as compact JSON: `{"epochs":[{"epoch":1,"loss":..,"accuracy":..,
    /// "val_loss":..,"val_accuracy":..,"seconds":..}, ..]}`. Missing metrics and non-finite
    /// numbers (JSON has no NaN) are `null`; finite numbers are written so that they parse back
    /// to the same `f64`.
    pub fn to_json(&self) -> String {
        let mut s = String::from("{\"epochs\":[");
        for (i, e) in self.epochs.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(
                s,
                "{{\"epoch\":{},\"loss\":{},\"accuracy\":{},\"val_loss\":{},\
                 \"val_accuracy\":{},\"seconds\":{}}}",
                e.epoch,
                num(Some(e.loss)),
                num(e.accuracy),
                num(e.val_loss),
                num(e.val_accuracy),
                num(Some(e.seconds)),
            );
        }
        s.push_str("]}");
        s
    }
}

/// A JSON number (Rust's shortest round-trip form, e.g. `0.1`, `1e-7`) or `null`.
fn num(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:?}"),
        _ => "null".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_nulls_non_finite_and_round_trips_numbers() {
        let e = |epoch, loss| EpochStats {
            epoch,
            loss,
            accuracy: None,
            val_loss: Some(1e-7),
            val_accuracy: Some(1.0),
            seconds: 0.1,
        };
        let h = History {
            epochs: vec![e(1, f64::NAN), e(2, 2.0 / 3.0)],
        };
        let j = h.to_json();
        assert_eq!(
            j,
            "{\"epochs\":[\
             {\"epoch\":1,\"loss\":null,\"accuracy\":null,\"val_loss\":1e-7,\"val_accuracy\":1.0,\"seconds\":0.1},\
             {\"epoch\":2,\"loss\":0.6666666666666666,\"accuracy\":null,\"val_loss\":1e-7,\"val_accuracy\":1.0,\"seconds\":0.1}]}"
        );
        assert_eq!(
            "0.6666666666666666"
                .parse::<f64>()
                .expect("a valid f64 literal"),
            2.0 / 3.0
        );
        assert_eq!(History::default().to_json(), "{\"epochs\":[]}");
        assert_eq!(h.val_losses(), vec![Some(1e-7), Some(1e-7)]);
    }
}
