//! A character-level language model: an LSTM learns to predict the next character of
//! Shakespeare. Characters become ids (`wengert::datasets::text`), an `Embedding` of size 32 feeds
//! an `Lstm` of 128 units whose every hidden state goes through a `Dense` layer to one logit per
//! character; the loss is the softmax cross-entropy of the next character. Training uses Adam
//! (lr 2e-3) with gradient clipping at global norm 1.0, batches of 32 random windows of 64
//! characters from the first 90 % of the text; the last 10 % is held out. The example reports the
//! validation loss in bits per character (cross-entropy / ln 2), then samples text from the
//! trained model at temperature 0.8.
//!
//! Run: `cargo run --release -p examples --example char_lstm`
//! (flags: `--data FILE`, `--steps N` (1000), `--hidden N` (128), `--seed N` (0)).
//! Writes `examples/output/char_lstm_loss.svg` and `examples/output/char_lstm.json`, and ends
//! with one JSON line on stdout.

use std::process::exit;
use std::time::Instant;

use wengert::datasets::text::{Corpus, Vocab, read_corpus, split};
use wengert::nn::loss::cross_entropy;
use wengert::nn::{Dense, Embedding, Lstm, LstmCell, LstmState, Module, Param};
use wengert::optim::{Adam, AdamConfig, Optimizer, clip_grad_norm};
use wengert::plot::LineChart;
use wengert::prelude::*;

const EMBED: usize = 32;
const BATCH: usize = 32;
const SEQ: usize = 64;
const LR: f64 = 2e-3;
const CLIP: f64 = 1.0;
const VAL_BATCHES: usize = 20;
const SAMPLE_CHARS: usize = 300;
const TEMPERATURE: f64 = 0.8;
const PRIME: &str = "HAMLET.\n";

struct Args {
    data: String,
    steps: usize,
    hidden: usize,
    seed: u64,
    checkpoints: usize,
    whole_sequence: bool,
}

fn usage(msg: &str) -> ! {
    eprintln!("char_lstm: {msg}");
    eprintln!(
        "usage: char_lstm [--data FILE] [--steps N] [--hidden N] [--seed N]\n  \
         --data FILE      text corpus (default data/text/shakespeare_tiny.txt)\n  \
         --steps N        training steps, batch 32 x 64 characters (default 1000)\n  \
         --hidden N       LSTM units (default 128)\n  \
         --seed N         seed of the initialisation and of the batch sampling (default 0)\n  \
         --checkpoints N  validation checkpoints during training (default 5; the last is\n                  \
         always at the final step)\n  \
         --forward-seq    run the LSTM as one Lstm::forward_seq call instead of unrolling its cell"
    );
    exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        data: concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../data/text/shakespeare_tiny.txt"
        )
        .into(),
        steps: 1000,
        hidden: 128,
        seed: 0,
        checkpoints: 5,
        whole_sequence: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            usage("help");
        }
        if flag == "--forward-seq" {
            a.whole_sequence = true;
            continue;
        }
        let Some(value) = it.next() else {
            usage(&format!("{flag} needs a value"))
        };
        let number = |v: &str| -> u64 {
            v.parse().unwrap_or_else(|_| {
                usage(&format!("{flag} takes a non-negative integer, got {v:?}"))
            })
        };
        match flag.as_str() {
            "--data" => a.data = value,
            "--steps" => a.steps = number(&value) as usize,
            "--hidden" => a.hidden = number(&value) as usize,
            "--seed" => a.seed = number(&value),
            "--checkpoints" => a.checkpoints = number(&value) as usize,
            _ => usage(&format!("unknown flag {flag:?}")),
        }
    }
    if a.steps == 0 || a.hidden == 0 {
        usage("--steps and --hidden must be at least 1");
    }
    a
}

/// A small seeded random generator (SplitMix64): batch positions and sampling.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// Uniform in `[0, 1)`.
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Embedding -> LSTM -> Dense: one logit per character at every position.
struct CharModel {
    embed: Embedding<f32>,
    lstm: Lstm<f32>,
    head: Dense<f32>,
}

