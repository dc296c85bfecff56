use super::{from_state, to_state};
use crate::callback::{BoxError, Callback, CallbackContext, CallbackResult};
use crate::history::{EpochRecord, Monitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use strata_layers::SavedModel;

/// Where [`ModelCheckpoint`] writes: a model file's bytes for an epoch.
///
/// A closure `FnMut(usize, &[u8]) -> std::io::Result<()>` is a sink; so is
/// [`ModelCheckpoint::to_file`]'s file pattern.
pub trait CheckpointSink: Send {
    /// Store the model file `bytes` written after `epoch`.
    fn write(&mut self, epoch: usize, bytes: &[u8]) -> std::io::Result<()>;
}

impl<F: FnMut(usize, &[u8]) -> std::io::Result<()> + Send> CheckpointSink for F {
    fn write(&mut self, epoch: usize, bytes: &[u8]) -> std::io::Result<()> {
        self(epoch, bytes)
    }
}

/// Files named by a pattern (`{epoch}` replaced by the epoch), written
/// atomically.
struct FilePattern(PathBuf);

impl CheckpointSink for FilePattern {
    fn write(&mut self, epoch: usize, bytes: &[u8]) -> std::io::Result<()> {
        let path = PathBuf::from(self.0.to_string_lossy().replace("{epoch}", &epoch.to_string()));
        strata_layers::io::atomic_write(&path, bytes)
    }
}

/// Save the model after epochs (Keras's `ModelCheckpoint`): every epoch, or
/// with `save_best_only` only when the monitored quantity beats the best so
/// far. What is written is a model file ([`SavedModel`]: the architecture and
/// every tensor, plus `metadata`), to a sink you pass or to files.
///
/// (The checkpoint format with the optimizer and trainer state, for resuming,
/// is a [`crate::Snapshot`].)
///
/// ```
/// use strata_training::{ModelCheckpoint, Monitor};
/// let mut saved = Vec::new();
/// let cb = ModelCheckpoint::to_writer(move |epoch, bytes: &[u8]| {
///     saved.push((epoch, bytes.len()));
///     Ok(())
/// })
/// .save_best_only(Monitor::ValLoss);
/// # let _ = cb;
/// ```
pub struct ModelCheckpoint {
    sink: Box<dyn CheckpointSink>,
    /// The quantity `save_best_only` watches (default `val_loss`).
    pub monitor: Monitor,
    /// Save only when the monitored quantity improves (default false: every epoch).
    pub save_best_only: bool,
    /// Metadata stored in every file.
    pub metadata: BTreeMap<String, String>,
    state: State,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    best: Option<f32>,
    saved: Vec<usize>,
}

impl std::fmt::Debug for ModelCheckpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCheckpoint")
            .field("monitor", &self.monitor)
            .field("save_best_only", &self.save_best_only)
            .field("saved", &self.state.saved)
            .finish_non_exhaustive()
    }
}

impl ModelCheckpoint {
    /// Write to `sink` after every epoch.
    pub fn to_writer(sink: impl CheckpointSink + 'static) -> Self {
        ModelCheckpoint {
            sink: Box::new(sink),
            monitor: Monitor::ValLoss,
            save_best_only: false,
            metadata: BTreeMap::new(),
            state: State::default(),
        }
    }

    /// Write model files to `path` (atomically), with `{epoch}` in the path
    /// replaced by the epoch: `model-{epoch}.strata`, or one file overwritten.
    pub fn to_file(path: impl Into<PathBuf>) -> Self {
        ModelCheckpoint::to_writer(FilePattern(path.into()))
    }

    /// Save only when `monitor` improves.
    pub fn save_best_only(mut self, monitor: Monitor) -> Self {
        self.monitor = monitor;
        self.save_best_only = true;
        self
    }

    /// The epochs saved so far.
    pub fn saved_epochs(&self) -> &[usize] {
        &self.state.saved
    }
}

impl Callback for ModelCheckpoint {
    fn name(&self) -> &str {
        "model_checkpoint"
    }

    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> CallbackResult {
        if self.save_best_only {
            super::require_validation(self.monitor, ctx, "saves the best")?;
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, ctx: &mut CallbackContext<'_>, record: &EpochRecord) -> CallbackResult {
        if self.save_best_only {
            let Some(current) = record.monitored(self.monitor) else { return Ok(()) };
            if !self.state.best.is_none_or(|best| self.monitor.improves(current, best, 0.0)) {
                return Ok(());
            }
            self.state.best = Some(current);
        }
        let bytes = SavedModel::capture(ctx.model(), self.metadata.clone())?.to_bytes()?;
        self.sink
            .write(record.epoch, &bytes)
            .map_err(|e| -> BoxError { format!("epoch {}: {e}", record.epoch).into() })?;
        self.state.saved.push(record.epoch);
        Ok(())
    }

    fn state(&self) -> Option<serde_json::Value> {
        to_state(&self.state)
    }

    fn load_state(&mut self, state: serde_json::Value) -> CallbackResult {
        self.state = from_state(state)?;
        Ok(())
    }
}
