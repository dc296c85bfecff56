//! Tests of the fit loop, its callbacks and its state.
#![allow(clippy::unwrap_used)]

mod callbacks;
mod common;
mod denormal;
mod fit;
mod state;
