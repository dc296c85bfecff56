//! # strata-report
//!
//! What went on in training, shown and said: learning curves, gradient flow
//! and a confusion matrix as images, a `report.md` and `history.csv`, a
//! diagnosis in plain words ([`diagnose`]), pre-flight checks before a long
//! run ([`doctor`], Karpathy's recipe) and the learning-rate range test
//! ([`lr_find`], Leslie Smith's, as fastai's `lr_find`).
//!
//! **The design decision:** the diagnosis is a pure function of numbers a run
//! already keeps (the [`strata_training::History`]) and of what one passive
//! callback, the [`Observer`], saw; its rules and thresholds are data
//! ([`Thresholds`]), each documented in `docs/diagnosis.md`, each verdict
//! tested on a run built to show it. Drawing is separate from judging: the
//! figures ([`plot`]) only draw.
//!
//! ```
//! use strata_report::{class_prior_loss, diagnose, Evidence, Thresholds};
//! use strata_training::History;
//!
//! let history = History::default(); // from Trainer::fit
//! let evidence = Evidence { history: &history, observations: None, baseline_loss: class_prior_loss(&[50, 50]) };
//! let diagnosis = diagnose(&evidence, &Thresholds::default());
//! assert!(diagnosis.findings.is_empty()); // nothing trained, nothing to say
//! println!("{diagnosis}");
//! ```
#![warn(missing_docs)]

mod confusion;
mod diagnosis;
mod doctor;
mod error;
mod lr_find;
mod observe;
pub mod plot;
mod report;

pub use confusion::{ClassScores, Confusion};
pub use diagnosis::{Diagnosis, Evidence, Finding, Severity, Thresholds, Verdict, class_prior_loss, diagnose};
pub use doctor::{Check, Checklist, DoctorConfig, Status, doctor, doctor_language_model, names as checks};
pub use error::{ReportError, Result};
pub use lr_find::{LrFindConfig, LrSweep, lr_find};
pub use observe::{ActivationStats, BatchPoint, Observations, ObservationsHandle, Observer, activation_stats};
pub use report::{FILES, Report, TestFigures};
