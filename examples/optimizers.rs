//! Optimizers and batch sizes compared on the UCI handwritten digits (8x8 images, 1,797 of them,
//! split 75/25 into train and test with a fixed seed). The same network, `64 -> Dense(32, relu)
//! -> Dense(10)`, starts from the same initial weights (same seeds) in every run.
//!
//! 1. SGD, momentum (the exponentially smoothed form `v <- beta v + (1 - beta) g`, `p <- p - lr v`),
//!    RMSprop and Adam, batch 32, for a fixed number of epochs.
//! 2. Adam with batch size 1 (pure stochastic), 32 (mini-batch) and the full training set
//!    (full-batch gradient descent), for the same number of epochs, so the smaller batches make
//!    many more (noisier) updates per pass over the data.
//!
//! Learning rates: SGD and EMA momentum 0.1 (EMA momentum averages gradients rather than summing
//! them, so its step has the same scale as SGD's and the same rate is the fair comparison; 0.1
//! is the usual starting point for plain SGD on a small MLP, untuned here);
//! RMSprop and Adam 1e-3 (their usual default: they divide by the gradient's running RMS, so the
//! step per weight is about lr whatever the gradient's scale). The batch-size runs all use Adam
//! 1e-3, so only the batch size changes.
//!
//! It prints per-epoch progress, a table of final train loss and test accuracy per run, writes
//! `examples/output/optimizers_loss.svg` and `examples/output/batch_sizes_loss.svg` (training
//! loss over the whole training set after every epoch, from the common starting point) and
//! `examples/output/optimizers.json`, and ends with one JSON line.
//!
//! Run: `cargo run --release -p examples --example optimizers`
//! (flags: `--data FILE` (default the bundled `data/digits/digits.csv.gz`), `--epochs N` (30),
//! `--seed N` (0: the split, the initial weights and the shuffles)).

use std::time::Instant;

use wengert::datasets::digits::{self, Digits};
use wengert::nn::{Dense, Module, Relu, Sequential, loss};
use wengert::optim::{
    Adam, AdamConfig, BatchConfig, Batches, Momentum, MomentumConfig, MomentumForm, Optimizer,
    RmsProp, RmsPropConfig, Sgd, SgdConfig, take_rows,
};
use wengert::plot::LineChart;
use wengert::prelude::*;

const DEFAULT_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/digits/digits.csv.gz");
const USAGE: &str = "usage: optimizers [--data FILE] [--epochs N] [--seed N]";

struct Config {
    data: String,
    epochs: usize,
    seed: u64,
}

