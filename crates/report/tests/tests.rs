//! Tests of strata-report: every verdict of the diagnosis on a run built to
//! show it (real data: MNIST 5k, digits), each rule on the per-epoch figures
//! of a run written out (`rules`), no false alarm on a well-tuned run,
//! the report's files, `doctor` and `lr_find`.

mod common;
mod confusion;
mod doctor;
mod files;
mod lr_find;
mod rules;
mod verdicts;
