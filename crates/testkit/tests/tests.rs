//! Tests of the conformance kit itself: subjects that conform pass every
//! check, and subjects that break one rule fail exactly that check, with a
//! message that says what and where.
#![allow(clippy::unwrap_used)]

mod catches;
mod fixtures;
mod passes;
