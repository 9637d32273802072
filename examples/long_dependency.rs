//! Can a recurrent network remember the first thing it saw? ("I grew up in Korea ... <many
//! words> ... I speak fluent ___"). Each sequence starts with one of 4 answer symbols, followed
//! by a gap of L random distractor symbols (4 more symbols, never an answer); after the last
//! step a Dense head on the final hidden state must name the first symbol (chance: 25 %). The
//! claim to test: a plain tanh RNN cannot carry the information across long gaps, an LSTM (and a
//! GRU) can. The example trains `Rnn`, `Lstm` and `Gru` layers of the same hidden size, with the
//! same optimizer (Adam, gradient norm clipped at 1), the same batch size and the same step
//! budget, for every gap and several seeds, on freshly sampled batches; it measures accuracy on
//! 512 held-out sequences every 50 steps and stops a run early once it reaches 99 %. It prints a
//! table of accuracy per cell and gap (mean, spread over seeds, runs solved, steps to solve),
//! writes `examples/output/long_dependency.svg` (accuracy vs gap) and
//! `examples/output/long_dependency.json`, and ends with one JSON line.
//!
//! Run: `cargo run --release -p examples --example long_dependency`
//! (flags: `--gaps 5,10,20,40,80 --seeds 3 --steps 1500 --hidden 32 --batch 32 --lr 0.005
//! --threads 2 --forget-bias 1`).

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
const TEST_SEQUENCES: usize = 512;
const EVAL_EVERY: usize = 50;
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
    forget_bias: f64,
    cells: Vec<CellKind>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gaps: vec![5, 10, 20, 40, 80],
            seeds: 3,
            steps: 1500,
            hidden: 32,
            batch: 32,
            lr: 5e-3,
            threads: 2,
            forget_bias: 1.0,
            cells: CellKind::ALL.to_vec(),
        }
    }
}

