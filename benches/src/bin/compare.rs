//! The comparison runner: runs the standard workloads W1-W5 of `../shared/bench/WORKLOADS.md` and
//! prints one JSON line per workload and thread count, with the field and workload names of
//! `../shared/bench/pytorch_workloads.py`, so the two outputs join line by line
//! (`benches/compare.sh` does that and prints the ratio table).
//!
//! ```sh
//! cargo run --release -p benches --bin compare                      # threads 1 and 2
//! cargo run --release -p benches --bin compare -- --threads 1,2,4 --min-time 1
//! cargo run --release -p benches --bin compare -- --only mlp_mnist,lstm
//! ```
//!
//! Fields: `peer` (`wengert-<version>`), `workload`, `threads`, `median_us`, `min_us`, `iters`,
//! and `gflops` for matmul, `ns_per_op` for the tape chains, `max_rss_kib` for the memory run.
//! Workloads (PyTorch's names, plus ours-only ones marked *):
//!
//! - W1 `matmul_fwd_{64,256,1024}`, `matmul_fwdbwd_{64,256,1024}` (`L = sum(A @ B)`, backward
//!   for A and B); * `sgemm_fwd_n`, `sgemm_fwdbwd_n`: raw `matrixmultiply::sgemm` on the same
//!   matrices (the GEMM limit the W1 target is relative to);
//! - W2 `mlp_mnist`, W3 `mlp_digits`: one training step ([`benches::MlpStep`]);
//! - W4 `lstm`: one training step of `wengert_nn::Lstm` + head ([`benches::LstmStep`]); the layer
//!   is built from primitive ops, so it compares with both PyTorch's `lstm` (fused `nn.LSTM`) and
//!   `lstm_primitive`;
//! - W5 `tape_overhead_1000ops`: the affine chain; * `tape_tanh_1000ops`: 1000 `tanh`;
//! - * `lstm_100steps_maxrss`: 100 W4 steps in a fresh process, its peak resident memory.
//!
//! Each thread count runs in a child process (this binary with `--worker N`), because rayon's
//! global pool and the GEMM's thread count can be set only once per process
//! ([`wengert::autograd::set_num_threads`]). Timing is `pytorch_workloads.py`'s: 5 warm-up calls,
//! then single calls until `--min-time` seconds (default 2) and at least 10 calls.

use std::hint::black_box;
use std::process::{Command, exit};
use std::time::{Duration, Instant};

use benches::{
    CHAIN_OPS, LstmStep, MlpStep, RawGemm, affine_chain, chain_input, matmul_flops, matmul_fwd,
    matmul_fwdbwd, matmul_inputs, tanh_chain,
};

/// A W5 chain: input tensor to the input's gradient.
type Chain = fn(&wengert::prelude::Tensor<f32>) -> f32;

const USAGE: &str = "usage: compare [--threads 1,2] [--min-time SECONDS] [--only NAME,NAME]";

struct Args {
    threads: Vec<usize>,
    min_time: f64,
    only: Option<Vec<String>>,
    worker: Option<usize>,
}

fn parse_args() -> Args {
    let mut a = Args {
        threads: vec![1, 2],
        min_time: 2.0,
        only: None,
        worker: None,
    };
    let mut it = std::env::args().skip(1);
    let fail = |msg: &str| -> ! {
        eprintln!("compare: {msg}\n{USAGE}");
        exit(2)
    };
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| fail(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--threads" => {
                a.threads = value()
                    .split(',')
                    .map(|s| match s.trim().parse() {
                        Ok(n) if n >= 1 => n,
                        _ => fail(&format!("bad thread count `{s}`")),
                    })
                    .collect()
            }
            "--min-time" => {
                a.min_time = value()
                    .parse()
                    .unwrap_or_else(|_| fail("--min-time needs a number of seconds"))
            }
            "--only" => a.only = Some(value().split(',').map(str::to_owned).collect()),
            "--worker" => {
                a.worker = Some(
                    value()
                        .parse()
                        .unwrap_or_else(|_| fail("--worker needs a thread count")),
                )
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                exit(0)
            }
            other => fail(&format!("unknown argument `{other}`")),
        }
    }
    a
}

/// `pytorch_workloads.py`'s `timeit`: 5 warm-up calls, then single calls until `min_time` has
/// passed and at least 10 were timed. Returns (median us, min us, iterations).
fn timeit<R>(min_time: f64, mut f: impl FnMut() -> R) -> (f64, f64, usize) {
    for _ in 0..5 {
        black_box(f());
    }
    let end = Instant::now() + Duration::from_secs_f64(min_time);
    let mut ts = Vec::new();
    while Instant::now() < end || ts.len() < 10 {
        let t = Instant::now();
        black_box(f());
        ts.push(t.elapsed().as_secs_f64() * 1e6);
    }
    ts.sort_by(f64::total_cmp);
    (ts[ts.len() / 2], ts[0], ts.len())
}

/// One JSON line (the names are plain identifiers, no escaping needed).
fn out(workload: &str, threads: usize, (med, min, iters): (f64, f64, usize), extra: &str) {
    println!(
        "{{\"peer\": \"wengert-{}\", \"workload\": \"{workload}\", \"threads\": {threads}, \
         \"median_us\": {med:.3}, \"min_us\": {min:.3}, \"iters\": {iters}{extra}}}",
        env!("CARGO_PKG_VERSION")
    );
}

