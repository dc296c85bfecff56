use std::path::PathBuf;
use strata_data::DataError;
use strata_layers::LayerError;
use strata_tensor::TensorError;
use thiserror::Error;

/// Everything that can go wrong with a [`crate::Model`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A model file's metadata entry could not be read.
    #[error("{path}: model metadata '{key}' is invalid: {reason}")]
    Metadata {
        /// The file.
        path: PathBuf,
        /// The metadata key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// Features whose per-sample shape the model does not take.
    #[error("{operation}: the model takes samples of shape {expected}, got features of shape {actual:?}")]
    InputShape {
        /// `predict`, `predict_proba`, ...
        operation: &'static str,
        /// The per-sample shape the model takes.
        expected: String,
        /// The shape of the features given.
        actual: Vec<usize>,
    },
    /// Class names that do not fit the model's output.
    #[error("the model has {n_outputs} outputs but {n_names} class names were given")]
    ClassNames {
        /// Width of the model's output.
        n_outputs: usize,
        /// Names given.
        n_names: usize,
    },
    /// Class names that a model file could not hold or `predict` could
    /// not print: one named twice, or one with a control character.
    #[error("invalid class names: {0}")]
    ClassName(String),
    /// What [`crate::Model::to_saved`] would write is not what a model file
    /// can hold (a file it could not read back).
    #[error("cannot save the model: its {key} is invalid: {reason}")]
    Unsavable {
        /// The metadata (`preprocessing`).
        key: &'static str,
        /// Why.
        reason: String,
    },
    /// A model's layers would hold more values than the budget allows
    /// ([`crate::check_budget`]): refused before anything is allocated.
    #[error(
        "{}the model would hold {total} parameters, more than the budget of {budget}: layer '{layer}' ({kind}) alone holds {count}",
        file.as_ref().map(|f| format!("{}: ", f.display())).unwrap_or_default()
    )]
    TooManyParameters {
        /// The model file, when the spec came from one.
        file: Option<PathBuf>,
        /// The largest layer, by path (`dense_2`).
        layer: String,
        /// Its kind.
        kind: String,
        /// Its values.
        count: u128,
        /// The whole model's.
        total: u128,
        /// The budget.
        budget: u64,
    },
    /// A model file whose tensors do not fit its spec (a missing, extra or
    /// wrongly shaped tensor).
    #[error("{path}: {source}")]
    LayerInFile {
        /// The file.
        path: PathBuf,
        /// What does not fit.
        source: LayerError,
    },
    /// A layer or the network failed.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// The model file could not be read or written.
    #[error(transparent)]
    File(#[from] strata_io::IoError),
    /// The preprocessing failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

/// `Result` with [`ModelError`].
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
