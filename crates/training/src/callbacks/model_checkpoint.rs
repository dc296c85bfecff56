use super::{from_state, to_state};
use crate::callback::{BatchLogs, BoxError, Callback, CallbackContext, CallbackResult};
use crate::checkpoint::Checkpoint;
use crate::history::{EpochRecord, Monitor};
use crate::state::Snapshot;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use strata_io::{CheckpointDir, SavedModel};

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
        strata_io::atomic_write(&path, bytes).map_err(Into::into)
    }
}

/// Save the model during training (Keras's `ModelCheckpoint`), in one of
/// two forms:
///
/// - [`ModelCheckpoint::to_writer`] and [`ModelCheckpoint::to_file`] write
///   model files ([`SavedModel`]: the architecture and every tensor, plus
///   `metadata`) after every epoch, or with `save_best_only` only when the
///   monitored quantity beats the best so far;
/// - [`ModelCheckpoint::to_dir`] writes [`Checkpoint`]s, the whole training
///   state, every N epochs or steps ([`ModelCheckpoint::every`]), keeping the
///   last K ([`ModelCheckpoint::keep_last`]) and the best (`best.strata`,
///   when the monitored quantity improves): a run killed at any moment
///   resumes from the newest with [`Checkpoint::load_latest`],
///   [`Snapshot::build_model`] and [`crate::Trainer::restore`], and ends
///   with the weights an uninterrupted run would have, bit for bit.
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
    sink: Sink,
    /// How often [`ModelCheckpoint::to_dir`] writes (default: every epoch).
    pub every: Every,
    /// The quantity `save_best_only` watches (default `val_loss`).
    pub monitor: Monitor,
    /// Save only when the monitored quantity improves (default false: every epoch).
    pub save_best_only: bool,
    /// Metadata stored in every file.
    pub metadata: BTreeMap<String, String>,
    state: State,
    pending: Pending,
}

/// How often a checkpoint folder is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// Every N epochs (at their end).
    Epochs(usize),
    /// Every N optimizer steps (after the step, mid-epoch included).
    Steps(usize),
}

enum Sink {
    /// Model files, after epochs.
    Model(Box<dyn CheckpointSink>),
    /// Whole-state checkpoints in a folder.
    Dir(CheckpointDir),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    best: Option<f32>,
    saved: Vec<usize>,
}

/// What the snapshot a folder checkpoint asked for is for.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    periodic: bool,
    best: bool,
}

impl std::fmt::Debug for ModelCheckpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCheckpoint")
            .field("monitor", &self.monitor)
            .field("save_best_only", &self.save_best_only)
            .field("every", &self.every)
            .field("saved", &self.state.saved)
            .finish_non_exhaustive()
    }
}

impl ModelCheckpoint {
    /// Write to `sink` after every epoch.
    pub fn to_writer(sink: impl CheckpointSink + 'static) -> Self {
        ModelCheckpoint::with_sink(Sink::Model(Box::new(sink)))
    }

    /// Write whole-state [`Checkpoint`]s into `dir` (see the type's docs),
    /// every epoch unless [`ModelCheckpoint::every`] says otherwise, keeping
    /// the last 3 unless [`ModelCheckpoint::keep_last`] says otherwise.
    pub fn to_dir(dir: impl Into<PathBuf>) -> strata_io::Result<Self> {
        Ok(ModelCheckpoint::with_sink(Sink::Dir(CheckpointDir::create(dir, 3)?)))
    }

    /// How often [`ModelCheckpoint::to_dir`] writes.
    pub fn every(mut self, every: Every) -> Self {
        self.every = every;
        self
    }

    /// How many numbered checkpoints [`ModelCheckpoint::to_dir`] keeps (at least 1).
    pub fn keep_last(mut self, k: usize) -> Self {
        if let Sink::Dir(dir) = self.sink {
            self.sink = Sink::Dir(dir.keep_last(k));
        }
        self
    }

    /// Save the best when `monitor` improves (with [`ModelCheckpoint::to_dir`]:
    /// `best.strata` besides the periodic checkpoints).
    pub fn monitor(mut self, monitor: Monitor) -> Self {
        self.monitor = monitor;
        self
    }

    fn with_sink(sink: Sink) -> Self {
        ModelCheckpoint {
            sink,
            every: Every::Epochs(1),
            pending: Pending::default(),
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

impl ModelCheckpoint {
    /// Whether `current` of the monitored quantity is a new best (and
    /// remember it).
    fn improves(&mut self, current: Option<f32>) -> bool {
        let Some(current) = current else { return false };
        if self.state.best.is_none_or(|best| self.monitor.improves(current, best, 0.0)) {
            self.state.best = Some(current);
            return true;
        }
        false
    }

    fn write_model(&mut self, ctx: &mut CallbackContext<'_>, record: &EpochRecord) -> CallbackResult {
        if self.save_best_only && !self.improves(record.monitored(self.monitor)) {
            return Ok(());
        }
        let bytes = SavedModel::capture(ctx.model(), self.metadata.clone())?.to_bytes()?;
        let Sink::Model(sink) = &mut self.sink else { return Ok(()) };
        sink.write(record.epoch, &bytes).map_err(|e| -> BoxError { format!("epoch {}: {e}", record.epoch).into() })?;
        self.state.saved.push(record.epoch);
        Ok(())
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
        if let Every::Epochs(0) | Every::Steps(0) = self.every {
            return Err("it writes every 0 epochs or steps: give at least 1".into());
        }
        Ok(())
    }

    fn on_batch_end(&mut self, ctx: &mut CallbackContext<'_>, _logs: &BatchLogs) -> CallbackResult {
        if let (Sink::Dir(_), Every::Steps(n)) = (&self.sink, self.every)
            && n > 0
            && ctx.state().step.is_multiple_of(n)
        {
            self.pending.periodic = true;
            ctx.request_snapshot();
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, ctx: &mut CallbackContext<'_>, record: &EpochRecord) -> CallbackResult {
        if let Sink::Model(_) = self.sink {
            return self.write_model(ctx, record);
        }
        let periodic = matches!(self.every, Every::Epochs(n) if n > 0 && record.epoch.is_multiple_of(n));
        let monitored = record.monitored(self.monitor);
        let best = (!self.monitor.needs_validation() || ctx.has_validation()) && self.improves(monitored);
        if periodic || best {
            self.pending = Pending { periodic, best };
            ctx.request_snapshot();
        }
        Ok(())
    }

    fn on_snapshot(&mut self, snapshot: &Snapshot) -> CallbackResult {
        let Sink::Dir(dir) = &self.sink else { return Ok(()) };
        let pending = std::mem::take(&mut self.pending);
        let checkpoint = Checkpoint { snapshot: snapshot.clone(), metadata: self.metadata.clone() };
        let bytes = checkpoint.to_bytes()?;
        if pending.periodic {
            dir.write(snapshot.state.step as u64, &bytes)?;
            self.state.saved.push(snapshot.state.epoch);
        }
        if pending.best {
            dir.write_best(&bytes)?;
        }
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
