//! IDX files (LeCun's format for MNIST and Fashion-MNIST), raw or gzip-compressed.
//!
//! An IDX u8 file is a big-endian `u32` magic `0x0000_08NN` (`0x08`: unsigned bytes; `NN`: the
//! number of dimensions), one big-endian `u32` per dimension, then the data, row-major.
//! [`read_idx_u8`] reads any such file; [`read_idx_images`] (magic `0x00000803`, `[N, rows,
//! cols]`) and [`read_idx_labels`] (magic `0x00000801`, `[N]`) check the kind, and
//! [`load_fashion_mnist`] reads a whole Fashion-MNIST (or MNIST) folder. A file is taken as
//! gzip-compressed when it starts with the gzip magic bytes `1f 8b`, whatever its name.
//!
//! ```no_run
//! use wengert::datasets::idx::{load_fashion_mnist, FASHION_CLASSES};
//! let data = load_fashion_mnist("data/fashion-mnist", "train-first10k")?;
//! assert_eq!(data.train_images.shape(), &[10_000, 28, 28]); // pixels scaled to [0, 1]
//! println!("first label: {}", FASHION_CLASSES[data.train_labels[0]]); // "Ankle boot"
//! # Ok::<(), wengert::Error>(())
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::autograd::Tensor;

/// The ten Fashion-MNIST classes, by label.
pub const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Magic number of an IDX file of u8 images with 3 dimensions `[N, rows, cols]`.
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of u8 labels with 1 dimension `[N]`.
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// The content of an IDX u8 file: its dimensions and its bytes, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxU8 {
    /// The dimensions from the header.
    pub dims: Vec<usize>,
    /// `dims.iter().product()` bytes.
    pub data: Vec<u8>,
}

/// A Fashion-MNIST (or MNIST) training and test set: images `[N, 28, 28]` scaled to `[0, 1]`,
/// labels `0..10`.
#[derive(Debug, Clone)]
pub struct FashionMnist {
    /// Training images, `[n_train, rows, cols]`, values in `[0, 1]`.
    pub train_images: Tensor<f32>,
    /// Training labels, one per image.
    pub train_labels: Vec<usize>,
    /// Test images, `[n_test, rows, cols]`, values in `[0, 1]`.
    pub test_images: Tensor<f32>,
    /// Test labels, one per image.
    pub test_labels: Vec<usize>,
}