impl CharModel {
    fn new(vocab: usize, hidden: usize, seed: u64) -> Self {
        CharModel {
            embed: Embedding::new(vocab, EMBED).with_seed(seed),
            lstm: Lstm::new(EMBED, hidden).with_seed(seed + 1),
            head: Dense::new(hidden, vocab).with_seed(seed + 2),
        }
    }

    /// Logits `[B * T, vocab]` for the ids `[B, T]` (row-major), from the zero state.
    ///
    /// With `whole_sequence`, the LSTM runs as one layer call, `Lstm::forward_seq` on the
    /// embedded sequence `[B, T, 32]`. Otherwise (the default) the example unrolls the same
    /// layer's cell by hand: one embedding lookup and one `LstmCell::step_with` per time step,
    /// then the hidden states are stacked. Both compute the same function with the same
    /// parameters; the unrolled form is faster at present because `forward_seq` slices each
    /// step's input out of one `[B, T*4H]` product with `narrow`, whose backward pads every
    /// slice back to the full `[B, T*4H]` (work quadratic in `T`).
    fn logits<'t>(
        &self,
        tape: &'t Tape<f32>,
        ids: &[usize],
        batch: usize,
        whole_sequence: bool,
    ) -> Var<'t, f32> {
        let steps = ids.len() / batch;
        let hidden = self.lstm.hidden_size();
        let h = if whole_sequence {
            let x = self.embed.forward_ids(tape, ids, &[batch, steps]); // [B, T, 32]
            self.lstm.forward_seq(x, None).output // [B, T, H]
        } else {
            let weights = self.lstm.weights_on(tape);
            let cell = self.lstm.cell();
            let mut state = cell.zero_state(tape, batch);
            let mut hs = Vec::with_capacity(steps);
            let mut ids_t = vec![0; batch];
            for t in 0..steps {
                for (b, id) in ids_t.iter_mut().enumerate() {
                    *id = ids[b * steps + t];
                }
                let x = self.embed.forward_ids(tape, &ids_t, &[batch]); // [B, 32]
                state = LstmCell::step_with(&weights, x, state);
                hs.push(state.h);
            }
            Var::stack(&hs, 1) // [B, T, H]
        };
        self.head.forward(h.reshape(&[batch * steps, hidden]))
    }

    fn params(&self) -> Vec<&Param<f32>> {
        let mut p = self.embed.params();
        p.extend(self.lstm.params());
        p.extend(self.head.params());
        p
    }

    fn params_mut(&mut self) -> Vec<&mut Param<f32>> {
        let mut p = self.embed.params_mut();
        p.extend(self.lstm.params_mut());
        p.extend(self.head.params_mut());
        p
    }
}

/// A batch of `BATCH` windows starting at `starts`: inputs `ids[s..s+SEQ]` and targets shifted
/// by one, both flattened row-major `[BATCH, SEQ]`.
fn windows(ids: &[usize], starts: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut x = Vec::with_capacity(starts.len() * SEQ);
    let mut y = Vec::with_capacity(starts.len() * SEQ);
    for &s in starts {
        x.extend_from_slice(&ids[s..s + SEQ]);
        y.extend_from_slice(&ids[s + 1..s + SEQ + 1]);
    }
    (x, y)
}

/// Mean cross-entropy over the fixed validation batches, in bits per character.
fn validation_bpc(model: &CharModel, valid: &[usize], batches: &[Vec<usize>]) -> f64 {
    let mut total = 0.0;
    for starts in batches {
        let (x, y) = windows(valid, starts);
        let tape = Tape::new();
        let loss = tape.no_grad(|| cross_entropy(model.logits(&tape, &x, starts.len(), false), &y));
        total += f64::from(loss.item());
    }
    total / batches.len() as f64 / std::f64::consts::LN_2
}

