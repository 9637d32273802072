//! A parameter of at least 32,768 elements is updated in pieces, one per thread
//! (`wengert_autograd::split_mut`). Every rule is elementwise, so the pieces must give exactly
//! the bits of updating the same values as small parameters that are never split.

use wengert_autograd::Tensor;
use wengert_nn::Param;
use wengert_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Momentum, MomentumConfig, MomentumForm, Optimizer,
    RmsProp, RmsPropConfig, Sgd, SgdConfig,
};

/// Above the split threshold, not a multiple of 64 (the pieces' granularity) or of 8 (lanes).
const N: usize = 70_001;

/// Below the split threshold: the reference updates these pieces on the calling thread.
const PIECE: usize = 1_000;

fn values(seed: usize, scale: f32) -> Vec<f32> {
    (0..N)
        .map(|i| (((i * 37 + seed * 11) % 101) as f32 - 50.0) * scale)
        .collect()
}

fn tensor(v: &[f32]) -> Tensor<f32> {
    Tensor::from_vec(v.to_vec(), &[v.len()]).expect("the data fits the shape")
}

/// Three steps on one `[N]` parameter against the same three steps on `[PIECE]` parameters
/// holding the same values (each with its own fresh optimizer, so its own state).
fn same_bits_split_and_whole(name: &str, make: &dyn Fn() -> Box<dyn Optimizer<f32>>) {
    let p0 = values(1, 1e-2);
    let grads: Vec<Vec<f32>> = (0..3).map(|s| values(s + 2, 1e-3)).collect();
    let mut whole = Param::new(tensor(&p0));
    let mut opt = make();
    for g in &grads {
        opt.update(&mut whole, &tensor(g))
            .expect("the gradient has the parameter's shape");
    }
    let whole = whole.value().to_vec();
    let mut want = Vec::with_capacity(N);
    for start in (0..N).step_by(PIECE) {
        let end = (start + PIECE).min(N);
        let mut piece = Param::new(tensor(&p0[start..end]));
        let mut opt = make();
        for g in &grads {
            opt.update(&mut piece, &tensor(&g[start..end]))
                .expect("the gradient has the piece's shape");
        }
        want.extend(piece.value().to_vec());
    }
    for (i, (a, b)) in whole.iter().zip(&want).enumerate() {
        assert_eq!(a.to_bits(), b.to_bits(), "{name}: element {i}: {a} vs {b}");
    }
    // The update moved the parameter: the comparison is not between two copies of p0.
    assert!(whole.iter().zip(&p0).filter(|(a, b)| a != b).count() > N / 2);
}

#[test]
fn every_optimizer_gives_the_same_bits_split_across_threads() {
    same_bits_split_and_whole("Sgd", &|| {
        Box::new(
            Sgd::new(SgdConfig {
                lr: 0.1,
                weight_decay: 0.01,
            })
            .expect("valid config"),
        )
    });
    for form in [
        MomentumForm::HeavyBall,
        MomentumForm::Nesterov,
        MomentumForm::Ema,
    ] {
        same_bits_split_and_whole(&format!("Momentum {form:?}"), &|| {
            Box::new(
                Momentum::new(MomentumConfig {
                    lr: 0.1,
                    form,
                    weight_decay: 0.01,
                    ..Default::default()
                })
                .expect("valid config"),
            )
        });
    }
    same_bits_split_and_whole("RmsProp", &|| {
        Box::new(
            RmsProp::new(RmsPropConfig {
                weight_decay: 0.01,
                ..Default::default()
            })
            .expect("valid config"),
        )
    });
    same_bits_split_and_whole("Adam", &|| {
        Box::new(
            Adam::new(AdamConfig {
                weight_decay: 0.01,
                ..Default::default()
            })
            .expect("valid config"),
        )
    });
    same_bits_split_and_whole("AdamW", &|| {
        Box::new(AdamW::new(AdamWConfig::default()).expect("valid config"))
    });
}
