//! What the kit found: [`Report`], [`Failures`], and the kit's [`Result`].

use crate::options::Check;

/// How one check ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The check passed; the text says what was measured.
    Passed(String),
    /// The check did not run; the text says why.
    Skipped(String),
    /// The check failed; one message per problem, each starting with the
    /// name the subject was checked under.
    Failed(Vec<String>),
}

impl Outcome {
    /// True for [`Outcome::Failed`].
    pub fn is_failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }
}

/// One check and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// The check.
    pub check: Check,
    /// Its outcome.
    pub outcome: Outcome,
}

/// Everything the kit checked on one subject (layer, activation or loss).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The name the subject was checked under.
    pub subject: String,
    /// One entry per check that applies to the subject, in [`Check::ALL`] order.
    pub results: Vec<CheckResult>,
    /// The largest relative error of any compared gradient element (after the
    /// step refinement), if the gradient check ran.
    pub max_gradient_error: Option<f64>,
}

impl Report {
    /// The outcome of `check`, if it applies to the subject.
    pub fn outcome(&self, check: Check) -> Option<&Outcome> {
        self.results.iter().find(|r| r.check == check).map(|r| &r.outcome)
    }

    /// True if `check` ran and passed.
    pub fn passed(&self, check: Check) -> bool {
        matches!(self.outcome(check), Some(Outcome::Passed(_)))
    }

    /// True if `check` was skipped.
    pub fn skipped(&self, check: Check) -> bool {
        matches!(self.outcome(check), Some(Outcome::Skipped(_)))
    }

    /// True if no check failed.
    pub fn is_ok(&self) -> bool {
        !self.results.iter().any(|r| r.outcome.is_failed())
    }

    /// The checks that failed, in report order.
    pub fn failed_checks(&self) -> Vec<Check> {
        self.results.iter().filter(|r| r.outcome.is_failed()).map(|r| r.check).collect()
    }

    /// Every failure message, in report order.
    pub fn failure_messages(&self) -> Vec<&str> {
        self.results
            .iter()
            .flat_map(|r| match &r.outcome {
                Outcome::Failed(messages) => messages.as_slice(),
                _ => &[],
            })
            .map(String::as_str)
            .collect()
    }

    pub(crate) fn push(&mut self, check: Check, outcome: Outcome) {
        self.results.push(CheckResult { check, outcome });
    }

    pub(crate) fn into_result(mut self) -> Result<Report> {
        self.results.sort_by_key(|r| r.check);
        if self.is_ok() { Ok(self) } else { Err(Failures { report: self }) }
    }
}

/// One line per check: `pass`, `skip` or `FAIL`, the check, and what was found.
impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "conformance of '{}':", self.subject)?;
        for r in &self.results {
            match &r.outcome {
                Outcome::Passed(note) => writeln!(f, "  pass  {}: {note}", r.check)?,
                Outcome::Skipped(reason) => writeln!(f, "  skip  {}: {reason}", r.check)?,
                Outcome::Failed(messages) => {
                    for m in messages {
                        writeln!(f, "  FAIL  {}: {m}", r.check)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The checks a subject failed: the error of [`crate::check_layer`],
/// [`crate::check_activation`] and [`crate::check_loss`].
///
/// Its message lists every failed check with its messages, one per line,
/// each tagged with the check (see the crate documentation for a real one).
#[derive(Debug, Clone, PartialEq)]
pub struct Failures {
    report: Report,
}

impl Failures {
    /// The full report, passed and skipped checks included.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The full report, by value.
    pub fn into_report(self) -> Report {
        self.report
    }

    /// The checks that failed.
    pub fn checks(&self) -> Vec<Check> {
        self.report.failed_checks()
    }

    /// Every failure message.
    pub fn messages(&self) -> Vec<&str> {
        self.report.failure_messages()
    }
}

impl std::fmt::Display for Failures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let failed = self.report.failed_checks().len();
        // Setup counts only when it failed (then nothing else ran).
        let ran = self
            .report
            .results
            .iter()
            .filter(|r| match r.outcome {
                Outcome::Skipped(_) => false,
                Outcome::Passed(_) => r.check != Check::Setup,
                Outcome::Failed(_) => true,
            })
            .count();
        write!(f, "'{}' failed {failed} of {ran} conformance checks:", self.report.subject)?;
        for r in &self.report.results {
            if let Outcome::Failed(messages) = &r.outcome {
                for m in messages {
                    write!(f, "\n  [{}] {m}", r.check)?;
                }
            }
        }
        Ok(())
    }
}

impl std::error::Error for Failures {}

/// `Result` with [`Failures`].
pub type Result<T, E = Failures> = std::result::Result<T, E>;
