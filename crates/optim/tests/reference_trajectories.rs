//! Replays PyTorch's optimizer trajectories (`optim_trajectories.json`, computed in f64): from
//! `p0`, each case applies the recorded gradient sequence and must match PyTorch's parameters
//! after every step to 1e-10 relative. The fixture directory is `$WENGERT_REFERENCE_DIR` if set,
//! else `tests/fixtures/reference`; the number of parameters and steps is read from the file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use wengert_autograd::Tensor;
use wengert_nn::Param;
use wengert_optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Momentum, MomentumConfig, MomentumForm, Optimizer,
    ParamGrads, RmsProp, RmsPropConfig, Sgd, SgdConfig, clip_grad_norm,
};

/// Relative tolerance per element (the README says 1e-12 is achievable).
const RTOL: f64 = 1e-10;

// ---- a minimal JSON reader (objects, arrays, numbers, strings, literals) ----

#[derive(Debug, Clone)]
enum Json {
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
    Lit,
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) {
        self.ws();
        assert_eq!(
            self.s[self.i] as char, c as char,
            "JSON: at byte {}",
            self.i
        );
        self.i += 1;
    }

    fn value(&mut self) -> Json {
        self.ws();
        match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.s[self.i] == b'}' {
                    self.i += 1;
                    return Json::Obj(m);
                }
                loop {
                    let Json::Str(k) = self.value() else {
                        panic!("JSON: key is not a string at byte {}", self.i)
                    };
                    self.expect(b':');
                    let v = self.value();
                    m.insert(k, v);
                    self.ws();
                    self.i += 1;
                    if self.s[self.i - 1] == b'}' {
                        return Json::Obj(m);
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s[self.i] == b']' {
                    self.i += 1;
                    return Json::Arr(v);
                }
                loop {
                    v.push(self.value());
                    self.ws();
                    self.i += 1;
                    if self.s[self.i - 1] == b']' {
                        return Json::Arr(v);
                    }
                }
            }
            b'"' => {
                self.i += 1;
                let start = self.i;
                while self.s[self.i] != b'"' {
                    self.i += if self.s[self.i] == b'\\' { 2 } else { 1 };
                }
                self.i += 1;
                Json::Str(String::from_utf8_lossy(&self.s[start..self.i - 1]).into_owned())
            }
            b't' | b'f' | b'n' => {
                while self.i < self.s.len() && self.s[self.i].is_ascii_alphabetic() {
                    self.i += 1;
                }
                Json::Lit
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len() && b"+-0123456789.eE".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap();
                Json::Num(
                    text.parse()
                        .unwrap_or_else(|e| panic!("JSON number {text}: {e}")),
                )
            }
        }
    }
}

impl Json {
    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(m) => m.get(key).unwrap_or_else(|| panic!("JSON: no key `{key}`")),
            _ => panic!("JSON: not an object looking up `{key}`"),
        }
    }

    fn vec(&self) -> Vec<f64> {
        match self {
            Json::Arr(a) => a
                .iter()
                .map(|x| match x {
                    Json::Num(v) => *v,
                    other => panic!("JSON: expected a number, got {other:?}"),
                })
                .collect(),
            _ => panic!("JSON: expected an array of numbers"),
        }
    }

    fn rows(&self) -> Vec<Vec<f64>> {
        match self {
            Json::Arr(a) => a.iter().map(Json::vec).collect(),
            _ => panic!("JSON: expected an array of arrays"),
        }
    }
}

// ---- fixture ----

struct Fixture {
    p0: Vec<f64>,
    grads: Vec<Vec<f64>>,
    cases: Json,
}

fn fixture() -> Fixture {
    let dir = std::env::var_os("WENGERT_REFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/reference"
            ))
        });
    let path = dir.join("optim_trajectories.json");
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json = Parser { s: &text, i: 0 }.value();
    let p0 = json.get("p0").vec();
    let grads = json.get("grads").rows();
    assert!(!grads.is_empty());
    for g in &grads {
        assert_eq!(g.len(), p0.len(), "every gradient has p0's length");
    }
    Fixture {
        p0,
        grads,
        cases: json.get("cases").clone(),
    }
}

fn t(v: &[f64]) -> Tensor<f64> {
    Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap()
}

/// Runs `case` with `opt` (optionally clipping each gradient to global norm `clip`) and checks
/// every step against PyTorch.
fn replay(case: &str, mut opt: impl Optimizer<f64>, clip: Option<f64>) {
    let f = fixture();
    let entry = f.cases.get(case);
    let traj = entry.get("traj").rows();
    let Json::Str(desc) = entry.get("desc") else {
        panic!("{case}: no desc")
    };
    assert_eq!(traj.len(), f.grads.len(), "{case}: one row per step");
    let mut p = Param::new(t(&f.p0));
    let mut worst = 0.0f64;
    for (step, (g, want)) in f.grads.iter().zip(&traj).enumerate() {
        let mut grads = ParamGrads::new();
        grads.insert(&p, t(g));
        let grads = match clip {
            Some(max) => clip_grad_norm(&[&p], &grads, max).unwrap().0,
            None => grads,
        };
        opt.step(&mut [&mut p], &grads).unwrap();
        for (k, (&got, &exp)) in p.value().data().iter().zip(want).enumerate() {
            let rel = (got - exp).abs() / exp.abs();
            worst = worst.max(rel);
            assert!(
                rel <= RTOL,
                "{case} ({desc}): step {} element {k}: got {got:e}, PyTorch {exp:e} \
                 (relative error {rel:e})",
                step + 1
            );
        }
    }
    eprintln!(
        "{case}: {} steps, worst relative error {worst:e}",
        traj.len()
    );
}

