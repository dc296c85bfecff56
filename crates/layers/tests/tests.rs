//! Integration tests of strata-layers.
#![allow(clippy::unwrap_used)]

mod conformance;
mod specs;
mod zero_grad;
