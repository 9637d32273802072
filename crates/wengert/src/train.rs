//! A Keras-like training loop: [`fit`] trains a [`Module`] with a [`Loss`] and an
//! [`Optimizer`] over shuffled mini-batches for a number of epochs and returns a [`History`];
//! [`evaluate`] measures the loss (and accuracy) on a data set without training.
//!
//! Each step of [`fit`] is what a hand-written loop would do: a new [`Tape`], `model.forward` on
//! the batch's inputs (a constant: inputs get no gradient), the loss, `backward`, optional
//! clipping by global norm ([`clip_grad_norm`]), and `optimizer.step`. Per epoch it records the
//! training loss (and accuracy for classification losses), a running mean over the batches
//! weighted by batch size, and the same metrics on the validation data if given, measured in
//! evaluation mode under [`no_grad`](Tape::no_grad).
//!
//! Targets are integer class labels for [`Loss::CrossEntropy`] and tensors with one row per
//! example for [`Loss::Mse`] and [`Loss::BceWithLogits`] (see [`Targets`]).
//!
//! While it trains, [`fit`] draws a progress bar on stderr when stderr is a terminal
//! (`epoch 3/10 [=====>              ] 187/313 loss 0.4123 acc 0.861 12.3s`) and prints one summary
//! line per epoch otherwise; see [`Verbosity`].

mod history;
mod progress;

use std::time::Instant;

use wengert_autograd::{Error, Float, Tape, Tensor, Var};
use wengert_nn::{Module, loss};
use wengert_optim::{BatchConfig, Batches, Optimizer, clip_grad_norm, take_rows};

pub use history::{EpochStats, EvalStats, History};
pub use progress::Verbosity;

use progress::Progress;

/// The loss [`fit`] minimises and [`evaluate`] reports, each a mean over the batch
/// (see [`wengert_nn::loss`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Softmax cross-entropy from logits `[N, C]` and integer labels in `0..C`
    /// ([`loss::cross_entropy`]); the metric is accuracy, the fraction of rows whose largest
    /// logit is at the label.
    CrossEntropy,
    /// Mean squared error against tensor targets of the output's shape ([`loss::mse`]); no
    /// accuracy.
    Mse,
    /// Binary cross-entropy of `sigmoid(logits)` against tensor targets in `[0, 1]` of the
    /// output's shape ([`loss::bce_with_logits`]); the metric is binary accuracy, the fraction
    /// of elements where `logit > 0` agrees with `target >= 0.5`.
    BceWithLogits,
}

impl Loss {
    fn name(self) -> &'static str {
        match self {
            Loss::CrossEntropy => "Loss::CrossEntropy",
            Loss::Mse => "Loss::Mse",
            Loss::BceWithLogits => "Loss::BceWithLogits",
        }
    }
}

/// The targets of a data set, one per example (row): integer class labels or a tensor.
///
/// Built with `.into()` from `Vec<usize>`, `&[usize]`, `Tensor<T>` or `&Tensor<T>` (cloning a
/// tensor is cheap: its data is shared).
#[derive(Debug, Clone)]
pub enum Targets<T: Float> {
    /// One class label per example, for [`Loss::CrossEntropy`].
    Labels(Vec<usize>),
    /// A tensor `[N, ..]` whose row `n` is the target of example `n`, for [`Loss::Mse`] and
    /// [`Loss::BceWithLogits`].
    Values(Tensor<T>),
}

impl<T: Float> Targets<T> {
    /// Number of examples (labels, or rows of the tensor; 0 for a 0-d tensor).
    pub fn len(&self) -> usize {
        match self {
            Targets::Labels(l) => l.len(),
            Targets::Values(t) => t.shape().first().copied().unwrap_or(0),
        }
    }

    /// Whether there is no example.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Float> From<Vec<usize>> for Targets<T> {
    fn from(labels: Vec<usize>) -> Self {
        Targets::Labels(labels)
    }
}

impl<T: Float> From<&[usize]> for Targets<T> {
    fn from(labels: &[usize]) -> Self {
        Targets::Labels(labels.to_vec())
    }
}