const USAGE: &str = "usage: long_dependency [--gaps 5,10,20,40,80] [--seeds N] [--steps N] \
                     [--hidden N] [--batch N] [--lr X] [--threads N] [--forget-bias X] [--cells rnn,lstm,gru]";

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
            "--forget-bias" => {
                c.forget_bias = value
                    .parse()
                    .ok()
                    .filter(|x: &f64| x.is_finite())
                    .ok_or_else(|| bad("a number"))?
            }
            "--cells" => {
                c.cells = value
                    .split(',')
                    .map(|s| match s.trim().to_lowercase().as_str() {
                        "rnn" => Ok(CellKind::Rnn),
                        "lstm" => Ok(CellKind::Lstm),
                        "gru" => Ok(CellKind::Gru),
                        _ => Err(()),
                    })
                    .collect::<Result<_, _>>()
                    .map_err(|_| bad("a comma-separated list of rnn, lstm, gru"))?;
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CellKind {
    Rnn,
    Lstm,
    Gru,
}

impl CellKind {
    const ALL: [CellKind; 3] = [CellKind::Rnn, CellKind::Lstm, CellKind::Gru];
    fn name(self) -> &'static str {
        match self {
            CellKind::Rnn => "RNN",
            CellKind::Lstm => "LSTM",
            CellKind::Gru => "GRU",
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
    fn new(kind: CellKind, hidden: usize, seed: u64, forget_bias: f64) -> Model {
        let recurrent = match kind {
            CellKind::Rnn => Recurrent::Rnn(Rnn::new(VOCAB, hidden).with_seed(seed)),
            CellKind::Lstm => Recurrent::Lstm(
                Lstm::new(VOCAB, hidden)
                    .with_seed(seed)
                    .with_forget_bias(forget_bias),
            ),
            CellKind::Gru => Recurrent::Gru(Gru::new(VOCAB, hidden).with_seed(seed)),
        };
        Model {
            recurrent,
            head: Dense::new(hidden, ANSWERS).with_seed(seed + 1000),
        }
    }

    /// Logits `[B, ANSWERS]` from the final hidden state.
    fn forward<'t>(&self, x: Var<'t, f32>) -> Var<'t, f32> {
        let h_n = match &self.recurrent {
            Recurrent::Rnn(r) => r.forward_seq(x, None).h_n,
            Recurrent::Lstm(r) => r.forward_seq(x, None).h_n,
            Recurrent::Gru(r) => r.forward_seq(x, None).h_n,
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

fn train_one(kind: CellKind, gap: usize, seed: u64, c: &Config) -> Result<RunResult, Error> {
    let start = Instant::now();
    let mut model = Model::new(kind, c.hidden, seed, c.forget_bias);
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
        let (x, y) = make_batch(&mut train_rng, c.batch, gap);
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

fn run(c: &Config) -> Result<(), Error> {
    println!(
        "Remember the first of {} symbols across a gap of L distractors; cells RNN/LSTM/GRU, \
         hidden {}, Adam lr {}, batch {}, at most {} steps, seeds {}, gaps {:?}, LSTM forget \
         bias {}",
        ANSWERS, c.hidden, c.lr, c.batch, c.steps, c.seeds, c.gaps, c.forget_bias
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
                    match train_one(kind, gap, seed, c) {
                        Ok(r) => {
                            println!(
                                "[{:>6.1}s] {:<4} gap {:>3} seed {}: test accuracy {:.3} after \
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
        "{:<5} {:>5} {:>16} {:>15} {:>7} {:>12}",
        "cell", "gap", "accuracy", "[min, max]", "solved", "steps"
    );
    let mut chart = LineChart::new(
        "Remembering the first symbol across a gap (mean over seeds)",
        "gap L (distractor symbols between the answer and the question)",
        "test accuracy",
    );
    let mut json_cells = Vec::new();
    let mut json_line_cells = Vec::new();
    for &kind in &c.cells {
        let mut mean_points = Vec::new();
        let mut min_points = Vec::new();
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
                "{:<5} {:>5} {:>8.3} +- {:.3} {:>15} {:>3}/{:<3} {:>12}",
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
            min_points.push((gap as f64, min));
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
        chart = chart
            .series(&format!("{} mean", kind.name()), &mean_points)
            .series(&format!("{} worst seed", kind.name()), &min_points);
        json_cells.push(format!(
            "\"{}\":[{}]",
            kind.name().to_lowercase(),
            json_gaps.join(",")
        ));
        json_line_cells.push(format!(
            "\"{}\":[{}]",
            kind.name().to_lowercase(),
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

    let out_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/output");
    std::fs::create_dir_all(out_dir).map_err(|source| Error::Io {
        path: out_dir.into(),
        source,
    })?;
    let svg = format!("{out_dir}/long_dependency.svg");
    chart.save(&svg)?;
    let gaps_json = c
        .gaps
        .iter()
        .map(|g| g.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let summary = format!(
        "{{\"example\":\"long_dependency\",\"answers\":{ANSWERS},\"distractors\":{DISTRACTORS},\
         \"hidden\":{},\"batch\":{},\"lr\":{},\"max_steps\":{},\"seeds\":{},\"forget_bias\":{},\
         \"test_sequences\":{TEST_SEQUENCES},\"solved_threshold\":{SOLVED},\"gaps\":[{gaps_json}],\
         \"results\":{{{}}},\"total_seconds\":{total_seconds:.1}}}\n",
        c.hidden,
        c.batch,
        c.lr,
        c.steps,
        c.seeds,
        c.forget_bias,
        json_cells.join(",")
    );
    let json_path = format!("{out_dir}/long_dependency.json");
    std::fs::write(&json_path, summary).map_err(|source| Error::Io {
        path: json_path.clone().into(),
        source,
    })?;
    println!("\nwrote {svg} and {json_path}");
    println!(
        "{{\"example\":\"long_dependency\",\"gaps\":[{gaps_json}],\"seeds\":{},\"max_steps\":{},\
         \"hidden\":{},\"mean_accuracy\":{{{}}},\"total_seconds\":{total_seconds:.1}}}",
        c.seeds,
        c.steps,
        c.hidden,
        json_line_cells.join(",")
    );
    Ok(())
}
