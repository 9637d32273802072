//! Runnable examples live in this package's `[[example]]` targets.
//!
//! The Rust code blocks of the user guides in `docs/` are compiled and run as doc-tests of this
//! package (`cargo test -p examples --doc`), so the guides cannot drift from the API.

#[doc = include_str!("../../docs/custom-ops.md")]
pub mod custom_ops_guide {}

#[doc = include_str!("../../docs/gradient-checking.md")]
pub mod gradient_checking_guide {}
