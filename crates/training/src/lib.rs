//! # strata-training
//!
//! The learning cycle of the primer, end to end: for every epoch, for every
//! mini-batch, a forward pass, the loss, backpropagation, a gradient hook and
//! an update scaled by the learning rate; then validation, the history of
//! per-epoch figures, and callbacks at every event (Keras's
//! [`EarlyStopping`], [`ModelCheckpoint`], [`CsvLogger`],
//! [`ReduceLrOnPlateau`], [`TerminateOnNaN`], or your own [`Callback`]).
//! [`evaluate`] measures a model without any optimizer.
//!
//! **The design decision:** the whole state of training is reachable and
//! serializable, so training resumes bit for bit, also from inside an epoch.
//! One seed drives everything random (a model's builder RNG: initial weights
//! and dropout seeds; the [`Trainer`]'s shuffling stream from
//! [`FitConfig::seed`]); dropout masks are a pure function of their seed and
//! a call counter. A [`Snapshot`] holds the model's tensors and counters,
//! the optimizer with its moments ([`strata_optimizer::AnyOptimizer`]), and
//! the [`TrainerState`]: epoch, step, the stream, the position inside the
//! epoch with its running figures, the history and each callback's state.
//! [`Trainer::restore`] on a fresh model and trainer continues exactly.
//!
//! ```
//! use strata_activation::ActivationKind;
//! use strata_data::InMemoryDataset;
//! use strata_layers::Registry;
//! use strata_loss::LossKind;
//! use strata_optimizer::OptimizerConfig;
//! use strata_tensor::{StrataRng, Tensor};
//! use strata_training::{presets, FitConfig, Progress, TerminateOnNaN, Trainer};
//!
//! // XOR: four points, two classes.
//! let x = Tensor::from_vec(&[4, 2], vec![0., 0., 0., 1., 1., 0., 1., 1.])?;
//! let data = InMemoryDataset::from_labels(x, &[0, 1, 1, 0])?;
//!
//! let spec = presets::mlp(&[2, 16, 2], ActivationKind::Tanh, 0.0)?;
//! let mut model = Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(3))?;
//! let config = FitConfig { epochs: 300, batch_size: 4, progress: Progress::Silent, ..FitConfig::default() };
//! let mut trainer = Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name("adam", 0.05)?)?;
//! trainer.add_callback(TerminateOnNaN)?;
//! trainer.fit(model.as_mut(), &data, None)?;
//! assert_eq!(strata_training::evaluate(model.as_mut(), &data, &LossKind::CrossEntropy)?.accuracy, Some(1.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod callback;
pub mod callbacks;
mod checkpoint;
mod config;
mod error;
mod evaluate;
mod history;
mod hook;
pub mod presets;
mod progress;
mod restore;
mod state;
mod step;
mod trainer;

pub use callback::{BatchLogs, BoxError, Callback, CallbackContext, CallbackResult, NonFinite};
pub use callbacks::{
    CheckpointSink, CsvLogger, EarlyStopping, Every, ModelCheckpoint, ReduceLrOnPlateau, TerminateOnNaN,
};
pub use checkpoint::Checkpoint;
pub use config::FitConfig;
pub use error::{Result, TrainingError};
pub use evaluate::evaluate;
pub use history::{EpochRecord, History, Metrics, Monitor, StopRecord};
pub use hook::{BatchFigures, GradientHook, StepInfo};
pub use progress::{Progress, UNOPTIMIZED_SLOWDOWN, epoch_line};
pub use state::{EpochPosition, RunState, Snapshot, TrainerState};
pub use trainer::{GradientOutcome, StepOutcome, Trainer};
