//! Integration tests of strata-conv.
#![allow(clippy::unwrap_used)]

mod common;
mod digits;
mod errors;
mod filters;
mod forward;
mod gradients;
mod kit;
mod registry;
mod shapes;
mod threads;
