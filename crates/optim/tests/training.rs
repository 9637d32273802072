//! The optimizers with a real model: `step(&mut model.params_mut(), &grads)`, parameters without
//! a gradient are skipped, a parameter added later gets fresh state, and every optimizer fits a
//! linear regression from shuffled mini-batches in f32 and f64.

use wengert_autograd::{Float, Tape, Tensor, Var};
use wengert_nn::{Module, Param};
use wengert_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, BatchConfig, Dataset, Momentum, MomentumConfig,
    MomentumForm, Optimizer, RmsProp, RmsPropConfig, Sgd, SgdConfig, clip_grad_norm,
    schedule::{CosineAnnealing, Schedule, Warmup},
};

/// `y = x W + b`, W [in, out], b [out]; plus an unused parameter that never gets a gradient.
struct Linear<T: Float> {
    weight: Param<T>,
    bias: Param<T>,
    unused: Param<T>,
}

impl<T: Float> Linear<T> {
    fn new(inputs: usize, outputs: usize) -> Self {
        Linear {
            weight: Param::new(Tensor::zeros(&[inputs, outputs])),
            bias: Param::new(Tensor::zeros(&[outputs])),
            unused: Param::new(Tensor::ones(&[2])),
        }
    }
}

impl<T: Float> Module<T> for Linear<T> {
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        let tape = x.tape();
        x.matmul(self.weight.on(tape)) + self.bias.on(tape)
    }

    fn named_params(&self) -> Vec<(String, &Param<T>)> {
        vec![
            ("weight".into(), &self.weight),
            ("bias".into(), &self.bias),
            ("unused".into(), &self.unused),
        ]
    }

    fn named_params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        vec![
            ("weight".into(), &mut self.weight),
            ("bias".into(), &mut self.bias),
            ("unused".into(), &mut self.unused),
        ]
    }
}

/// 64 examples of y = x [2, -3]^T + 0.5 (no noise).
fn regression<T: Float>() -> Dataset<T> {
    let x = Tensor::<T>::rand_uniform(&[64, 2], T::from_f64(-1.0), T::ONE, 11);
    let y: Vec<T> = x
        .data()
        .chunks(2)
        .map(|r| T::from_f64(2.0) * r[0] - T::from_f64(3.0) * r[1] + T::from_f64(0.5))
        .collect();
    Dataset::new(x, Tensor::from_vec(y, &[64, 1]).unwrap()).unwrap()
}

/// Trains for `epochs` with batches of 16 (optionally clipping to global norm 10) and returns
/// the final full-data mean squared error.
fn fit<T: Float>(opt: &mut dyn Optimizer<T>, epochs: u64, clip: bool) -> f64 {
    let data = regression::<T>();
    let mut model = Linear::<T>::new(2, 1);
    let mut batches = data
        .batches(
            16,
            BatchConfig {
                seed: 5,
                ..Default::default()
            },
        )
        .unwrap();
    for epoch in 0..epochs {
        for idx in batches.epoch(epoch) {
            let (xb, yb) = data.batch(idx);
            let tape = Tape::new();
            let err = model.forward(tape.constant(xb)) - tape.constant(yb);
            let grads = err.square().mean().backward();
            let mut params = model.params_mut();
            if clip {
                let (clipped, norm) = clip_grad_norm(&params, &grads, 10.0).unwrap();
                assert!(norm.is_finite());
                opt.step(&mut params, &clipped).unwrap();
            } else {
                opt.step(&mut params, &grads).unwrap();
            }
        }
    }
    // The unused parameter never had a gradient: untouched.
    assert_eq!(model.unused.value().to_vec(), vec![T::ONE; 2]);
    let tape = Tape::new();
    let err =
        model.forward(tape.constant(data.inputs().clone())) - tape.constant(data.targets().clone());
    err.square().mean().value().item().to_f64()
}

