//! # strata-activation
//!
//! (crate doc: to be completed by the implementer — purpose, design decision, runnable example)
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};
use strata_tensor::{Tensor, TensorError};
use thiserror::Error;

/// Errors of activation functions.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ActivationError {
    /// Tensors handed to an activation do not have the shapes it needs.
    #[error("{activation} {op}: shapes do not match: expected {expected:?}, got {actual:?}")]
    ShapeMismatch {
        /// The activation, e.g. `softmax`.
        activation: &'static str,
        /// `forward` or `backward`.
        op: &'static str,
        /// The shape it needed.
        expected: Vec<usize>,
        /// The shape it got.
        actual: Vec<usize>,
    },
    /// An invalid hyper-parameter (e.g. a non-finite LeakyReLU slope) or an unknown name.
    #[error("invalid activation: {0}")]
    Invalid(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

/// `Result` with [`ActivationError`].
pub type Result<T, E = ActivationError> = std::result::Result<T, E>;

/// An activation function `y = f(x)`, applied element-wise (or row-wise for softmax).
///
/// Both methods write into caller-owned buffers (resized as needed), so a layer
/// reuses its allocations across steps.
pub trait Activation: Send + Sync + std::fmt::Debug {
    /// Short lowercase name, e.g. `relu`.
    fn name(&self) -> &'static str;

    /// `output = f(input)`; `output` is resized to `input`'s shape.
    fn forward(&self, input: &Tensor, output: &mut Tensor) -> Result<()>;

    /// `grad_input = dL/dx` given `grad_output = dL/dy`, with `input` and
    /// `output` from the matching forward (each activation uses whichever is
    /// cheaper: ReLU and sigmoid the output, GELU the input). `grad_input` is
    /// resized; the three other tensors must share one shape.
    fn backward(&self, input: &Tensor, output: &Tensor, grad_output: &Tensor, grad_input: &mut Tensor) -> Result<()>;

    /// `f(input)` as a new tensor.
    fn apply(&self, input: &Tensor) -> Result<Tensor> {
        let mut out = Tensor::default();
        self.forward(input, &mut out)?;
        Ok(out)
    }
}

/// The built-in activations as a serializable value (what a model file or the
/// command line names). `ActivationKind` itself implements [`Activation`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActivationKind {
    /// `f(x) = x`.
    Identity,
    /// `f(x) = max(0, x)`.
    Relu,
    /// `f(x) = x` for `x > 0`, else `slope * x`.
    LeakyRelu {
        /// Slope for negative inputs (PyTorch's default 0.01).
        slope: f32,
    },
    /// `f(x) = 1 / (1 + e^-x)`.
    Sigmoid,
    /// `f(x) = tanh(x)`.
    Tanh,
    /// GELU, tanh approximation.
    Gelu,
    /// Row-wise softmax over the last axis, max-subtracted for stability.
    Softmax,
}
