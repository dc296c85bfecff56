//! The model type: save/load round trips, predictions, errors.
#![allow(clippy::unwrap_used)]

mod model;
