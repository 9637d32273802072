//! The error type for everything that depends on data from outside the program.

use std::fmt;
use std::path::PathBuf;

/// An error caused by data from outside the program: a buffer of the wrong length, a file that is
/// missing or malformed, a configuration value out of range, or a backward pass that cannot run.
///
/// Programming mistakes (shape mismatches between ops, a bad axis) panic instead; see each op's
/// `# Panics` section.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A data buffer does not have as many elements as the shape asks for.
    LengthMismatch {
        /// Elements given.
        len: usize,
        /// The requested shape.
        shape: Vec<usize>,
    },
    /// A configuration or argument value is out of range.
    InvalidConfig {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file or buffer was read but its content is malformed or does not fit.
    Format {
        /// The file or object that was being read.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The backward sweep reached an op that has no backward rule.
    NoBackward {
        /// The op's name.
        op: &'static str,
        /// Where the op was applied, as `file:line:column`.
        location: String,
    },
    /// Anomaly detection found a non-finite value.
    NonFinite {
        /// What produced it, as a sentence.
        message: String,
    },
    /// A backward pass could not run for another reason (e.g. values already freed).
    Backward {
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::LengthMismatch { len, shape } => {
                let want: usize = shape.iter().product();
                write!(
                    f,
                    "data has {len} elements but shape {shape:?} needs {want}: \
                     pass a buffer of exactly {want} elements or fix the shape"
                )
            }
            Error::InvalidConfig { message } => write!(f, "invalid configuration: {message}"),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Format { path, message } => write!(f, "{}: {message}", path.display()),
            Error::NoBackward { op, location } => write!(
                f,
                "backward reached op `{op}` (created at {location}), which has no backward rule: \
                 implement `Op::backward` for it, or `detach()` its input if no gradient should flow"
            ),
            Error::NonFinite { message } => write!(f, "anomaly detected: {message}"),
            Error::Backward { message } => write!(f, "backward: {message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
