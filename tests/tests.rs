//! Workspace-wide integration tests: training on real data, reproducibility,
//! and the typed errors bad input produces.
#![allow(clippy::unwrap_used)]

mod common;
mod errors;
mod real_data;
mod reproducibility;
