//! # strata-training
//!
//! The learning cycle of the primer, end to end: for every epoch, for every
//! mini-batch, a forward pass, the loss, backpropagation and an update scaled
//! by the learning rate; then validation, the history of per-epoch figures,
//! early stopping with the best weights restored, and progress on the
//! terminal.
//!
//! **The design decision:** one seed drives everything random. A model is
//! built from a spec with `StrataRng::seed_from_u64(seed)` (initial weights,
//! dropout seeds); the [`Trainer`] shuffles with a stream derived from the
//! same seed; dropout masks are a pure function of their seed and call count.
//! The same seed therefore gives bit-identical weights, and the whole state
//! of a run ([`TrainerState`], the optimizer, the model) is serializable.
//!
//! ```
//! use strata_activation::ActivationKind;
//! use strata_data::InMemoryDataset;
//! use strata_layers::Registry;
//! use strata_loss::LossKind;
//! use strata_optimizer::OptimizerConfig;
//! use strata_tensor::{StrataRng, Tensor};
//! use strata_training::{presets, FitConfig, Progress, Trainer};
//!
//! // XOR: four points, two classes.
//! let x = Tensor::from_vec(&[4, 2], vec![0., 0., 0., 1., 1., 0., 1., 1.])?;
//! let data = InMemoryDataset::from_labels(x, &[0, 1, 1, 0])?;
//!
//! let spec = presets::mlp(&[2, 16, 2], ActivationKind::Tanh, 0.0)?;
//! let mut model = Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(3))?;
//! let config = FitConfig { epochs: 300, batch_size: 4, progress: Progress::Silent, ..FitConfig::default() };
//! let optimizer = OptimizerConfig::from_name("adam", 0.05)?.build()?;
//! let mut trainer = Trainer::new(config, Box::new(LossKind::CrossEntropy), optimizer)?;
//! trainer.fit(model.as_mut(), &data, None)?;
//! assert_eq!(trainer.evaluate(model.as_mut(), &data)?.accuracy, Some(1.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod error;
mod history;
pub mod presets;
mod progress;
mod trainer;

pub use error::{Result, TrainingError};
pub use history::{EpochRecord, History, Metrics};
pub use progress::{Progress, epoch_line};
pub use trainer::{EarlyStopping, FitConfig, StepOutcome, Trainer, TrainerState, count_correct};
