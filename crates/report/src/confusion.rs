//! [`Confusion`]: the confusion matrix of a classifier, with per-class
//! precision, recall and F1 (scikit-learn's `classification_report`).

use crate::error::{ReportError, Result};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// `counts[true][predicted]` over a labelled dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Class names, one per row and column.
    pub classes: Vec<String>,
    /// Row: the true class; column: the predicted class.
    pub counts: Vec<Vec<usize>>,
}

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// Of the samples predicted as this class, the share that are (0 when none is).
    pub precision: f32,
    /// Of the samples of this class, the share predicted as it (0 when there are none).
    pub recall: f32,
    /// The harmonic mean of precision and recall (0 when both are 0).
    pub f1: f32,
    /// Samples of this class.
    pub support: usize,
}

impl Confusion {
    /// Count `(truth, prediction)` pairs. Every index must be below the
    /// number of classes.
    ///
    /// ```
    /// use strata_report::Confusion;
    /// let c = Confusion::new(vec!["a".into(), "b".into()], &[0, 0, 1, 1], &[0, 1, 1, 1])?;
    /// assert_eq!(c.counts, vec![vec![1, 1], vec![0, 2]]);
    /// assert_eq!(c.scores(1).precision, 2.0 / 3.0);
    /// # Ok::<(), strata_report::ReportError>(())
    /// ```
    pub fn new(classes: Vec<String>, truth: &[usize], predicted: &[usize]) -> Result<Confusion> {
        let n = classes.len();
        if truth.len() != predicted.len() {
            return Err(ReportError::Mismatch {
                operation: "confusion matrix",
                expected: format!("{} predictions, one per label", truth.len()),
                actual: format!("{} predictions", predicted.len()),
            });
        }
        let mut counts = vec![vec![0; n]; n];
        for (&t, &p) in truth.iter().zip(predicted) {
            if t >= n || p >= n {
                return Err(ReportError::Mismatch {
                    operation: "confusion matrix",
                    expected: format!("class indices below {n}"),
                    actual: format!("the pair (true {t}, predicted {p})"),
                });
            }
            counts[t][p] += 1;
        }
        Ok(Confusion { classes, counts })
    }

    /// The scores of class `c`.
    pub fn scores(&self, c: usize) -> ClassScores {
        let tp = self.counts[c][c] as f32;
        let support: usize = self.counts[c].iter().sum();
        let predicted: usize = self.counts.iter().map(|row| row[c]).sum();
        let ratio = |a: f32, b: usize| if b > 0 { a / b as f32 } else { 0.0 };
        let (precision, recall) = (ratio(tp, predicted), ratio(tp, support));
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        ClassScores { precision, recall, f1, support }
    }

    /// Samples counted.
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// The share of samples on the diagonal.
    pub fn accuracy(&self) -> f32 {
        let right: usize = (0..self.classes.len()).map(|c| self.counts[c][c]).sum();
        if self.total() > 0 { right as f32 / self.total() as f32 } else { 0.0 }
    }

    /// The unweighted mean of the classes' F1 scores (classes with support).
    pub fn macro_f1(&self) -> f32 {
        let scores: Vec<f32> =
            (0..self.classes.len()).map(|c| self.scores(c)).filter(|s| s.support > 0).map(|s| s.f1).collect();
        if scores.is_empty() { 0.0 } else { scores.iter().sum::<f32>() / scores.len() as f32 }
    }

    /// The matrix and the per-class scores as aligned text.
    pub fn to_text(&self) -> String {
        let width = self.classes.iter().map(String::len).max().unwrap_or(1).max(5);
        let cell = self.total().to_string().len().max(4);
        let mut s = format!("{:>width$}  predicted ->\n{:>width$}", "true", "");
        for name in &self.classes {
            let _ = write!(s, " {:>cell$}", truncate(name, cell));
        }
        s.push('\n');
        for (name, row) in self.classes.iter().zip(&self.counts) {
            let _ = write!(s, "{name:>width$}");
            for v in row {
                let _ = write!(s, " {v:>cell$}");
            }
            s.push('\n');
        }
        let _ = write!(s, "\n{:>width$}  precision  recall     f1  support\n", "class");
        for (c, name) in self.classes.iter().enumerate() {
            let sc = self.scores(c);
            let _ = writeln!(
                s,
                "{name:>width$}  {:>9.3}  {:>6.3}  {:>5.3}  {:>7}",
                sc.precision, sc.recall, sc.f1, sc.support
            );
        }
        let _ = writeln!(
            s,
            "\naccuracy {:.4} over {} samples, macro F1 {:.4}",
            self.accuracy(),
            self.total(),
            self.macro_f1()
        );
        s
    }
}

fn truncate(name: &str, n: usize) -> &str {
    match name.char_indices().nth(n) {
        Some((i, _)) => &name[..i],
        None => name,
    }
}
