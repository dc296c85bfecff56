//! The one error type of `strata-io`.

use std::path::PathBuf;
use strata_layers::LayerError;

/// Results of this crate.
pub type Result<T> = std::result::Result<T, IoError>;

/// What went wrong reading or writing a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// The operating system refused a read or a write.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a valid file of the expected kind.
    #[error("{path}: not a valid {expected}: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What it should have been (`Strata model file`, `Strata checkpoint`, `safetensors file`).
        expected: &'static str,
        /// What is wrong with it.
        problem: FormatProblem,
    },
    /// The file is well formed, but its weights do not fit the model (a
    /// missing or unexpected tensor, a wrong shape).
    #[error("{path}: {source}")]
    Layer {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: LayerError,
    },
    /// A safetensors file's tensor names are not the model's PyTorch names:
    /// it lacks some the model needs, or holds some the model does not use.
    /// Both lists are sorted and name at most [`NAMES_SHOWN`] tensors each.
    #[error("{path}: {}", names_differ(missing, unused))]
    TorchNames {
        /// The file.
        path: PathBuf,
        /// Names the model needs that the file lacks.
        missing: Vec<String>,
        /// Names the file holds that the model does not use.
        unused: Vec<String>,
    },
    /// A layer or a tensor cannot be written in the requested format.
    #[error("{operation}: {reason}")]
    Unsupported {
        /// What was being done (`safetensors export`).
        operation: &'static str,
        /// Which layer or tensor, and why.
        reason: String,
    },
}

/// How many names [`IoError::TorchNames`] shows of each list.
pub const NAMES_SHOWN: usize = 8;

/// The message of [`IoError::TorchNames`]: the hint about PyTorch's
/// numbering when the two lists side by side look like a shift.
fn names_differ(missing: &[String], unused: &[String]) -> String {
    let mut text = match (missing.is_empty(), unused.is_empty()) {
        (false, true) => format!("the model needs tensors the file lacks: {}", list(missing)),
        (true, _) => format!("the file holds tensors the model does not use: {}", list(unused)),
        (false, false) => format!(
            "the model needs tensors the file lacks: {}; the file's tensors the model does not use: {}",
            list(missing),
            list(unused)
        ),
    };
    if !missing.is_empty() && !unused.is_empty() {
        text.push_str(
            ". PyTorch numbers every module of an nn.Sequential, so a module with no Strata layer of its own (the \
             Flatten after AdaptiveAvgPool2d(1), say) shifts the numbers after it: add it to the spec \
             (docs/interop.md)",
        );
    }
    text
}

fn list(names: &[String]) -> String {
    match names.len() {
        0 => "none".into(),
        n if n > NAMES_SHOWN => format!("{} and {} more", names[..NAMES_SHOWN].join(", "), n - NAMES_SHOWN),
        _ => names.join(", "),
    }
}

/// Why a file is not what it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatProblem {
    /// The file ends before what its header announces.
    #[error("truncated: expected {expected} bytes, the file holds {actual}")]
    Truncated {
        /// Bytes the header announces (or the header's own length).
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// The file is not a Strata file at all.
    #[error("this is {found}")]
    OtherFormat {
        /// What it looks like (`a safetensors file`, `not a Strata file`).
        found: String,
    },
    /// A Strata file of another kind (a checkpoint where a model file was expected).
    #[error("this is a {found}")]
    WrongKind {
        /// What it is (`Strata checkpoint`).
        found: &'static str,
    },
    /// Written by a newer Strata, in a format version this build does not know.
    #[error("format version {version}, newer than this build reads (up to {supported}); written by {writer}")]
    NewerVersion {
        /// The file's format version.
        version: u32,
        /// The newest version this build reads.
        supported: u32,
        /// The writer named in the file.
        writer: String,
    },
    /// The content does not match its checksum: the file is corrupt.
    #[error("checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): the file is corrupt")]
    Checksum {
        /// The checksum in the header.
        stored: u64,
        /// The checksum of the bytes present.
        computed: u64,
    },
    /// The payload could not be decoded.
    #[error("payload: {0}")]
    Payload(String),
}

impl IoError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> IoError {
        IoError::Io { path: path.into(), source }
    }
}

impl From<IoError> for std::io::Error {
    /// The operating system's error itself, or the error as `Other`.
    fn from(e: IoError) -> std::io::Error {
        match e {
            IoError::Io { source, .. } => source,
            other => std::io::Error::other(other),
        }
    }
}
