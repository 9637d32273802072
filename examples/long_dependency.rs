//! Can a recurrent network remember the first thing it saw? ("I grew up in Korea ... <many
//! words> ... I speak fluent ___"). Each sequence starts with one of 4 answer symbols, followed
//! by a gap of L random distractor symbols (4 more symbols, never an answer), one-hot encoded;
//! after the last step a Dense head on the final hidden state must name the first symbol
//! (chance: 25 %), trained with cross-entropy. The claim to test: a plain tanh RNN cannot carry
//! the information across long gaps, an LSTM (and a GRU) can.
//!
//! The example trains `Rnn`, `Lstm` and `Gru` layers of the same hidden size (32) with the same
//! optimizer (Adam 5e-3, gradient norm clipped at 1), batch size (32) and step budget (at most
//! 1000 steps, fresh random batches every step), for every gap and 3 seeds; it measures accuracy
//! on 256 held-out sequences every 100 steps and stops a run early once it reaches 99 %. The
//! cells: `RNN` (PyTorch's initialisation), `LSTM` (forget-gate bias 1, Keras's default), `GRU`
//! (PyTorch's initialisation), and the same gated cells started with a stronger memory-gate bias
//! of 3 (`LSTM b=3`: forget gate; `GRU b=3`: update gate), so that at the start they keep about
//! 95 % of their state per step instead of 73 % (LSTM) or about 50 % (GRU).
//!
//! Two training regimes, both tested on sequences with a gap of exactly L: (1) training on gap
//! exactly L, the task as stated (from the first step of training, the only evidence of the
//! answer lies L steps back); (2) training on gaps drawn uniformly from `1..=L`, one per batch (as in
//! text, where the same dependency occurs at many distances), so short sequences teach the cell
//! to store the symbol and the question is whether it can then hold it for L steps.
//!
//! For each regime it prints a table of accuracy per cell and gap (mean, std and range over
//! seeds, runs solved, mean steps to solve) and writes an SVG of mean accuracy vs gap per cell
//! (`examples/output/long_dependency.svg`, `examples/output/long_dependency_mixed.svg`); all
//! figures go to `examples/output/long_dependency.json`, and it ends with one JSON line. The
//! default run takes about 2 minutes on 2 cores (runs are spread over `--threads` workers).
//!
//! Run: `cargo run --release -p examples --example long_dependency`
//! (flags: `--gaps 5,10,20,40,80 --seeds 3 --steps 1000 --hidden 32 --batch 32 --lr 0.005
//! --threads 2 --cells rnn,lstm,gru,lstm:3,gru:3 --train-gaps both`; `lstm:B` / `gru:B` set the
//! forget / update gate bias, `lstm` alone is `lstm:1`; `--train-gaps fixed|mixed|both`, default
//! both).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use wengert::nn::{Dense, Gru, Lstm, Module, Param, Rnn, loss};
use wengert::optim::{Adam, AdamConfig, Optimizer, clip_grad_norm};
use wengert::plot::LineChart;
use wengert::prelude::*;

/// Answer symbols (ids `0..ANSWERS`); distractors are ids `ANSWERS..ANSWERS + DISTRACTORS`.
const ANSWERS: usize = 4;
const DISTRACTORS: usize = 4;
const VOCAB: usize = ANSWERS + DISTRACTORS;
const TEST_SEQUENCES: usize = 256;
const EVAL_EVERY: usize = 100;
const SOLVED: f64 = 0.99;

#[derive(Clone, Debug)]
struct Config {
    gaps: Vec<usize>,
    seeds: u64,
    steps: usize,
    hidden: usize,
    batch: usize,
    lr: f64,
    threads: usize,
    cells: Vec<CellKind>,
    /// The training regimes to run: `false` trains on exactly `L`, `true` on gaps drawn
    /// uniformly from `1..=L` (one per batch); both test at exactly `L`.
    regimes: Vec<bool>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gaps: vec![5, 10, 20, 40, 80],
            seeds: 3,
            steps: 1000,
            hidden: 32,
            batch: 32,
            lr: 5e-3,
            threads: 2,
            cells: vec![
                CellKind::Rnn,
                CellKind::Lstm(1.0),
                CellKind::Gru(None),
                CellKind::Lstm(3.0),
                CellKind::Gru(Some(3.0)),
            ],
            regimes: vec![false, true],
        }
    }
}

