//! Integration tests of strata-optimizer. Every expected number is derived in
//! a comment (by hand, or from the formula it checks).
#![allow(clippy::unwrap_used)]

mod common;

mod adam;
mod adamw;
mod alloc;
mod clip;
mod config;
mod minimise;
mod rmsprop;
mod schedule;
mod serde_io;
mod sgd;
mod state;
mod threads;
