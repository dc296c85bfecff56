//! # strata-loss
//!
//! (crate doc: to be completed by the implementer)
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};
use strata_tensor::{Tensor, TensorError};
use thiserror::Error;

/// Errors of loss functions.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum LossError {
    /// Prediction and target shapes do not fit together.
    #[error("{loss}: prediction shape {prediction:?} does not fit target shape {target:?}")]
    ShapeMismatch {
        /// The loss, e.g. `cross_entropy`.
        loss: &'static str,
        /// Shape of the prediction.
        prediction: Vec<usize>,
        /// Shape of the target.
        target: Vec<usize>,
    },
    /// A class-index target outside `0..n_classes` (or not an integer).
    #[error("{loss}: label {label} in row {row} is not a class in 0..{n_classes}")]
    LabelOutOfRange {
        /// The loss.
        loss: &'static str,
        /// Row of the batch.
        row: usize,
        /// The label as given.
        label: f32,
        /// Number of classes (width of the prediction).
        n_classes: usize,
    },
    /// A target value outside the loss's domain (e.g. a BCE target outside [0, 1]).
    #[error("{loss}: invalid target {value} at element {index}: {reason}")]
    InvalidTarget {
        /// The loss.
        loss: &'static str,
        /// Flat index of the element.
        index: usize,
        /// The value.
        value: f32,
        /// What is wrong.
        reason: &'static str,
    },
    /// The batch is empty.
    #[error("{loss}: empty batch")]
    EmptyBatch {
        /// The loss.
        loss: &'static str,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

/// `Result` with [`LossError`].
pub type Result<T, E = LossError> = std::result::Result<T, E>;

/// A loss: a scalar that says how wrong a batch of predictions is, and its
/// gradient with respect to the prediction. Reductions are means over the
/// batch (like PyTorch's `reduction='mean'`).
pub trait Loss: Send + Sync + std::fmt::Debug {
    /// Short lowercase name, e.g. `mse`.
    fn name(&self) -> &'static str;

    /// The loss value, averaged over the batch.
    fn value(&self, prediction: &Tensor, target: &Tensor) -> Result<f32>;

    /// `grad = dL/dprediction` (resized to the prediction's shape).
    fn gradient(&self, prediction: &Tensor, target: &Tensor, grad: &mut Tensor) -> Result<()>;

    /// Value and gradient in one call; losses that share work override it.
    fn value_and_gradient(&self, prediction: &Tensor, target: &Tensor, grad: &mut Tensor) -> Result<f32> {
        let v = self.value(prediction, target)?;
        self.gradient(prediction, target, grad)?;
        Ok(v)
    }
}

/// The built-in losses as a serializable value (what a model spec or the
/// command line names). It implements [`Loss`] by dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Mean squared error.
    Mse,
    /// Softmax cross-entropy from logits.
    CrossEntropy,
    /// Sigmoid binary cross-entropy from logits.
    BinaryCrossEntropy,
}
