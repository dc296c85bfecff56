//! Workspace-wide integration tests: training on real data, reproducibility,
//! vanishing gradients in deep networks, and the typed errors bad input
//! produces.
#![allow(clippy::unwrap_used)]

mod common;
mod depth;
mod errors;
mod real_data;
mod reproducibility;
mod sorting;
