//! One thread against two, step by step in one process: W2 (`mlp_mnist`) and W4 (`lstm`) training
//! steps with `set_thread_limit` switched between 1 and 2 before every step, so that both
//! settings see the same load from the rest of a shared machine. Separate runs (`compare
//! --threads 1,2`) time the settings seconds apart, and on a virtual machine whose neighbours
//! come and go that moves a median by more than the difference between the settings.
//!
//! ```sh
//! cargo run --release -p benches --bin threads_paired               # 10 s per workload
//! cargo run --release -p benches --bin threads_paired -- 30 lstm    # 30 s, W4 only
//! ```
//!
//! Each round runs one unmeasured step after switching (the helpers park or wake), then one
//! timed step, alternating the order of the settings from round to round. Prints, per workload,
//! the percentiles of each setting and of the ratio two / one within each round (`ratio_p50`,
//! `ratio_p75`, `slower_share`: the share of rounds where two threads took longer), one JSON line
//! each.

use std::hint::black_box;
use std::time::Instant;

use benches::{LstmStep, MlpStep};
use wengert::autograd::set_thread_limit;

fn percentile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn run(name: &str, secs: f64, step: &mut dyn FnMut() -> f32) {
    for _ in 0..5 {
        black_box(step());
    }
    let (mut one, mut two) = (Vec::new(), Vec::new());
    let start = Instant::now();
    let (mut round, mut next_report) = (0usize, 5.0);
    while start.elapsed().as_secs_f64() < secs || one.len() < 10 {
        let order = if round % 2 == 0 { [1, 2] } else { [2, 1] };
        for threads in order {
            set_thread_limit(threads).expect("1 and 2 are valid limits");
            black_box(step());
            let t = Instant::now();
            black_box(step());
            let us = t.elapsed().as_secs_f64() * 1e6;
            if threads == 1 {
                one.push(us)
            } else {
                two.push(us)
            }
        }
        round += 1;
        if start.elapsed().as_secs_f64() >= next_report {
            eprintln!("# {name}: {round} rounds in {next_report:.0} s");
            next_report += 5.0;
        }
    }
    set_thread_limit(usize::MAX).expect("a valid limit");
    let ratios: Vec<f64> = one.iter().zip(&two).map(|(a, b)| b / a).collect();
    let slower = ratios.iter().filter(|&&r| r > 1.0).count() as f64 / ratios.len() as f64;
    println!(
        "{{\"workload\": \"{name}\", \"rounds\": {}, \"one_p10_us\": {:.1}, \"one_p50_us\": {:.1}, \
         \"one_p90_us\": {:.1}, \"two_p10_us\": {:.1}, \"two_p50_us\": {:.1}, \"two_p90_us\": {:.1}, \
         \"ratio_p25\": {:.3}, \"ratio_p50\": {:.3}, \"ratio_p75\": {:.3}, \"slower_share\": {:.3}}}",
        ratios.len(),
        percentile(&one, 0.1),
        percentile(&one, 0.5),
        percentile(&one, 0.9),
        percentile(&two, 0.1),
        percentile(&two, 0.5),
        percentile(&two, 0.9),
        percentile(&ratios, 0.25),
        percentile(&ratios, 0.5),
        percentile(&ratios, 0.75),
        slower,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs = match args.first().map(|s| s.parse::<f64>()) {
        None => 10.0,
        Some(Ok(s)) if s > 0.0 => s,
        Some(_) => {
            eprintln!("usage: threads_paired [SECONDS] [mlp_mnist|lstm]...");
            std::process::exit(2);
        }
    };
    let only: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let wanted = |name: &str| only.is_empty() || only.contains(&name);
    if wengert::autograd::num_threads() < 2 {
        eprintln!("threads_paired: this machine runs one thread; nothing to compare");
        return;
    }
    if wanted("mlp_mnist") {
        let mut s = MlpStep::mnist();
        run("mlp_mnist", secs, &mut || s.step());
    }
    if wanted("lstm") {
        let mut s = LstmStep::new();
        run("lstm", secs, &mut || s.step());
    }
}