fn parse_args() -> Result<Config, String> {
    let mut c = Config {
        data: DEFAULT_DATA.into(),
        epochs: 30,
        seed: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("flag {flag} needs a value"))?;
        let bad = |what: &str| format!("bad value `{value}` for {flag}: expected {what}");
        match flag.as_str() {
            "--data" => c.data = value.clone(),
            "--epochs" => {
                c.epochs = value
                    .parse()
                    .ok()
                    .filter(|&n: &usize| n > 0)
                    .ok_or_else(|| bad("a positive integer"))?
            }
            "--seed" => c.seed = value.parse().map_err(|_| bad("a non-negative integer"))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(c)
}

/// The network: the same seeds give the same initial weights in every run.
fn build_model(seed: u64) -> Sequential<f32> {
    Sequential::new()
        .add(
            Dense::new(digits::PIXELS, 32)
                .with_activation(Relu)
                .with_seed(seed),
        )
        .add(Dense::new(32, digits::CLASSES).with_seed(seed + 1))
}

/// Loss and accuracy of `model` on a whole set, without recording gradients.
fn evaluate(model: &Sequential<f32>, data: &Digits<f32>) -> (f64, f64) {
    let tape = Tape::new();
    tape.no_grad(|| {
        let logits = model.forward(tape.constant(data.inputs.clone()));
        let l = loss::cross_entropy(logits, &data.labels).item() as f64;
        (l, loss::accuracy(&logits.value(), &data.labels))
    })
}

/// What one training run produced.
struct Run {
    name: String,
    lr: f64,
    batch_size: usize,
    /// Training loss over the whole training set after each epoch, starting with epoch 0
    /// (the initial weights).
    train_loss: Vec<f64>,
    train_accuracy: f64,
    test_loss: f64,
    test_accuracy: f64,
    updates: usize,
    seconds: f64,
}

fn train(
    name: &str,
    opt: &mut dyn Optimizer<f32>,
    batch_size: usize,
    train_set: &Digits<f32>,
    test_set: &Digits<f32>,
    c: &Config,
) -> Result<Run, Error> {
    let start = Instant::now();
    let mut model = build_model(c.seed + 1);
    // The same shuffles in every run with the same batch size.
    let mut batches = Batches::new(
        train_set.len(),
        batch_size,
        BatchConfig {
            seed: c.seed,
            ..Default::default()
        },
    )?;
    let mut train_loss = vec![evaluate(&model, train_set).0];
    let mut tape = Tape::new();
    let mut updates = 0;
    for epoch in 0..c.epochs {
        for idx in batches.epoch(epoch as u64) {
            tape.reset();
            let x = tape.constant(take_rows(&train_set.inputs, idx));
            let y: Vec<usize> = idx.iter().map(|&i| train_set.labels[i]).collect();
            let grads = loss::cross_entropy(model.forward(x), &y).backward();
            opt.step(&mut model.params_mut(), &grads)?;
            updates += 1;
        }
        let (l, acc) = evaluate(&model, train_set);
        train_loss.push(l);
        if (epoch + 1) % 10 == 0 || epoch + 1 == c.epochs {
            let (_, test_acc) = evaluate(&model, test_set);
            eprintln!(
                "  {name:<22} epoch {:>3}: train loss {l:.4}, train acc {acc:.3}, test acc \
                 {test_acc:.3}",
                epoch + 1
            );
        }
    }
    let (_, train_accuracy) = evaluate(&model, train_set);
    let (test_loss, test_accuracy) = evaluate(&model, test_set);
    Ok(Run {
        name: name.into(),
        lr: opt.lr(),
        batch_size,
        train_loss,
        train_accuracy,
        test_loss,
        test_accuracy,
        updates,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn print_table(title: &str, runs: &[Run]) {
    println!("\n{title}");
    println!(
        "{:<22} {:>7} {:>6} {:>8} {:>11} {:>9} {:>10} {:>9} {:>7}",
        "run",
        "lr",
        "batch",
        "updates",
        "train loss",
        "train acc",
        "test loss",
        "test acc",
        "seconds"
    );
    for r in runs {
        println!(
            "{:<22} {:>7} {:>6} {:>8} {:>11.4} {:>9.3} {:>10.4} {:>9.3} {:>7.2}",
            r.name,
            r.lr,
            r.batch_size,
            r.updates,
            r.train_loss.last().copied().unwrap_or(f64::NAN),
            r.train_accuracy,
            r.test_loss,
            r.test_accuracy,
            r.seconds
        );
    }
}

fn chart(title: &str, runs: &[Run]) -> LineChart {
    let mut chart = LineChart::new(title, "epoch", "training loss (log scale)").log_y(true);
    for r in runs {
        let points: Vec<(f64, f64)> = r
            .train_loss
            .iter()
            .enumerate()
            .map(|(e, &l)| (e as f64, l))
            .collect();
        chart = chart.series(&r.name, &points);
    }
    chart
}

fn run_json(r: &Run) -> String {
    format!(
        "{{\"name\":\"{}\",\"lr\":{},\"batch_size\":{},\"updates\":{},\"final_train_loss\":{:.5},\
         \"train_accuracy\":{:.4},\"test_loss\":{:.5},\"test_accuracy\":{:.4},\"seconds\":{:.3},\
         \"train_loss\":[{}]}}",
        r.name,
        r.lr,
        r.batch_size,
        r.updates,
        r.train_loss.last().copied().unwrap_or(f64::NAN),
        r.train_accuracy,
        r.test_loss,
        r.test_accuracy,
        r.seconds,
        r.train_loss
            .iter()
            .map(|l| format!("{l:.5}"))
            .collect::<Vec<_>>()
            .join(",")
    )
}

fn main() {
    let config = match parse_args() {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&config) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(c: &Config) -> Result<(), Error> {
    let data = digits::load::<f32>(&c.data)?;
    let (train_set, test_set) = data.split(0.25, c.seed)?;
    println!(
        "digits: {} training and {} test images; network 64 -> 32 relu -> 10; {} epochs",
        train_set.len(),
        test_set.len(),
        c.epochs
    );
    let start = Instant::now();

    // 1. Four optimizers, batch 32, from the same initial weights.
    println!("optimizers (batch 32):");
    let mut sgd = Sgd::new(SgdConfig {
        lr: 0.1,
        ..Default::default()
    })?;
    let mut momentum = Momentum::new(MomentumConfig {
        lr: 0.1,
        momentum: 0.9,
        form: MomentumForm::Ema,
        ..Default::default()
    })?;
    let mut rmsprop = RmsProp::new(RmsPropConfig {
        lr: 1e-3,
        ..Default::default()
    })?;
    let mut adam = Adam::new(AdamConfig {
        lr: 1e-3,
        ..Default::default()
    })?;
    let optimizer_runs = vec![
        train("SGD", &mut sgd, 32, &train_set, &test_set, c)?,
        train(
            "momentum (EMA 0.9)",
            &mut momentum,
            32,
            &train_set,
            &test_set,
            c,
        )?,
        train("RMSprop", &mut rmsprop, 32, &train_set, &test_set, c)?,
        train("Adam", &mut adam, 32, &train_set, &test_set, c)?,
    ];

    // 2. Batch size 1, 32 and the full set, Adam 1e-3, same epochs.
    println!("batch sizes (Adam 1e-3):");
    let mut batch_runs = Vec::new();
    for (name, batch_size) in [
        ("batch 1".to_string(), 1),
        ("batch 32".to_string(), 32),
        (format!("full batch ({})", train_set.len()), train_set.len()),
    ] {
        let mut adam = Adam::new(AdamConfig {
            lr: 1e-3,
            ..Default::default()
        })?;
        batch_runs.push(train(
            &name, &mut adam, batch_size, &train_set, &test_set, c,
        )?);
    }
    let total_seconds = start.elapsed().as_secs_f64();

    print_table(
        "optimizers: final train loss (whole training set) and accuracy",
        &optimizer_runs,
    );
    print_table(
        "batch sizes: final train loss (whole training set) and accuracy",
        &batch_runs,
    );

    let out_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/output");
    std::fs::create_dir_all(out_dir).map_err(|source| Error::Io {
        path: out_dir.into(),
        source,
    })?;
    let opt_svg = format!("{out_dir}/optimizers_loss.svg");
    chart(
        "Digits, 64-32-10 MLP, batch 32: training loss per optimizer",
        &optimizer_runs,
    )
    .save(&opt_svg)?;
    let batch_svg = format!("{out_dir}/batch_sizes_loss.svg");
    chart(
        "Digits, 64-32-10 MLP, Adam 1e-3: training loss per batch size",
        &batch_runs,
    )
    .save(&batch_svg)?;
    let json_path = format!("{out_dir}/optimizers.json");
    let summary = format!(
        "{{\"example\":\"optimizers\",\"n_train\":{},\"n_test\":{},\"epochs\":{},\"seed\":{},\
         \"optimizers\":[{}],\"batch_sizes\":[{}],\"total_seconds\":{total_seconds:.2}}}\n",
        train_set.len(),
        test_set.len(),
        c.epochs,
        c.seed,
        optimizer_runs
            .iter()
            .map(run_json)
            .collect::<Vec<_>>()
            .join(","),
        batch_runs
            .iter()
            .map(run_json)
            .collect::<Vec<_>>()
            .join(",")
    );
    std::fs::write(&json_path, summary).map_err(|source| Error::Io {
        path: json_path.clone().into(),
        source,
    })?;
    println!("\nwrote {opt_svg}, {batch_svg} and {json_path}");

    let brief = |runs: &[Run]| {
        runs.iter()
            .map(|r| {
                format!(
                    "\"{}\":{{\"train_loss\":{:.4},\"test_accuracy\":{:.4}}}",
                    r.name,
                    r.train_loss.last().copied().unwrap_or(f64::NAN),
                    r.test_accuracy
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    println!(
        "{{\"example\":\"optimizers\",\"epochs\":{},\"n_train\":{},\"optimizers\":{{{}}},\
         \"batch_sizes\":{{{}}},\"total_seconds\":{total_seconds:.2}}}",
        c.epochs,
        train_set.len(),
        brief(&optimizer_runs),
        brief(&batch_runs)
    );
    Ok(())
}