impl<T: Float> From<&Vec<usize>> for Targets<T> {
    fn from(labels: &Vec<usize>) -> Self {
        Targets::Labels(labels.clone())
    }
}

impl<T: Float> From<Tensor<T>> for Targets<T> {
    fn from(values: Tensor<T>) -> Self {
        Targets::Values(values)
    }
}

impl<T: Float> From<&Tensor<T>> for Targets<T> {
    fn from(values: &Tensor<T>) -> Self {
        Targets::Values(values.clone())
    }
}

/// How [`fit`] trains, as Keras's `model.fit` arguments.
///
/// ```
/// use wengert::train::{FitConfig, Verbosity};
/// let c = FitConfig::<f32> { epochs: 5, batch_size: 64, ..Default::default() };
/// assert!(c.shuffle && c.validation.is_none() && c.verbose == Verbosity::Auto);
/// ```
#[derive(Debug, Clone)]
pub struct FitConfig<T: Float> {
    /// Passes over the training data. `0` trains nothing and returns an empty history.
    /// Default `10`.
    pub epochs: usize,
    /// Examples per mini-batch: `1` is stochastic gradient descent; a value at least the number
    /// of examples is full-batch gradient descent (clamped to it, as Keras does). `0` is an
    /// error. Default `32`.
    pub batch_size: usize,
    /// Reshuffle the training examples at the start of every epoch. Default `true`.
    pub shuffle: bool,
    /// Seed of the shuffle (epoch `e`'s order depends only on `(seed, e)`). Default `0`.
    pub seed: u64,
    /// Skip the last batch of an epoch if it is smaller than `batch_size`. Default `false`.
    pub drop_last: bool,
    /// Clip the gradients to this global L2 norm before every step (PyTorch's
    /// `clip_grad_norm_`); must be finite and non-negative. Default `None` (no clipping).
    pub clip_grad_norm: Option<f64>,
    /// Inputs and targets measured after every epoch (in evaluation mode, no gradients), giving
    /// [`EpochStats::val_loss`] and [`EpochStats::val_accuracy`]. Default `None`.
    pub validation: Option<(Tensor<T>, Targets<T>)>,
    /// Progress output on stderr. Default [`Verbosity::Auto`].
    pub verbose: Verbosity,
}

impl<T: Float> Default for FitConfig<T> {
    fn default() -> Self {
        FitConfig {
            epochs: 10,
            batch_size: 32,
            shuffle: true,
            seed: 0,
            drop_last: false,
            clip_grad_norm: None,
            validation: None,
            verbose: Verbosity::Auto,
        }
    }
}

fn invalid(message: String) -> Error {
    Error::InvalidConfig { message }
}