const USAGE: &str = "usage: long_dependency [--gaps 5,10,20,40,80] [--seeds N] [--steps N] \
                     [--hidden N] [--batch N] [--lr X] [--threads N] [--train-gaps fixed|mixed|both] \
                     [--cells rnn,lstm,gru,lstm:3,gru:3]";

fn parse_args() -> Result<Config, String> {
    let mut c = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("flag {flag} needs a value"))?;
        let bad = |what: &str| format!("bad value `{value}` for {flag}: expected {what}");
        match flag.as_str() {
            "--gaps" => {
                c.gaps = value
                    .split(',')
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| bad("comma-separated positive integers"))?;
                if c.gaps.is_empty() || c.gaps.contains(&0) {
                    return Err(bad("comma-separated positive integers"));
                }
            }
            "--seeds" => {
                c.seeds = positive(&value).ok_or_else(|| bad("a positive integer"))? as u64
            }
            "--steps" => c.steps = positive(&value).ok_or_else(|| bad("a positive integer"))?,
            "--hidden" => c.hidden = positive(&value).ok_or_else(|| bad("a positive integer"))?,
            "--batch" => c.batch = positive(&value).ok_or_else(|| bad("a positive integer"))?,
            "--threads" => c.threads = positive(&value).ok_or_else(|| bad("a positive integer"))?,
            "--lr" => {
                c.lr = value
                    .parse()
                    .ok()
                    .filter(|x: &f64| *x > 0.0 && x.is_finite())
                    .ok_or_else(|| bad("a positive number"))?
            }
            "--train-gaps" => {
                c.regimes = match value.as_str() {
                    "fixed" => vec![false],
                    "mixed" => vec![true],
                    "both" => vec![false, true],
                    _ => return Err(bad("fixed, mixed or both")),
                }
            }
            "--cells" => {
                c.cells = value
                    .split(',')
                    .map(|s| CellKind::parse(s.trim()))
                    .collect::<Option<_>>()
                    .ok_or_else(|| {
                        bad("a comma-separated list of rnn, lstm, gru, lstm:B, gru:B (B a gate bias)")
                    })?;
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(c)
}

fn positive(s: &str) -> Option<usize> {
    s.parse().ok().filter(|&n| n > 0)
}

/// A small deterministic generator (SplitMix64), so every run of the example is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A batch of `n` sequences of length `gap + 1`, one-hot encoded as `[n, gap + 1, VOCAB]`, and
/// their answers (the first symbol of each).
fn make_batch(rng: &mut Rng, n: usize, gap: usize) -> (Tensor<f32>, Vec<usize>) {
    let steps = gap + 1;
    let mut x = vec![0.0f32; n * steps * VOCAB];
    let mut answers = Vec::with_capacity(n);
    for b in 0..n {
        let answer = rng.below(ANSWERS);
        answers.push(answer);
        for t in 0..steps {
            let symbol = if t == 0 {
                answer
            } else {
                ANSWERS + rng.below(DISTRACTORS)
            };
            x[(b * steps + t) * VOCAB + symbol] = 1.0;
        }
    }
    match Tensor::from_vec(x, &[n, steps, VOCAB]) {
        Ok(t) => (t, answers),
        Err(e) => panic!("internal: {e}"),
    }
}

