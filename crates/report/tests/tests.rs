//! Tests of strata-report: every verdict of the diagnosis on a run built to
//! show it (real data: MNIST 5k, digits), no false alarm on a well-tuned run,
//! the report's files, `doctor` and `lr_find`.

mod common;
mod confusion;
mod doctor;
mod files;
mod lr_find;
mod verdicts;
