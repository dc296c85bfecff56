//! [`LossKind`]: the built-in losses as one serializable, parseable value.

use crate::{BinaryCrossEntropy, CrossEntropy, HuberLoss, Loss, MeanSquaredError, Result};
use serde::{Deserialize, Serialize};
use strata_tensor::Tensor;
use thiserror::Error;

/// The built-in losses as a serializable value (what a model spec or the
/// command line names). It implements [`Loss`] by dispatch.
///
/// It parses from `mse`, `cross_entropy` (alias `ce`) and
/// `binary_cross_entropy` (alias `bce`), ignoring case and surrounding
/// whitespace and accepting `-` for `_`, and
/// [`Display`](std::fmt::Display)s as the long name. Serde uses the long
/// names too (`"cross_entropy"`).
///
/// ```
/// use strata_loss::{Loss, LossKind};
/// let k: LossKind = "ce".parse()?;
/// assert_eq!(k, LossKind::CrossEntropy);
/// assert_eq!(k.to_string(), "cross_entropy");
/// assert_eq!(Loss::name(&k), "cross_entropy");
/// # Ok::<(), strata_loss::ParseLossKindError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Mean squared error, see [`MeanSquaredError`].
    Mse,
    /// Softmax cross-entropy from logits, see [`CrossEntropy`].
    CrossEntropy,
    /// Sigmoid binary cross-entropy from logits, see [`BinaryCrossEntropy`].
    BinaryCrossEntropy,
    /// Huber loss with `delta = 1` (PyTorch's default), see [`HuberLoss`].
    Huber,
}

/// The names [`LossKind`] parses.
const VALID_NAMES: &str = "mse, cross_entropy (or ce), binary_cross_entropy (or bce), huber";

/// The error of parsing an unknown [`LossKind`] name; its message lists the valid names.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown loss '{name}' (valid: {VALID_NAMES})")]
pub struct ParseLossKindError {
    /// The name as given.
    pub name: String,
}

impl LossKind {
    /// The names accepted by [`str::parse`], for help texts and error messages.
    pub const VALID_NAMES: &'static str = VALID_NAMES;

    /// Every built-in loss.
    pub const ALL: [LossKind; 4] =
        [LossKind::Mse, LossKind::CrossEntropy, LossKind::BinaryCrossEntropy, LossKind::Huber];

    /// Short lowercase name, e.g. `mse` (the [`Display`](std::fmt::Display) form).
    pub const fn name(self) -> &'static str {
        match self {
            LossKind::Mse => "mse",
            LossKind::CrossEntropy => "cross_entropy",
            LossKind::BinaryCrossEntropy => "binary_cross_entropy",
            LossKind::Huber => "huber",
        }
    }
}

impl Loss for LossKind {
    fn name(&self) -> &'static str {
        LossKind::name(*self)
    }

    fn value(&self, prediction: &Tensor, target: &Tensor) -> Result<f32> {
        match self {
            LossKind::Mse => MeanSquaredError.value(prediction, target),
            LossKind::CrossEntropy => CrossEntropy::new().value(prediction, target),
            LossKind::BinaryCrossEntropy => BinaryCrossEntropy.value(prediction, target),
            LossKind::Huber => HuberLoss::default().value(prediction, target),
        }
    }

    fn gradient(&self, prediction: &Tensor, target: &Tensor, grad: &mut Tensor) -> Result<()> {
        match self {
            LossKind::Mse => MeanSquaredError.gradient(prediction, target, grad),
            LossKind::CrossEntropy => CrossEntropy::new().gradient(prediction, target, grad),
            LossKind::BinaryCrossEntropy => BinaryCrossEntropy.gradient(prediction, target, grad),
            LossKind::Huber => HuberLoss::default().gradient(prediction, target, grad),
        }
    }

    fn value_and_gradient(&self, prediction: &Tensor, target: &Tensor, grad: &mut Tensor) -> Result<f32> {
        match self {
            LossKind::Mse => MeanSquaredError.value_and_gradient(prediction, target, grad),
            LossKind::CrossEntropy => CrossEntropy::new().value_and_gradient(prediction, target, grad),
            LossKind::BinaryCrossEntropy => BinaryCrossEntropy.value_and_gradient(prediction, target, grad),
            LossKind::Huber => HuberLoss::default().value_and_gradient(prediction, target, grad),
        }
    }

    fn n_terms(&self, prediction: &Tensor, target: &Tensor) -> usize {
        match self {
            LossKind::Mse => MeanSquaredError.n_terms(prediction, target),
            LossKind::CrossEntropy => CrossEntropy::new().n_terms(prediction, target),
            LossKind::BinaryCrossEntropy => BinaryCrossEntropy.n_terms(prediction, target),
            LossKind::Huber => HuberLoss::default().n_terms(prediction, target),
        }
    }

    fn correct(&self, prediction: &Tensor, target: &Tensor) -> Option<(usize, usize)> {
        match self {
            LossKind::Mse => MeanSquaredError.correct(prediction, target),
            LossKind::CrossEntropy => CrossEntropy::new().correct(prediction, target),
            LossKind::BinaryCrossEntropy => BinaryCrossEntropy.correct(prediction, target),
            LossKind::Huber => HuberLoss::default().correct(prediction, target),
        }
    }
}

impl std::str::FromStr for LossKind {
    type Err = ParseLossKindError;

    fn from_str(s: &str) -> std::result::Result<Self, ParseLossKindError> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "mse" => Ok(LossKind::Mse),
            "cross_entropy" | "ce" => Ok(LossKind::CrossEntropy),
            "binary_cross_entropy" | "bce" => Ok(LossKind::BinaryCrossEntropy),
            "huber" => Ok(LossKind::Huber),
            _ => Err(ParseLossKindError { name: s.to_string() }),
        }
    }
}

impl std::fmt::Display for LossKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
