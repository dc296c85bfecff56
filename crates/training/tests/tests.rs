//! Tests of the fit loop.
#![allow(clippy::unwrap_used)]

mod fit;
