//! The Keras "basic classification" tutorial (classify images of clothing), in wengert:
//! Fashion-MNIST 28x28 grayscale images, `Flatten -> Dense(128, relu) -> Dense(10)`, softmax
//! cross-entropy from the logits, Adam (lr 1e-3), batches of 32, 10 epochs, shuffled every
//! epoch. It prints the loss and accuracy per epoch and a few test predictions with their class
//! names, and writes to `examples/output/` the training curves (`fashion_mnist_curves.svg`), a
//! grid of 25 test images captioned "predicted (true)" with mistakes in red
//! (`fashion_mnist_predictions.svg`) and a JSON summary (`fashion_mnist.json`). The last line of
//! stdout is that summary as one JSON line; `train_seconds` counts the training steps only
//! (not loading the data, nor the per-epoch evaluation).
//!
//! Run: `cargo run --release -p examples --example fashion_mnist` (the bundled 10k training
//! images). The full 60k set (Debian package `dataset-fashion-mnist`):
//! `cargo run --release -p examples --example fashion_mnist -- --data
//! /usr/share/datasets/fashion-mnist --train-prefix train`.
//! Flags: `--data DIR`, `--train-prefix NAME`, `--epochs N`, `--batch-size N`, `--seed N`.

use std::path::PathBuf;
use std::time::Instant;

use wengert::datasets::idx::{FASHION_CLASSES, load_fashion_mnist};
use wengert::nn::loss::{accuracy, cross_entropy};
use wengert::nn::{Dense, Flatten, Module, Relu, Sequential};
use wengert::optim::{Adam, AdamConfig, BatchConfig, Batches, Optimizer, take_rows};
use wengert::plot::{ImageGrid, LineChart};
use wengert::prelude::*;

const USAGE: &str = "usage: fashion_mnist [--data DIR] [--train-prefix NAME] [--epochs N] \
                     [--batch-size N] [--seed N]
  --data DIR           folder with {PREFIX,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
                       (default: the bundled data/fashion-mnist)
  --train-prefix NAME  prefix of the training files (default train-first10k; the full set: train)
  --epochs N           passes over the training set (default 10)
  --batch-size N       examples per step (default 32)
  --seed N             seed of the initial weights and of the shuffling (default 0)";

/// Short class names for the image captions (the grid's cells are about 100 pixels wide).
const SHORT_NAMES: [&str; 10] = [
    "T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot",
];

struct Args {
    data: PathBuf,
    train_prefix: String,
    epochs: usize,
    batch_size: usize,
    seed: u64,
}

fn usage_exit(message: &str) -> ! {
    eprintln!("fashion_mnist: {message}\n{USAGE}");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        data: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../data/fashion-mnist"
        )),
        train_prefix: "train-first10k".into(),
        epochs: 10,
        batch_size: 32,
        seed: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let Some(value) = it.next() else {
            usage_exit(&format!("`{flag}` needs a value"))
        };
        let positive = |v: &str| match v.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => usage_exit(&format!("`{flag}` expects a positive integer, got `{v}`")),
        };
        match flag.as_str() {
            "--data" => args.data = PathBuf::from(value),
            "--train-prefix" => args.train_prefix = value,
            "--epochs" => args.epochs = positive(&value),
            "--batch-size" => args.batch_size = positive(&value),
            "--seed" => {
                args.seed = value.parse().unwrap_or_else(|_| {
                    usage_exit(&format!("`--seed` expects an integer, got `{value}`"))
                })
            }
            _ => usage_exit(&format!("unknown flag `{flag}`")),
        }
    }
    args
}

/// The tutorial's model: 784 -> 128 (relu) -> 10 logits, Glorot-uniform weights, zero biases.
fn build_model(seed: u64) -> Sequential<f32> {
    Sequential::new()
        .add(Flatten)
        .add(
            Dense::new(784, 128)
                .with_activation(Relu)
                .with_seed(2 * seed),
        )
        .add(Dense::new(128, 10).with_seed(2 * seed + 1))
}

/// CPU time (user + system, all threads) this process has used, in seconds, from
/// `/proc/self/stat` (Linux, 100 clock ticks per second); `None` elsewhere. On a shared machine
/// the wall-clock `train_seconds` grows with the load, this does not.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses): state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3)?.parse::<f64>().ok();
    Some((ticks(14)? + ticks(15)?) / 100.0)
}

/// Logits of `images` `[N, 28, 28]`, computed without recording gradients, in chunks.
fn predict(model: &Sequential<f32>, images: &Tensor<f32>) -> Tensor<f32> {
    let n = images.shape()[0];
    let mut out = Vec::with_capacity(n * 10);
    for start in (0..n).step_by(1000) {
        let rows: Vec<usize> = (start..(start + 1000).min(n)).collect();
        let tape = Tape::new();
        let logits = tape.no_grad(|| model.forward(tape.constant(take_rows(images, &rows))));
        out.extend_from_slice(logits.value().data());
    }
    Tensor::from_vec(out, &[n, 10]).unwrap_or_else(|e| unreachable!("{e}"))
}

