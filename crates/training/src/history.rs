use serde::{Deserialize, Serialize};

/// Loss and accuracy of a model on a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean loss per sample.
    pub loss: f32,
    /// Fraction of samples classified correctly, for classification targets.
    pub accuracy: Option<f32>,
    /// Number of samples.
    pub n_samples: usize,
}

/// The figures of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch, counted from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (dropout active).
    pub train_loss: f32,
    /// Training accuracy over the epoch's batches, for classification.
    pub train_accuracy: Option<f32>,
    /// Validation figures after the epoch, when there is a validation set.
    pub validation: Option<Metrics>,
    /// Learning rate at the epoch's last step.
    pub learning_rate: f32,
    /// Wall-clock seconds the epoch took (training and validation).
    pub seconds: f64,
    /// Per-parameter gradient L2 norms, averaged over the epoch's steps (for
    /// the vanishing-gradient diagnosis); empty when tracking is off.
    pub grad_norms: Vec<(String, f32)>,
}

/// Everything `fit` measured, epoch by epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per epoch run.
    pub epochs: Vec<EpochRecord>,
    /// The epoch (from 1) whose weights the model holds after early stopping
    /// restored the best ones.
    pub best_epoch: Option<usize>,
    /// Whether early stopping ended training before the last epoch.
    pub stopped_early: bool,
}

impl History {
    /// The last epoch's record.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }
}
