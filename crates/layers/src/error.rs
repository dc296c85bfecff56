use crate::shape::{Dim, ShapeDisplay};
use strata_activation::ActivationError;
use strata_tensor::TensorError;
use thiserror::Error;

/// Everything that can go wrong in a layer, a model, or a model file.
///
/// Errors that concern one layer name it. Leaf layers report their kind
/// (`dense`); a [`crate::Sequential`] replaces that by the name it gave the
/// layer (`dense_2`) and composites nest with dots (`residual_1.dense_2`).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LayerError {
    /// A tensor reached a layer with a shape it cannot take.
    #[error("layer '{layer}': expected input of shape {expected}, got {actual}", expected = ShapeDisplay(expected), actual = ShapeDisplay(actual))]
    ShapeMismatch {
        /// The layer's name (or kind, outside a model).
        layer: String,
        /// The shape it accepts; [`Dim::Any`] (printed `*`) for an axis of
        /// any size, such as the batch.
        expected: Vec<Dim>,
        /// The shape it got.
        actual: Vec<Dim>,
    },
    /// Two neighbouring layers of a model do not fit together: found when the
    /// model is built, before any data flows.
    #[error("layer '{next}' cannot follow layer '{previous}': '{previous}' produces shape {output} but '{next}' expects {expected}", output = ShapeDisplay(previous_output), expected = ShapeDisplay(next_expected))]
    IncompatibleLayers {
        /// Name of the earlier layer (`input` for the model's input).
        previous: String,
        /// The per-sample shape it produces.
        previous_output: Vec<Dim>,
        /// Name of the later layer.
        next: String,
        /// The per-sample shape that layer accepts.
        next_expected: Vec<Dim>,
    },
    /// A layer that needs every axis of its per-sample input to have a fixed
    /// size (flatten) was given an axis of any size.
    #[error("layer '{layer}': needs a fixed size on every axis, got {shape} (an axis of any size)", shape = ShapeDisplay(shape))]
    VariableAxis {
        /// The layer.
        layer: String,
        /// The per-sample shape it was given.
        shape: Vec<Dim>,
    },
    /// A sample shape whose values a `usize` cannot count.
    #[error("layer '{layer}': a sample of shape {shape} holds more values than memory can address", shape = ShapeDisplay(shape))]
    TooLarge {
        /// The layer.
        layer: String,
        /// The per-sample shape.
        shape: Vec<Dim>,
    },
    /// An input value that should be a token id is not an integer in `0..vocab`.
    #[error("layer '{layer}': the input at {position:?} is {value}, not a token id in 0..{vocab}")]
    TokenId {
        /// The layer.
        layer: String,
        /// Where in the input (a multi-index).
        position: Vec<usize>,
        /// The value found.
        value: f32,
        /// The vocabulary size.
        vocab: usize,
    },
    /// A sequence longer than a layer handles (a positional encoding's `max_len`).
    #[error("layer '{layer}': a sequence of {length} positions is longer than its maximum of {max_len}")]
    SequenceTooLong {
        /// The layer.
        layer: String,
        /// The sequence length it was given.
        length: usize,
        /// The longest it takes.
        max_len: usize,
    },
    /// `backward` was called without a training-mode `forward` before it.
    #[error("layer '{layer}': backward called before forward")]
    BackwardBeforeForward {
        /// The layer.
        layer: String,
    },
    /// A layer configuration that cannot work (zero units, dropout rate 1, ...).
    #[error("layer '{layer}': invalid configuration: {reason}")]
    InvalidConfig {
        /// The layer (or kind).
        layer: String,
        /// What is wrong.
        reason: String,
    },
    /// A model spec names a layer kind that the registry does not know.
    #[error("unknown layer kind '{kind}'{hint} (registered: {known})", hint = provider_hint(provider.as_deref()))]
    UnknownKind {
        /// The kind asked for.
        kind: String,
        /// The kinds the registry knows, comma-separated.
        known: String,
        /// The crate that provides the kind, when known (a Strata layer crate,
        /// or what the model file recorded).
        provider: Option<String>,
    },
    /// A second registration for a kind.
    #[error("layer kind '{kind}' is registered twice")]
    DuplicateKind {
        /// The kind.
        kind: String,
    },
    /// A layer that does not describe itself as a spec cannot be saved.
    #[error("layer '{layer}' cannot be saved: it does not implement Layer::spec")]
    NotSerializable {
        /// The layer.
        layer: String,
    },
    /// A model file or spec lacks a tensor the model needs.
    #[error("model file has no tensor '{name}'")]
    MissingWeight {
        /// Parameter name.
        name: String,
    },
    /// A model file holds a tensor the model does not have.
    #[error("model file has a tensor '{name}' that the model does not use")]
    UnexpectedWeight {
        /// Parameter name.
        name: String,
    },
    /// A model file holds two tensors of one name.
    #[error("model file holds the tensor '{name}' twice")]
    DuplicateWeight {
        /// Parameter name.
        name: String,
    },
    /// A tensor read from a file holds a value that is not finite (no
    /// training writes one: it stops at the first non-finite loss).
    #[error("tensor '{name}' holds {value} at index {index}: a model's weights are finite numbers")]
    NonFiniteWeight {
        /// Tensor name.
        name: String,
        /// The value's index in the tensor.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A batch would make the layers' outputs hold more values than the
    /// budget allows ([`crate::check_activations`]): refused before it runs.
    #[error("{0}")]
    TooManyActivations(Box<ActivationExcess>),
    /// A tensor read from a file holds a negative running variance.
    #[error("tensor '{name}' holds {value} at index {index}: a running variance is at least 0")]
    NegativeVariance {
        /// Tensor name.
        name: String,
        /// The value's index in the tensor.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A model file holds two counters of one name.
    #[error("model file holds the counter '{name}' twice")]
    DuplicateCounter {
        /// Counter name.
        name: String,
    },
    /// A model file lacks a counter the model keeps (dropout's calls, batch
    /// norm's `num_batches_tracked`), or holds one it does not.
    #[error("{}", if *.missing { format!("model file lacks the counter '{name}'") } else {
        format!("model file has a counter '{name}' that the model does not keep")
    })]
    Counter {
        /// Counter name.
        name: String,
        /// Missing (else unused).
        missing: bool,
    },
    /// A saved tensor's shape differs from the model's parameter.
    #[error("tensor '{name}': the model expects shape {expected:?}, the file holds {actual:?}")]
    WeightShape {
        /// Parameter name.
        name: String,
        /// Shape in the model.
        expected: Vec<usize>,
        /// Shape in the file.
        actual: Vec<usize>,
    },
    /// A model spec (JSON) could not be parsed or has a wrong field.
    #[error("model spec: {0}")]
    Spec(String),
    /// An activation failed.
    #[error(transparent)]
    Activation(#[from] ActivationError),
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

/// `Result` with [`LayerError`].
pub type Result<T, E = LayerError> = std::result::Result<T, E>;

fn provider_hint(provider: Option<&str>) -> String {
    match provider {
        Some(p) => format!(
            ": it is provided by the crate {p}; add it to the registry with {}::register(&mut registry)",
            p.replace('-', "_")
        ),
        None => String::new(),
    }
}

impl LayerError {
    /// Qualify an error coming out of a child layer with the name its parent
    /// gave it: a leaf's kind is replaced by `name`, an already qualified name
    /// gets `name.` in front.
    pub fn within(mut self, name: &str, child_kind: &str) -> Self {
        let qualify = |layer: &mut String| {
            *layer = if layer == child_kind { name.to_string() } else { format!("{name}.{layer}") };
        };
        match &mut self {
            LayerError::ShapeMismatch { layer, .. }
            | LayerError::VariableAxis { layer, .. }
            | LayerError::TooLarge { layer, .. }
            | LayerError::TokenId { layer, .. }
            | LayerError::SequenceTooLong { layer, .. }
            | LayerError::BackwardBeforeForward { layer }
            | LayerError::InvalidConfig { layer, .. }
            | LayerError::NotSerializable { layer } => qualify(layer),
            LayerError::IncompatibleLayers { previous, next, .. } => {
                qualify(previous);
                qualify(next);
            }
            _ => {}
        }
        self
    }

    /// The layer an error concerns, if it concerns one.
    pub fn layer(&self) -> Option<&str> {
        match self {
            LayerError::ShapeMismatch { layer, .. }
            | LayerError::VariableAxis { layer, .. }
            | LayerError::TooLarge { layer, .. }
            | LayerError::TokenId { layer, .. }
            | LayerError::SequenceTooLong { layer, .. }
            | LayerError::BackwardBeforeForward { layer }
            | LayerError::InvalidConfig { layer, .. }
            | LayerError::NotSerializable { layer } => Some(layer),
            LayerError::IncompatibleLayers { next, .. } => Some(next),
            _ => None,
        }
    }
}

/// What [`LayerError::TooManyActivations`] found: the largest output of a
/// batch and the total against the budget.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "a batch of {batch} samples would make layer '{layer}' ({kind}) output {} ({values} values), more than \
     the budget of {budget} values for all the layers' outputs",
    crate::ShapeDisplay(shape)
)]
pub struct ActivationExcess {
    /// The layer with the largest output, by path (`conv2d_1`).
    pub layer: String,
    /// Its kind.
    pub kind: String,
    /// Its output's shape for the batch.
    pub shape: Vec<crate::Dim>,
    /// Samples in the batch.
    pub batch: usize,
    /// Values of that output.
    pub values: u128,
    /// Values of every layer's output.
    pub total: u128,
    /// The budget.
    pub budget: u64,
}
