//! The UCI optical-recognition-of-handwritten-digits set as a CSV file: one row per 8x8 image,
//! 64 pixel values in `0..=16` (row-major) and then the label `0..=9`, comma-separated, gzip
//! compressed or plain (scikit-learn's `digits.csv.gz`, bundled as `data/digits/digits.csv.gz`).
//! A first line none of whose fields is a number is taken as a header and skipped; blank lines
//! are ignored.
//!
//! ```no_run
//! use wengert::datasets::digits;
//! let data = digits::load::<f32>("data/digits/digits.csv.gz")?;
//! assert_eq!(data.inputs.shape(), &[1797, 64]); // pixels scaled to [0, 1]
//! let (train, test) = data.split(0.25, 0)?; // shuffled with seed 0
//! assert_eq!(train.len() + test.len(), 1797);
//! # Ok::<(), wengert::Error>(())
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use wengert_autograd::{Float, Tensor};

use crate::Error;

/// Pixels per image (8 x 8).
pub const PIXELS: usize = 64;
/// The largest pixel value in the file (pixels are divided by it).
pub const MAX_PIXEL: f64 = 16.0;
/// Number of classes (digits 0..9).
pub const CLASSES: usize = 10;

/// Images and labels: `inputs` is `[N, 64]` with values in `[0, 1]` (the file's `0..=16`
/// divided by 16), `labels[i]` the digit of row `i`.
#[derive(Clone, Debug)]
pub struct Digits<T: Float> {
    /// `[N, 64]`, row-major 8x8 images scaled to `[0, 1]`.
    pub inputs: Tensor<T>,
    /// One label in `0..=9` per row.
    pub labels: Vec<usize>,
}

impl<T: Float> Digits<T> {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The rows `indices`, in that order.
    ///
    /// # Panics
    /// If an index is out of range (a programming mistake).
    #[track_caller]
    pub fn subset(&self, indices: &[usize]) -> Digits<T> {
        let mut data = Vec::with_capacity(indices.len() * PIXELS);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            assert!(
                i < self.len(),
                "Digits::subset: row {i} is out of range for {} rows",
                self.len()
            );
            data.extend_from_slice(&self.inputs.data()[i * PIXELS..(i + 1) * PIXELS]);
            labels.push(self.labels[i]);
        }
        let inputs = Tensor::from_vec(data, &[indices.len(), PIXELS])
            .unwrap_or_else(|e| panic!("Digits::subset: internal: {e}"));
        Digits { inputs, labels }
    }

    /// A shuffled train/test split: the rows are permuted by a generator seeded with `seed`,
    /// the first `round(N * test_fraction)` go to the test set and the rest to the training set
    /// (returned as `(train, test)`). The same seed gives the same split.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless `0 < test_fraction < 1` and both parts are non-empty.
    pub fn split(&self, test_fraction: f64, seed: u64) -> Result<(Digits<T>, Digits<T>), Error> {
        let n = self.len();
        let n_test = (n as f64 * test_fraction).round() as usize;
        if !(test_fraction > 0.0 && test_fraction < 1.0) || n_test == 0 || n_test >= n {
            return Err(Error::InvalidConfig {
                message: format!(
                    "digits split: test_fraction {test_fraction} of {n} rows leaves an empty \
                     part; expected 0 < test_fraction < 1 with at least one row on each side"
                ),
            });
        }
        let order = shuffled(n, seed);
        Ok((self.subset(&order[n_test..]), self.subset(&order[..n_test])))
    }
}

/// `0..n` in a random order drawn from `seed` (Fisher-Yates with a SplitMix64 generator, so the
/// order depends on nothing but `n` and `seed`).
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

fn format_err(path: &Path, message: String) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        message,
    }
}