/// A recurrent cell and the initial bias of its memory gate.
#[derive(Clone, Copy, Debug, PartialEq)]
enum CellKind {
    /// A tanh RNN, PyTorch's initialisation.
    Rnn,
    /// An LSTM with this forget-gate bias (1 is Keras's default, `unit_forget_bias=True`).
    Lstm(f64),
    /// A GRU, PyTorch's initialisation, or with this bias on the update gate `z` (the gate that
    /// keeps the old state: `h' = (1 - z) n + z h`).
    Gru(Option<f64>),
}

impl CellKind {
    /// `rnn`, `lstm` (forget bias 1), `lstm:B`, `gru`, `gru:B`.
    fn parse(s: &str) -> Option<CellKind> {
        let (name, bias) = match s.split_once(':') {
            Some((n, b)) => (n, Some(b.parse::<f64>().ok().filter(|b| b.is_finite())?)),
            None => (s, None),
        };
        match (name.to_lowercase().as_str(), bias) {
            ("rnn", None) => Some(CellKind::Rnn),
            ("lstm", b) => Some(CellKind::Lstm(b.unwrap_or(1.0))),
            ("gru", b) => Some(CellKind::Gru(b)),
            _ => None,
        }
    }

    fn name(self) -> String {
        match self {
            CellKind::Rnn => "RNN".into(),
            CellKind::Lstm(1.0) => "LSTM".into(),
            CellKind::Lstm(b) => format!("LSTM b={b}"),
            CellKind::Gru(None) => "GRU".into(),
            CellKind::Gru(Some(b)) => format!("GRU b={b}"),
        }
    }

    /// The name as a JSON key: `rnn`, `lstm`, `lstm_b3`, `gru`, `gru_b3`.
    fn key(self) -> String {
        self.name().to_lowercase().replace(" b=", "_b")
    }

    fn describe(self) -> String {
        match self {
            CellKind::Rnn => "RNN: tanh, PyTorch init".into(),
            CellKind::Lstm(b) => format!("{}: forget-gate bias {b}", self.name()),
            CellKind::Gru(None) => {
                "GRU: PyTorch init (gate biases ~U(-1/sqrt(H), 1/sqrt(H)))".into()
            }
            CellKind::Gru(Some(b)) => format!("{}: update-gate bias {b}", self.name()),
        }
    }
}

/// The recurrent layer followed by a Dense head on its last hidden state.
enum Recurrent {
    Rnn(Rnn<f32>),
    Lstm(Lstm<f32>),
    Gru(Gru<f32>),
}

struct Model {
    recurrent: Recurrent,
    head: Dense<f32>,
}

impl Model {
    fn new(kind: CellKind, hidden: usize, seed: u64) -> Result<Model, Error> {
        let recurrent = match kind {
            CellKind::Rnn => Recurrent::Rnn(Rnn::new(VOCAB, hidden).with_seed(seed)),
            CellKind::Lstm(b) => {
                Recurrent::Lstm(Lstm::new(VOCAB, hidden).with_seed(seed).with_forget_bias(b))
            }
            CellKind::Gru(bias) => {
                let mut gru = Gru::new(VOCAB, hidden).with_seed(seed);
                if let Some(b) = bias {
                    set_update_gate_bias(&mut gru, hidden, b)?;
                }
                Recurrent::Gru(gru)
            }
        };
        Ok(Model {
            recurrent,
            head: Dense::new(hidden, ANSWERS).with_seed(seed + 1000),
        })
    }

    /// Logits `[B, ANSWERS]` from the final hidden state.
    fn forward<'t>(&self, x: Var<'t, f32>) -> Var<'t, f32> {
        let h_n = match &self.recurrent {
            Recurrent::Rnn(r) => r.forward_last(x, None),
            Recurrent::Lstm(r) => r.forward_last(x, None).h,
            Recurrent::Gru(r) => r.forward_last(x, None),
        };
        self.head.forward(h_n)
    }

    fn params(&self) -> Vec<&Param<f32>> {
        let mut p = match &self.recurrent {
            Recurrent::Rnn(r) => r.params(),
            Recurrent::Lstm(r) => r.params(),
            Recurrent::Gru(r) => r.params(),
        };
        p.extend(self.head.params());
        p
    }

    fn params_mut(&mut self) -> Vec<&mut Param<f32>> {
        let mut p = match &mut self.recurrent {
            Recurrent::Rnn(r) => r.params_mut(),
            Recurrent::Lstm(r) => r.params_mut(),
            Recurrent::Gru(r) => r.params_mut(),
        };
        p.extend(self.head.params_mut());
        p
    }
}