/// Trains `model` on `inputs` `[N, ..]` (row `n` is example `n`) and `targets` (one per
/// example) for `config.epochs` epochs of mini-batches, minimising `loss` with `optimizer`, and
/// returns the per-epoch [`History`].
///
/// Every step: a new tape, `out = model.forward(tape.constant(x_batch))`, `L = loss(out,
/// y_batch)`, `grads = L.backward()`, clipping to `config.clip_grad_norm` if set, then
/// `optimizer.step(model.params_mut(), grads)`. The model is in training mode
/// (`set_training(true)`) while it trains, in evaluation mode while the validation data is
/// measured, and is left in evaluation mode when `fit` returns `Ok`.
///
/// The epoch's `loss` (and `accuracy`) is the mean over its batches weighted by batch size,
/// measured on each batch before its step (as Keras reports it), so it lags the end-of-epoch
/// model slightly; `val_loss` is measured on the model at the end of the epoch.
///
/// Returns [`Error::InvalidConfig`] if `batch_size` is 0, `clip_grad_norm` is negative or not
/// finite, a data set is empty or its inputs and targets have different numbers of examples,
/// the targets are of the wrong kind for the loss (labels for `Mse`), a label is out of range for
/// the model's outputs, or the model's output shape differs from a batch of targets; and the
/// error of `backward` or of the optimizer if one fails (e.g. a model without parameters).
///
/// ```
/// use wengert::nn::{Dense, Module, Relu, Sequential};
/// use wengert::optim::{Adam, AdamConfig};
/// use wengert::prelude::*;
/// use wengert::train::{FitConfig, Loss, Verbosity, fit};
///
/// // Two classes: is x0 + x1 positive?
/// let x = Tensor::<f32>::rand_uniform(&[200, 2], -1.0, 1.0, 7);
/// let labels: Vec<usize> =
///     x.data().chunks(2).map(|r| usize::from(r[0] + r[1] > 0.0)).collect();
/// let mut model = Sequential::new()
///     .add(Dense::new(2, 16).with_activation(Relu).with_seed(1))
///     .add(Dense::new(16, 2).with_seed(2));
/// let mut opt = Adam::new(AdamConfig { lr: 0.02, ..Default::default() }).unwrap();
/// let config = FitConfig { epochs: 20, verbose: Verbosity::Never, ..Default::default() };
/// let history = fit(&mut model, Loss::CrossEntropy, &mut opt, &x, labels, config).unwrap();
/// assert_eq!(history.epochs.len(), 20);
/// let last = history.last().unwrap();
/// assert!(last.loss < history.epochs[0].loss);
/// assert!(last.accuracy.unwrap() > 0.95, "{}", history.to_json());
/// ```
pub fn fit<T, M, O>(
    model: &mut M,
    loss: Loss,
    optimizer: &mut O,
    inputs: &Tensor<T>,
    targets: impl Into<Targets<T>>,
    config: FitConfig<T>,
) -> Result<History, Error>
where
    T: Float,
    M: Module<T> + ?Sized,
    O: Optimizer<T> + ?Sized,
{
    let targets = targets.into();
    if config.batch_size == 0 {
        return Err(invalid(
            "fit: `batch_size` = 0: expected at least 1 example per batch".into(),
        ));
    }
    if let Some(c) = config.clip_grad_norm
        && !(c.is_finite() && c >= 0.0)
    {
        return Err(invalid(format!(
            "fit: `clip_grad_norm` = {c:?}: expected a finite, non-negative norm (or None)"
        )));
    }
    let n = check_data("fit", "training", loss, inputs, &targets)?;
    if let Some((vx, vy)) = &config.validation {
        check_data("fit", "validation", loss, vx, vy)?;
    }
    let batch_size = config.batch_size.min(n);
    let mut batches = Batches::new(
        n,
        batch_size,
        BatchConfig {
            shuffle: config.shuffle,
            seed: config.seed,
            drop_last: config.drop_last,
        },
    )?;
    let mut progress = Progress::new(config.verbose, config.epochs, batches.num_batches());
    let mut history = History::default();
    for epoch in 0..config.epochs {
        let start = Instant::now();
        model.set_training(true);
        let mut meter = Meter::default();
        for (i, idx) in batches.epoch(epoch as u64).enumerate() {
            let tape = Tape::new();
            let out = model.forward(tape.constant(take_rows(inputs, idx)));
            let (l, hits) = batch_loss("fit", loss, out, &targets, idx)?;
            meter.add(l.item().to_f64(), idx.len(), hits);
            let grads = l.try_backward()?;
            // The tape shares the parameters' buffers; dropping it first lets the optimizer
            // update them in place instead of copying each one (copy-on-write).
            drop(tape);
            match config.clip_grad_norm {
                Some(max_norm) => {
                    let (clipped, _) = clip_grad_norm(&model.params(), &grads, max_norm)?;
                    optimizer.step(&mut model.params_mut(), &clipped)?;
                }
                None => optimizer.step(&mut model.params_mut(), &grads)?,
            }
            progress.batch(epoch, i + 1, &meter, start.elapsed().as_secs_f64());
        }
        let val = match &config.validation {
            Some((vx, vy)) => Some(evaluate_checked(model, loss, vx, vy, config.batch_size)?),
            None => None,
        };
        let stats = EpochStats {
            epoch: epoch + 1,
            loss: meter.loss(),
            accuracy: meter.accuracy(),
            val_loss: val.map(|v| v.loss),
            val_accuracy: val.and_then(|v| v.accuracy),
            seconds: start.elapsed().as_secs_f64(),
        };
        progress.end_epoch(&stats);
        history.epochs.push(stats);
    }
    model.set_training(false);
    Ok(history)
}

