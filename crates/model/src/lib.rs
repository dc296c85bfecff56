//! # strata-model
//!
//! The one model type users save and load: [`Model`], a trained network
//! with its per-sample input shape, the input preprocessing fitted at
//! training time (a scaler), its class names and free-form metadata. The
//! `strata` command writes it (`strata train --out`); `Model::load(path)?`
//! in code then predicts exactly what `strata predict` prints. And
//! [`registry`], the layer registry with every layer crate of the workspace,
//! which `Model::load` and the command build with.
//!
//! **The design decision:** preprocessing travels with the weights.
//! [`Model::predict`] takes raw features, as read from the data, and applies
//! the same scaler and reshaping that training did, so a model file cannot
//! be used with the wrong input scaling. The file is a `strata-layers` model
//! file; the model's parts sit under documented metadata keys ([`keys`]):
//! `strata.input_shape`, `strata.preprocessing`, `strata.class_names` and
//! `strata.providers` (the crate each layer kind comes from, so that loading
//! a kind the registry lacks names the crate to add).
//!
//! ```
//! use strata_model::Model;
//! use strata_tensor::Tensor;
//!
//! let spec = strata_layers::LayerSpec::from_json(r#"{"kind": "sequential", "config": {"input_shape": [1, 4, 4],
//!     "layers": [{"kind": "conv2d", "config": {"in_channels": 1, "out_channels": 2, "kernel_size": 3, "padding": 1}},
//!                {"kind": "flatten"}, {"kind": "dense", "config": {"n_inputs": 32, "n_outputs": 3}}]}}"#)?;
//! let mut model = Model::from_spec(&spec, 0)?;           // conv2d comes from the default registry
//! let flat_rows = Tensor::zeros(&[5, 16]);               // rows as a CSV holds them
//! assert_eq!(model.predict(&flat_rows)?.len(), 5);       // reshaped to [5, 1, 4, 4] on the way in
//! assert_eq!(model.predict_proba(&flat_rows)?.shape(), &[5, 3]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod budget;
mod error;
mod model;
mod registry;

pub use budget::{check_budget, default_budget, layer_counts};
pub use error::{ModelError, Result};
pub use model::{Model, keys};
pub use registry::registry;
pub use strata_layers::{check_activations, default_activation_budget};
