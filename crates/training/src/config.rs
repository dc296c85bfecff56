//! [`FitConfig`]: how to train, apart from the model, the data, the loss and
//! the optimizer.

use crate::progress::Progress;
use serde::{Deserialize, Serialize};
use strata_optimizer::Schedule;

/// How to train: everything but the model, the data, the loss, the optimizer
/// and the callbacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitConfig {
    /// Passes over the training data that one `fit` call runs (a second
    /// call runs as many more, as Keras's `fit` does).
    pub epochs: usize,
    /// Samples per batch (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Seed of the shuffling stream (models take theirs at construction).
    pub seed: u64,
    /// Shuffle the training data every epoch.
    pub shuffle: bool,
    /// Learning rate as a function of the step; the optimizer's rate at the
    /// start is the base rate.
    pub schedule: Schedule,
    /// Clip the global gradient norm to this value before each update (after
    /// the gradient hooks, so after an all-reduce).
    pub clip_grad_norm: Option<f32>,
    /// Record per-parameter gradient norms every step.
    pub track_grad_norms: bool,
    /// How to report progress.
    pub progress: Progress,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            epochs: 10,
            batch_size: 64,
            seed: 0,
            shuffle: true,
            schedule: Schedule::Constant,
            clip_grad_norm: None,
            track_grad_norms: true,
            progress: Progress::Auto,
        }
    }
}

impl FitConfig {
    /// What is wrong with this configuration, if anything.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 {
            return Err("epochs must be at least 1".into());
        }
        if self.batch_size == 0 {
            return Err("batch size must be at least 1".into());
        }
        if let Some(c) = self.clip_grad_norm
            && !(c > 0.0 && c.is_finite())
        {
            return Err(format!("gradient clipping norm must be > 0, got {c}"));
        }
        self.schedule.validate().map_err(|e| e.to_string())
    }
}
