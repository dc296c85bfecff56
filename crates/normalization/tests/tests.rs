//! Integration tests of strata-normalization.
#![allow(clippy::unwrap_used)]

mod batch_norm;
mod common;
mod digits;
mod kit;
mod layer_norm;
