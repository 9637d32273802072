//! Save and load (issue 3, "Save and load"): a round trip, and every bad input (missing file,
//! truncated or corrupt file, missing name, wrong shape, wrong dtype, unknown extra tensor)
//! returns an `Err` naming what is wrong and leaves the model exactly as it was.

use std::path::{Path, PathBuf};

use wengert_autograd::{Error, Float, Tensor, Var};
use wengert_nn::weights::{read_tensors, write_tensors};
use wengert_nn::{Module, Param, load, save};

/// A test-only module: `y = x W + b` with `weight` [2, 3] and `bias` [3].
struct Tiny<T: Float> {
    weight: Param<T>,
    bias: Param<T>,
}

impl<T: Float> Tiny<T> {
    /// Values `offset + 0.5 i` so that two models built with different offsets differ everywhere.
    fn new(offset: f64) -> Self {
        let w: Vec<T> = (0..6)
            .map(|i| T::from_f64(offset + 0.5 * i as f64))
            .collect();
        let b: Vec<T> = (0..3)
            .map(|i| T::from_f64(-offset - 0.25 * i as f64))
            .collect();
        Tiny {
            weight: Param::new(Tensor::from_vec(w, &[2, 3]).unwrap()),
            bias: Param::new(Tensor::from_vec(b, &[3]).unwrap()),
        }
    }

    fn values(&self) -> (Vec<T>, Vec<T>) {
        (self.weight.value().to_vec(), self.bias.value().to_vec())
    }
}

impl<T: Float> Module<T> for Tiny<T> {
    fn forward<'t>(&self, x: Var<'t, T>) -> Var<'t, T> {
        let tape = x.tape();
        x.matmul(self.weight.on(tape)) + self.bias.on(tape)
    }

    fn named_params(&self) -> Vec<(String, &Param<T>)> {
        vec![("weight".into(), &self.weight), ("bias".into(), &self.bias)]
    }

    fn named_params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        vec![
            ("weight".into(), &mut self.weight),
            ("bias".into(), &mut self.bias),
        ]
    }
}

/// A fresh path in the temp directory, unique per test (tests run in parallel).
fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "wengert_save_load_{}_{name}.safetensors",
        std::process::id()
    ))
}

/// Loads `path` into a fresh `Tiny<f64>`, asserts it fails and that the model is unchanged, and
/// returns the error's message.
fn load_fails_and_keeps_model(path: &Path) -> (Error, String) {
    let mut model = Tiny::<f64>::new(7.0);
    let before = model.values();
    let err = load(&mut model, path).unwrap_err();
    assert_eq!(model.values(), before, "a failed load changed the model");
    let msg = err.to_string();
    (err, msg)
}

