//! [`DataError`]: everything that can go wrong while loading, splitting or
//! batching data, with enough context (file, line, column) to show a user.

use std::path::PathBuf;
use strata_tensor::TensorError;
use thiserror::Error;

/// Everything that can go wrong in `strata-data`.
///
/// Errors about a file name the file (`file` is the path or, for in-memory
/// bytes, the name the caller gave them) and, for CSV, the 1-based line and
/// column, so a message reads like
/// `mnist.csv: line 17, column 203: "12x" is not a finite number`.
///
/// (The file name field is called `file`, not `source`: `thiserror` reserves
/// a field named `source` for the underlying error.)
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Data that starts like gzip (bytes `1f 8b`) could not be decompressed.
    #[error("{file}: corrupt gzip data: {source}")]
    Gzip {
        /// The file or source name.
        file: String,
        /// The decompressor's error.
        source: std::io::Error,
    },
    /// A CSV cell is not a finite number.
    #[error("{file}: line {line}, column {column}: {value:?} is not a finite number")]
    Parse {
        /// The file or source name.
        file: String,
        /// 1-based line number, counting the header line.
        line: usize,
        /// 1-based column number.
        column: usize,
        /// The offending cell (cut to 40 characters).
        value: String,
    },
    /// A CSV row has a different number of cells than the first data row.
    #[error("{file}: line {line}: expected {expected} cells (as on the first data row), found {found}")]
    Ragged {
        /// The file or source name.
        file: String,
        /// 1-based line number, counting the header line.
        line: usize,
        /// Number of cells of the first data row.
        expected: usize,
        /// Number of cells of this row.
        found: usize,
    },
    /// There is nothing to load or use: a file without data rows, an empty
    /// index list, an empty part of a split.
    #[error("{what} holds no data")]
    Empty {
        /// What is empty.
        what: String,
    },
    /// A target cell that cannot be one: a class label that is not a
    /// non-negative integer or is too large, names mixed with indices, a
    /// missing or non-numeric regression target.
    #[error("{file}: line {line}, column {column}: label {value:?} {reason}")]
    InvalidLabel {
        /// The file or source name.
        file: String,
        /// 1-based line number, counting the header line.
        line: usize,
        /// 1-based column number.
        column: usize,
        /// The offending cell (cut to 40 characters).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A feature value is missing (an empty cell, `NA`, `NaN`, `?`, ...) and
    /// the options say to refuse it.
    #[error(
        "{file}: line {line}, column {column}: missing value {value:?} (use --missing drop or --missing mean to handle it)"
    )]
    Missing {
        /// The file or source name.
        file: String,
        /// 1-based line number, counting the header line.
        line: usize,
        /// 1-based column number.
        column: usize,
        /// The cell as written.
        value: String,
    },
    /// A line of a text file is not what a text dataset takes (not UTF-8,
    /// a character outside the vocabulary, too long).
    #[error("{file}: line {line}: {reason}")]
    Text {
        /// The file or source name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A class label does not fit a given number of classes (for example a
    /// model's output width).
    #[error("label {label} is out of range for {n_classes} classes (labels must be 0..{n_classes})")]
    LabelOutOfRange {
        /// The (largest) offending label.
        label: usize,
        /// The number of classes it must be below.
        n_classes: usize,
    },
    /// IDX data (the MNIST distribution format) is malformed.
    #[error("{file}: invalid IDX data: {reason}")]
    Idx {
        /// The file or source name.
        file: String,
        /// What is wrong, e.g. expected and found byte counts.
        reason: String,
    },
    /// A split fraction is outside `[0, 1)`, or the held-out fractions sum to 1 or more.
    #[error("{name} = {value} is invalid: fractions must lie in [0, 1) and the held-out parts must sum to less than 1")]
    InvalidFraction {
        /// Which fraction, e.g. `test_fraction`.
        name: &'static str,
        /// Its value.
        value: f32,
    },
    /// Two shapes (or row counts) that must agree do not.
    #[error("{op}: shapes do not match: left {left:?}, right {right:?}")]
    ShapeMismatch {
        /// The operation.
        op: &'static str,
        /// Shape of the left (or first) operand.
        left: Vec<usize>,
        /// Shape of the right (or second) operand.
        right: Vec<usize>,
    },
    /// An argument outside its domain (a batch size of 0, a label column that
    /// does not exist, a stratified split of unlabelled data, ...).
    #[error("{op}: invalid argument: {reason}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An error from a tensor operation.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

/// `Result` with [`DataError`].
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// A cell's text for an error message: lossy UTF-8, cut to 40 characters.
pub(crate) fn cell_text(bytes: &[u8]) -> String {
    const MAX: usize = 40;
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() > MAX {
        let mut cut: String = text.chars().take(MAX).collect();
        cut.push_str("...");
        cut
    } else {
        text.into_owned()
    }
}