/// Reads the whole file as text, decompressing it if it starts with the gzip magic bytes.
fn read_text(path: &Path) -> Result<String, Error> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let raw = std::fs::read(path).map_err(io_err)?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| format_err(path, format!("gzip stream is corrupt or truncated: {e}")))?;
        out
    } else {
        raw
    };
    String::from_utf8(bytes).map_err(|e| {
        format_err(
            path,
            format!(
                "not a text file (invalid UTF-8 at byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Reads a digits CSV (gzip or plain) into a [`Digits`].
///
/// # Errors
/// [`Error::Io`] if the file cannot be read (missing, unreadable); [`Error::Format`] naming the
/// file, and the line where it applies, if the gzip stream is corrupt or truncated, a row does
/// not have 65 fields, a field is not a number, a pixel is outside `0..=16`, a label is not an
/// integer in `0..=9`, or the file holds no row at all.
pub fn load<T: Float>(path: impl AsRef<Path>) -> Result<Digits<T>, Error> {
    let path = path.as_ref();
    let text = read_text(path)?;
    let mut data: Vec<T> = Vec::new();
    let mut labels = Vec::new();
    let scale = 1.0 / MAX_PIXEL;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        // A header: the first line, with no numeric field at all.
        if lineno == 1 && fields.iter().all(|f| f.parse::<f64>().is_err()) {
            continue;
        }
        if fields.len() != PIXELS + 1 {
            return Err(format_err(
                path,
                format!(
                    "line {lineno}: {} fields, expected {} (64 pixel values then the label)",
                    fields.len(),
                    PIXELS + 1
                ),
            ));
        }
        let number = |col: usize, f: &str| -> Result<f64, Error> {
            match f.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(format_err(
                    path,
                    format!("line {lineno}, field {}: `{f}` is not a number", col + 1),
                )),
            }
        };
        for (col, f) in fields[..PIXELS].iter().enumerate() {
            let v = number(col, f)?;
            if !(0.0..=MAX_PIXEL).contains(&v) {
                return Err(format_err(
                    path,
                    format!(
                        "line {lineno}, field {}: pixel value {v} is outside 0..=16",
                        col + 1
                    ),
                ));
            }
            data.push(T::from_f64(v * scale));
        }
        let label = number(PIXELS, fields[PIXELS])?;
        if !(label.fract() == 0.0 && (0.0..CLASSES as f64).contains(&label)) {
            return Err(format_err(
                path,
                format!(
                    "line {lineno}: label {} is not a digit 0..=9",
                    fields[PIXELS]
                ),
            ));
        }
        labels.push(label as usize);
    }
    if labels.is_empty() {
        return Err(format_err(
            path,
            "no data rows (expected 65 comma-separated values per line)".into(),
        ));
    }
    let inputs = Tensor::from_vec(data, &[labels.len(), PIXELS])
        .map_err(|e| format_err(path, format!("internal: {e}")))?;
    Ok(Digits { inputs, labels })
}

/// The bundled file, `data/digits/digits.csv.gz` under the workspace root.
pub fn bundled_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/digits/digits.csv.gz")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A fresh directory under the system temp dir for one test.
    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("wengert-digits-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("the system temp dir is writable");
        dir
    }

    fn row(pixel: u32, label: &str) -> String {
        let mut fields: Vec<String> = (0..PIXELS).map(|_| pixel.to_string()).collect();
        fields.push(label.into());
        fields.join(",")
    }

    fn write_plain(name: &str, text: &str) -> PathBuf {
        let path = temp_dir(name).join("digits.csv");
        std::fs::write(&path, text).expect("the test's own temp dir is writable");
        path
    }

    fn write_gz(name: &str, text: &str) -> PathBuf {
        let path = temp_dir(name).join("digits.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(text.as_bytes())
            .expect("writing into an in-memory Vec cannot fail");
        std::fs::write(
            &path,
            enc.finish()
                .expect("finishing a gzip stream into a Vec cannot fail"),
        )
        .expect("the test's own temp dir is writable");
        path
    }

    /// The error's message, after checking that it is a `Format` error naming `path`.
    fn format_message(e: Error, path: &Path) -> String {
        let shown = e.to_string();
        match e {
            Error::Format { path: p, message } => {
                assert_eq!(p, path);
                assert!(shown.contains(&path.display().to_string()), "{shown}");
                message
            }
            other => panic!("expected a Format error, got {other:?}"),
        }
    }

    #[test]
    fn bundled_file() {
        let d = load::<f32>(bundled_path()).expect("loading the bundled digits file must succeed");
        assert_eq!(d.len(), 1797);
        assert_eq!(d.inputs.shape(), &[1797, 64]);
        assert_eq!(d.labels[0], 0);
        assert_eq!(&d.labels[..4], &[0, 1, 2, 3]);
        assert!(d.inputs.data().iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(d.inputs.data().iter().copied().fold(0.0, f32::max), 1.0);
        // first row: 0,0,5,13,9,1,0,0, ...
        assert_eq!(d.inputs.get(&[0, 2]), 5.0 / 16.0);
        assert_eq!(d.inputs.get(&[0, 3]), 13.0 / 16.0);
        let mut counts = [0usize; 10];
        for &l in &d.labels {
            counts[l] += 1;
        }
        assert!(
            counts.iter().all(|&c| (170..=190).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn plain_file_with_header_and_blank_lines() {
        let header: Vec<String> = (0..PIXELS)
            .map(|i| format!("pixel_{i}"))
            .chain(["target".to_string()])
            .collect();
        let text = format!(
            "{}\n{}\n\n{}\n",
            header.join(","),
            row(16, "7"),
            row(8, "3.0")
        );
        let d = load::<f64>(write_plain("header", &text))
            .expect("loading a well-formed file with a header must succeed");
        assert_eq!(d.labels, vec![7, 3]);
        assert_eq!(d.inputs.get(&[0, 0]), 1.0);
        assert_eq!(d.inputs.get(&[1, 63]), 0.5);
    }

    #[test]
    fn gzip_file() {
        let text = format!("{}\n{}\n", row(0, "0"), row(4, "9"));
        let d = load::<f32>(write_gz("gzip", &text))
            .expect("loading a well-formed gzip file must succeed");
        assert_eq!(d.labels, vec![0, 9]);
        assert_eq!(d.inputs.get(&[1, 10]), 0.25);
    }

    #[test]
    fn missing_file_is_an_io_error_naming_it() {
        let path = temp_dir("missing").join("nope.csv.gz");
        let e = load::<f32>(&path).unwrap_err();
        assert!(e.to_string().contains("nope.csv.gz"), "{e}");
        assert!(matches!(e, Error::Io { path: p, .. } if p == path));
    }

    #[test]
    fn wrong_field_count_names_the_line() {
        let text = format!("{}\n{}\n1,2,3\n", row(1, "1"), row(1, "2"));
        let path = write_plain("fields", &text);
        let msg = format_message(load::<f32>(&path).unwrap_err(), &path);
        assert!(
            msg.contains("line 3") && msg.contains("3 fields, expected 65"),
            "{msg}"
        );
    }

    #[test]
    fn non_numeric_field_names_the_line_and_field() {
        let bad = row(2, "5").replacen("2", "x", 1);
        let text = format!("{}\n{bad}\n", row(1, "1"));
        let path = write_gz("nonnumeric", &text);
        let msg = format_message(load::<f32>(&path).unwrap_err(), &path);
        assert!(
            msg.contains("line 2, field 1") && msg.contains("`x` is not a number"),
            "{msg}"
        );
    }

    #[test]
    fn non_numeric_label_is_an_error() {
        let text = format!("{}\n{}\n", row(1, "1"), row(1, "seven"));
        let path = write_plain("nonnumeric-label", &text);
        let msg = format_message(load::<f32>(&path).unwrap_err(), &path);
        assert!(msg.contains("line 2, field 65"), "{msg}");
    }

    #[test]
    fn label_out_of_range_names_the_line() {
        for (name, bad) in [
            ("label10", "10"),
            ("label-neg", "-1"),
            ("label-frac", "2.5"),
        ] {
            let text = format!("{}\n{}\n", row(1, "1"), row(1, bad));
            let path = write_plain(name, &text);
            let msg = format_message(load::<f32>(&path).unwrap_err(), &path);
            assert!(
                msg.contains("line 2") && msg.contains(&format!("label {bad} is not a digit")),
                "{msg}"
            );
        }
    }

    #[test]
    fn pixel_out_of_range_names_the_line() {
        let text = format!("{}\n", row(17, "1"));
        let path = write_plain("pixel", &text);
        let msg = format_message(load::<f32>(&path).unwrap_err(), &path);
        assert!(
            msg.contains("line 1, field 1") && msg.contains("outside 0..=16"),
            "{msg}"
        );
    }

    #[test]
    fn truncated_gzip_and_empty_file_are_errors() {
        let text: String = (0..50).map(|i| row(i % 17, "4") + "\n").collect();
        let full = write_gz("truncated", &text);
        let bytes = std::fs::read(&full).expect("the file write_gz just wrote reads back");
        std::fs::write(&full, &bytes[..bytes.len() / 2])
            .expect("the test's own temp dir is writable");
        let msg = format_message(load::<f32>(&full).unwrap_err(), &full);
        assert!(msg.contains("corrupt or truncated"), "{msg}");

        let empty = write_plain("empty", "");
        let msg = format_message(load::<f32>(&empty).unwrap_err(), &empty);
        assert!(msg.contains("no data rows"), "{msg}");
    }

    #[test]
    fn split_is_seeded_and_disjoint() {
        let d = load::<f32>(bundled_path()).expect("loading the bundled digits file must succeed");
        let (train, test) = d
            .split(0.25, 3)
            .expect("a test fraction of 0.25 of 1797 rows is valid");
        assert_eq!(test.len(), 449);
        assert_eq!(train.len(), 1797 - 449);
        let (train2, test2) = d
            .split(0.25, 3)
            .expect("a test fraction of 0.25 of 1797 rows is valid");
        assert_eq!(train.labels, train2.labels);
        assert_eq!(test.inputs, test2.inputs);
        let (_, test3) = d
            .split(0.25, 4)
            .expect("a test fraction of 0.25 of 1797 rows is valid");
        assert_ne!(test.inputs, test3.inputs);
        // every row lands in exactly one part
        let order = shuffled(1797, 3);
        let mut seen = order.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..1797).collect::<Vec<_>>());
        assert_eq!(test.labels[0], d.labels[order[0]]);
        for bad in [0.0, 1.0, -0.5, f64::NAN, 1e-6] {
            assert!(
                matches!(d.split(bad, 0), Err(Error::InvalidConfig { .. })),
                "{bad}"
            );
        }
    }
}
