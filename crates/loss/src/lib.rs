//! # strata-loss
//!
//! The loss functions of Strata: a scalar saying how wrong a batch of
//! predictions is, and its gradient with respect to the prediction, ready to
//! hand to the last layer's backward.
//!
//! | type | formula (mean over …) | target |
//! |---|---|---|
//! | [`MeanSquaredError`] | `(p - t)²`, all elements (PyTorch `MSELoss()`) | same shape as the prediction |
//! | [`CrossEntropy`] | `-Σ_j t_j log softmax(p)_j`, rows (every axis but the last) | class indices `[..]` / `[.., 1]` (an ignore index for padding), or probabilities `[.., classes]` |
//! | [`BinaryCrossEntropy`] | `-t log σ(x) - (1-t) log(1-σ(x))`, all elements | same shape, values in `[0, 1]` |
//!
//! [`LossKind`] names them as one serializable value, parses from and prints
//! as `mse`, `cross_entropy` (`ce`), `binary_cross_entropy` (`bce`), and
//! implements [`Loss`] itself by dispatch.
//!
//! **The design decisions:**
//!
//! * *Classification losses take logits*, never probabilities: cross-entropy
//!   fuses the softmax and binary cross-entropy the sigmoid, so both are
//!   computed with log-sum-exp / softplus identities that stay finite for
//!   any finite logit, and their gradients are the simple, well-conditioned
//!   `softmax(p) - t` and `σ(x) - t`. The network's last layer therefore has
//!   no softmax/sigmoid activation.
//! * *The gradient goes into a caller-owned buffer* (resized to the
//!   prediction's shape), and [`Loss::value_and_gradient`] computes shared
//!   work once, so a training step allocates nothing here once warm.
//! * *Bad input is an error value, never a panic*: shapes that do not fit,
//!   an empty batch, a label that is not a class index, a BCE target outside
//!   `[0, 1]` each have a [`LossError`] variant.
//!
//! Sums are accumulated in `f64`.
//!
//! ```
//! use strata_loss::{CrossEntropy, Loss, LossError, LossKind};
//! use strata_tensor::Tensor;
//!
//! // Two samples, three classes; logits straight from the last linear layer.
//! let logits = Tensor::from_vec(&[2, 3], vec![0.0, 0.0, 0.0, 10.0, 0.0, 0.0])?;
//! let labels = Tensor::from_slice(&[2.0, 0.0]); // class indices as f32
//!
//! let mut grad = Tensor::default();
//! let loss = CrossEntropy::new().value_and_gradient(&logits, &labels, &mut grad)?;
//! // Row 0: uniform over 3 classes, -ln(1/3) = ln 3; row 1: almost certain and right.
//! assert!((loss - 3f32.ln() / 2.0).abs() < 1e-3);
//! assert_eq!(grad.shape(), &[2, 3]);
//!
//! // A label that is not a class is an error, not a panic.
//! let bad = Tensor::from_slice(&[2.0, 3.0]);
//! assert!(matches!(CrossEntropy::new().value(&logits, &bad), Err(LossError::LabelOutOfRange { row: 1, .. })));
//!
//! // Losses by name, e.g. from a configuration file.
//! let kind: LossKind = "mse".parse()?;
//! let p = Tensor::from_slice(&[1.0, 2.0]);
//! let t = Tensor::from_slice(&[0.0, 0.0]);
//! assert_eq!(kind.value(&p, &t)?, 2.5); // (1 + 4) / 2
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod binary_cross_entropy;
mod cross_entropy;
mod huber;
mod kind;
mod mse;

pub use binary_cross_entropy::BinaryCrossEntropy;
pub use cross_entropy::CrossEntropy;
pub use huber::HuberLoss;
pub use kind::{LossKind, ParseLossKindError};
pub use mse::MeanSquaredError;

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
    /// A hyper-parameter of the loss outside its domain (Huber's `delta`).
    #[error("{loss}: {parameter} must be {expected}, got {value}")]
    InvalidParameter {
        /// The loss.
        loss: &'static str,
        /// The parameter.
        parameter: &'static str,
        /// Its domain.
        expected: &'static str,
        /// The value given.
        value: f32,
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

    /// How many terms the mean of [`Loss::value`] runs over, up to a factor
    /// that is the same for every batch: what an evaluation over several
    /// batches weights each batch's mean by. The default is the number of
    /// rows (the product of every axis but the last); a loss that skips rows
    /// (cross-entropy's `ignore_index`) counts only the others.
    fn n_terms(&self, prediction: &Tensor, _target: &Tensor) -> usize {
        prediction.len() / prediction.shape().last().copied().unwrap_or(1).max(1)
    }

    /// `(correct, counted)` predictions of a batch, for the losses that
    /// define an accuracy (classification); `None` for the others
    /// (regression) and for targets the loss would reject.
    fn correct(&self, _prediction: &Tensor, _target: &Tensor) -> Option<(usize, usize)> {
        None
    }
}

impl<L: Loss + ?Sized> Loss for Box<L> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn value(&self, prediction: &Tensor, target: &Tensor) -> Result<f32> {
        (**self).value(prediction, target)
    }
    fn gradient(&self, prediction: &Tensor, target: &Tensor, grad: &mut Tensor) -> Result<()> {
        (**self).gradient(prediction, target, grad)
    }
    fn value_and_gradient(&self, prediction: &Tensor, target: &Tensor, grad: &mut Tensor) -> Result<f32> {
        (**self).value_and_gradient(prediction, target, grad)
    }
    fn n_terms(&self, prediction: &Tensor, target: &Tensor) -> usize {
        (**self).n_terms(prediction, target)
    }
    fn correct(&self, prediction: &Tensor, target: &Tensor) -> Option<(usize, usize)> {
        (**self).correct(prediction, target)
    }
}

/// `ShapeMismatch` for `loss` with the shapes of both tensors.
fn shape_mismatch(loss: &'static str, prediction: &Tensor, target: &Tensor) -> LossError {
    LossError::ShapeMismatch { loss, prediction: prediction.shape().to_vec(), target: target.shape().to_vec() }
}

/// Check that prediction and target have one shape and at least one element;
/// returns the element count.
fn check_same_shape(loss: &'static str, prediction: &Tensor, target: &Tensor) -> Result<usize> {
    if prediction.shape() != target.shape() {
        return Err(shape_mismatch(loss, prediction, target));
    }
    if prediction.is_empty() {
        return Err(LossError::EmptyBatch { loss });
    }
    Ok(prediction.len())
}
