//! Integration tests of strata-attention.
#![allow(clippy::unwrap_used)]

mod attention;
mod block;
mod common;
mod embedding;
mod kit;
mod reference;
