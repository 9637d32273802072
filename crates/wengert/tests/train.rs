//! `fit` and `evaluate` end to end: learning, metrics, validation, modes, clipping, errors.

use std::cell::RefCell;

use wengert::nn::{Dense, Module, Param, Relu, Sequential, Tanh, loss};
use wengert::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
use wengert::prelude::*;
use wengert::train::{EvalStats, FitConfig, History, Loss, Targets, Verbosity, evaluate, fit};

/// `n` points in 3 Gaussian blobs (std 0.5) around (2, 0), (-1, 1.7), (-1, -1.7): separable.
fn blobs(n: usize, seed: u64) -> (Tensor<f32>, Vec<usize>) {
    let noise = Tensor::<f32>::randn(&[n, 2], seed);
    let centers = [(2.0, 0.0), (-1.0, 1.7), (-1.0, -1.7)];
    let mut x = Vec::with_capacity(2 * n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 3;
        x.push(centers[c].0 + 0.5 * noise.data()[2 * i]);
        x.push(centers[c].1 + 0.5 * noise.data()[2 * i + 1]);
        y.push(c);
    }
    (Tensor::from_vec(x, &[n, 2]).unwrap(), y)
}

fn mlp() -> Sequential<f32> {
    Sequential::new()
        .add(Dense::new(2, 16).with_activation(Relu).with_seed(1))
        .add(Dense::new(16, 3).with_seed(2))
}

