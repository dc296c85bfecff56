//! Text of one item a line (names, words, short sentences) for a
//! character-level language model: reading the lines, a character
//! vocabulary, next-character datasets, and the add-one bigram baseline a
//! model has to beat.

use crate::dataset::InMemoryDataset;
use crate::error::{DataError, Result};
use crate::gzip::for_each_line;
use crate::sequence::MAX_VOCAB;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The most text [`read_lines`] reads (after decompression): 1 GiB. A larger
/// file, or a gzip stream that inflates beyond it, is an error before it
/// fills the memory.
pub const MAX_TEXT_BYTES: u64 = 1 << 30;

/// The lines of a text file, plain or gzipped (detected by the magic bytes),
/// without their line ends (`\n` or `\r\n`); line `i` of the result is line
/// `i + 1` of the file, blank lines included.
///
/// Errors: [`DataError::Io`], [`DataError::Gzip`], [`DataError::Text`] for a
/// line that is not UTF-8 (naming the line) or text beyond
/// [`MAX_TEXT_BYTES`].
pub fn read_lines(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    read_lines_from(BufReader::with_capacity(1 << 16, file), (&path.display().to_string(), path))
}

/// [`read_lines`] for bytes in memory (an embedded file); `source` names them in errors.
pub fn read_lines_bytes(bytes: &[u8], source: &str) -> Result<Vec<String>> {
    read_lines_from(bytes, (source, Path::new(source)))
}

fn read_lines_from<R: BufRead>(reader: R, (source, path): (&str, &Path)) -> Result<Vec<String>> {
    let mut lines: Vec<String> = Vec::new();
    // A line costs its text and a `String` (24 bytes): a gigabyte of empty
    // lines would take 12 GB.
    let (budget, mut used) = (crate::memory::data_budget(), 0u64);
    for_each_line(reader, (source, path), Some(MAX_TEXT_BYTES), |line, bytes| {
        used += (bytes.len() + std::mem::size_of::<String>()) as u64;
        let limit =
            if used > budget { Err(crate::memory::beyond(format!("{budget} bytes"), "of lines")) } else { Ok(()) };
        limit.and_then(|()| crate::memory::room(&mut lines, 1, "lines")).map_err(|reason| DataError::Text {
            file: source.into(),
            line,
            reason,
        })?;
        // A byte-order mark opening the file is no character of the text.
        let bytes = if line == 1 { bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes) } else { bytes };
        let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let text = std::str::from_utf8(text).map_err(|e| DataError::Text {
            file: source.into(),
            line,
            reason: format!("not UTF-8 text (invalid byte at column {})", e.valid_up_to() + 1),
        })?;
        lines.push(text.to_owned());
        Ok(())
    })?;
    Ok(lines)
}

/// Characters as ids: [`CharVocab::PAD`] (0) pads sequences,
/// [`CharVocab::BOUNDARY`] (1) marks where an item starts and ends, and the
/// characters follow in sorted order from 2.
///
/// ```
/// use strata_data::CharVocab;
/// let vocab = CharVocab::from_lines(&["abba".to_string(), "cab".to_string()])?;
/// assert_eq!(vocab.len(), 5); // pad, boundary, a, b, c
/// assert_eq!(vocab.encode("cab").unwrap(), [4, 2, 3]);
/// assert_eq!(vocab.decode(&[3, 2, 4]), "bac");
/// assert_eq!(vocab.encode("abd"), Err(2)); // 'd' is not in the vocabulary
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharVocab {
    chars: Vec<char>,
    ids: BTreeMap<char, usize>,
}

impl CharVocab {
    /// The padding id.
    pub const PAD: usize = 0;
    /// The id that starts and ends every item.
    pub const BOUNDARY: usize = 1;

    /// Every character that occurs in `lines`.
    pub fn from_lines(lines: &[String]) -> Result<CharVocab> {
        let set: BTreeSet<char> = lines.iter().flat_map(|l| l.chars()).collect();
        CharVocab::from_chars(&set.into_iter().collect::<String>())
    }

    /// The characters of `chars`, in that order (as [`CharVocab::chars`]
    /// gives them back). Errors: a character twice, or more than
    /// [`MAX_VOCAB`] ids.
    pub fn from_chars(chars: &str) -> Result<CharVocab> {
        let op = "CharVocab::from_chars";
        let chars: Vec<char> = chars.chars().collect();
        let ids: BTreeMap<char, usize> = chars.iter().enumerate().map(|(i, &c)| (c, i + 2)).collect();
        if ids.len() != chars.len() {
            return Err(DataError::InvalidArgument { op, reason: "a character occurs twice".into() });
        }
        if chars.len() + 2 > MAX_VOCAB {
            let reason = format!("{} characters are more than {MAX_VOCAB} ids", chars.len());
            return Err(DataError::InvalidArgument { op, reason });
        }
        Ok(CharVocab { chars, ids })
    }

    /// Ids in all: the characters, padding and the boundary.
    pub fn len(&self) -> usize {
        self.chars.len() + 2
    }

    /// Never: padding and the boundary are always there.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The characters, in id order from id 2.
    pub fn chars(&self) -> String {
        self.chars.iter().collect()
    }

