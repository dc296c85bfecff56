//! Integration tests of strata-loss: finite-difference gradient checks,
//! values against hand calculations, errors, and name/serde round trips.
#![allow(clippy::unwrap_used)]

mod errors;
mod gradients;
mod names;
mod values;