/// Generates `n` characters after `prime`, sampling each from `softmax(logits / temperature)`.
fn sample(model: &CharModel, vocab: &Vocab, prime: &str, n: usize, rng: &mut Rng) -> String {
    let tape = Tape::new();
    tape.no_grad(|| {
        let cell = model.lstm.cell();
        let mut state: LstmState<'_, f32> = cell.zero_state(&tape, 1);
        let mut ids = vocab.encode(prime).unwrap_or_default();
        if ids.is_empty() {
            ids.push(0);
        }
        let mut out = String::new();
        // Feed the prime, then one sampled character at a time.
        let mut logits = None;
        for &id in &ids {
            let x = model.embed.forward_ids(&tape, &[id], &[1]);
            state = cell.step(x, state);
            logits = Some(model.head.forward(state.h));
        }
        for _ in 0..n {
            let Some(l) = logits else { break };
            let z: Vec<f64> = l
                .value()
                .data()
                .iter()
                .map(|&v| f64::from(v) / TEMPERATURE)
                .collect();
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let p: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
            let mut r = rng.uniform() * p.iter().sum::<f64>();
            let mut next = p.len() - 1;
            for (i, pi) in p.iter().enumerate() {
                if r < *pi {
                    next = i;
                    break;
                }
                r -= pi;
            }
            out.push_str(&vocab.decode(&[next]));
            let x = model.embed.forward_ids(&tape, &[next], &[1]);
            state = cell.step(x, state);
            logits = Some(model.head.forward(state.h));
        }
        out
    })
}

