//! # strata-layers
//!
//! The [`Layer`] trait and the layers every network is built from: [`Dense`]
//! (weights and bias), [`ActivationLayer`] (ReLU, softmax, ...), [`Dropout`],
//! [`Flatten`], and the composites [`Sequential`] and [`Residual`], which are
//! layers themselves. A [`Registry`] maps layer kinds to builders, so model
//! specs (JSON) and model files ([`SavedModel`]) can name layers from any
//! crate.
//!
//! **The design decision:** a layer owns its buffers. `forward` returns a
//! reference to the layer's output buffer and keeps what `backward` needs;
//! `backward` accumulates parameter gradients and returns a reference to its
//! input-gradient buffer. After the first batch a training step allocates
//! nothing, and a composite is just a loop over its children. Shape errors
//! are `Result`s that name the layer and both shapes.
//!
//! ```
//! use strata_activation::ActivationKind;
//! use strata_layers::{ActivationLayer, Dense, DenseConfig, Layer, Mode, Sequential};
//! use strata_tensor::{StrataRng, Tensor};
//!
//! let mut rng = StrataRng::seed_from_u64(7);
//! let mut model = Sequential::new(&[2], vec![
//!     Box::new(Dense::new(DenseConfig::new(2, 4), &mut rng)?),
//!     Box::new(ActivationLayer::new(ActivationKind::Tanh)),
//!     Box::new(Dense::new(DenseConfig::new(4, 1), &mut rng)?),
//! ])?;
//! let x = Tensor::from_vec(&[3, 2], vec![0.0, 1.0, 1.0, 0.0, 1.0, 1.0])?;
//! let y = model.forward(&x, Mode::Train)?.clone();          // [3, 1]
//! model.zero_grad();
//! let dx = model.backward(&Tensor::ones(y.shape()))?;        // dL/dx for L = sum(y)
//! assert_eq!(dx.shape(), &[3, 2]);
//! assert_eq!(model.n_parameters(), 2 * 4 + 4 + 4 * 1 + 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod activation;
mod budget;
mod dense;
mod dropout;
mod error;
mod flatten;
mod layer;
mod registry;
mod reshape;
mod residual;
mod sequential;
mod shape;
mod state;
mod summary;
mod zero;

pub use activation::ActivationLayer;
pub use budget::{check_activations, default_activation_budget, layer_outputs};
pub use dense::{Dense, DenseConfig};
pub use dropout::{Dropout, DropoutConfig, dropout_mask};
pub use error::{ActivationExcess, LayerError, Result};
pub use flatten::Flatten;
pub use layer::{
    Layer, Mode, check_features, check_grad, check_input, check_sample_shape, check_token_ids, features_output_shape,
    token_id,
};
pub use registry::{LayerBuilder, LayerSpec, MAX_SPEC_DEPTH, Registry, unique_keys};
pub use reshape::{Reshape, ReshapeConfig};
pub use residual::Residual;
pub use sequential::{Sequential, SequentialConfig};
pub use shape::{Dim, ShapeDisplay, dims, fixed_shape, shape_accepts};
pub use state::{check_finite, check_named, check_state_dict, counters, load_counters, load_state_dict, state_dict};
pub use summary::summary;
pub use zero::DeferredZero;
