//! # strata-activation
//!
//! The activation functions of Strata: [`Identity`], [`Relu`], [`LeakyRelu`],
//! [`Sigmoid`], [`Tanh`], [`Gelu`] (tanh approximation), [`GeluErf`] (the exact
//! form, PyTorch's default) and [`Softmax`]
//! (row-wise over the last axis). Each is a small type implementing the
//! [`Activation`] trait; [`ActivationKind`] names them as one serializable
//! value (for model files and the command line), parses from and prints as
//! `relu`, `leaky_relu:0.2`, `softmax`, ..., and implements [`Activation`]
//! itself by dispatch.
//!
//! **The design decisions:**
//!
//! * *The caller owns the buffers.* [`Activation::forward`] and
//!   [`Activation::backward`] write into tensors the caller passes in,
//!   resizing them with [`Tensor::resize`], so a layer that keeps its output
//!   and gradient tensors between steps allocates nothing once warm.
//! * *Backward is given both the input and the output* of the matching
//!   forward, so each activation differentiates from whichever is cheaper:
//!   ReLU, sigmoid, tanh and softmax from the output (`σ' = y(1-y)`,
//!   `tanh' = 1-y²`), leaky ReLU and GELU from the input. Nothing is cached
//!   inside the activation, which keeps every activation a plain `Copy` value
//!   that is `Send + Sync`.
//! * *Shape errors are values, not panics*: a backward whose tensors disagree
//!   in shape returns [`ActivationError::ShapeMismatch`].
//!
//! All functions are numerically stable for large `|x|`: the sigmoid never
//! evaluates `exp` of a positive number, and softmax subtracts each row's
//! maximum before exponentiating.
//!
//! ```
//! use strata_activation::{Activation, ActivationKind, Relu, Softmax};
//! use strata_tensor::Tensor;
//!
//! // Forward into a reused buffer.
//! let x = Tensor::from_vec(&[2, 2], vec![-1.0, 2.0, 3.0, -4.0])?;
//! let mut y = Tensor::default();
//! Relu.forward(&x, &mut y)?;
//! assert_eq!(y.data(), &[0.0, 2.0, 3.0, 0.0]);
//!
//! // Backward: dL/dx from dL/dy, given the forward's input and output.
//! let g = Tensor::from_vec(&[2, 2], vec![1.0; 4])?;
//! let mut dx = Tensor::default();
//! Relu.backward(&x, &y, &g, &mut dx)?;
//! assert_eq!(dx.data(), &[0.0, 1.0, 1.0, 0.0]);
//!
//! // Softmax is stable for huge logits; every row sums to one.
//! let p = Softmax.apply(&Tensor::from_vec(&[1, 2], vec![1000.0, 0.0])?)?;
//! assert!(p.is_finite() && (p.sum() - 1.0).abs() < 1e-6);
//!
//! // Activations by name, e.g. from a configuration file.
//! let kind: ActivationKind = "leaky_relu:0.2".parse()?;
//! assert_eq!(kind, ActivationKind::LeakyRelu { slope: 0.2 });
//! assert_eq!(kind.to_string(), "leaky_relu:0.2");
//! assert_eq!(kind.apply(&Tensor::from_slice(&[-1.0]))?.data(), &[-0.2]);
//! # Ok::<(), strata_activation::ActivationError>(())
//! ```
#![warn(missing_docs)]

mod gelu;
mod gelu_erf;
mod identity;
mod kind;
mod leaky_relu;
mod relu;
mod sigmoid;
mod softmax;
mod tanh;
mod util;

pub use gelu::Gelu;
pub use gelu_erf::GeluErf;
pub use identity::Identity;
pub use kind::ActivationKind;
pub use leaky_relu::LeakyRelu;
pub use relu::Relu;
pub use sigmoid::{Sigmoid, sigmoid};
pub use softmax::Softmax;
pub use tanh::Tanh;

use strata_tensor::{Tensor, TensorError};
use thiserror::Error;

/// Errors of activation functions.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ActivationError {
    /// Tensors handed to an activation do not have the shapes it needs:
    /// `backward`'s `output` or `grad_output` differs in shape from `input`
    /// (`expected` is the input's shape), or softmax got a rank-0 tensor
    /// (`expected` is `[1]`, the shape of a one-element row).
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

    /// Whether `backward` reads `input`. Activations whose derivative is a
    /// function of the output (ReLU, sigmoid, tanh, softmax, identity) return
    /// `false`, and a layer then need not keep a copy of the input; it may pass
    /// the output in the input's place.
    fn uses_input(&self) -> bool {
        true
    }

    /// `f(input)` as a new tensor.
    fn apply(&self, input: &Tensor) -> Result<Tensor> {
        let mut out = Tensor::default();
        self.forward(input, &mut out)?;
        Ok(out)
    }
}