/// Peak resident set size of this process, from `/proc/self/status` (Linux), in KiB.
/// A `/proc/self/status` field in KiB: `VmHWM` (peak resident memory) or `VmRSS` (current).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn worker(threads: usize, min_time: f64, only: &Option<Vec<String>>) {
    if let Err(e) = wengert::autograd::set_num_threads(threads) {
        eprintln!("compare: {e}");
        exit(1);
    }
    let wanted = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|w| w == name));
    let t = min_time;
    let rss_run = only
        .as_ref()
        .is_some_and(|o| o.iter().any(|w| w == "lstm_100steps_maxrss"));
    if rss_run {
        // Alone in its own process (see `main`): the peak is this workload's.
        let mut lstm = LstmStep::new();
        let before = status_kib("VmRSS:");
        let start = Instant::now();
        for _ in 0..100 {
            black_box(lstm.step());
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / 100.0;
        // As benches/pytorch_lstm_maxrss.py: the peak, the resident memory before the first
        // step, and the growth between them.
        let rss = match (status_kib("VmHWM:"), before) {
            (Some(peak), Some(before)) => format!(
                ", \"max_rss_kib\": {peak}, \"rss_before_steps_kib\": {before}, \
                 \"max_rss_growth_kib\": {}",
                peak.saturating_sub(before)
            ),
            _ => String::new(),
        };
        out("lstm_100steps_maxrss", threads, (us, us, 100), &rss);
        return;
    }
    for n in [64, 256, 1024] {
        let (a, b) = matmul_inputs(n);
        let mut raw = RawGemm::new(&a, &b);
        let flops = matmul_flops(n) as f64;
        let gf = |r: (f64, f64, usize), products: f64| {
            format!(", \"gflops\": {:.2}", products * flops / r.0 / 1e3)
        };
        for (name, products) in [("fwd", 1.0), ("fwdbwd", 3.0)] {
            let ours = format!("matmul_{name}_{n}");
            if wanted(&ours) {
                let r = if products == 1.0 {
                    timeit(t, || matmul_fwd(&a, &b))
                } else {
                    timeit(t, || matmul_fwdbwd(&a, &b))
                };
                out(&ours, threads, r, &gf(r, products));
            }
            let raw_name = format!("sgemm_{name}_{n}");
            if wanted(&raw_name) {
                let r = if products == 1.0 {
                    timeit(t, || raw.forward())
                } else {
                    timeit(t, || raw.forward_backward())
                };
                out(&raw_name, threads, r, &gf(r, products));
            }
        }
    }
    for (name, mut step) in [
        ("mlp_mnist", MlpStep::mnist()),
        ("mlp_digits", MlpStep::digits()),
    ] {
        if wanted(name) {
            out(name, threads, timeit(t, || step.step()), "");
        }
    }
    if wanted("lstm") {
        let mut lstm = LstmStep::new();
        out("lstm", threads, timeit(t, || lstm.step()), "");
    }
    let x0 = chain_input();
    let chains: [(&str, Chain); 2] = [
        ("tape_overhead_1000ops", affine_chain),
        ("tape_tanh_1000ops", tanh_chain),
    ];
    for (name, chain) in chains {
        if wanted(name) {
            let r = timeit(t, || chain(&x0));
            let per_op = format!(", \"ns_per_op\": {:.1}", r.0 * 1e3 / CHAIN_OPS as f64);
            out(name, threads, r, &per_op);
        }
    }
}

fn main() {
    let args = parse_args();
    if let Some(threads) = args.worker {
        worker(threads, args.min_time, &args.only);
        return;
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| {
        eprintln!("compare: cannot find this executable to run the workers: {e}");
        exit(1)
    });
    let run = |threads: usize, only: Option<String>| {
        let mut cmd = Command::new(&exe);
        cmd.args(["--worker", &threads.to_string()])
            .args(["--min-time", &args.min_time.to_string()]);
        if let Some(o) = only {
            cmd.args(["--only", &o]);
        }
        match cmd.status() {
            Ok(s) if s.success() => {}
            Ok(s) => {
                eprintln!("compare: the worker for {threads} thread(s) failed: {s}");
                exit(1)
            }
            Err(e) => {
                eprintln!("compare: cannot run the worker: {e}");
                exit(1)
            }
        }
    };
    let rss_wanted = args
        .only
        .as_ref()
        .is_none_or(|o| o.iter().any(|w| w == "lstm_100steps_maxrss"));
    for &threads in &args.threads {
        let timed: Option<Vec<&String>> = args.only.as_ref().map(|o| {
            o.iter()
                .filter(|w| w.as_str() != "lstm_100steps_maxrss")
                .collect()
        });
        match timed {
            Some(ws) if ws.is_empty() => {}
            Some(ws) => run(
                threads,
                Some(ws.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")),
            ),
            None => run(threads, Some(ALL.join(","))),
        }
        if rss_wanted {
            run(threads, Some("lstm_100steps_maxrss".into()));
        }
    }
}

/// Every timed workload (all but the memory run, which gets its own process).
const ALL: [&str; 17] = [
    "matmul_fwd_64",
    "sgemm_fwd_64",
    "matmul_fwdbwd_64",
    "sgemm_fwdbwd_64",
    "matmul_fwd_256",
    "sgemm_fwd_256",
    "matmul_fwdbwd_256",
    "sgemm_fwdbwd_256",
    "matmul_fwd_1024",
    "sgemm_fwd_1024",
    "matmul_fwdbwd_1024",
    "sgemm_fwdbwd_1024",
    "mlp_mnist",
    "mlp_digits",
    "lstm",
    "tape_overhead_1000ops",
    "tape_tanh_1000ops",
];