#[test]
fn reference_sgd() {
    let opt = Sgd::new(SgdConfig {
        lr: 0.1,
        weight_decay: 0.0,
    })
    .unwrap();
    replay("sgd", opt, None);
}

#[test]
fn reference_sgd_weight_decay() {
    let opt = Sgd::new(SgdConfig {
        lr: 0.1,
        weight_decay: 0.01,
    })
    .unwrap();
    replay("sgd_weight_decay", opt, None);
}

fn momentum(form: MomentumForm) -> Momentum<f64> {
    Momentum::new(MomentumConfig {
        lr: 0.1,
        momentum: 0.9,
        form,
        weight_decay: 0.0,
    })
    .unwrap()
}

#[test]
fn reference_momentum_heavy_ball() {
    replay(
        "momentum_heavy_ball",
        momentum(MomentumForm::HeavyBall),
        None,
    );
}

#[test]
fn reference_momentum_ema() {
    replay("momentum_ema", momentum(MomentumForm::Ema), None);
}

#[test]
fn reference_nesterov() {
    replay("nesterov", momentum(MomentumForm::Nesterov), None);
}

#[test]
fn reference_rmsprop() {
    let opt = RmsProp::new(RmsPropConfig {
        lr: 0.01,
        rho: 0.9,
        eps: 1e-8,
        weight_decay: 0.0,
    })
    .unwrap();
    replay("rmsprop", opt, None);
}

#[test]
fn reference_adam() {
    let opt = Adam::new(AdamConfig {
        lr: 0.01,
        ..Default::default()
    })
    .unwrap();
    replay("adam", opt, None);
}

#[test]
fn reference_adam_l2() {
    let opt = Adam::new(AdamConfig {
        lr: 0.01,
        weight_decay: 0.01,
        ..Default::default()
    })
    .unwrap();
    replay("adam_l2", opt, None);
}

#[test]
fn reference_adamw() {
    let opt = AdamW::new(AdamWConfig {
        lr: 0.01,
        weight_decay: 0.01,
        ..Default::default()
    })
    .unwrap();
    replay("adamw", opt, None);
}

#[test]
fn reference_sgd_clip_norm() {
    let opt = Sgd::new(SgdConfig {
        lr: 0.1,
        weight_decay: 0.0,
    })
    .unwrap();
    replay("sgd_clip_norm", opt, Some(1.0));
}

#[test]
fn reference_every_case_is_covered() {
    let f = fixture();
    let Json::Obj(cases) = &f.cases else {
        panic!("cases is not an object")
    };
    let covered = [
        "adam",
        "adam_l2",
        "adamw",
        "momentum_ema",
        "momentum_heavy_ball",
        "nesterov",
        "rmsprop",
        "sgd",
        "sgd_clip_norm",
        "sgd_weight_decay",
    ];
    let names: Vec<&str> = cases.keys().map(String::as_str).collect();
    assert_eq!(names, covered, "a case in the file has no test here");
}

#[test]
fn reference_f32_tracks_the_f64_trajectories() {
    // The same rules in f32 (per-element arithmetic in f32) stay within f32 rounding of
    // PyTorch's f64 values over every step: |got - exp| <= 1e-5 max(1, |exp|).
    let f = fixture();
    let opts: Vec<(&str, Box<dyn Optimizer<f32>>)> = vec![
        (
            "sgd",
            Box::new(
                Sgd::new(SgdConfig {
                    lr: 0.1,
                    weight_decay: 0.0,
                })
                .unwrap(),
            ),
        ),
        (
            "nesterov",
            Box::new(
                Momentum::new(MomentumConfig {
                    lr: 0.1,
                    momentum: 0.9,
                    form: MomentumForm::Nesterov,
                    weight_decay: 0.0,
                })
                .unwrap(),
            ),
        ),
        (
            "rmsprop",
            Box::new(
                RmsProp::new(RmsPropConfig {
                    lr: 0.01,
                    rho: 0.9,
                    eps: 1e-8,
                    weight_decay: 0.0,
                })
                .unwrap(),
            ),
        ),
        (
            "adam",
            Box::new(
                Adam::new(AdamConfig {
                    lr: 0.01,
                    ..Default::default()
                })
                .unwrap(),
            ),
        ),
        (
            "adamw",
            Box::new(
                AdamW::new(AdamWConfig {
                    lr: 0.01,
                    weight_decay: 0.01,
                    ..Default::default()
                })
                .unwrap(),
            ),
        ),
    ];
    let to32 = |v: &[f64]| -> Tensor<f32> {
        Tensor::from_vec(v.iter().map(|&x| x as f32).collect(), &[v.len()]).unwrap()
    };
    for (case, mut opt) in opts {
        let traj = f.cases.get(case).get("traj").rows();
        let mut p = Param::new(to32(&f.p0));
        for (step, (g, want)) in f.grads.iter().zip(&traj).enumerate() {
            let mut grads = ParamGrads::new();
            grads.insert(&p, to32(g));
            opt.step(&mut [&mut p], &grads).unwrap();
            for (&got, &exp) in p.value().data().iter().zip(want) {
                let err = (got as f64 - exp).abs();
                assert!(
                    err <= 1e-5 * exp.abs().max(1.0),
                    "{case} f32 step {}: got {got}, PyTorch f64 {exp}",
                    step + 1
                );
            }
        }
    }
}
