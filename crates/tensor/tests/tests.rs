//! Tests of strata-tensor.
#![allow(clippy::unwrap_used)]

mod gemm;
mod ops;
mod passes;
mod views;
