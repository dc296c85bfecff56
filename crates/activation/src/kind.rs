//! [`ActivationKind`]: the built-in activations as one serializable, parseable value.

use crate::{Activation, ActivationError, Gelu, GeluErf, Identity, LeakyRelu, Relu, Result, Sigmoid, Softmax, Tanh};
use serde::{Deserialize, Serialize};
use strata_tensor::Tensor;

/// The built-in activations as a serializable value (what a model file or the
/// command line names). `ActivationKind` itself implements [`Activation`].
///
/// It parses from (and [`Display`](std::fmt::Display)s as) the names
/// `identity` (alias `linear`), `relu`, `leaky_relu` (slope 0.01) or
/// `leaky_relu:<slope>` (e.g. `leaky_relu:0.2`), `sigmoid`, `tanh`, `gelu`
/// (the tanh approximation, alias `gelu_tanh`), `gelu_erf` (the exact form)
/// and `softmax`. Parsing ignores case and surrounding whitespace and accepts
/// `-` for `_`. With serde it is tagged by `kind`:
/// `{"kind":"leaky_relu","slope":0.2}`.
///
/// ```
/// use strata_activation::ActivationKind;
/// let k: ActivationKind = "gelu".parse()?;
/// assert_eq!(k, ActivationKind::Gelu);
/// assert_eq!(k.name(), "gelu");
/// assert_eq!("leaky_relu".parse::<ActivationKind>()?, ActivationKind::LeakyRelu { slope: 0.01 });
/// assert!("swish".parse::<ActivationKind>().is_err());
/// # Ok::<(), strata_activation::ActivationError>(())
/// ```
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
    /// GELU, tanh approximation (PyTorch's `approximate='tanh'`).
    Gelu,
    /// GELU, exact form with `erf` (PyTorch's default).
    GeluErf,
    /// Row-wise softmax over the last axis, max-subtracted for stability.
    Softmax,
}

/// The names [`ActivationKind`] parses, for error messages and help texts.
const VALID_NAMES: &str =
    "identity (or linear), relu, leaky_relu, leaky_relu:<slope>, sigmoid, tanh, gelu (or gelu_tanh), gelu_erf, softmax";

impl ActivationKind {
    /// The names accepted by [`str::parse`], for help texts and error messages.
    pub const VALID_NAMES: &'static str = VALID_NAMES;

    /// Short lowercase name without parameters, e.g. `leaky_relu`
    /// (the [`Display`](std::fmt::Display) form adds a non-default slope).
    pub const fn name(self) -> &'static str {
        match self {
            ActivationKind::Identity => "identity",
            ActivationKind::Relu => "relu",
            ActivationKind::LeakyRelu { .. } => "leaky_relu",
            ActivationKind::Sigmoid => "sigmoid",
            ActivationKind::Tanh => "tanh",
            ActivationKind::Gelu => "gelu",
            ActivationKind::GeluErf => "gelu_erf",
            ActivationKind::Softmax => "softmax",
        }
    }

    /// Leaky ReLU with the default slope 0.01.
    pub const fn leaky_relu() -> Self {
        ActivationKind::LeakyRelu { slope: LeakyRelu::DEFAULT_SLOPE }
    }
}

impl Activation for ActivationKind {
    fn name(&self) -> &'static str {
        ActivationKind::name(*self)
    }

    fn forward(&self, input: &Tensor, output: &mut Tensor) -> Result<()> {
        match *self {
            ActivationKind::Identity => Identity.forward(input, output),
            ActivationKind::Relu => Relu.forward(input, output),
            ActivationKind::LeakyRelu { slope } => LeakyRelu { slope }.forward(input, output),
            ActivationKind::Sigmoid => Sigmoid.forward(input, output),
            ActivationKind::Tanh => Tanh.forward(input, output),
            ActivationKind::Gelu => Gelu.forward(input, output),
            ActivationKind::GeluErf => GeluErf.forward(input, output),
            ActivationKind::Softmax => Softmax.forward(input, output),
        }
    }

    fn uses_input(&self) -> bool {
        matches!(self, ActivationKind::LeakyRelu { .. } | ActivationKind::Gelu | ActivationKind::GeluErf)
    }

    fn backward(&self, input: &Tensor, output: &Tensor, grad_output: &Tensor, grad_input: &mut Tensor) -> Result<()> {
        match *self {
            ActivationKind::Identity => Identity.backward(input, output, grad_output, grad_input),
            ActivationKind::Relu => Relu.backward(input, output, grad_output, grad_input),
            ActivationKind::LeakyRelu { slope } => LeakyRelu { slope }.backward(input, output, grad_output, grad_input),
            ActivationKind::Sigmoid => Sigmoid.backward(input, output, grad_output, grad_input),
            ActivationKind::Tanh => Tanh.backward(input, output, grad_output, grad_input),
            ActivationKind::Gelu => Gelu.backward(input, output, grad_output, grad_input),
            ActivationKind::GeluErf => GeluErf.backward(input, output, grad_output, grad_input),
            ActivationKind::Softmax => Softmax.backward(input, output, grad_output, grad_input),
        }
    }
}

impl std::str::FromStr for ActivationKind {
    type Err = ActivationError;

    fn from_str(s: &str) -> Result<Self> {
        let normalized = s.trim().to_ascii_lowercase().replace('-', "_");
        let (name, param) = match normalized.split_once(':') {
            Some((name, param)) => (name.trim(), Some(param.trim())),
            None => (normalized.as_str(), None),
        };
        let kind = match name {
            "identity" | "linear" => ActivationKind::Identity,
            "relu" => ActivationKind::Relu,
            "leaky_relu" => match param {
                None => ActivationKind::leaky_relu(),
                Some(p) => {
                    let slope = p.parse::<f32>().map_err(|e| {
                        ActivationError::Invalid(format!("leaky_relu slope '{p}' in '{s}' is not a number: {e}"))
                    })?;
                    LeakyRelu::new(slope)?;
                    ActivationKind::LeakyRelu { slope }
                }
            },
            "sigmoid" => ActivationKind::Sigmoid,
            "tanh" => ActivationKind::Tanh,
            "gelu" | "gelu_tanh" => ActivationKind::Gelu,
            "gelu_erf" => ActivationKind::GeluErf,
            "softmax" => ActivationKind::Softmax,
            _ => return Err(ActivationError::Invalid(format!("unknown activation '{s}' (valid: {VALID_NAMES})"))),
        };
        if let (Some(p), false) = (param, matches!(kind, ActivationKind::LeakyRelu { .. })) {
            return Err(ActivationError::Invalid(format!(
                "activation '{}' takes no parameter, got ':{p}'",
                kind.name()
            )));
        }
        Ok(kind)
    }
}

impl std::fmt::Display for ActivationKind {
    /// The name [`str::parse`] reads back: `leaky_relu` for the default slope,
    /// `leaky_relu:<slope>` otherwise.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ActivationKind::LeakyRelu { slope } if slope != LeakyRelu::DEFAULT_SLOPE => write!(f, "leaky_relu:{slope}"),
            other => f.write_str(other.name()),
        }
    }
}