fn main() {
    let args = parse_args();
    let data = match load_fashion_mnist(&args.data, &args.train_prefix) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("fashion_mnist: cannot load the data: {e}");
            std::process::exit(1);
        }
    };
    let (n_train, n_test) = (data.train_labels.len(), data.test_labels.len());
    let [rows, cols] = [data.train_images.shape()[1], data.train_images.shape()[2]];
    if rows * cols != 784 {
        eprintln!("fashion_mnist: expected 28x28 images, got {rows}x{cols}");
        std::process::exit(1);
    }
    if args.batch_size > n_train {
        usage_exit(&format!(
            "`--batch-size` {} is larger than the {n_train} training images",
            args.batch_size
        ));
    }
    println!(
        "Fashion-MNIST from {}: {n_train} training and {n_test} test images of {rows}x{cols}",
        args.data.display()
    );

    let mut model = build_model(args.seed);
    println!(
        "model: Flatten -> Dense(784, 128, relu) -> Dense(128, 10); {} parameters",
        model.num_params()
    );
    let mut adam = Adam::new(AdamConfig::default()).unwrap_or_else(|e| unreachable!("{e}"));
    let mut batches = Batches::new(
        n_train,
        args.batch_size,
        BatchConfig {
            seed: args.seed,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| unreachable!("{e}"));

    // (epoch, train loss, train accuracy, test accuracy), train figures as running means over the
    // epoch's batches, as Keras's `fit` reports them.
    let mut history: Vec<(usize, f64, f64, f64)> = Vec::new();
    let mut train_seconds = 0.0;
    let mut train_cpu_seconds = Some(0.0);
    let mut labels = Vec::with_capacity(args.batch_size);
    for epoch in 0..args.epochs {
        let start = Instant::now();
        let cpu_start = process_cpu_seconds();
        let (mut loss_sum, mut hits) = (0.0f64, 0.0f64);
        for idx in batches.epoch(epoch as u64) {
            let x = take_rows(&data.train_images, idx);
            labels.clear();
            labels.extend(idx.iter().map(|&i| data.train_labels[i]));
            let tape = Tape::new();
            let logits = model.forward(tape.constant(x));
            let loss = cross_entropy(logits, &labels);
            // Read what the metrics need before backward() frees the intermediate values.
            hits += accuracy(&logits.value(), &labels) * idx.len() as f64;
            loss_sum += f64::from(loss.item()) * idx.len() as f64;
            let grads = loss.backward();
            if let Err(e) = adam.step(&mut model.params_mut(), &grads) {
                eprintln!("fashion_mnist: optimizer step failed: {e}");
                std::process::exit(1);
            }
        }
        train_seconds += start.elapsed().as_secs_f64();
        train_cpu_seconds = match (train_cpu_seconds, cpu_start, process_cpu_seconds()) {
            (Some(total), Some(a), Some(b)) => Some(total + b - a),
            _ => None,
        };
        let test_acc = accuracy(&predict(&model, &data.test_images), &data.test_labels);
        let (loss, acc) = (loss_sum / n_train as f64, hits / n_train as f64);
        println!(
            "epoch {:>2}/{}  loss {loss:.4}  train accuracy {acc:.4}  test accuracy {test_acc:.4}  \
             ({train_seconds:.2} s training so far)",
            epoch + 1,
            args.epochs
        );
        history.push((epoch + 1, loss, acc, test_acc));
    }

    // Final evaluation of the trained model on both sets.
    let train_accuracy = accuracy(&predict(&model, &data.train_images), &data.train_labels);
    let test_logits = predict(&model, &data.test_images);
    let test_accuracy = accuracy(&test_logits, &data.test_labels);
    let predicted = test_logits.argmax_axis(-1);
    println!("train accuracy {train_accuracy:.4}, test accuracy {test_accuracy:.4}");
    println!("first test predictions:");
    for (i, (&p, &t)) in predicted.iter().zip(&data.test_labels).take(5).enumerate() {
        println!(
            "  test image {i}: predicted {:<12} true {:<12} {}",
            FASHION_CLASSES[p],
            FASHION_CLASSES[t],
            if p == t { "ok" } else { "WRONG" }
        );
    }

    let out_dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/output"));
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        eprintln!("fashion_mnist: cannot create {}: {e}", out_dir.display());
        std::process::exit(1);
    }
    let curve = |f: fn(&(usize, f64, f64, f64)) -> f64| -> Vec<(f64, f64)> {
        history.iter().map(|h| (h.0 as f64, f(h))).collect()
    };
    let curves = LineChart::new("Fashion-MNIST: training curves", "epoch", "loss / accuracy")
        .series("train loss", &curve(|h| h.1))
        .series("train accuracy", &curve(|h| h.2))
        .series("test accuracy", &curve(|h| h.3));
    let mut grid = ImageGrid::new(5);
    let pixels = data.test_images.data();
    for (i, (&p, &t)) in predicted.iter().zip(&data.test_labels).take(25).enumerate() {
        let img: Vec<f64> = pixels[i * 784..(i + 1) * 784]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let caption = format!("{} ({})", SHORT_NAMES[p], SHORT_NAMES[t]);
        grid = grid.image(&img, cols, rows, &caption, p == t);
    }
    let json = format!(
        "{{\"example\":\"fashion_mnist\",\"test_accuracy\":{test_accuracy:.4},\
         \"train_accuracy\":{train_accuracy:.4},\"train_seconds\":{train_seconds:.3},\
         \"train_cpu_seconds\":{},\
         \"n_train\":{n_train},\"n_test\":{n_test},\"epochs\":{},\"batch_size\":{},\"seed\":{},\
         \"final_train_loss\":{:.4}}}",
        train_cpu_seconds.map_or("null".into(), |s| format!("{s:.2}")),
        args.epochs,
        args.batch_size,
        args.seed,
        history.last().map_or(f64::NAN, |h| h.1)
    );
    let written = [
        ("fashion_mnist_curves.svg", curves.to_svg()),
        ("fashion_mnist_predictions.svg", grid.to_svg()),
        ("fashion_mnist.json", format!("{json}\n")),
    ];
    for (name, text) in written {
        let path = out_dir.join(name);
        if let Err(e) = wengert::plot::write_svg(&path, &text) {
            eprintln!("fashion_mnist: {e}");
            std::process::exit(1);
        }
        eprintln!("wrote {}", path.display());
    }
    println!("{json}");
}