/// The mean `loss` (and accuracy, for [`Loss::CrossEntropy`] and [`Loss::BceWithLogits`]) of
/// `model` over all of `inputs` `[N, ..]` and `targets`, computed in batches of `batch_size`
/// (clamped to `N`) in evaluation mode under [`no_grad`](Tape::no_grad). The last, partial batch
/// is included, and each batch's mean is weighted by its size, so the result is the mean over
/// all `N` examples, as one batch of `N` would give (up to rounding). The model is left in
/// evaluation mode.
///
/// ```
/// use wengert::nn::{Dense, Module};
/// use wengert::prelude::*;
/// use wengert::train::{Loss, evaluate};
///
/// let mut model = Dense::<f64>::new(3, 2).with_seed(1);
/// let x = Tensor::randn(&[5, 3], 0);
/// let y = Tensor::randn(&[5, 2], 1);
/// let stats = evaluate(&mut model, Loss::Mse, &x, &y, 2).unwrap(); // batches of 2, 2, 1
/// let tape = Tape::new();
/// let whole = wengert::nn::loss::mse(model.forward(tape.var(x)), tape.constant(y)).item();
/// assert!((stats.loss - whole).abs() < 1e-12);
/// assert_eq!(stats.accuracy, None);
/// ```
///
/// Returns [`Error::InvalidConfig`] for the same data problems as [`fit`], and if `batch_size`
/// is 0.
pub fn evaluate<T, M>(
    model: &mut M,
    loss: Loss,
    inputs: &Tensor<T>,
    targets: impl Into<Targets<T>>,
    batch_size: usize,
) -> Result<EvalStats, Error>
where
    T: Float,
    M: Module<T> + ?Sized,
{
    let targets = targets.into();
    if batch_size == 0 {
        return Err(invalid(
            "evaluate: `batch_size` = 0: expected at least 1 example per batch".into(),
        ));
    }
    check_data("evaluate", "evaluation", loss, inputs, &targets)?;
    evaluate_checked(model, loss, inputs, &targets, batch_size)
}

/// [`evaluate`] on data already checked.
fn evaluate_checked<T, M>(
    model: &mut M,
    loss: Loss,
    inputs: &Tensor<T>,
    targets: &Targets<T>,
    batch_size: usize,
) -> Result<EvalStats, Error>
where
    T: Float,
    M: Module<T> + ?Sized,
{
    model.set_training(false);
    let n = inputs.shape()[0];
    let mut meter = Meter::default();
    let mut idx = Vec::with_capacity(batch_size.min(n));
    for start in (0..n).step_by(batch_size.max(1)) {
        idx.clear();
        idx.extend(start..(start + batch_size).min(n));
        let tape = Tape::new();
        let (l, hits) = tape.no_grad(|| {
            let out = model.forward(tape.constant(take_rows(inputs, &idx)));
            batch_loss("evaluate", loss, out, targets, &idx)
                .map(|(l, hits)| (l.item().to_f64(), hits))
        })?;
        meter.add(l, idx.len(), hits);
    }
    Ok(EvalStats {
        loss: meter.loss(),
        accuracy: meter.accuracy(),
    })
}

/// Checks a data set against the loss; returns its number of examples.
fn check_data<T: Float>(
    func: &str,
    what: &str,
    loss: Loss,
    inputs: &Tensor<T>,
    targets: &Targets<T>,
) -> Result<usize, Error> {
    let n = match inputs.shape().first() {
        Some(&n) if n > 0 => n,
        _ => {
            return Err(invalid(format!(
                "{func}: the {what} inputs (shape {:?}) have no examples: expected a tensor \
                 [N, ..] with N >= 1",
                inputs.shape()
            )));
        }
    };
    match (loss, targets) {
        (Loss::CrossEntropy, Targets::Values(t)) => {
            return Err(invalid(format!(
                "{func}: {} needs integer class labels (Targets::Labels) as {what} targets, got \
                 a tensor of shape {:?}",
                loss.name(),
                t.shape()
            )));
        }
        (Loss::Mse | Loss::BceWithLogits, Targets::Labels(_)) => {
            return Err(invalid(format!(
                "{func}: {} needs tensor targets (Targets::Values) as {what} targets, got \
                 integer labels",
                loss.name()
            )));
        }
        _ => {}
    }
    if matches!(targets, Targets::Values(t) if t.ndim() == 0) {
        return Err(invalid(format!(
            "{func}: the {what} targets are a 0-d tensor: expected one row per example, [N, ..]"
        )));
    }
    if targets.len() != n {
        return Err(invalid(format!(
            "{func}: the {what} inputs (shape {:?}) have {n} examples but the targets have {}: \
             expected one target per example",
            inputs.shape(),
            targets.len()
        )));
    }
    Ok(n)
}

