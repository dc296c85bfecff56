//! A folder of checkpoints: numbered files written atomically, the last K
//! kept, plus the best one.

use crate::error::{IoError, Result};
use std::path::{Path, PathBuf};

/// A folder of checkpoint files: `checkpoint-0000000120.strata` (by the
/// optimizer step they were taken at) and `best.strata`.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("strata-doc-dir-{}", std::process::id()));
/// use strata_io::CheckpointDir;
/// let ckpt = CheckpointDir::create(&dir, 2)?;
/// for step in [10, 20, 30] {
///     ckpt.write(step, b"...")?;
/// }
/// let steps: Vec<u64> = ckpt.checkpoints()?.into_iter().map(|(s, _)| s).collect();
/// assert_eq!(steps, [20, 30]); // the last two are kept
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), strata_io::IoError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    dir: PathBuf,
    keep_last: usize,
}

const PREFIX: &str = "checkpoint-";
const SUFFIX: &str = ".strata";
/// The best checkpoint's file name.
pub const BEST: &str = "best.strata";

/// The step of a numbered checkpoint's file name (`checkpoint-0000000120.strata`
/// is 120), `None` for any other name.
pub fn checkpoint_step(file_name: &str) -> Option<u64> {
    file_name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?.parse().ok()
}

impl CheckpointDir {
    /// The folder `dir` (created if missing), keeping the last `keep_last`
    /// numbered checkpoints (at least one).
    pub fn create(dir: impl Into<PathBuf>, keep_last: usize) -> Result<CheckpointDir> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| IoError::io(&dir, e))?;
        Ok(CheckpointDir { dir, keep_last: keep_last.max(1) })
    }

    /// An existing folder, to read (keeps 1 when written to).
    pub fn open(dir: impl Into<PathBuf>) -> Result<CheckpointDir> {
        let dir = dir.into();
        if !dir.is_dir() {
            let e = std::io::Error::new(std::io::ErrorKind::NotFound, "no such checkpoint folder");
            return Err(IoError::io(&dir, e));
        }
        Ok(CheckpointDir { dir, keep_last: 1 })
    }

    /// Keep the last `k` numbered checkpoints instead (at least one).
    pub fn keep_last(mut self, k: usize) -> CheckpointDir {
        self.keep_last = k.max(1);
        self
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Write the checkpoint taken at `step` atomically, then remove the
    /// numbered checkpoints beyond the last K. Returns its path.
    pub fn write(&self, step: u64, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.dir.join(format!("{PREFIX}{step:010}{SUFFIX}"));
        crate::atomic_write(&path, bytes)?;
        let all = self.checkpoints()?;
        for (_, old) in &all[..all.len().saturating_sub(self.keep_last)] {
            std::fs::remove_file(old).map_err(|e| IoError::io(old, e))?;
        }
        Ok(path)
    }

    /// Write the best checkpoint (`best.strata`) atomically.
    pub fn write_best(&self, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.dir.join(BEST);
        crate::atomic_write(&path, bytes)?;
        Ok(path)
    }

    /// The numbered checkpoints, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<(u64, PathBuf)>> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| IoError::io(&self.dir, e))?;
        let mut found: Vec<(u64, PathBuf)> =
            entries.flatten().filter_map(|e| Some((checkpoint_step(e.file_name().to_str()?)?, e.path()))).collect();
        found.sort();
        Ok(found)
    }

    /// The newest numbered checkpoint, if any.
    pub fn latest(&self) -> Result<Option<PathBuf>> {
        Ok(self.checkpoints()?.pop().map(|(_, p)| p))
    }
}
