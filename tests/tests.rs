//! Workspace-wide integration tests: real data, reproducibility, errors.
#![allow(clippy::unwrap_used)]