fn quiet<T: Float>() -> FitConfig<T> {
    FitConfig {
        verbose: Verbosity::Never,
        ..Default::default()
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn mlp_learns_separable_blobs_with_validation() {
    let (x, y) = blobs(300, 1);
    let (vx, vy) = blobs(90, 2);
    let mut model = mlp();
    let mut opt = Adam::new(AdamConfig {
        lr: 0.01,
        ..Default::default()
    })
    .unwrap();
    let config = FitConfig {
        epochs: 12,
        batch_size: 32, // 300 = 9 * 32 + 12: a partial last batch every epoch
        validation: Some((vx.clone(), Targets::from(&vy))),
        ..quiet()
    };
    let h = fit(&mut model, Loss::CrossEntropy, &mut opt, &x, &y, config).unwrap();
    assert_eq!(h.epochs.len(), 12);
    assert_eq!(
        h.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>()
    );
    let losses = h.losses();
    // decreasing on average: the last 4 epochs' mean is well below the first 4 epochs'
    assert!(
        mean(&losses[8..]) < 0.5 * mean(&losses[..4]),
        "{}",
        h.to_json()
    );
    let last = h.last().unwrap();
    assert!(last.accuracy.unwrap() > 0.95, "{}", h.to_json());
    assert!(last.val_accuracy.unwrap() > 0.95, "{}", h.to_json());
    assert!(
        h.epochs
            .iter()
            .all(|e| e.val_loss.is_some() && e.seconds >= 0.0)
    );
    // the validation metrics are those of the model at the end of the epoch
    let ev = evaluate(&mut model, Loss::CrossEntropy, &vx, &vy, 7).unwrap();
    assert!((ev.loss - last.val_loss.unwrap()).abs() < 1e-5);
    assert_eq!(ev.accuracy, last.val_accuracy);
    // and the JSON carries them
    assert!(h.to_json().contains("\"val_accuracy\":"));
}

#[test]
fn no_validation_means_no_validation_metrics() {
    let (x, y) = blobs(30, 3);
    let mut model = mlp();
    let mut opt = Sgd::new(SgdConfig {
        lr: 0.1,
        ..Default::default()
    })
    .unwrap();
    let config = FitConfig {
        epochs: 2,
        ..quiet()
    };
    let h = fit(&mut model, Loss::CrossEntropy, &mut opt, &x, y, config).unwrap();
    assert_eq!(h.epochs.len(), 2);
    assert!(
        h.epochs
            .iter()
            .all(|e| e.val_loss.is_none() && e.val_accuracy.is_none())
    );
    assert!(h.epochs.iter().all(|e| e.accuracy.is_some()));
}

#[test]
fn evaluate_is_the_mean_over_all_examples_with_a_partial_last_batch() {
    // f64 model, 10 examples in batches of 4, 4, 2: weighting each batch mean by its size
    // gives the mean over all 10; an unweighted mean of batch means would not.
    let mut model = Sequential::<f64>::new()
        .add(Dense::new(3, 5).with_activation(Tanh).with_seed(3))
        .add(Dense::new(5, 4).with_seed(4));
    let x = Tensor::<f64>::randn(&[10, 3], 5);
    let labels = vec![0, 1, 2, 3, 0, 1, 2, 3, 3, 3];
    let got = evaluate(&mut model, Loss::CrossEntropy, &x, &labels, 4).unwrap();
    let tape = Tape::new();
    let logits = model.forward(tape.constant(x.clone()));
    let want_loss = loss::cross_entropy(logits, &labels).item();
    let want_acc = loss::accuracy(&logits.value(), &labels);
    assert!(
        (got.loss - want_loss).abs() < 1e-12,
        "{} vs {want_loss}",
        got.loss
    );
    assert_eq!(got.accuracy, Some(want_acc));
    // the unweighted mean of the three batch means differs (so the test can tell)
    let batch = |r: std::ops::Range<usize>| {
        let t = Tape::new();
        let rows: Vec<usize> = r.clone().collect();
        let xb = wengert::optim::take_rows(&x, &rows);
        loss::cross_entropy(model.forward(t.constant(xb)), &labels[r]).item()
    };
    let unweighted = (batch(0..4) + batch(4..8) + batch(8..10)) / 3.0;
    assert!((unweighted - want_loss).abs() > 1e-6);
    // any batch size gives the same value; one batch of everything too (clamped)
    for bs in [1, 3, 10, 1000] {
        let e = evaluate(&mut model, Loss::CrossEntropy, &x, &labels, bs).unwrap();
        assert!((e.loss - want_loss).abs() < 1e-12, "batch size {bs}");
    }
}

#[test]
fn evaluate_mse_and_bce_metrics() {
    let mut model = Dense::<f64>::new(2, 1).with_seed(7);
    let x = Tensor::<f64>::randn(&[7, 2], 8);
    let t = Tensor::<f64>::from_vec(vec![1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0], &[7, 1]).unwrap();
    let tape = Tape::new();
    let z = model.forward(tape.constant(x.clone()));
    let want_bce = loss::bce_with_logits(z, tape.constant(t.clone())).item();
    let want_mse = loss::mse(z, tape.constant(t.clone())).item();
    // binary accuracy: logit > 0 predicts 1
    let zs = z.value().to_vec();
    let hits = zs
        .iter()
        .zip(t.data())
        .filter(|&(&z, &t)| (z > 0.0) == (t >= 0.5))
        .count();
    let bce = evaluate(&mut model, Loss::BceWithLogits, &x, &t, 3).unwrap();
    assert!((bce.loss - want_bce).abs() < 1e-12);
    assert_eq!(bce.accuracy, Some(hits as f64 / 7.0));
    let m = evaluate(&mut model, Loss::Mse, &x, &t, 3).unwrap();
    assert_eq!(
        m,
        EvalStats {
            loss: m.loss,
            accuracy: None
        }
    );
    assert!((m.loss - want_mse).abs() < 1e-12);
}

#[test]
fn regression_with_mse_fits_a_line() {
    // y = 2 x - 1 exactly; full-batch gradient descent on a Dense(1, 1)
    let xs: Vec<f64> = (0..20).map(|i| f64::from(i) / 10.0 - 1.0).collect();
    let ys: Vec<f64> = xs.iter().map(|x| 2.0 * x - 1.0).collect();
    let x = Tensor::from_vec(xs, &[20, 1]).unwrap();
    let y = Tensor::from_vec(ys, &[20, 1]).unwrap();
    let mut model = Dense::<f64>::new(1, 1).with_seed(1);
    let mut opt = Sgd::new(SgdConfig {
        lr: 0.3,
        ..Default::default()
    })
    .unwrap();
    let config = FitConfig {
        epochs: 200,
        batch_size: 1000,
        ..quiet()
    };
    let h = fit(&mut model, Loss::Mse, &mut opt, &x, &y, config).unwrap();
    assert!(h.epochs.iter().all(|e| e.accuracy.is_none()));
    assert!(h.last().unwrap().loss < 1e-8, "{}", h.to_json());
    let w = model.params()[0].value().item();
    let b = model.params()[1].value().item();
    assert!(
        (w - 2.0).abs() < 1e-3 && (b + 1.0).abs() < 1e-3,
        "w {w} b {b}"
    );
}

#[test]
fn same_seed_same_history_other_seed_differs() {
    let (x, y) = blobs(60, 4);
    let run = |seed| -> History {
        let mut model = mlp();
        let mut opt = Sgd::new(SgdConfig {
            lr: 0.05,
            ..Default::default()
        })
        .unwrap();
        let config = FitConfig {
            epochs: 3,
            batch_size: 8,
            seed,
            ..quiet()
        };
        fit(&mut model, Loss::CrossEntropy, &mut opt, &x, &y, config).unwrap()
    };
    let (a, b, c) = (run(1), run(1), run(2));
    assert_eq!(a.losses(), b.losses());
    assert_ne!(a.losses(), c.losses());
}

#[test]
fn clipping_bounds_the_step() {
    // One full-batch SGD step with lr 1 and clip_grad_norm 0.01: the parameters move by the
    // clipped gradient, whose global norm is at most 0.01 (the unclipped one is far larger).
    let x = Tensor::<f64>::randn(&[16, 3], 9).map(|v| 10.0 * v);
    let y = Tensor::<f64>::randn(&[16, 2], 10).map(|v| 10.0 * v);
    let mut model = Dense::<f64>::new(3, 2).with_seed(11);
    let before: Vec<Tensor<f64>> = model.params().iter().map(|p| p.value().clone()).collect();
    let mut opt = Sgd::new(SgdConfig {
        lr: 1.0,
        ..Default::default()
    })
    .unwrap();
    let config = FitConfig {
        epochs: 1,
        batch_size: 16,
        clip_grad_norm: Some(0.01),
        ..quiet()
    };
    fit(&mut model, Loss::Mse, &mut opt, &x, &y, config).unwrap();
    let moved: f64 = model
        .params()
        .iter()
        .zip(&before)
        .flat_map(|(p, b)| {
            p.value()
                .data()
                .iter()
                .zip(b.data())
                .map(|(a, b)| (a - b) * (a - b))
                .collect::<Vec<_>>()
        })
        .sum::<f64>()
        .sqrt();
    assert!(moved > 0.009 && moved <= 0.01 + 1e-12, "moved {moved}");
}

/// A Dense layer that records the training flag at every forward.
struct Spy {
    inner: Dense<f64>,
    training: bool,
    seen: RefCell<Vec<bool>>,
}

impl Module<f64> for Spy {
    fn forward<'t>(&self, x: Var<'t, f64>) -> Var<'t, f64> {
        self.seen.borrow_mut().push(self.training);
        self.inner.forward(x)
    }
    fn named_params(&self) -> Vec<(String, &Param<f64>)> {
        self.inner.named_params()
    }
    fn named_params_mut(&mut self) -> Vec<(String, &mut Param<f64>)> {
        self.inner.named_params_mut()
    }
    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}