#[test]
fn round_trip_restores_every_value() {
    let path = temp_path("round_trip");
    let saved = Tiny::<f64>::new(1.0);
    save(&saved, &path).unwrap();

    let mut fresh = Tiny::<f64>::new(-3.0);
    assert_ne!(fresh.values(), saved.values());
    let ids = (fresh.weight.id(), fresh.bias.id());
    load(&mut fresh, &path).unwrap();
    assert_eq!(fresh.values(), saved.values());
    // Loading replaces values, not parameters: ids (optimizer state keys) are kept.
    assert_eq!((fresh.weight.id(), fresh.bias.id()), ids);

    // The file holds exactly the documented names and shapes.
    let tensors = read_tensors::<f64>(&path).unwrap();
    let names: Vec<_> = tensors
        .iter()
        .map(|(n, t)| (n.as_str(), t.shape()))
        .collect();
    assert_eq!(names, vec![("bias", &[3][..]), ("weight", &[2, 3][..])]);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn round_trip_in_f32_is_exact() {
    let path = temp_path("round_trip_f32");
    let saved = Tiny::<f32>::new(0.1); // 0.1 is not exact in binary: bits must survive
    save(&saved, &path).unwrap();
    let mut fresh = Tiny::<f32>::new(2.0);
    load(&mut fresh, &path).unwrap();
    assert_eq!(fresh.values(), saved.values());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    let path = temp_path("does_not_exist");
    let (err, msg) = load_fails_and_keeps_model(&path);
    match err {
        Error::Io { path: p, .. } => assert_eq!(p, path),
        other => panic!("expected Error::Io, got {other:?}"),
    }
    assert!(msg.contains("does_not_exist"), "{msg}");
}

#[test]
fn truncated_file_is_a_format_error() {
    let path = temp_path("truncated");
    save(&Tiny::<f64>::new(1.0), &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    // Cut in the data section, in the header, and inside the 8-byte length prefix.
    for cut in [bytes.len() - 8, bytes.len() / 2, 20, 4] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let (err, msg) = load_fails_and_keeps_model(&path);
        assert!(
            matches!(err, Error::Format { .. }),
            "cut at {cut}: expected Error::Format, got {err:?}"
        );
        assert!(msg.contains("truncated"), "{msg}");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn corrupt_file_is_a_format_error() {
    let path = temp_path("corrupt");
    let garbage: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
    std::fs::write(&path, garbage).unwrap();
    let (err, _) = load_fails_and_keeps_model(&path);
    assert!(matches!(err, Error::Format { .. }), "{err:?}");

    // A valid length prefix followed by a header that is not JSON.
    let mut bytes = 16u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{not json at all");
    std::fs::write(&path, bytes).unwrap();
    let (err, _) = load_fails_and_keeps_model(&path);
    assert!(matches!(err, Error::Format { .. }), "{err:?}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn missing_parameter_is_named() {
    let path = temp_path("missing_param");
    // Only `weight` in the file: `bias` is missing. `weight` comes first in named_params, so a
    // loader that replaced values as it went would have changed it before finding the problem.
    write_tensors(
        &path,
        &[("weight".to_string(), Tensor::<f64>::zeros(&[2, 3]))],
    )
    .unwrap();
    let (err, msg) = load_fails_and_keeps_model(&path);
    assert!(matches!(err, Error::Format { .. }), "{err:?}");
    assert!(msg.contains("`bias`"), "{msg}");
    assert!(msg.contains("missing"), "{msg}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn wrong_shape_names_the_parameter_and_both_shapes() {
    let path = temp_path("wrong_shape");
    write_tensors(
        &path,
        &[
            ("weight".to_string(), Tensor::<f64>::zeros(&[2, 3])),
            ("bias".to_string(), Tensor::<f64>::zeros(&[4])),
        ],
    )
    .unwrap();
    let (err, msg) = load_fails_and_keeps_model(&path);
    assert!(matches!(err, Error::Format { .. }), "{err:?}");
    assert!(msg.contains("`bias`"), "{msg}");
    assert!(msg.contains("[4]"), "file's shape missing: {msg}");
    assert!(msg.contains("[3]"), "model's shape missing: {msg}");

    // Same number of elements, transposed: still a shape error.
    write_tensors(
        &path,
        &[
            ("weight".to_string(), Tensor::<f64>::zeros(&[3, 2])),
            ("bias".to_string(), Tensor::<f64>::zeros(&[3])),
        ],
    )
    .unwrap();
    let (_, msg) = load_fails_and_keeps_model(&path);
    assert!(msg.contains("`weight`"), "{msg}");
    assert!(msg.contains("[3, 2]") && msg.contains("[2, 3]"), "{msg}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn wrong_dtype_names_the_tensor_and_both_dtypes() {
    let path = temp_path("wrong_dtype");
    save(&Tiny::<f32>::new(1.0), &path).unwrap();
    let (err, msg) = load_fails_and_keeps_model(&path); // loads into f64
    assert!(matches!(err, Error::Format { .. }), "{err:?}");
    assert!(msg.contains("`bias`") || msg.contains("`weight`"), "{msg}");
    assert!(msg.contains("F32"), "file's dtype missing: {msg}");
    assert!(msg.contains("F64"), "model's dtype missing: {msg}");

    // And the other way round: an f64 file into an f32 model.
    save(&Tiny::<f64>::new(1.0), &path).unwrap();
    let mut model = Tiny::<f32>::new(5.0);
    let before = model.values();
    let msg = load(&mut model, &path).unwrap_err().to_string();
    assert_eq!(model.values(), before);
    assert!(msg.contains("F64") && msg.contains("F32"), "{msg}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unknown_extra_tensor_is_rejected_and_named() {
    let path = temp_path("extra");
    write_tensors(
        &path,
        &[
            ("weight".to_string(), Tensor::<f64>::ones(&[2, 3])),
            ("bias".to_string(), Tensor::<f64>::ones(&[3])),
            ("running_mean".to_string(), Tensor::<f64>::ones(&[3])),
        ],
    )
    .unwrap();
    let (err, msg) = load_fails_and_keeps_model(&path);
    assert!(matches!(err, Error::Format { .. }), "{err:?}");
    assert!(msg.contains("running_mean"), "{msg}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn load_never_panics_on_random_bytes() {
    // Every prefix of a valid file, and byte flips in its header, give Ok or Err, never a panic,
    // and an Err always leaves the model unchanged.
    let path = temp_path("fuzz");
    save(&Tiny::<f64>::new(1.0), &path).unwrap();
    let good = std::fs::read(&path).unwrap();
    let mut cases: Vec<Vec<u8>> = (0..good.len()).map(|n| good[..n].to_vec()).collect();
    for i in 0..good.len().min(120) {
        let mut b = good.clone();
        b[i] ^= 0x5a;
        cases.push(b);
    }
    for bytes in cases {
        std::fs::write(&path, &bytes).unwrap();
        let mut model = Tiny::<f64>::new(7.0);
        let before = model.values();
        if load(&mut model, &path).is_err() {
            assert_eq!(model.values(), before);
        }
    }
    std::fs::remove_file(&path).unwrap();
}
