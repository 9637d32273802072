//! Overfitting on purpose, then two cures. A wide network, `64 -> Dense(512, relu) ->
//! Dense(512, relu) -> Dense(10)` (about 300,000 weights), is trained on only 200 of the UCI
//! digits for 100 epochs and tested on the other 1,597: it memorises the training set (100 %
//! training accuracy, training loss near 0) while its test accuracy stalls and its test loss
//! climbs back up. The same network from the same initial weights is then trained
//!
//! - with an L2 penalty: `loss + lambda * sum(w^2)` over the weight matrices
//!   (`loss::l2_penalty`, lambda 1e-4), and
//! - with dropout after each hidden layer, keeping each unit with probability 0.7
//!   (`Dropout::new(0.7)`; switched to evaluation mode, the identity, to measure accuracy).
//!
//! All three use Adam 1e-3, batch 32 and the same shuffles, and the whole comparison is repeated
//! for 3 seeds (each a different 200-image training subset and initialisation). The example
//! prints per-epoch progress and a table of train and test accuracy and their gap for each
//! (mean and spread over seeds), writes `examples/output/regularization.svg` (train and test
//! accuracy per epoch, mean over seeds), `examples/output/regularization_loss.svg` (train and
//! test loss) and `examples/output/regularization.json`, and ends with one JSON line.
//!
//! Run: `cargo run --release -p examples --example regularization`
//! (flags: `--data FILE` (default the bundled `data/digits/digits.csv.gz`), `--n-train N` (200),
//! `--epochs N` (100), `--lambda X` (L2 strength, 1e-4), `--keep X` (dropout keep probability,
//! 0.7), `--seed N` (first seed, 0), `--seeds N` (3)).

use std::time::Instant;

use wengert::datasets::digits::{self, Digits};
use wengert::nn::{Dense, Dropout, Module, Relu, Sequential, loss};
use wengert::optim::{Adam, AdamConfig, BatchConfig, Batches, Optimizer, take_rows};
use wengert::plot::LineChart;
use wengert::prelude::*;

const DEFAULT_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/digits/digits.csv.gz");
const USAGE: &str = "usage: regularization [--data FILE] [--n-train N] [--epochs N] \
                     [--lambda X] [--keep X] [--seed N] [--seeds N]";
const WIDTH: usize = 512;
const BATCH: usize = 32;

struct Config {
    data: String,
    n_train: usize,
    epochs: usize,
    lambda: f64,
    keep: f64,
    seed: u64,
    seeds: u64,
}