#[test]
fn trains_in_training_mode_and_validates_in_eval_mode() {
    let mut spy = Spy {
        inner: Dense::new(2, 2).with_seed(1),
        training: false,
        seen: RefCell::new(Vec::new()),
    };
    let x = Tensor::<f64>::randn(&[10, 2], 1);
    let labels = vec![0, 1, 0, 1, 0, 1, 0, 1, 0, 1];
    let mut opt = Sgd::new(SgdConfig::default()).unwrap();
    let config = FitConfig {
        epochs: 2,
        batch_size: 4,
        drop_last: true, // 2 training batches per epoch
        validation: Some((x.clone(), labels.clone().into())),
        ..quiet()
    };
    // through a trait object, as a model zoo would hold it
    let model: &mut dyn Module<f64> = &mut spy;
    let opt_dyn: &mut dyn Optimizer<f64> = &mut opt;
    fit(model, Loss::CrossEntropy, opt_dyn, &x, &labels, config).unwrap();
    // per epoch: 2 training forwards, then 3 validation forwards (batches of 4, 4, 2)
    let epoch = [true, true, false, false, false];
    let want: Vec<bool> = epoch.iter().chain(&epoch).copied().collect();
    assert_eq!(*spy.seen.borrow(), want);
    assert!(!spy.training, "fit leaves the model in evaluation mode");
}

