//! Atomic writes: a crash, a full disk or a killed process leaves either the
//! old file or the new one, never half of one.

use crate::error::{IoError, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically (see [`atomic_write_with`]).
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_write_with(path, |w| w.write_all(bytes))
}

/// Write `path` atomically, with `write` producing the content: into a
/// temporary file in the same folder, then flushed, synced to disk, renamed
/// over `path`, and the folder synced so the rename itself is durable. If
/// `write` fails, the temporary file is removed and `path` is untouched.
/// Temporary files a killed writer left beside `path` are removed first.
///
/// A symbolic link is written through: the file it points to is replaced,
/// the link stays. A character device or a named pipe (`/dev/null`, a FIFO)
/// is written in place, as `cp` would: renaming over it would replace the
/// device itself with a regular file (as root, `/dev/null`).
pub fn atomic_write_with(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if is_device_or_pipe(&target) {
        return write_in_place(&target, write).map_err(|e| IoError::io(path, e));
    }
    let (dir, name) = split(&target)?;
    remove_stale(&dir, &name);
    let tmp = dir.join(format!("{}{}.{}{}", TMP_PREFIX, name, std::process::id(), TMP_SUFFIX));
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &target)?;
        sync_dir(&dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| IoError::io(path, e))
}

/// Whether `path` is a character device or a named pipe.
#[cfg(unix)]
fn is_device_or_pipe(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device() || m.file_type().is_fifo())
}

#[cfg(not(unix))]
fn is_device_or_pipe(_path: &Path) -> bool {
    false
}

fn write_in_place(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::fs::OpenOptions::new().write(true).open(path)?);
    write(&mut out)?;
    out.flush()
}

const TMP_PREFIX: &str = ".";
const TMP_SUFFIX: &str = ".tmp";

fn split(path: &Path) -> Result<(PathBuf, String)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or_else(|| {
        IoError::io(path, std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file"))
    })?;
    Ok((dir, name))
}

/// Remove `.NAME.PID.tmp` files beside `NAME`: what a writer killed between
/// creating its temporary file and renaming it leaves behind.
fn remove_stale(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let prefix = format!("{TMP_PREFIX}{name}.");
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        let pid = file.strip_prefix(&prefix).and_then(|rest| rest.strip_suffix(TMP_SUFFIX));
        if pid.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}