/// Correct predictions and predictions counted in a batch (for accuracy).
#[derive(Debug, Clone, Copy)]
struct Hits {
    correct: usize,
    total: usize,
}

/// The loss of one batch (the examples `idx`) and its accuracy counts, if the loss has one.
fn batch_loss<'t, T: Float>(
    func: &str,
    loss: Loss,
    out: Var<'t, T>,
    targets: &Targets<T>,
    idx: &[usize],
) -> Result<(Var<'t, T>, Option<Hits>), Error> {
    let tape = out.tape();
    match targets {
        Targets::Labels(all) => {
            let shape = out.shape();
            if shape.len() != 2 || shape[0] != idx.len() {
                return Err(invalid(format!(
                    "{func}: {} needs model outputs of shape [batch, classes] = [{}, C], got {:?}",
                    loss.name(),
                    idx.len(),
                    shape.as_slice()
                )));
            }
            let classes = shape[1];
            let labels: Vec<usize> = idx.iter().map(|&i| all[i]).collect();
            if let Some((&i, &l)) = idx.iter().zip(&labels).find(|&(_, &l)| l >= classes) {
                return Err(invalid(format!(
                    "{func}: label {l} of example {i} is out of range for a model with \
                     {classes} outputs: expected labels in 0..{classes}"
                )));
            }
            let pred = out.value().argmax_axis(-1);
            let correct = pred.iter().zip(&labels).filter(|(p, l)| p == l).count();
            let hits = Hits {
                correct,
                total: labels.len(),
            };
            Ok((loss::cross_entropy(out, &labels), Some(hits)))
        }
        Targets::Values(all) => {
            let y = take_rows(all, idx);
            if out.shape().as_slice() != y.shape() {
                return Err(invalid(format!(
                    "{func}: model output shape {:?} differs from the batch of targets' shape \
                     {:?}: {} needs one target per output element",
                    out.shape().as_slice(),
                    y.shape(),
                    loss.name()
                )));
            }
            match loss {
                Loss::BceWithLogits => {
                    let half = T::from_f64(0.5);
                    let correct = out
                        .value()
                        .data()
                        .iter()
                        .zip(y.data())
                        .filter(|&(&z, &t)| (z > T::ZERO) == (t >= half))
                        .count();
                    let hits = Hits {
                        correct,
                        total: y.numel(),
                    };
                    Ok((loss::bce_with_logits(out, tape.constant(y)), Some(hits)))
                }
                _ => Ok((loss::mse(out, tape.constant(y)), None)),
            }
        }
    }
}

/// Running means over batches, weighted by batch size.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Meter {
    loss_sum: f64,
    examples: usize,
    correct: usize,
    predictions: usize,
    has_accuracy: bool,
}

impl Meter {
    fn add(&mut self, mean_loss: f64, batch: usize, hits: Option<Hits>) {
        self.loss_sum += mean_loss * batch as f64;
        self.examples += batch;
        if let Some(h) = hits {
            self.has_accuracy = true;
            self.correct += h.correct;
            self.predictions += h.total;
        }
    }

    /// The weighted mean loss (NaN before any batch).
    pub(crate) fn loss(&self) -> f64 {
        self.loss_sum / self.examples as f64
    }

    /// The accuracy, if the loss has one.
    pub(crate) fn accuracy(&self) -> Option<f64> {
        (self.has_accuracy && self.predictions > 0)
            .then(|| self.correct as f64 / self.predictions as f64)
    }
}
