//! Helpers shared by the workspace-wide integration tests and benchmarks.

use std::path::PathBuf;

/// A file of the repository's `data/` folder (see `data/README.md` for provenance).
pub fn data_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data").join(name)
}
