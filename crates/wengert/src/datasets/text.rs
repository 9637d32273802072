//! A plain-text corpus as character ids, with its vocabulary: the input of a character-level
//! language model.
//!
//! ```no_run
//! use wengert::datasets::text::{read_corpus, split};
//! let corpus = read_corpus("data/text/shakespeare_tiny.txt")?;
//! println!("{} characters, vocabulary of {}", corpus.ids.len(), corpus.vocab.len());
//! let (train, valid) = split(&corpus.ids, 0.9); // first 90 %, last 10 %
//! assert_eq!(corpus.vocab.decode(&corpus.ids[..5]).len(), 5);
//! # let _ = (train, valid);
//! # Ok::<(), wengert::Error>(())
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::Error;

/// The characters of a corpus, sorted and distinct; character `chars[i]` has id `i`.
#[derive(Clone, Debug, PartialEq)]
pub struct Vocab {
    /// The distinct characters in ascending order (by code point).
    pub chars: Vec<char>,
    /// Each character's id (its position in `chars`).
    pub index: HashMap<char, usize>,
}

impl Vocab {
    /// The vocabulary of the characters in `text` (sorted, distinct).
    pub fn from_text(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        let index = chars.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        Vocab { chars, index }
    }

    /// Number of distinct characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether the vocabulary is empty.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The id of every character of `text`, or `None` if a character is not in the vocabulary.
    pub fn encode(&self, text: &str) -> Option<Vec<usize>> {
        text.chars().map(|c| self.index.get(&c).copied()).collect()
    }

    /// The text of `ids`; an id out of range becomes `U+FFFD` (the replacement character).
    pub fn decode(&self, ids: &[usize]) -> String {
        ids.iter()
            .map(|&i| self.chars.get(i).copied().unwrap_or('\u{FFFD}'))
            .collect()
    }
}

/// A corpus read by [`read_corpus`]: every character as an id, and the vocabulary.
#[derive(Clone, Debug)]
pub struct Corpus {
    /// The file it came from.
    pub path: PathBuf,
    /// One id per character of the file, in order.
    pub ids: Vec<usize>,
    /// The distinct characters.
    pub vocab: Vocab,
}

/// Reads a UTF-8 text file into character ids and its vocabulary (sorted distinct characters).
///
/// Errors (each naming the file): [`Error::Io`] if it cannot be read (e.g. missing),
/// [`Error::Format`] if it is empty or not valid UTF-8 (with the byte offset of the first bad
/// byte).
pub fn read_corpus(path: impl AsRef<Path>) -> Result<Corpus, Error> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| Error::Format {
        path: path.to_path_buf(),
        message: format!(
            "not valid UTF-8 text: invalid byte at offset {}",
            e.utf8_error().valid_up_to()
        ),
    })?;
    if text.is_empty() {
        return Err(Error::Format {
            path: path.to_path_buf(),
            message: "the file is empty: a text corpus needs at least one character".into(),
        });
    }
    let vocab = Vocab::from_text(&text);
    let ids = text.chars().map(|c| vocab.index[&c]).collect();
    Ok(Corpus {
        path: path.to_path_buf(),
        ids,
        vocab,
    })
}

/// Splits `ids` into the first `train_fraction` (rounded down) and the rest, in order: the
/// usual train / validation split of a corpus (`split(ids, 0.9)`: first 90 %, last 10 %).
/// `train_fraction` is clamped to `[0, 1]`.
pub fn split(ids: &[usize], train_fraction: f64) -> (&[usize], &[usize]) {
    let f = if train_fraction.is_nan() {
        0.0
    } else {
        train_fraction.clamp(0.0, 1.0)
    };
    let n = ((ids.len() as f64) * f).floor() as usize;
    ids.split_at(n.min(ids.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wengert-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("the system temp dir is writable");
        let p = dir.join(name);
        std::fs::write(&p, bytes).expect("the test's own temp dir is writable");
        p
    }

    #[test]
    fn reads_ids_and_a_sorted_vocabulary() {
        let p = temp_file("small.txt", "hello, world\n".as_bytes());
        let c = read_corpus(&p).expect("reading the ASCII file just written must succeed");
        assert_eq!(
            c.vocab.chars,
            vec!['\n', ' ', ',', 'd', 'e', 'h', 'l', 'o', 'r', 'w']
        );
        assert_eq!(c.ids.len(), 13);
        assert_eq!(c.ids[..3], [5, 4, 6]);
        assert_eq!(c.vocab.decode(&c.ids), "hello, world\n");
        assert_eq!(c.vocab.encode("low"), Some(vec![6, 7, 9]));
        assert_eq!(c.vocab.encode("lowx"), None);
        assert_eq!(c.vocab.decode(&[99]), "\u{FFFD}");
    }

    #[test]
    fn multibyte_characters_are_one_id_each() {
        let p = temp_file("utf8.txt", "né né".as_bytes());
        let c = read_corpus(&p).expect("reading the UTF-8 file just written must succeed");
        assert_eq!(c.ids.len(), 5);
        assert_eq!(c.vocab.len(), 3);
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let p = std::env::temp_dir().join("wengert-no-such-corpus.txt");
        let e = read_corpus(&p).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        assert!(e.to_string().contains("wengert-no-such-corpus.txt"), "{e}");
    }

    #[test]
    fn an_empty_file_is_a_format_error() {
        let p = temp_file("empty.txt", b"");
        let e = read_corpus(&p).unwrap_err();
        assert!(matches!(e, Error::Format { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("empty.txt") && msg.contains("empty"), "{msg}");
    }

    #[test]
    fn non_utf8_is_a_format_error_with_the_offset() {
        let p = temp_file("latin1.txt", b"abc\xff\xfedef");
        let e = read_corpus(&p).unwrap_err();
        assert!(matches!(e, Error::Format { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("latin1.txt") && msg.contains("UTF-8") && msg.contains("offset 3"),
            "{msg}"
        );
    }

    #[test]
    fn split_takes_the_first_part_for_training() {
        let ids: Vec<usize> = (0..10).collect();
        let (a, b) = split(&ids, 0.9);
        assert_eq!((a.len(), b.len()), (9, 1));
        assert_eq!(b, [9]);
        let (a, b) = split(&ids, 1.5);
        assert_eq!((a.len(), b.len()), (10, 0));
        let (a, _) = split(&ids, f64::NAN);
        assert!(a.is_empty());
    }

    #[test]
    fn reads_the_bundled_shakespeare() {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/text/shakespeare_tiny.txt"
        );
        let c = read_corpus(p).expect("reading the bundled shakespeare_tiny.txt must succeed");
        assert_eq!(c.ids.len(), 1_182_436); // plain ASCII: one character per byte
        assert_eq!(c.vocab.len(), 73);
        assert!(c.ids.iter().all(|&i| i < 73));
        assert_eq!(c.vocab.chars[0], '\n');
        let (train, valid) = split(&c.ids, 0.9);
        assert_eq!(train.len() + valid.len(), c.ids.len());
        assert_eq!(train.len(), 1_064_192);
    }
}
