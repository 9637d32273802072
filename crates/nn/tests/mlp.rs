//! End-to-end use of the layers: a Keras-style MLP trains, saves and loads.

use wengert_autograd::{Tape, Tensor};
use wengert_nn::{Dense, Dropout, Flatten, Module, Relu, Sequential, load, loss, save};

fn model(seed: u64) -> Sequential<f64> {
    Sequential::new()
        .add(Flatten)
        .add(Dense::new(4, 16).with_activation(Relu).with_seed(seed))
        .add(Dropout::new(0.9).unwrap().with_seed(seed))
        .add(Dense::new(16, 3).with_seed(seed + 1))
}

/// Three separable classes: the label is the index of the largest of the first three inputs.
fn data() -> (Tensor<f64>, Vec<usize>) {
    let x = Tensor::<f64>::randn(&[60, 2, 2], 42);
    let labels = (0..60)
        .map(|i| {
            let row = &x.data()[i * 4..i * 4 + 3];
            (0..3)
                .max_by(|&a, &b| row[a].partial_cmp(&row[b]).unwrap())
                .unwrap()
        })
        .collect();
    (x, labels)
}

#[test]
fn plain_gradient_descent_lowers_the_loss_and_raises_accuracy() {
    let mut m = model(1);
    let (x, labels) = data();
    let eval = |m: &Sequential<f64>| {
        let tape = Tape::new();
        let logits = m.forward(tape.var(x.clone()));
        let l = loss::cross_entropy(logits, &labels).item();
        (l, loss::accuracy(&logits.value(), &labels))
    };
    m.set_training(false);
    let (l0, a0) = eval(&m);
    m.set_training(true);
    for _ in 0..300 {
        let tape = Tape::new();
        let logits = m.forward(tape.var(x.clone()));
        let l = loss::cross_entropy(logits, &labels) + loss::l2_penalty(&tape, &m.params()) * 1e-4;
        let g = l.backward();
        let new: Vec<Tensor<f64>> = m
            .params()
            .iter()
            .map(|p| p.value().zip_map(&g[*p], "sgd", |w, d| w - 0.2 * d))
            .collect();
        for (p, v) in m.params_mut().into_iter().zip(new) {
            p.set_value(v).unwrap();
        }
    }
    m.set_training(false);
    let (l1, a1) = eval(&m);
    assert!(l1 < 0.5 * l0, "loss {l0} -> {l1}");
    assert!(a1 > 0.9 && a1 > a0, "accuracy {a0} -> {a1}");
}

#[test]
fn save_and_load_round_trip_with_sequential_names() {
    let dir = std::env::temp_dir().join(format!("wengert-nn-mlp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mlp.safetensors");
    let a = model(7);
    save(&a, &path).unwrap();
    let names: Vec<String> = wengert_nn::weights::read_tensors::<f64>(&path)
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["1.bias", "1.weight", "3.bias", "3.weight"]);
    let mut b = model(100);
    assert_ne!(b.params()[0].value(), a.params()[0].value());
    load(&mut b, &path).unwrap();
    for (p, q) in a.params().iter().zip(b.params()) {
        assert_eq!(p.value(), q.value());
    }
    // a model of another shape is refused, naming the parameter
    let mut c = Sequential::<f64>::new().add(Flatten).add(Dense::new(4, 8));
    let err = load(&mut c, &path).unwrap_err().to_string();
    assert!(err.contains("1.weight"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
