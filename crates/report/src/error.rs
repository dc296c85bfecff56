//! [`ReportError`]: everything that can go wrong while reporting, checking
//! or sweeping, in the workspace's vocabulary (operation, expected, actual).

use std::path::PathBuf;

/// The errors of `strata-report`.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Inputs that do not fit together.
    #[error("{operation}: expected {expected}, got {actual}")]
    Mismatch {
        /// What was being done.
        operation: &'static str,
        /// What it needed.
        expected: String,
        /// What it got.
        actual: String,
    },
    /// A figure could not be drawn.
    #[error("drawing {figure}: {message}")]
    Plot {
        /// The figure (`curves.png`).
        figure: String,
        /// The drawing library's reason.
        message: String,
    },
    /// A CSV table could not be formatted.
    #[error("{file}: {message}")]
    Csv {
        /// The table (`history.csv`).
        file: &'static str,
        /// The `csv` crate's reason.
        message: String,
    },
    /// A file could not be written (the message of `source` names it).
    #[error("{source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<strata_io::IoError>,
    },
    /// A folder could not be created.
    #[error("{}: {source}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Training (a check's or the sweep's) failed.
    #[error(transparent)]
    Training(Box<strata_training::TrainingError>),
    /// A layer refused its input.
    #[error(transparent)]
    Layer(Box<strata_layers::LayerError>),
    /// The data could not be read.
    #[error(transparent)]
    Data(#[from] strata_data::DataError),
    /// The optimizer could not be built.
    #[error(transparent)]
    Optimizer(#[from] strata_optimizer::OptimizerError),
}

impl From<strata_training::TrainingError> for ReportError {
    fn from(e: strata_training::TrainingError) -> Self {
        ReportError::Training(Box::new(e))
    }
}

impl From<strata_layers::LayerError> for ReportError {
    fn from(e: strata_layers::LayerError) -> Self {
        ReportError::Layer(Box::new(e))
    }
}

/// `Result` with [`ReportError`].
pub type Result<T> = std::result::Result<T, ReportError>;
