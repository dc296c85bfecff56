//! What training measured: per-epoch records, the history of a run, metrics.

use serde::{Deserialize, Serialize};

/// Loss and accuracy of a model on a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean loss per term (per sample, or per counted position of a sequence).
    pub loss: f32,
    /// Fraction of predictions that are right, when the loss defines an
    /// accuracy (classification).
    pub accuracy: Option<f32>,
    /// Number of samples.
    pub n_samples: usize,
}

/// The figures of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch, counted from 1 over every `fit` call of a trainer.
    pub epoch: usize,
    /// Batches run (fewer than an epoch has when training stopped inside it).
    pub batches: usize,
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

impl EpochRecord {
    /// The epoch's figures as CSV cells, in the order loss, accuracy,
    /// validation loss, validation accuracy, learning rate, seconds; a figure
    /// the epoch lacks is an empty cell (what [`crate::CsvLogger`] writes
    /// after the epoch, and `strata-report`'s `history.csv`).
    pub fn csv_figures(&self) -> [String; 6] {
        let opt = |v: Option<f32>| v.map_or_else(String::new, |v| v.to_string());
        [
            self.train_loss.to_string(),
            opt(self.train_accuracy),
            opt(self.validation.map(|m| m.loss)),
            opt(self.validation.and_then(|m| m.accuracy)),
            self.learning_rate.to_string(),
            format!("{:.3}", self.seconds),
        ]
    }

    /// The value of a monitored quantity, if this epoch has it.
    pub fn monitored(&self, monitor: Monitor) -> Option<f32> {
        match monitor {
            Monitor::Loss => Some(self.train_loss),
            Monitor::Accuracy => self.train_accuracy,
            Monitor::ValLoss => self.validation.map(|v| v.loss),
            Monitor::ValAccuracy => self.validation.and_then(|v| v.accuracy),
        }
    }
}

/// A quantity callbacks watch, by its Keras name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    /// The training loss (`loss`).
    Loss,
    /// The training accuracy (`accuracy`).
    Accuracy,
    /// The validation loss (`val_loss`), the default.
    #[default]
    ValLoss,
    /// The validation accuracy (`val_accuracy`).
    ValAccuracy,
}

impl Monitor {
    /// The Keras name: `loss`, `accuracy`, `val_loss`, `val_accuracy`.
    pub const fn name(self) -> &'static str {
        match self {
            Monitor::Loss => "loss",
            Monitor::Accuracy => "accuracy",
            Monitor::ValLoss => "val_loss",
            Monitor::ValAccuracy => "val_accuracy",
        }
    }

    /// Whether larger is better (accuracies) rather than smaller (losses):
    /// Keras's `mode='auto'`.
    pub const fn higher_is_better(self) -> bool {
        matches!(self, Monitor::Accuracy | Monitor::ValAccuracy)
    }

    /// Whether it needs validation data.
    pub const fn needs_validation(self) -> bool {
        matches!(self, Monitor::ValLoss | Monitor::ValAccuracy)
    }

    /// `current` beats `best` by more than `min_delta` (in this monitor's direction).
    pub fn improves(self, current: f32, best: f32, min_delta: f32) -> bool {
        if self.higher_is_better() { current - min_delta.abs() > best } else { current + min_delta.abs() < best }
    }
}

/// Why and where training stopped before the epochs asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopRecord {
    /// The epoch (from 1) in which training stopped.
    pub epoch: usize,
    /// The batch (from 1) after which it stopped, when inside the epoch.
    pub batch: Option<usize>,
    /// The callback that stopped it.
    pub callback: String,
    /// Its reason, in words.
    pub reason: String,
}

/// Everything a `fit` call measured, epoch by epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per epoch run.
    pub epochs: Vec<EpochRecord>,
    /// The epoch (from 1) whose weights the model holds after a callback
    /// restored the best ones (early stopping's `restore_best_weights`).
    pub best_epoch: Option<usize>,
    /// Why training stopped early, when a callback stopped it.
    pub stopped: Option<StopRecord>,
}

impl History {
    /// The last epoch's record.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// The record of the epoch whose weights the model holds: the one a
    /// callback restored ([`History::best_epoch`]), else the last.
    pub fn held(&self) -> Option<&EpochRecord> {
        match self.best_epoch {
            Some(best) => self.epochs.iter().find(|r| r.epoch == best),
            None => self.last(),
        }
    }

    /// Whether a callback ended training before the epochs asked for.
    pub fn stopped_early(&self) -> bool {
        self.stopped.is_some()
    }
}