    /// The ids of `text`'s characters, or the index (in characters) of the
    /// first one the vocabulary lacks.
    pub fn encode(&self, text: &str) -> std::result::Result<Vec<usize>, usize> {
        text.chars().enumerate().map(|(i, c)| self.ids.get(&c).copied().ok_or(i)).collect()
    }

    /// The characters of `ids`; padding and the boundary are left out, an
    /// id outside the vocabulary becomes `�`.
    pub fn decode(&self, ids: &[usize]) -> String {
        ids.iter().filter(|&&id| id >= 2).map(|&id| self.chars.get(id - 2).copied().unwrap_or('\u{fffd}')).collect()
    }

    /// Each line as `[BOUNDARY, c1, .., cn, BOUNDARY]`. Errors
    /// ([`DataError::Text`], naming `source` and the line `first_line + i`):
    /// a character the vocabulary lacks.
    pub fn encode_lines(&self, lines: &[String], source: &str, first_line: usize) -> Result<Vec<Vec<usize>>> {
        lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let ids = self.encode(line).map_err(|at| DataError::Text {
                    file: source.into(),
                    line: first_line + i,
                    reason: format!(
                        "character {} ({:?}) is not in the vocabulary",
                        at + 1,
                        line.chars().nth(at).unwrap_or_default()
                    ),
                })?;
                Ok([Self::BOUNDARY].into_iter().chain(ids).chain([Self::BOUNDARY]).collect())
            })
            .collect()
    }
}

/// The next-id dataset of items encoded as `[BOUNDARY, c1, .., cn,
/// BOUNDARY]` ([`CharVocab::encode_lines`]): input `[BOUNDARY, c1, .., cn]`,
/// target `[c1, .., cn, BOUNDARY]`, padded with [`CharVocab::PAD`] to the
/// longest. Train with a cross-entropy that ignores `PAD`; its mean is then
/// nats per character, the end of each item counted as one.
pub fn next_id_dataset(items: &[Vec<usize>], vocab: usize) -> Result<InMemoryDataset> {
    let inputs: Vec<&[usize]> = items.iter().map(|s| &s[..s.len().saturating_sub(1)]).collect();
    let targets: Vec<&[usize]> = items.iter().map(|s| s.get(1..).unwrap_or(&[])).collect();
    InMemoryDataset::from_sequences(&inputs, &targets, CharVocab::PAD, vocab)
}

/// The add-one (Laplace) bigram model: `P(next | previous) = (count(previous,
/// next) + 1) / (count(previous) + n)`, `n` the ids that can come next (every
/// id but padding). The baseline a language model must beat.
///
/// ```
/// use strata_data::BigramBaseline;
/// // Ids 1 (boundary), 2, 3: "2 3" twice. From 1, 2 always follows: (2 + 1) / (2 + 3) = 0.6.
/// let items = vec![vec![1, 2, 3, 1], vec![1, 2, 3, 1]];
/// let bigram = BigramBaseline::fit(&items, 4);
/// assert!((bigram.probability(1, 2) - 0.6).abs() < 1e-12);
/// # let nats = bigram.nats_per_token(&items);
/// # assert!((nats - (-0.6f64.ln())).abs() < 1e-12);
/// ```
#[derive(Debug, Clone)]
pub struct BigramBaseline {
    vocab: usize,
    /// Counts of the pairs seen, by (previous, next): as many entries as
    /// distinct pairs, whatever the vocabulary (a dense `vocab x vocab`
    /// table would not fit a large one).
    counts: std::collections::HashMap<(usize, usize), u64>,
    totals: std::collections::HashMap<usize, u64>,
}

impl BigramBaseline {
    /// Count the pairs of neighbouring ids of `items` (ids in `1..vocab`).
    pub fn fit(items: &[Vec<usize>], vocab: usize) -> BigramBaseline {
        let mut b = BigramBaseline { vocab, counts: Default::default(), totals: Default::default() };
        for item in items {
            for w in item.windows(2).filter(|w| w[0] < vocab && w[1] < vocab) {
                *b.counts.entry((w[0], w[1])).or_default() += 1;
                *b.totals.entry(w[0]).or_default() += 1;
            }
        }
        b
    }

    /// `P(next | previous)`, smoothed.
    pub fn probability(&self, previous: usize, next: usize) -> f64 {
        let n = self.vocab.saturating_sub(1) as f64;
        let (c, t) = match (previous < self.vocab, next < self.vocab) {
            (true, true) => (
                self.counts.get(&(previous, next)).copied().unwrap_or(0),
                self.totals.get(&previous).copied().unwrap_or(0),
            ),
            _ => (0, 0),
        };
        (c as f64 + 1.0) / (t as f64 + n)
    }

    /// The mean of `-ln P(next | previous)` over every pair of neighbours of
    /// `items`: nats per predicted id.
    pub fn nats_per_token(&self, items: &[Vec<usize>]) -> f64 {
        let (mut sum, mut n) = (0.0, 0usize);
        for w in items.iter().flat_map(|s| s.windows(2)) {
            sum -= self.probability(w[0], w[1]).ln();
            n += 1;
        }
        if n == 0 { f64::NAN } else { sum / n as f64 }
    }
}