#[test]
fn zero_epochs_trains_nothing() {
    let (x, y) = blobs(9, 5);
    let mut model = mlp();
    let before = model.params()[0].value().clone();
    let mut opt = Sgd::new(SgdConfig::default()).unwrap();
    let config = FitConfig {
        epochs: 0,
        ..quiet()
    };
    let h = fit(&mut model, Loss::CrossEntropy, &mut opt, &x, &y, config).unwrap();
    assert!(h.epochs.is_empty());
    assert_eq!(*model.params()[0].value(), before);
}

fn err_of(r: Result<impl std::fmt::Debug, Error>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => {
            assert!(matches!(e, Error::InvalidConfig { .. }), "{e:?}");
            e.to_string()
        }
    }
}

#[test]
fn bad_data_and_config_are_errors_with_clear_messages() {
    let (x, y) = blobs(12, 6);
    let mut model = mlp();
    let mut opt = Sgd::new(SgdConfig::default()).unwrap();
    let mut run = |targets: Targets<f32>, config: FitConfig<f32>, l: Loss| {
        err_of(fit(&mut model, l, &mut opt, &x, targets, config))
    };
    let ce = Loss::CrossEntropy;
    let msg = run(y[..11].into(), quiet(), ce);
    assert!(
        msg.contains("have 12 examples but the targets have 11"),
        "{msg}"
    );
    let msg = run(
        y.clone().into(),
        FitConfig {
            batch_size: 0,
            ..quiet()
        },
        ce,
    );
    assert!(msg.contains("`batch_size` = 0"), "{msg}");
    let msg = run(
        y.clone().into(),
        FitConfig {
            clip_grad_norm: Some(-1.0),
            ..quiet()
        },
        ce,
    );
    assert!(msg.contains("`clip_grad_norm` = -1.0"), "{msg}");
    let msg = run(y.clone().into(), quiet(), Loss::Mse);
    assert!(msg.contains("Loss::Mse needs tensor targets"), "{msg}");
    let msg = run(Tensor::zeros(&[12, 3]).into(), quiet(), ce);
    assert!(
        msg.contains("Loss::CrossEntropy needs integer class labels"),
        "{msg}"
    );
    let mut bad = y.clone();
    bad[5] = 3;
    let msg = run(bad.into(), quiet(), ce);
    assert!(
        msg.contains("label 3 of example 5 is out of range for a model with 3 outputs"),
        "{msg}"
    );
    let msg = run(Tensor::zeros(&[12, 2]).into(), quiet(), Loss::Mse);
    assert!(
        msg.contains("model output shape [12, 3] differs from the batch of targets' shape [12, 2]"),
        "{msg}"
    );
    // validation data is checked before any training
    let msg = run(
        y.clone().into(),
        FitConfig {
            validation: Some((Tensor::zeros(&[4, 2]), vec![0, 1].into())),
            ..quiet()
        },
        ce,
    );
    assert!(
        msg.contains("validation inputs (shape [4, 2]) have 4 examples but the targets have 2"),
        "{msg}"
    );
    // evaluate too
    let msg = err_of(evaluate(&mut mlp(), ce, &x, &y, 0));
    assert!(msg.contains("evaluate: `batch_size` = 0"), "{msg}");
    let msg = err_of(evaluate(&mut mlp(), ce, &Tensor::zeros(&[0, 2]), vec![], 4));
    assert!(msg.contains("have no examples"), "{msg}");
}
