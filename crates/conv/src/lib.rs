//! # strata-conv (work in progress)
#![warn(missing_docs)]
