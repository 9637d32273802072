//! Loaders for the small real datasets the examples train on. Every failure (a missing,
//! truncated or malformed file) is an [`Error`](crate::Error) naming the file and what is wrong.
pub mod digits;
pub mod idx;
pub mod text;