fn format_err(path: &Path, message: impl Into<String>) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The file's bytes, decompressed if they start with the gzip magic.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, Error> {
    let raw = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| format_err(path, format!("corrupt or truncated gzip stream: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Reads any IDX file of unsigned bytes (type code `0x08`), raw or gzip-compressed.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Format`] naming the file if the gzip
/// stream is corrupt, the header is short, the magic is not `0x0000_08NN` with `NN >= 1`, or the
/// data is shorter (truncated) or longer than the dimensions announce.
pub fn read_idx_u8(path: impl AsRef<Path>) -> Result<IdxU8, Error> {
    let path = path.as_ref();
    let bytes = read_maybe_gz(path)?;
    if bytes.len() < 4 {
        return Err(format_err(
            path,
            format!(
                "not an IDX file: {} bytes, shorter than the 4-byte magic number",
                bytes.len()
            ),
        ));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let ndims = bytes[3] as usize;
    if bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || ndims == 0 {
        return Err(format_err(
            path,
            format!(
                "bad IDX magic number 0x{magic:08x}: expected 0x000008NN (unsigned bytes, NN \
                 dimensions), e.g. 0x{IMAGES_MAGIC:08x} for images or 0x{LABELS_MAGIC:08x} for labels"
            ),
        ));
    }
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(format_err(
            path,
            format!(
                "truncated IDX header: {ndims} dimensions need {header} header bytes, the file has {}",
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let want = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format_err(path, format!("IDX dimensions {dims:?} overflow")))?;
    let have = bytes.len() - header;
    if have < want {
        return Err(format_err(
            path,
            format!(
                "truncated IDX data: dimensions {dims:?} announce {want} bytes after the \
                 {header}-byte header, the file has {have}"
            ),
        ));
    }
    if have > want {
        return Err(format_err(
            path,
            format!(
                "malformed IDX file: {} bytes after the {want} bytes that dimensions {dims:?} \
                 announce",
                have - want
            ),
        ));
    }
    let mut data = bytes;
    data.drain(..header);
    Ok(IdxU8 { dims, data })
}

/// Reads an IDX image file (magic `0x00000803`: u8 images `[N, rows, cols]`), raw or gzipped,
/// as a `[N, rows, cols]` tensor with every pixel divided by 255 (values in `[0, 1]`).
///
/// # Errors
/// As [`read_idx_u8`], and [`Error::Format`] naming the file if it does not hold 3-D images
/// (another number of dimensions, e.g. a label file) or an image has no pixels.
pub fn read_idx_images(path: impl AsRef<Path>) -> Result<Tensor<f32>, Error> {
    let path = path.as_ref();
    let idx = read_idx_u8(path)?;
    if idx.dims.len() != 3 {
        return Err(format_err(
            path,
            format!(
                "expected an IDX image file (magic 0x{IMAGES_MAGIC:08x}, 3 dimensions [N, rows, \
                 cols]), got {} dimensions {:?}",
                idx.dims.len(),
                idx.dims
            ),
        ));
    }
    if idx.dims[1] == 0 || idx.dims[2] == 0 {
        return Err(format_err(
            path,
            format!(
                "images of size {}x{} have no pixels",
                idx.dims[1], idx.dims[2]
            ),
        ));
    }
    let pixels = idx.data.iter().map(|&b| f32::from(b) / 255.0).collect();
    Tensor::from_vec(pixels, &idx.dims).map_err(|e| format_err(path, e.to_string()))
}

/// Reads an IDX label file (magic `0x00000801`: u8 labels `[N]`), raw or gzipped.
///
/// # Errors
/// As [`read_idx_u8`], and [`Error::Format`] naming the file if it is not 1-D (e.g. an image
/// file).
pub fn read_idx_labels(path: impl AsRef<Path>) -> Result<Vec<usize>, Error> {
    let path = path.as_ref();
    let idx = read_idx_u8(path)?;
    if idx.dims.len() != 1 {
        return Err(format_err(
            path,
            format!(
                "expected an IDX label file (magic 0x{LABELS_MAGIC:08x}, 1 dimension [N]), got \
                 {} dimensions {:?}",
                idx.dims.len(),
                idx.dims
            ),
        ));
    }
    Ok(idx.data.into_iter().map(usize::from).collect())
}

/// `dir/name.gz` if it exists, else `dir/name` if that exists, else `dir/name.gz` (whose
/// reading then fails with an error naming it).
fn find_file(dir: &Path, name: &str) -> PathBuf {
    let gz = dir.join(format!("{name}.gz"));
    let raw = dir.join(name);
    if !gz.exists() && raw.exists() {
        raw
    } else {
        gz
    }
}

/// Reads one images/labels pair and checks that the counts agree and the labels are `< 10`.
fn load_pair(dir: &Path, prefix: &str) -> Result<(Tensor<f32>, Vec<usize>), Error> {
    let images_path = find_file(dir, &format!("{prefix}-images-idx3-ubyte"));
    let labels_path = find_file(dir, &format!("{prefix}-labels-idx1-ubyte"));
    let images = read_idx_images(&images_path)?;
    let labels = read_idx_labels(&labels_path)?;
    if images.shape()[0] != labels.len() {
        return Err(format_err(
            &labels_path,
            format!(
                "{} labels but {} has {} images",
                labels.len(),
                images_path.display(),
                images.shape()[0]
            ),
        ));
    }
    if let Some(p) = labels.iter().position(|&l| l >= FASHION_CLASSES.len()) {
        return Err(format_err(
            &labels_path,
            format!(
                "label {} at position {p} is out of range for {} classes",
                labels[p],
                FASHION_CLASSES.len()
            ),
        ));
    }
    Ok((images, labels))
}

/// Reads a Fashion-MNIST (or MNIST) folder: `{train_prefix}-images-idx3-ubyte.gz`,
/// `{train_prefix}-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz` and
/// `t10k-labels-idx1-ubyte.gz` (each also found without the `.gz`). The bundled set's prefix is
/// `train-first10k`; the full 60k set's is `train`.
///
/// # Errors
/// As [`read_idx_images`] and [`read_idx_labels`], and [`Error::Format`] naming the label file if
/// the image and label counts differ or a label is 10 or more.
pub fn load_fashion_mnist(
    dir: impl AsRef<Path>,
    train_prefix: &str,
) -> Result<FashionMnist, Error> {
    let dir = dir.as_ref();
    let (train_images, train_labels) = load_pair(dir, train_prefix)?;
    let (test_images, test_labels) = load_pair(dir, "t10k")?;
    Ok(FashionMnist {
        train_images,
        train_labels,
        test_images,
        test_labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A fresh, empty temp directory for one test.
    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("wengert-idx-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the system temp dir is writable");
        dir
    }

    fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = magic.to_be_bytes().to_vec();
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes)
            .expect("writing into an in-memory Vec cannot fail");
        enc.finish()
            .expect("finishing a gzip stream into a Vec cannot fail")
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).expect("the test's own temp dir is writable");
        p
    }

    fn err_text(e: Error) -> String {
        e.to_string()
    }

    #[test]
    fn reads_raw_and_gzipped_images_and_labels() {
        let dir = temp_dir("ok");
        let img = idx_bytes(
            IMAGES_MAGIC,
            &[2, 2, 3],
            &[0, 255, 51, 0, 0, 0, 1, 2, 3, 4, 5, 6],
        );
        let lab = idx_bytes(LABELS_MAGIC, &[2], &[9, 0]);
        for (name, bytes) in [("raw", img.clone()), ("gz", gzip(&img))] {
            let t = read_idx_images(write(&dir, name, &bytes))
                .expect("reading a well-formed image file must succeed");
            assert_eq!(t.shape(), &[2, 2, 3]);
            assert_eq!(t.get(&[0, 0, 1]), 1.0);
            assert!((t.get(&[0, 0, 2]) - 0.2).abs() < 1e-7);
        }
        let l = read_idx_labels(write(&dir, "l.gz", &gzip(&lab)))
            .expect("reading a well-formed gzipped label file must succeed");
        assert_eq!(l, vec![9, 0]);
        let any = read_idx_u8(write(&dir, "l", &lab))
            .expect("reading a well-formed IDX file must succeed");
        assert_eq!(any.dims, vec![2]);
    }

    #[test]
    fn missing_file_is_an_io_error_naming_it() {
        let dir = temp_dir("missing");
        let p = dir.join("nope-images-idx3-ubyte.gz");
        let e = read_idx_images(&p).unwrap_err();
        assert!(matches!(e, Error::Io { .. }));
        assert!(err_text(e).contains("nope-images-idx3-ubyte.gz"));
        let e = load_fashion_mnist(&dir, "train").unwrap_err();
        assert!(
            err_text(e).contains("train-images-idx3-ubyte.gz"),
            "names the file it looked for"
        );
    }

    #[test]
    fn bad_magic_is_a_format_error_naming_the_file() {
        let dir = temp_dir("magic");
        let p = write(
            &dir,
            "bad.gz",
            &gzip(&idx_bytes(0x0000_0d03, &[1, 1, 1], &[0])),
        );
        let e = err_text(read_idx_images(&p).unwrap_err());
        assert!(
            e.contains("bad.gz") && e.contains("bad IDX magic number 0x00000d03"),
            "{e}"
        );
        let p = write(&dir, "zero-dims", &idx_bytes(0x0000_0800, &[], &[]));
        let e = err_text(read_idx_u8(&p).unwrap_err());
        assert!(
            e.contains("zero-dims") && e.contains("bad IDX magic"),
            "{e}"
        );
        let p = write(&dir, "tiny", &[0, 0]);
        let e = err_text(read_idx_labels(&p).unwrap_err());
        assert!(
            e.contains("tiny") && e.contains("shorter than the 4-byte magic"),
            "{e}"
        );
    }

    #[test]
    fn truncated_data_header_and_gzip_are_format_errors() {
        let dir = temp_dir("trunc");
        let full = idx_bytes(IMAGES_MAGIC, &[2, 2, 2], &[1; 8]);
        let p = write(&dir, "short.gz", &gzip(&full[..full.len() - 3]));
        let e = read_idx_images(&p).unwrap_err();
        assert!(matches!(e, Error::Format { .. }));
        let e = err_text(e);
        assert!(
            e.contains("short.gz") && e.contains("announce 8 bytes") && e.contains("has 5"),
            "{e}"
        );
        let p = write(&dir, "header", &full[..9]);
        let e = err_text(read_idx_images(&p).unwrap_err());
        assert!(
            e.contains("header") && e.contains("truncated IDX header"),
            "{e}"
        );
        let gz = gzip(&full);
        let p = write(&dir, "cut.gz", &gz[..gz.len() / 2]);
        let e = err_text(read_idx_images(&p).unwrap_err());
        assert!(e.contains("cut.gz") && e.contains("gzip"), "{e}");
        let mut long = full.clone();
        long.push(0);
        let p = write(&dir, "long", &long);
        let e = err_text(read_idx_images(&p).unwrap_err());
        assert!(e.contains("long") && e.contains("1 bytes after"), "{e}");
    }

    #[test]
    fn wrong_dims_are_format_errors_naming_the_file() {
        let dir = temp_dir("dims");
        let labels = write(&dir, "labels", &idx_bytes(LABELS_MAGIC, &[3], &[1, 2, 3]));
        let e = err_text(read_idx_images(&labels).unwrap_err());
        assert!(
            e.contains("labels") && e.contains("expected an IDX image file"),
            "{e}"
        );
        let images = write(
            &dir,
            "images",
            &idx_bytes(IMAGES_MAGIC, &[1, 1, 2], &[1, 2]),
        );
        let e = err_text(read_idx_labels(&images).unwrap_err());
        assert!(
            e.contains("images") && e.contains("expected an IDX label file"),
            "{e}"
        );
        let empty = write(&dir, "empty", &idx_bytes(IMAGES_MAGIC, &[3, 0, 28], &[]));
        let e = err_text(read_idx_images(&empty).unwrap_err());
        assert!(e.contains("empty") && e.contains("no pixels"), "{e}");
    }

    #[test]
    fn count_mismatch_and_bad_label_are_format_errors() {
        let dir = temp_dir("count");
        let img = |n: u32| {
            gzip(&idx_bytes(
                IMAGES_MAGIC,
                &[n, 1, 2],
                &vec![7; 2 * n as usize],
            ))
        };
        write(&dir, "train-images-idx3-ubyte.gz", &img(3));
        write(
            &dir,
            "train-labels-idx1-ubyte.gz",
            &gzip(&idx_bytes(LABELS_MAGIC, &[2], &[1, 2])),
        );
        write(
            &dir,
            "t10k-images-idx3-ubyte",
            &idx_bytes(IMAGES_MAGIC, &[1, 1, 2], &[0, 0]),
        );
        write(
            &dir,
            "t10k-labels-idx1-ubyte",
            &idx_bytes(LABELS_MAGIC, &[1], &[10]),
        );
        let e = err_text(load_fashion_mnist(&dir, "train").unwrap_err());
        assert!(
            e.contains("train-labels-idx1-ubyte.gz")
                && e.contains("2 labels but")
                && e.contains("has 3 images"),
            "{e}"
        );
        write(&dir, "train-images-idx3-ubyte.gz", &img(2));
        let e = err_text(load_fashion_mnist(&dir, "train").unwrap_err());
        assert!(
            e.contains("t10k-labels-idx1-ubyte") && e.contains("label 10 at position 0"),
            "{e}"
        );
        write(
            &dir,
            "t10k-labels-idx1-ubyte",
            &idx_bytes(LABELS_MAGIC, &[1], &[4]),
        );
        let d = load_fashion_mnist(&dir, "train")
            .expect("with the bad label replaced, loading must succeed");
        assert_eq!((d.train_labels, d.test_labels), (vec![1, 2], vec![4]));
        assert_eq!(d.test_images.shape(), &[1, 1, 2]);
    }

    #[test]
    fn reads_the_bundled_fashion_mnist() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/fashion-mnist");
        let d = load_fashion_mnist(&dir, "train-first10k")
            .expect("loading the bundled Fashion-MNIST files must succeed");
        assert_eq!(d.train_images.shape(), &[10_000, 28, 28]);
        assert_eq!(d.test_images.shape(), &[10_000, 28, 28]);
        assert_eq!(
            (d.train_labels.len(), d.test_labels.len()),
            (10_000, 10_000)
        );
        assert_eq!(d.train_labels[0], 9); // the first training image is an ankle boot
        assert_eq!(d.test_labels[0], 9);
        for t in [&d.train_images, &d.test_images] {
            let (lo, hi) = t
                .data()
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            assert_eq!((lo, hi), (0.0, 1.0));
        }
        let mut counts = [0usize; 10];
        for &l in &d.train_labels {
            counts[l] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }
}
