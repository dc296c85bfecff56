//! # strata-normalization
//!
//! Normalisation layers for Strata: [`BatchNorm`] (per-channel statistics
//! over the batch, running statistics for inference) and [`LayerNorm`]
//! (per-sample statistics). [`register`] adds their kinds, `batch_norm` and
//! `layer_norm`, to a [`Registry`], so model specs (JSON), model files and
//! `strata train --model` can name them.
//!
//! This crate is also the worked example of `docs/extending.md`: a layer
//! crate outside the core, built only on the public API of `strata-tensor`
//! and `strata-layers`, checked by the conformance kit (`strata-testkit`).
//!
//! **The design decisions:**
//!
//! - *Running statistics are buffers, not parameters.* `BatchNorm` reports
//!   `running_mean` and `running_var` with [`strata_tensor::ParamVisitor::buffer`]:
//!   model files save them, optimizers never see them. `weight` and `bias`
//!   keep PyTorch's names, so a state dict maps one to one.
//! - *The backward is the closed form through the batch statistics*
//!   (`dL/dx = γ/σ · (g - mean(g) - x̂ · mean(g · x̂))`), computed from `x̂`
//!   and `1/σ` kept by the training forward: one pass, no second copy of
//!   the input. Statistics are accumulated in `f64`, so a channel with a
//!   large mean loses no precision.
//! - *Buffers are reused*: after the first batch of a given shape, neither
//!   layer allocates in `forward` or `backward`.
//! - *Errors, not panics*: a wrong channel count is a
//!   [`LayerError::ShapeMismatch`](strata_layers::LayerError::ShapeMismatch)
//!   naming the layer and both shapes; zero features or `eps <= 0` is a
//!   [`LayerError::InvalidConfig`](strata_layers::LayerError::InvalidConfig).
//!
//! ```
//! use strata_io::SavedModel;
//! use strata_layers::{Layer, LayerSpec, Mode, Registry};
//! use strata_tensor::{StrataRng, Tensor};
//!
//! let mut registry = Registry::with_builtins();
//! strata_normalization::register(&mut registry)?;
//!
//! let spec = LayerSpec::from_json(r#"{"kind": "sequential", "config": {"input_shape": [4], "layers": [
//!     {"kind": "dense", "config": {"n_inputs": 4, "n_outputs": 8}},
//!     {"kind": "batch_norm", "config": {"n_features": 8}},
//!     {"kind": "relu"},
//!     {"kind": "layer_norm", "config": {"normalized_shape": [8]}},
//!     {"kind": "dense", "config": {"n_inputs": 8, "n_outputs": 3}}]}}"#)?;
//! let mut model = registry.build(&spec, &mut StrataRng::seed_from_u64(0))?;
//! // dense 4*8+8, batch_norm 8+8, layer_norm 8+8, dense 8*3+3
//! assert_eq!(model.n_parameters(), 40 + 16 + 16 + 27);
//!
//! // A training step updates batch_norm_1's running statistics...
//! let x = Tensor::random_normal(&[16, 4], 0.0, 1.0, &mut StrataRng::seed_from_u64(1))?;
//! let y = model.forward(&x, Mode::Train)?.clone();
//! model.zero_grad();
//! model.backward(&Tensor::ones(y.shape()))?;
//!
//! // ...which a model file keeps, next to the weights.
//! let saved = SavedModel::capture(model.as_mut(), Default::default())?;
//! assert!(saved.tensors.iter().any(|(name, _)| name == "batch_norm_1.running_mean"));
//! let mut copy = saved.instantiate(&registry)?;
//! assert_eq!(copy.predict(&x)?, model.predict(&x)?);
//! # Ok::<(), strata_layers::LayerError>(())
//! ```
#![warn(missing_docs)]

mod batch_norm;
mod config;
mod layer_norm;

pub use batch_norm::{BatchNorm, BatchNormConfig};
pub use layer_norm::{LayerNorm, LayerNormConfig};

use strata_layers::Registry;

/// The layer kinds this crate registers.
pub const KINDS: [&str; 2] = ["batch_norm", "layer_norm"];

/// Add this crate's kinds to `registry`: `batch_norm` ([`BatchNormConfig`])
/// and `layer_norm` ([`LayerNormConfig`]). Fails with
/// [`LayerError::DuplicateKind`](strata_layers::LayerError::DuplicateKind)
/// if one of them is already registered.
///
/// ```
/// let mut registry = strata_layers::Registry::with_builtins();
/// strata_normalization::register(&mut registry)?;
/// assert!(registry.kinds().any(|k| k == "batch_norm"));
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
pub fn register(registry: &mut Registry) -> strata_layers::Result<()> {
    registry.register_from(env!("CARGO_PKG_NAME"), "batch_norm", |spec, _, _| {
        Ok(Box::new(BatchNorm::new(spec.config()?)?))
    })?;
    registry.register_from(env!("CARGO_PKG_NAME"), "layer_norm", |spec, _, _| {
        Ok(Box::new(LayerNorm::new(spec.config()?)?))
    })?;
    Ok(())
}
