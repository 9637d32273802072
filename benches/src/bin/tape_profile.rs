//! A small driver for profilers (valgrind --tool=callgrind, perf): runs the W5 chains a given
//! number of times, with no benchmark harness around them, so the profile shows only the tape.
//!
//! `cargo build --release -p benches --bin tape_profile`, then e.g.
//! `valgrind --tool=callgrind target/release/tape_profile affine 200`
//! (arguments: `affine` or `tanh` and the number of 1000-op chains, default `affine 200`; or
//! `digits`, `mnist` or `lstm` and the number of W3, W2 or W4 training steps; or `matmul1024` and
//! the number of W1 forward + backward calls at n = 1024).

use std::hint::black_box;

use benches::{LstmStep, MlpStep, affine_chain, chain_input, tanh_chain};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("affine", String::as_str);
    let reps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let step: Option<Box<dyn FnMut() -> f32>> = match which {
        "digits" => Some(Box::new({
            let mut s = MlpStep::digits();
            move || s.step()
        })),
        "mnist" => Some(Box::new({
            let mut s = MlpStep::mnist();
            move || s.step()
        })),
        "lstm" => Some(Box::new({
            let mut s = LstmStep::new();
            move || s.step()
        })),
        "matmul1024" => Some(Box::new({
            let (a, b) = benches::matmul_inputs(1024);
            move || {
                let (da, db) = benches::matmul_fwdbwd(&a, &b);
                da.data()[0] + db.data()[0]
            }
        })),
        _ => None,
    };
    if let Some(mut step) = step {
        let mut acc = 0.0;
        for _ in 0..reps {
            acc += black_box(step());
        }
        println!("{which}: {reps} training steps, sum of losses {acc}");
        return;
    }
    let x0 = chain_input();
    let chain = match which {
        "affine" => affine_chain,
        "tanh" => tanh_chain,
        other => {
            eprintln!(
                "tape_profile: unknown workload `{other}`; use affine, tanh, digits, mnist or lstm"
            );
            std::process::exit(2);
        }
    };
    let mut acc = 0.0;
    for _ in 0..reps {
        acc += black_box(chain(black_box(&x0)));
    }
    println!("{which}: {reps} chains, sum of input gradients {acc}");
}
