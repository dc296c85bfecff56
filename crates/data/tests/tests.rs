//! Integration tests.
#![allow(clippy::unwrap_used)]

mod batching;
mod csv_errors;
mod idx;
mod real_files;
mod scalers;
mod sequences;
mod splits;

use std::io::Write;
use std::path::PathBuf;

/// The shared data directory of the workspace.
pub fn data_file(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data")).join(name)
}

/// Write `bytes` to a fresh file under the test target's temporary directory.
pub fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("strata-data-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Gzip-compress `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}
