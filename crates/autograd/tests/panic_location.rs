//! Shape errors are reported at the user's line (`#[track_caller]` through the op methods,
//! `Tape::apply` and the kernels), not inside the library. One test in this binary, since it
//! installs a panic hook.

use std::sync::{Arc, Mutex};

use wengert_autograd::{IndexTensor, Tape, Tensor, Var};

#[test]
fn shape_errors_point_at_the_calling_line() {
    let seen: Arc<Mutex<Vec<(String, u32)>>> = Arc::default();
    let sink = seen.clone();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(loc) = info.location() {
            sink.lock()
                .unwrap()
                .push((loc.file().to_string(), loc.line()));
        }
    }));
    let tape = Tape::<f32>::new();
    let a = tape.var(Tensor::zeros(&[32, 784]));
    let b = tape.var(Tensor::zeros(&[128, 10]));
    let c = tape.var(Tensor::zeros(&[3]));
    let idx = IndexTensor::from_vec(vec![99], &[1, 1]).unwrap();
    let m = Tensor::zeros(&[2]);
    // One case per line: each records the line it is written on.
    #[rustfmt::skip]
    let cases: Vec<(u32, Box<dyn Fn()>)> = vec![
        (line!(), Box::new(|| { let _ = a.matmul(b); })),
        (line!(), Box::new(|| { let _ = a + c; })),
        (line!(), Box::new(|| { let _ = a.sum_axis(5, false); })),
        (line!(), Box::new(|| { let _ = a.reshape(&[7]); })),
        (line!(), Box::new(|| { let _ = c.narrow(0, 2, 5); })),
        (line!(), Box::new(|| { let _ = a.softmax(2); })),
        (line!(), Box::new(|| { let _ = a.log_softmax(-3); })),
        (line!(), Box::new(|| { let _ = a.logsumexp(4, true); })),
        (line!(), Box::new(|| { let _ = a.max_axis(2, false); })),
        (line!(), Box::new(|| { let _ = a.mean_axis(9, false); })),
        (line!(), Box::new(|| { let _ = Var::concat(&[a, b], 0); })),
        (line!(), Box::new(|| { let _ = a.index_select(0, &[40]); })),
        (line!(), Box::new(|| { let _ = a.maximum(b); })),
        (line!(), Box::new(|| { let _ = a.clamp(1.0, 0.0); })),
        (line!(), Box::new(|| { let _ = a.permute(&[0, 0]); })),
        (line!(), Box::new(|| { let _ = a.broadcast_to(&[3, 3]); })),
        (line!(), Box::new(|| { let _ = a.sum_to(&[5]); })),
        (line!(), Box::new(|| { let _ = a.pad_axis(3, 1, 1); })),
        (line!(), Box::new(|| { let _ = a.transpose(0, 7); })),
        (line!(), Box::new(|| { let _ = a.split(1, &[1, 2]); })),
        (line!(), Box::new(|| { let _ = Var::stack(&[a, c], 0); })),
        (line!(), Box::new(|| { let _ = Var::where_(&m, a, c); })),
        (line!(), Box::new(|| { let _ = a.chunk(0, 1); })),
        (line!(), Box::new(|| { let _ = a.argmax(3, false); })),
        (line!(), Box::new(|| { let _ = a.gather(0, &idx); })),
        (line!(), Box::new(|| { let _ = a.index_add(1, &[900], 4); })),
    ];
    for (line, case) in &cases {
        assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(case)).is_err());
        let (file, got) = seen.lock().unwrap().pop().expect("the hook saw the panic");
        assert!(
            file.ends_with("panic_location.rs") && got == *line,
            "reported at {file}:{got}, want line {line}"
        );
    }
    let _ = std::panic::take_hook();
}
