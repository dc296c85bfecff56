use crate::callback::BoxError;
use strata_data::DataError;
use strata_layers::{Dim, LayerError, ShapeDisplay};
use strata_loss::LossError;
use strata_optimizer::OptimizerError;
use thiserror::Error;

/// Everything that can stop training.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TrainingError {
    /// The loss became NaN or infinite. Training stops before that batch's
    /// update, so the model keeps the weights it had before the batch.
    #[error(
        "the loss is not finite ({loss}) at epoch {epoch}, batch {batch}; training stopped and the weights from before this batch were kept (try a lower learning rate or gradient clipping)"
    )]
    NonFiniteLoss {
        /// Epoch, counted from 1.
        epoch: usize,
        /// Batch within the epoch, counted from 1.
        batch: usize,
        /// The loss value.
        loss: f32,
    },
    /// A gradient became NaN or infinite; the update was not applied.
    #[error(
        "the gradient of '{parameter}' is not finite at epoch {epoch}, batch {batch}; training stopped and the weights from before this batch were kept"
    )]
    NonFiniteGradient {
        /// Epoch, counted from 1.
        epoch: usize,
        /// Batch within the epoch, counted from 1.
        batch: usize,
        /// The parameter.
        parameter: String,
    },
    /// A dataset with no sample.
    #[error("the {what} dataset is empty")]
    EmptyDataset {
        /// `training`, `validation`, ...
        what: &'static str,
    },
    /// A dataset's class label does not fit the model's output.
    #[error(
        "the {what} dataset has label {label}, but the model's output has only {n_classes} classes (0..{n_classes})"
    )]
    LabelOutOfRange {
        /// Which dataset.
        what: &'static str,
        /// The largest label found.
        label: usize,
        /// Width of the model's output.
        n_classes: usize,
    },
    /// The dataset's samples do not fit the model's input.
    #[error("the {what} dataset's samples have shape {data:?}, but the model expects {model}", model = ShapeDisplay(model))]
    InputShape {
        /// Which dataset.
        what: &'static str,
        /// Per-sample shape of the data.
        data: Vec<usize>,
        /// Per-sample shape the model accepts (as far as it tells).
        model: Vec<Dim>,
    },
    /// A training setting that cannot work (zero epochs, zero batch size, ...).
    #[error("invalid training configuration: {0}")]
    InvalidConfig(String),
    /// A callback failed.
    #[error("callback '{callback}' failed: {source}")]
    Callback {
        /// The callback's name.
        callback: String,
        /// What went wrong.
        source: BoxError,
    },
    /// A gradient hook failed (the update of that batch was not applied).
    #[error("gradient hook '{hook}' failed at epoch {epoch}, batch {batch}: {source}")]
    Hook {
        /// The hook's name.
        hook: String,
        /// Epoch, counted from 1.
        epoch: usize,
        /// Batch within the epoch, counted from 1.
        batch: usize,
        /// What went wrong.
        source: BoxError,
    },
    /// A snapshot does not fit this trainer or model.
    #[error("cannot restore the snapshot: {0}")]
    Restore(String),
    /// A layer failed.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// The loss failed.
    #[error(transparent)]
    Loss(#[from] LossError),
    /// The optimizer failed.
    #[error(transparent)]
    Optimizer(#[from] OptimizerError),
    /// The data failed.
    #[error(transparent)]
    Data(#[from] DataError),
}

/// `Result` with [`TrainingError`].
pub type Result<T, E = TrainingError> = std::result::Result<T, E>;
