//! Integration tests of strata-attention.
#![allow(clippy::unwrap_used)]