fn parse_args() -> Result<Config, String> {
    let mut c = Config {
        data: DEFAULT_DATA.into(),
        n_train: 200,
        epochs: 100,
        lambda: 1e-4,
        keep: 0.7,
        seed: 0,
        seeds: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("flag {flag} needs a value"))?;
        let bad = |what: &str| format!("bad value `{value}` for {flag}: expected {what}");
        let positive = |v: &str| v.parse::<usize>().ok().filter(|&n| n > 0);
        match flag.as_str() {
            "--data" => c.data = value.clone(),
            "--n-train" => c.n_train = positive(&value).ok_or_else(|| bad("a positive integer"))?,
            "--epochs" => c.epochs = positive(&value).ok_or_else(|| bad("a positive integer"))?,
            "--lambda" => {
                c.lambda = value
                    .parse()
                    .ok()
                    .filter(|x: &f64| *x >= 0.0 && x.is_finite())
                    .ok_or_else(|| bad("a number >= 0"))?
            }
            "--keep" => {
                c.keep = value
                    .parse()
                    .ok()
                    .filter(|x: &f64| *x > 0.0 && *x <= 1.0)
                    .ok_or_else(|| bad("a probability in (0, 1]"))?
            }
            "--seed" => c.seed = value.parse().map_err(|_| bad("a non-negative integer"))?,
            "--seeds" => {
                c.seeds = positive(&value).ok_or_else(|| bad("a positive integer"))? as u64
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(c)
}

/// The wide network; `keep` adds dropout after each hidden layer. The dense layers get the same
/// seeds (so the same initial weights) with or without dropout.
fn build_model(seed: u64, keep: Option<f64>) -> Result<Sequential<f32>, Error> {
    let mut model = Sequential::new();
    model = model.add(
        Dense::new(digits::PIXELS, WIDTH)
            .with_activation(Relu)
            .with_seed(seed),
    );
    if let Some(k) = keep {
        model = model.add(Dropout::new(k)?.with_seed(seed + 100));
    }
    model = model.add(
        Dense::new(WIDTH, WIDTH)
            .with_activation(Relu)
            .with_seed(seed + 1),
    );
    if let Some(k) = keep {
        model = model.add(Dropout::new(k)?.with_seed(seed + 101));
    }
    Ok(model.add(Dense::new(WIDTH, digits::CLASSES).with_seed(seed + 2)))
}

/// Loss and accuracy on a whole set, in evaluation mode (dropout off), without gradients.
fn evaluate(model: &mut Sequential<f32>, data: &Digits<f32>) -> (f64, f64) {
    model.set_training(false);
    let tape = Tape::new();
    let out = tape.no_grad(|| {
        let logits = model.forward(tape.constant(data.inputs.clone()));
        let l = loss::cross_entropy(logits, &data.labels).item() as f64;
        (l, loss::accuracy(&logits.value(), &data.labels))
    });
    model.set_training(true);
    out
}

/// Per-epoch curves of one run.
#[derive(Default)]
struct Curves {
    train_acc: Vec<f64>,
    test_acc: Vec<f64>,
    train_loss: Vec<f64>,
    test_loss: Vec<f64>,
}

struct Run {
    curves: Curves,
    seconds: f64,
}

impl Run {
    fn last(v: &[f64]) -> f64 {
        v.last().copied().unwrap_or(f64::NAN)
    }
    fn train_accuracy(&self) -> f64 {
        Self::last(&self.curves.train_acc)
    }
    fn test_accuracy(&self) -> f64 {
        Self::last(&self.curves.test_acc)
    }
    fn gap(&self) -> f64 {
        self.train_accuracy() - self.test_accuracy()
    }
    fn best_test(&self) -> f64 {
        self.curves.test_acc.iter().copied().fold(0.0, f64::max)
    }
}

fn train(
    name: &'static str,
    mut model: Sequential<f32>,
    lambda: f64,
    train_set: &Digits<f32>,
    test_set: &Digits<f32>,
    c: &Config,
) -> Result<Run, Error> {
    let start = Instant::now();
    let mut opt = Adam::new(AdamConfig {
        lr: 1e-3,
        ..Default::default()
    })?;
    let mut batches = Batches::new(
        train_set.len(),
        BATCH.min(train_set.len()),
        BatchConfig {
            seed: c.seed,
            ..Default::default()
        },
    )?;
    let mut curves = Curves::default();
    let mut tape = Tape::new();
    for epoch in 0..c.epochs {
        for idx in batches.epoch(epoch as u64) {
            tape.reset();
            let x = tape.constant(take_rows(&train_set.inputs, idx));
            let y: Vec<usize> = idx.iter().map(|&i| train_set.labels[i]).collect();
            let mut objective = loss::cross_entropy(model.forward(x), &y);
            if lambda > 0.0 {
                // L2 on the weight matrices only (not the biases), as usual.
                let weights: Vec<_> = model
                    .named_params()
                    .into_iter()
                    .filter(|(n, _)| n.ends_with("weight"))
                    .map(|(_, p)| p)
                    .collect();
                objective = objective + loss::l2_penalty(&tape, &weights) * lambda as f32;
            }
            let grads = objective.backward();
            opt.step(&mut model.params_mut(), &grads)?;
        }
        let (train_loss, train_acc) = evaluate(&mut model, train_set);
        let (test_loss, test_acc) = evaluate(&mut model, test_set);
        curves.train_acc.push(train_acc);
        curves.test_acc.push(test_acc);
        curves.train_loss.push(train_loss);
        curves.test_loss.push(test_loss);
        if (epoch + 1) % 25 == 0 || epoch == 0 {
            eprintln!(
                "  {name:<16} epoch {:>3}: train loss {train_loss:.4} acc {train_acc:.3} | test \
                 loss {test_loss:.4} acc {test_acc:.3}",
                epoch + 1
            );
        }
    }
    Ok(Run {
        curves,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn points(v: &[f64]) -> Vec<(f64, f64)> {
    v.iter()
        .enumerate()
        .map(|(e, &y)| ((e + 1) as f64, y))
        .collect()
}

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.4}"))
        .collect::<Vec<_>>()
        .join(",")
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

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// The element-wise mean of several curves of the same length.
fn mean_curve(curves: &[&[f64]]) -> Vec<f64> {
    let n = curves.len() as f64;
    (0..curves[0].len())
        .map(|i| curves.iter().map(|c| c[i]).sum::<f64>() / n)
        .collect()
}

const VARIANTS: [&str; 3] = ["baseline", "L2", "dropout"];

fn run(c: &Config) -> Result<(), Error> {
    let data = digits::load::<f32>(&c.data)?;
    if c.n_train >= data.len() {
        eprintln!(
            "--n-train {} leaves no test images (the file has {})\n{USAGE}",
            c.n_train,
            data.len()
        );
        std::process::exit(2);
    }
    println!(
        "digits: {} training images, {} test images; network 64 -> {WIDTH} -> {WIDTH} -> 10; \
         Adam 1e-3, batch {BATCH}, {} epochs; L2 lambda {}, dropout keep {}; {} seeds (each a \
         different training subset and initialisation)",
        c.n_train,
        data.len() - c.n_train,
        c.epochs,
        c.lambda,
        c.keep,
        c.seeds
    );
    let start = Instant::now();
    // runs[v][s]: variant v, seed s.
    let mut runs: Vec<Vec<Run>> = VARIANTS.iter().map(|_| Vec::new()).collect();
    for seed in c.seed..c.seed + c.seeds {
        // A small random training subset; every other image is the test set.
        let order = digits::shuffled(data.len(), seed);
        let train_set = data.subset(&order[..c.n_train]);
        let test_set = data.subset(&order[c.n_train..]);
        eprintln!("seed {seed}:");
        let init = seed + 1;
        runs[0].push(train(
            VARIANTS[0],
            build_model(init, None)?,
            0.0,
            &train_set,
            &test_set,
            c,
        )?);
        runs[1].push(train(
            VARIANTS[1],
            build_model(init, None)?,
            c.lambda,
            &train_set,
            &test_set,
            c,
        )?);
        runs[2].push(train(
            VARIANTS[2],
            build_model(init, Some(c.keep))?,
            0.0,
            &train_set,
            &test_set,
            c,
        )?);
    }
    let total_seconds = start.elapsed().as_secs_f64();

    println!(
        "\nafter {} epochs, mean +- std over {} seeds (per seed: test accuracy):",
        c.epochs, c.seeds
    );
    println!(
        "{:<18} {:>9} {:>16} {:>16} {:>10} {:>10} {:>9}  per seed",
        "run", "train acc", "test acc", "gap", "train loss", "test loss", "best test"
    );
    let mut summaries = Vec::new();
    for (v, name) in VARIANTS.iter().enumerate() {
        let rs = &runs[v];
        let pick = |f: &dyn Fn(&Run) -> f64| rs.iter().map(f).collect::<Vec<f64>>();
        let (train_acc, _) = mean_std(&pick(&|r| r.train_accuracy()));
        let tests = pick(&|r| r.test_accuracy());
        let (test_acc, test_std) = mean_std(&tests);
        let (gap, gap_std) = mean_std(&pick(&|r| r.gap()));
        let (train_loss, _) = mean_std(&pick(&|r| Run::last(&r.curves.train_loss)));
        let (test_loss, _) = mean_std(&pick(&|r| Run::last(&r.curves.test_loss)));
        let (best, _) = mean_std(&pick(&|r| r.best_test()));
        println!(
            "{:<18} {:>9.3} {:>8.3} +- {:.3} {:>8.3} +- {:.3} {:>10.4} {:>10.4} {:>9.3}  {}",
            name,
            train_acc,
            test_acc,
            test_std,
            gap,
            gap_std,
            train_loss,
            test_loss,
            best,
            list(&tests)
        );
        summaries.push((
            train_acc, test_acc, test_std, gap, train_loss, test_loss, tests,
        ));
    }

    let out_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/output");
    std::fs::create_dir_all(out_dir).map_err(|source| Error::Io {
        path: out_dir.into(),
        source,
    })?;
    let mut acc_chart = LineChart::new(
        &format!(
            "{} digits, 64-{WIDTH}-{WIDTH}-10: train vs test accuracy (mean of {} seeds)",
            c.n_train, c.seeds
        ),
        "epoch",
        "accuracy",
    );
    let mut loss_chart = LineChart::new(
        &format!(
            "{} digits, 64-{WIDTH}-{WIDTH}-10: train vs test loss (mean of {} seeds)",
            c.n_train, c.seeds
        ),
        "epoch",
        "cross-entropy (log scale)",
    )
    .log_y(true);
    let mut curve_json = Vec::new();
    for (v, name) in VARIANTS.iter().enumerate() {
        let rs = &runs[v];
        let avg = |f: &dyn Fn(&Run) -> &[f64]| mean_curve(&rs.iter().map(f).collect::<Vec<_>>());
        let train_acc = avg(&|r| &r.curves.train_acc);
        let test_acc = avg(&|r| &r.curves.test_acc);
        let train_loss = avg(&|r| &r.curves.train_loss);
        let test_loss = avg(&|r| &r.curves.test_loss);
        acc_chart = acc_chart
            .series(&format!("{name} train"), &points(&train_acc))
            .series(&format!("{name} test"), &points(&test_acc));
        loss_chart = loss_chart
            .series(&format!("{name} train"), &points(&train_loss))
            .series(&format!("{name} test"), &points(&test_loss));
        let (tr, te, te_std, gap, trl, tel, tests) = &summaries[v];
        curve_json.push(format!(
            "{{\"name\":\"{name}\",\"train_accuracy\":{tr:.4},\"test_accuracy\":{te:.4},\
             \"test_accuracy_std\":{te_std:.4},\"gap\":{gap:.4},\"train_loss\":{trl:.5},\
             \"test_loss\":{tel:.5},\"test_accuracy_per_seed\":[{}],\"seconds\":[{}],\
             \"mean_curves\":{{\"train_acc\":[{}],\"test_acc\":[{}],\"train_loss\":[{}],\
             \"test_loss\":[{}]}}}}",
            list(tests),
            list(&rs.iter().map(|r| r.seconds).collect::<Vec<_>>()),
            list(&train_acc),
            list(&test_acc),
            list(&train_loss),
            list(&test_loss)
        ));
    }
    let acc_svg = format!("{out_dir}/regularization.svg");
    acc_chart.save(&acc_svg)?;
    let loss_svg = format!("{out_dir}/regularization_loss.svg");
    loss_chart.save(&loss_svg)?;
    let json_path = format!("{out_dir}/regularization.json");
    let summary = format!(
        "{{\"example\":\"regularization\",\"n_train\":{},\"n_test\":{},\"epochs\":{},\
         \"lambda\":{},\"keep_prob\":{},\"seeds\":{},\"runs\":[{}],\
         \"total_seconds\":{total_seconds:.2}}}\n",
        c.n_train,
        data.len() - c.n_train,
        c.epochs,
        c.lambda,
        c.keep,
        c.seeds,
        curve_json.join(",")
    );
    std::fs::write(&json_path, summary).map_err(|source| Error::Io {
        path: json_path.clone().into(),
        source,
    })?;
    println!("\nwrote {acc_svg}, {loss_svg} and {json_path}");
    let keys = ["baseline", "l2", "dropout"];
    println!(
        "{{\"example\":\"regularization\",\"n_train\":{},\"n_test\":{},\"epochs\":{},\
         \"seeds\":{},\"lambda\":{},\"keep_prob\":{},{},\"total_seconds\":{total_seconds:.2}}}",
        c.n_train,
        data.len() - c.n_train,
        c.epochs,
        c.seeds,
        c.lambda,
        c.keep,
        summaries
            .iter()
            .zip(keys)
            .map(|((tr, te, te_std, gap, ..), k)| format!(
                "\"{k}\":{{\"train_accuracy\":{tr:.4},\"test_accuracy\":{te:.4},\
                 \"test_accuracy_std\":{te_std:.4},\"gap\":{gap:.4}}}"
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    Ok(())
}
