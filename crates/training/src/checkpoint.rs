//! [`Checkpoint`]: a [`Snapshot`] as a file, with free-form metadata, in
//! `strata-io`'s container (`docs/formats.md`).

use crate::state::Snapshot;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use strata_io::{CheckpointDir, FileKind, IoError, container};

/// The whole training state as a checkpoint file: what
/// [`crate::Trainer::snapshot`] returns, plus metadata (the command line
/// keeps its arguments and the model's preprocessing here).
///
/// ```
/// use strata_training::{Checkpoint, FitConfig, Trainer};
/// use strata_layers::{Dense, DenseConfig};
/// use strata_loss::LossKind;
/// use strata_optimizer::OptimizerConfig;
/// use strata_tensor::StrataRng;
///
/// let mut model = Dense::new(DenseConfig::new(2, 2), &mut StrataRng::seed_from_u64(0))?;
/// let trainer = Trainer::new(FitConfig::default(), LossKind::CrossEntropy, OptimizerConfig::from_name("adam", 1e-3)?)?;
/// let checkpoint = Checkpoint::new(trainer.snapshot(&mut model)?);
/// let bytes = checkpoint.to_bytes()?;
/// let back = Checkpoint::from_bytes(bytes, "mem".as_ref())?;
/// assert_eq!(back.snapshot.weights, checkpoint.snapshot.weights);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The training state.
    pub snapshot: Snapshot,
    /// Free-form key/value pairs.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

impl Checkpoint {
    /// A checkpoint without metadata.
    pub fn new(snapshot: Snapshot) -> Checkpoint {
        Checkpoint { snapshot, metadata: BTreeMap::new() }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> strata_io::Result<Vec<u8>> {
        container::encode(FileKind::Checkpoint, self)
    }

    /// Parse a file's bytes; `path` names it in errors.
    pub fn from_bytes(bytes: Vec<u8>, path: &Path) -> strata_io::Result<Checkpoint> {
        container::header(&bytes, FileKind::Checkpoint, path)?;
        container::decode(bytes, FileKind::Checkpoint, path)
    }

    /// Write atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> strata_io::Result<()> {
        strata_io::atomic_write(path.as_ref(), &self.to_bytes()?)
    }

    /// Read a checkpoint file.
    pub fn load(path: impl AsRef<Path>) -> strata_io::Result<Checkpoint> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| IoError::Io { path: path.to_path_buf(), source: e })?;
        Checkpoint::from_bytes(bytes, path)
    }

    /// The newest checkpoint of a folder written by
    /// [`crate::ModelCheckpoint::to_dir`], with its path.
    pub fn load_latest(dir: impl Into<PathBuf>) -> strata_io::Result<Option<(Checkpoint, PathBuf)>> {
        let Some(path) = CheckpointDir::open(dir)?.latest()? else { return Ok(None) };
        Ok(Some((Checkpoint::load(&path)?, path)))
    }

    /// The newest checkpoint of a folder that reads, with its path and the
    /// errors of the newer ones that do not, newest first. The writes are
    /// atomic, so a crash leaves no such file; the disk can still damage
    /// one, and the run then resumes from the one before it (which reaches
    /// the same weights). When none reads, the newest one's error.
    pub fn load_latest_valid(
        dir: impl Into<PathBuf>,
    ) -> strata_io::Result<Option<(Checkpoint, PathBuf, Vec<IoError>)>> {
        let mut skipped = Vec::new();
        for (_, path) in CheckpointDir::open(dir)?.checkpoints()?.into_iter().rev() {
            match Checkpoint::load(&path) {
                Ok(checkpoint) => return Ok(Some((checkpoint, path, skipped))),
                Err(e) => skipped.push(e),
            }
        }
        match skipped.into_iter().next() {
            Some(newest) => Err(newest),
            None => Ok(None),
        }
    }
}
