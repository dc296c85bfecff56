//! Integration tests of strata-attention.
#![allow(clippy::unwrap_used)]

mod common;
mod reference;