/// Sets the update-gate slice (rows `H..2H`, gate order r, z, n) of `bias_ih` to `value` and
/// that of `bias_hh` to 0, so `z` starts near `sigmoid(value)`: the GRU analogue of an LSTM's
/// forget-gate bias.
fn set_update_gate_bias(gru: &mut Gru<f32>, hidden: usize, value: f64) -> Result<(), Error> {
    for (name, p) in gru.named_params_mut() {
        let fill = match name.as_str() {
            "bias_ih_l0" => value as f32,
            "bias_hh_l0" => 0.0,
            _ => continue,
        };
        let mut v = p.value().to_vec();
        v[hidden..2 * hidden].fill(fill);
        let shape = p.shape().to_vec();
        p.set_value(Tensor::from_vec(v, &shape)?)?;
    }
    Ok(())
}

/// The outcome of one training run (one cell, one gap, one seed).
#[derive(Clone, Debug)]
struct RunResult {
    kind: CellKind,
    gap: usize,
    seed: u64,
    accuracy: f64,
    /// Steps taken until test accuracy first reached `SOLVED`, if it did.
    solved_at: Option<usize>,
    steps_run: usize,
    seconds: f64,
}

fn train_one(
    kind: CellKind,
    gap: usize,
    seed: u64,
    mixed: bool,
    c: &Config,
) -> Result<RunResult, Error> {
    let start = Instant::now();
    let mut model = Model::new(kind, c.hidden, seed)?;
    let mut opt = Adam::new(AdamConfig {
        lr: c.lr,
        ..Default::default()
    })?;
    // The same data for every cell: the stream depends only on the seed and the gap.
    let mut train_rng = Rng(seed.wrapping_mul(7919).wrapping_add(gap as u64));
    let mut test_rng = Rng(u64::MAX - seed.wrapping_mul(104_729).wrapping_add(gap as u64));
    let (test_x, test_y) = make_batch(&mut test_rng, TEST_SEQUENCES, gap);

    let mut tape = Tape::new();
    let mut accuracy = 0.0;
    let mut solved_at = None;
    let mut steps_run = 0;
    for step in 1..=c.steps {
        tape.reset();
        let train_gap = if mixed { 1 + train_rng.below(gap) } else { gap };
        let (x, y) = make_batch(&mut train_rng, c.batch, train_gap);
        let logits = model.forward(tape.constant(x));
        let grads = loss::cross_entropy(logits, &y).backward();
        let (clipped, _) = clip_grad_norm(&model.params(), &grads, 1.0)?;
        opt.step(&mut model.params_mut(), &clipped)?;
        steps_run = step;
        if step % EVAL_EVERY == 0 || step == c.steps {
            tape.reset();
            accuracy = tape.no_grad(|| {
                let logits = model.forward(tape.constant(test_x.clone()));
                loss::accuracy(&logits.value(), &test_y)
            });
            if accuracy >= SOLVED {
                solved_at = Some(step);
                break;
            }
        }
    }
    Ok(RunResult {
        kind,
        gap,
        seed,
        accuracy,
        solved_at,
        steps_run,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
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

/// What one training regime produced, for the JSON files.
struct Regime {
    /// `"fixed": {...}` per-cell, per-gap results.
    results_json: String,
    /// `"fixed": {"rnn": [means per gap], ...}`.
    means_json: String,
    seconds: f64,
}

fn run_regime(c: &Config, mixed: bool, out_dir: &str) -> Result<Regime, Error> {
    let regime = if mixed { "mixed" } else { "fixed" };
    println!(
        "\n== training on gaps {} (testing at exactly L) ==",
        if mixed {
            "drawn uniformly from 1..=L, one per batch"
        } else {
            "of exactly L"
        }
    );
    // Every (cell, gap, seed) run is independent: hand them to `threads` workers, longest
    // sequences first so the workers finish together.
    let mut jobs: Vec<(CellKind, usize, u64)> = Vec::new();
    for &gap in &c.gaps {
        for &kind in &c.cells {
            for seed in 0..c.seeds {
                jobs.push((kind, gap, seed));
            }
        }
    }
    jobs.sort_by_key(|j| std::cmp::Reverse(j.1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<RunResult>> = Mutex::new(Vec::new());
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..c.threads.min(jobs.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(kind, gap, seed)) = jobs.get(i) else {
                        break;
                    };
                    match train_one(kind, gap, seed, mixed, c) {
                        Ok(r) => {
                            println!(
                                "[{:>6.1}s] {:<8} gap {:>3} seed {}: test accuracy {:.3} after \
                                 {} steps{} ({:.1}s)",
                                start.elapsed().as_secs_f64(),
                                r.kind.name(),
                                r.gap,
                                r.seed,
                                r.accuracy,
                                r.steps_run,
                                if r.solved_at.is_some() {
                                    ", solved"
                                } else {
                                    ""
                                },
                                r.seconds
                            );
                            if let Ok(mut v) = results.lock() {
                                v.push(r);
                            }
                        }
                        Err(e) => {
                            if let Ok(mut slot) = first_error.lock() {
                                slot.get_or_insert(e);
                            }
                            break;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let total_seconds = start.elapsed().as_secs_f64();
    let results = results.into_inner().unwrap_or_default();

    // Accuracy per cell and gap, over seeds.
    println!(
        "\naccuracy on {TEST_SEQUENCES} held-out sequences (chance {:.2}); mean +- std over {} \
         seeds [min, max]; solved = reached {SOLVED} (steps to solve, mean over solved runs)",
        1.0 / ANSWERS as f64,
        c.seeds
    );
    println!(
        "{:<8} {:>5} {:>16} {:>15} {:>7} {:>12}",
        "cell", "gap", "accuracy", "[min, max]", "solved", "steps"
    );
    let mut chart = LineChart::new(
        &format!(
            "Remembering the first symbol: mean test accuracy of {} seeds, trained on {}",
            c.seeds,
            if mixed { "gaps 1..=L" } else { "gap L" }
        ),
        "gap L (distractor symbols between the answer and the question)",
        "test accuracy",
    );
    let mut json_cells = Vec::new();
    let mut json_line_cells = Vec::new();
    for &kind in &c.cells {
        let mut mean_points = Vec::new();
        let mut json_gaps = Vec::new();
        let mut means = Vec::new();
        for &gap in &c.gaps {
            let mut runs: Vec<&RunResult> = results
                .iter()
                .filter(|r| r.kind == kind && r.gap == gap)
                .collect();
            runs.sort_by_key(|r| r.seed);
            let accs: Vec<f64> = runs.iter().map(|r| r.accuracy).collect();
            let (mean, std) = mean_std(&accs);
            let min = accs.iter().copied().fold(f64::INFINITY, f64::min);
            let max = accs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let solved: Vec<usize> = runs.iter().filter_map(|r| r.solved_at).collect();
            let steps = if solved.is_empty() {
                "-".to_string()
            } else {
                format!(
                    "{:.0}",
                    solved.iter().sum::<usize>() as f64 / solved.len() as f64
                )
            };
            println!(
                "{:<8} {:>5} {:>8.3} +- {:.3} {:>15} {:>3}/{:<3} {:>12}",
                kind.name(),
                gap,
                mean,
                std,
                format!("[{min:.3}, {max:.3}]"),
                solved.len(),
                runs.len(),
                steps
            );
            mean_points.push((gap as f64, mean));
            means.push(mean);
            json_gaps.push(format!(
                "{{\"gap\":{gap},\"mean\":{mean:.4},\"std\":{std:.4},\"min\":{min:.4},\
                 \"max\":{max:.4},\"solved\":{},\"per_seed\":[{}],\"steps_to_solve\":[{}]}}",
                solved.len(),
                accs.iter()
                    .map(|a| format!("{a:.4}"))
                    .collect::<Vec<_>>()
                    .join(","),
                runs.iter()
                    .map(|r| r.solved_at.map_or("null".into(), |s| s.to_string()))
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
        chart = chart.series(&kind.name(), &mean_points);
        json_cells.push(format!("\"{}\":[{}]", kind.key(), json_gaps.join(",")));
        json_line_cells.push(format!(
            "\"{}\":[{}]",
            kind.key(),
            means
                .iter()
                .map(|m| format!("{m:.3}"))
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    let chance: Vec<(f64, f64)> = c
        .gaps
        .iter()
        .map(|&g| (g as f64, 1.0 / ANSWERS as f64))
        .collect();
    chart = chart.series("chance", &chance);

    let svg = if mixed {
        format!("{out_dir}/long_dependency_mixed.svg")
    } else {
        format!("{out_dir}/long_dependency.svg")
    };
    chart.save(&svg)?;
    println!("wrote {svg}");
    Ok(Regime {
        results_json: format!("\"{regime}\":{{{}}}", json_cells.join(",")),
        means_json: format!("\"{regime}\":{{{}}}", json_line_cells.join(",")),
        seconds: total_seconds,
    })
}

fn run(c: &Config) -> Result<(), Error> {
    println!(
        "Remember the first of {ANSWERS} symbols across a gap of L distractors; hidden {}, \
         Adam lr {}, clip 1, batch {}, at most {} steps, seeds {}, gaps {:?}",
        c.hidden, c.lr, c.batch, c.steps, c.seeds, c.gaps
    );
    for kind in &c.cells {
        println!("  {}", kind.describe());
    }
    let out_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/output");
    std::fs::create_dir_all(out_dir).map_err(|source| Error::Io {
        path: out_dir.into(),
        source,
    })?;
    let mut regimes = Vec::new();
    for &mixed in &c.regimes {
        regimes.push(run_regime(c, mixed, out_dir)?);
    }
    let total_seconds: f64 = regimes.iter().map(|r| r.seconds).sum();
    let gaps_json = c
        .gaps
        .iter()
        .map(|g| g.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let join = |f: &dyn Fn(&Regime) -> &str| regimes.iter().map(f).collect::<Vec<_>>().join(",");
    let summary = format!(
        "{{\"example\":\"long_dependency\",\"answers\":{ANSWERS},\"distractors\":{DISTRACTORS},\
         \"hidden\":{},\"batch\":{},\"lr\":{},\"max_steps\":{},\"seeds\":{},\
         \"test_sequences\":{TEST_SEQUENCES},\"solved_threshold\":{SOLVED},\"gaps\":[{gaps_json}],\
         \"results\":{{{}}},\"total_seconds\":{total_seconds:.1}}}\n",
        c.hidden,
        c.batch,
        c.lr,
        c.steps,
        c.seeds,
        join(&|r| &r.results_json)
    );
    let json_path = format!("{out_dir}/long_dependency.json");
    std::fs::write(&json_path, summary).map_err(|source| Error::Io {
        path: json_path.clone().into(),
        source,
    })?;
    println!("wrote {json_path}");
    println!(
        "{{\"example\":\"long_dependency\",\"gaps\":[{gaps_json}],\"seeds\":{},\"max_steps\":{},\
         \"hidden\":{},\"mean_accuracy\":{{{}}},\"total_seconds\":{total_seconds:.1}}}",
        c.seeds,
        c.steps,
        c.hidden,
        join(&|r| &r.means_json)
    );
    Ok(())
}