fn main() {
    let args = parse_args();
    let Corpus { ids, vocab, .. } = read_corpus(&args.data).unwrap_or_else(|e| {
        eprintln!("char_lstm: {e}");
        exit(1)
    });
    let (train, valid) = split(&ids, 0.9);
    if train.len() <= SEQ + 1 || valid.len() <= SEQ + 1 {
        eprintln!(
            "char_lstm: {}: {} characters is too short for windows of {SEQ} (needs more than {})",
            args.data,
            ids.len(),
            10 * (SEQ + 1)
        );
        exit(1);
    }
    println!(
        "{}: {} characters, vocabulary {}, train {}, validation {}",
        args.data,
        ids.len(),
        vocab.len(),
        train.len(),
        valid.len()
    );

    let mut model = CharModel::new(vocab.len(), args.hidden, args.seed);
    let n_params: usize = model.params().iter().map(|p| p.numel()).sum();
    println!(
        "Embedding({}, {EMBED}) -> Lstm({EMBED}, {}) -> Dense({}, {}): {n_params} parameters",
        vocab.len(),
        args.hidden,
        args.hidden,
        vocab.len()
    );
    let mut adam = Adam::new(AdamConfig {
        lr: LR,
        ..Default::default()
    })
    .unwrap_or_else(|e| {
        eprintln!("char_lstm: {e}");
        exit(1)
    });

    // Fixed validation windows (the same at every checkpoint).
    let mut val_rng = Rng(0x5EED_0000 ^ args.seed);
    let val_batches: Vec<Vec<usize>> = (0..VAL_BATCHES)
        .map(|_| {
            (0..BATCH)
                .map(|_| val_rng.below(valid.len() - SEQ))
                .collect()
        })
        .collect();
    let mut rng = Rng(args.seed);

    let checkpoint_every = (args.steps / args.checkpoints.max(1)).max(1);
    let mut train_curve = Vec::with_capacity(args.steps);
    let mut val_curve = vec![(0.0, validation_bpc(&model, valid, &val_batches))];
    println!("step 0: validation {:.3} bits/char", val_curve[0].1);
    let mut train_seconds = 0.0;
    let mut window_start = Instant::now();
    let mut window_steps = 0;
    let mut tape = Tape::with_capacity(4096);
    for step in 1..=args.steps {
        let t0 = Instant::now();
        let starts: Vec<usize> = (0..BATCH).map(|_| rng.below(train.len() - SEQ)).collect();
        let (x, y) = windows(train, &starts);
        tape.reset();
        let loss = cross_entropy(model.logits(&tape, &x, BATCH, args.whole_sequence), &y);
        let loss_value = f64::from(loss.item());
        let grads = loss.backward();
        let (clipped, _norm) = clip_grad_norm(&model.params(), &grads, CLIP).unwrap_or_else(|e| {
            eprintln!("char_lstm: {e}");
            exit(1)
        });
        drop(grads);
        if let Err(e) = adam.step(&mut model.params_mut(), &clipped) {
            eprintln!("char_lstm: {e}");
            exit(1);
        }
        train_seconds += t0.elapsed().as_secs_f64();
        train_curve.push((step as f64, loss_value / std::f64::consts::LN_2));
        window_steps += 1;
        if step % 50 == 0 || step == args.steps {
            let rate = window_steps as f64 / window_start.elapsed().as_secs_f64();
            eprintln!(
                "step {step:5}: train loss {loss_value:.3} ({:.3} bits/char), {rate:.1} steps/s",
                loss_value / std::f64::consts::LN_2
            );
            window_start = Instant::now();
            window_steps = 0;
        }
        if step % checkpoint_every == 0 || step == args.steps {
            let bpc = validation_bpc(&model, valid, &val_batches);
            if val_curve.last().map(|v| v.0) != Some(step as f64) {
                val_curve.push((step as f64, bpc));
                println!("step {step}: validation {bpc:.3} bits/char");
            }
            window_start = Instant::now();
        }
    }
    let val_bpc = val_curve.last().map_or(f64::NAN, |v| v.1);
    println!(
        "trained {} steps in {train_seconds:.2} s ({:.1} ms/step); validation {val_bpc:.3} bits/char",
        args.steps,
        1e3 * train_seconds / args.steps as f64
    );

    let mut sample_rng = Rng(args.seed ^ 0xC0FFEE);
    let text = sample(&model, &vocab, PRIME, SAMPLE_CHARS, &mut sample_rng);
    println!("--- sample (temperature {TEMPERATURE}) ---\n{PRIME}{text}\n---");

    let out_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/output");
    if let Err(e) = std::fs::create_dir_all(out_dir) {
        eprintln!("char_lstm: {out_dir}: {e}");
        exit(1);
    }
    // The per-step train loss is noisy: also plot a 25-step moving average.
    let smooth: Vec<(f64, f64)> = train_curve
        .iter()
        .enumerate()
        .map(|(i, &(s, _))| {
            let lo = i.saturating_sub(24);
            let w = &train_curve[lo..=i];
            (s, w.iter().map(|p| p.1).sum::<f64>() / w.len() as f64)
        })
        .collect();
    let chart = LineChart::new(
        "Character LSTM on Shakespeare",
        "step",
        "cross-entropy (bits/char)",
    )
    .series("train (batch)", &train_curve)
    .series("train (25-step mean)", &smooth)
    .series("validation", &val_curve);
    let svg_path = format!("{out_dir}/char_lstm_loss.svg");
    if let Err(e) = chart.save(&svg_path) {
        eprintln!("char_lstm: {e}");
        exit(1);
    }
    let json = format!(
        "{{\"example\":\"char_lstm\",\"val_bits_per_char\":{val_bpc:.4},\"train_seconds\":{train_seconds:.3},\
         \"steps\":{},\"hidden\":{},\"batch\":{BATCH},\"seq\":{SEQ},\"vocab\":{},\"params\":{n_params},\
         \"final_train_bits_per_char\":{:.4},\"seed\":{}}}",
        args.steps,
        args.hidden,
        vocab.len(),
        smooth.last().map_or(f64::NAN, |p| p.1),
        args.seed
    );
    let summary = format!(
        "{{\"summary\":{json},\"val_curve\":{},\"sample\":{}}}\n",
        points_json(&val_curve),
        json_string(&format!("{PRIME}{text}"))
    );
    let json_path = format!("{out_dir}/char_lstm.json");
    if let Err(e) = std::fs::write(&json_path, summary) {
        eprintln!("char_lstm: {json_path}: {e}");
        exit(1);
    }
    eprintln!("wrote {svg_path} and {json_path}");
    println!("{json}");
}

fn points_json(points: &[(f64, f64)]) -> String {
    let items: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("[{x},{y:.4}]"))
        .collect();
    format!("[{}]", items.join(","))
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
