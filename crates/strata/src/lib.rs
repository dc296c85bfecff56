//! # strata
//!
//! The facade of Strata, a neural-network library for small and medium
//! networks on CPUs. It only re-exports: depend on a single crate
//! (`strata-tensor`, `strata-layers`, ...) when that is all you need, or on
//! this one for everything, and `use strata::prelude::*`.
//!
//! | module | crate | what |
//! |---|---|---|
//! | [`tensor`] | `strata-tensor` | n-dimensional `f32` tensor, the GEMM entry point, seeded RNG, initialisers |
//! | [`activation`] | `strata-activation` | ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, Identity |
//! | [`loss`] | `strata-loss` | MSE, cross-entropy and binary cross-entropy from logits |
//! | [`optimizer`] | `strata-optimizer` | SGD, Adam, AdamW, RMSprop, schedules, clipping |
//! | [`layers`] | `strata-layers` | the `Layer` trait, Dense, Dropout, Flatten, Sequential, Residual, registry, model files |
//! | [`data`] | `strata-data` | datasets, CSV/IDX loading, splits, normalisation, batches |
//! | [`training`] | `strata-training` | the fit loop, metrics, history, early stopping |
//!
//! ```
//! use strata::prelude::*;
//!
//! let x = Tensor::from_vec(&[4, 2], vec![0., 0., 0., 1., 1., 0., 1., 1.])?;
//! let data = InMemoryDataset::from_labels(x, &[0, 1, 1, 0])?;
//! let spec = presets::mlp(&[2, 16, 2], ActivationKind::Tanh, 0.0)?;
//! let mut model = Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(3))?;
//! let config = FitConfig { epochs: 300, batch_size: 4, progress: Progress::Silent, ..FitConfig::default() };
//! let mut trainer = Trainer::new(config, Box::new(LossKind::CrossEntropy), OptimizerConfig::from_name("adam", 0.05)?.build()?)?;
//! trainer.fit(model.as_mut(), &data, None)?;
//! assert_eq!(trainer.evaluate(model.as_mut(), &data)?.accuracy, Some(1.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub use strata_activation as activation;
pub use strata_data as data;
pub use strata_layers as layers;
pub use strata_loss as loss;
pub use strata_optimizer as optimizer;
pub use strata_tensor as tensor;
pub use strata_training as training;

/// The names most programs use.
pub mod prelude {
    pub use strata_activation::{Activation, ActivationKind};
    pub use strata_data::{Dataset, InMemoryDataset};
    pub use strata_layers::{
        ActivationLayer, Dense, DenseConfig, Dropout, DropoutConfig, Flatten, Layer, LayerSpec, Mode, Registry,
        Residual, SavedModel, Sequential,
    };
    pub use strata_loss::{Loss, LossKind};
    pub use strata_optimizer::{Optimizer, OptimizerConfig, Schedule};
    pub use strata_tensor::{Init, StrataRng, Tensor};
    pub use strata_training::{EarlyStopping, FitConfig, History, Progress, Trainer, presets};
}

/// The README's example runs as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