fn check_all_fit<T: Float>(tol: f64) {
    let cases: Vec<(&str, Box<dyn Optimizer<T>>, u64)> = vec![
        (
            "sgd",
            Box::new(
                Sgd::new(SgdConfig {
                    lr: 0.3,
                    weight_decay: 0.0,
                })
                .unwrap(),
            ),
            100,
        ),
        (
            "heavy ball",
            Box::new(
                Momentum::new(MomentumConfig {
                    lr: 0.05,
                    ..Default::default()
                })
                .unwrap(),
            ),
            60,
        ),
        (
            "nesterov",
            Box::new(
                Momentum::new(MomentumConfig {
                    lr: 0.05,
                    form: MomentumForm::Nesterov,
                    ..Default::default()
                })
                .unwrap(),
            ),
            60,
        ),
        (
            "ema",
            Box::new(
                Momentum::new(MomentumConfig {
                    lr: 0.3,
                    form: MomentumForm::Ema,
                    ..Default::default()
                })
                .unwrap(),
            ),
            100,
        ),
        (
            "rmsprop",
            Box::new(
                RmsProp::new(RmsPropConfig {
                    lr: 0.01,
                    ..Default::default()
                })
                .unwrap(),
            ),
            150,
        ),
        (
            "adam",
            Box::new(
                Adam::new(AdamConfig {
                    lr: 0.05,
                    ..Default::default()
                })
                .unwrap(),
            ),
            150,
        ),
        (
            "adamw",
            Box::new(
                AdamW::new(AdamWConfig {
                    lr: 0.05,
                    weight_decay: 0.0,
                    ..Default::default()
                })
                .unwrap(),
            ),
            150,
        ),
    ];
    for (name, mut opt, epochs) in cases {
        let mse = fit::<T>(opt.as_mut(), epochs, false);
        eprintln!("{name} ({}): mse {mse:e}", T::DTYPE);
        assert!(mse < tol, "{name} ({}): final mse {mse}", T::DTYPE);
    }
    let mut adam = Adam::<T>::new(AdamConfig {
        lr: 0.05,
        ..Default::default()
    })
    .unwrap();
    let mse = fit::<T>(&mut adam, 150, true);
    assert!(mse < tol, "adam + clip ({}): final mse {mse}", T::DTYPE);
}

#[test]
fn every_optimizer_fits_a_linear_regression_in_f64() {
    check_all_fit::<f64>(1e-4);
}

#[test]
fn every_optimizer_fits_a_linear_regression_in_f32() {
    check_all_fit::<f32>(1e-3);
}

#[test]
fn a_parameter_added_later_gets_fresh_state() {
    let mut a = Param::new(Tensor::<f64>::zeros(&[1]));
    let mut opt = Momentum::new(MomentumConfig {
        lr: 1.0,
        momentum: 0.5,
        ..Default::default()
    })
    .unwrap();
    let tape = Tape::new();
    let g = a.on(&tape).sum().backward(); // dL/da = 1
    opt.step(&mut [&mut a], &g).unwrap();
    opt.step(&mut [&mut a], &g).unwrap();
    assert_eq!(opt.velocity(&a), Some(&[1.5][..])); // v = 0.5 * 1 + 1

    // b joins the model now: its first step uses v = g, not a's history.
    let mut b = Param::new(Tensor::<f64>::zeros(&[1]));
    let tape = Tape::new();
    let g = (a.on(&tape) + b.on(&tape)).sum().backward();
    opt.step(&mut [&mut a, &mut b], &g).unwrap();
    assert_eq!(opt.velocity(&b), Some(&[1.0][..]));
    assert_eq!(b.value().item(), -1.0);
    assert_eq!(opt.velocity(&a), Some(&[1.75][..]));
    // A clone is a new parameter (new id), so it also starts fresh.
    let c = a.clone();
    assert_eq!(opt.velocity(&c), None);
}

#[test]
fn a_schedule_drives_the_learning_rate() {
    // SGD on L = sum(w) (g = 1): each step moves w by exactly the scheduled lr.
    let schedule = Warmup::new(2, CosineAnnealing::new(0.1, 0.0, 4).unwrap()).unwrap();
    let mut w = Param::new(Tensor::<f64>::zeros(&[1]));
    let mut opt = Sgd::new(SgdConfig::default()).unwrap();
    let mut expected = 0.0;
    for step in 0..8 {
        opt.set_lr(schedule.lr(step)).unwrap();
        let tape = Tape::new();
        let g = w.on(&tape).sum().backward();
        opt.step(&mut [&mut w], &g).unwrap();
        expected -= schedule.lr(step);
        assert!((w.value().item() - expected).abs() < 1e-15);
    }
    // 0.05 + 0.1 + (0.1 + 0.0853553 + 0.05 + 0.0146447 + 0 + 0) = 0.4
    assert!((w.value().item() + 0.4).abs() < 1e-12);
}
