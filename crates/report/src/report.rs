//! [`Report`]: a training run written out as a folder: `report.md`,
//! `history.csv`, `curves.svg`/`curves.png`, `gradients.png`, and for a
//! classifier with a test set `confusion.png` and `confusion.txt`. Every file
//! is written atomically.

use crate::confusion::Confusion;
use crate::diagnosis::{Diagnosis, Severity};
use crate::error::{ReportError, Result};
use crate::observe::Observations;
use crate::plot;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use strata_training::History;

/// Test-set figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestFigures {
    /// Samples in the test set.
    pub n_samples: usize,
    /// Mean loss.
    pub loss: f32,
    /// Accuracy, for a classifier.
    pub accuracy: Option<f32>,
    /// Further figures by name (RMSE, MAE, R² of a regression).
    pub extra: Vec<(String, f32)>,
}

/// Everything a report says about a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The report's title (the data and the model, in a few words).
    pub title: String,
    /// The model summary (layers, shapes, parameters), as printed.
    pub model_summary: String,
    /// Hyperparameters and seed, by name, in order.
    pub hyperparameters: Vec<(String, String)>,
    /// The run's epochs.
    pub history: History,
    /// What the [`crate::Observer`] saw.
    pub observations: Option<Observations>,
    /// The diagnosis.
    pub diagnosis: Diagnosis,
    /// Test figures, when there is a test set.
    pub test: Option<TestFigures>,
    /// The test set's confusion matrix, for a classifier.
    pub confusion: Option<Confusion>,
    /// Training throughput (samples per second of `fit`, validation included).
    pub samples_per_second: Option<f64>,
}

/// The files of a report folder.
pub const FILES: [&str; 7] =
    ["report.md", "history.csv", "curves.svg", "curves.png", "gradients.png", "confusion.png", "confusion.txt"];

impl Report {
    /// Write the report's files into `dir` (created if needed). Returns the
    /// paths written. Every file is rendered before the first is written,
    /// and `report.md`, which shows the figures, is written last; should a
    /// write fail, the files this call wrote are removed again (and `dir`,
    /// when this call created it), so no report refers to a missing figure.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let files = self.render()?;
        let existed = dir.exists();
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Folder { path: dir.to_path_buf(), source })?;
        let mut written = Vec::new();
        for (name, bytes) in &files {
            let path = dir.join(name);
            if let Err(source) = strata_io::atomic_write(&path, bytes) {
                for done in &written {
                    let _ = std::fs::remove_file(done);
                }
                if !existed {
                    let _ = std::fs::remove_dir(dir);
                }
                return Err(ReportError::Write { path, source: Box::new(source) });
            }
            written.push(path);
        }
        Ok(written)
    }

    /// The report's files, `report.md` last.
    fn render(&self) -> Result<Vec<(&'static str, Vec<u8>)>> {
        let h = &self.history;
        let o = self.observations.as_ref();
        let mut files = vec![
            ("history.csv", self.history_csv()?.into_bytes()),
            ("curves.svg", plot::svg("curves.svg", plot::FIGURE_SIZE, |a| plot::draw_curves(a, h))?.into_bytes()),
            ("curves.png", plot::png("curves.png", plot::FIGURE_SIZE, |a| plot::draw_curves(a, h))?),
            ("gradients.png", plot::png("gradients.png", plot::FIGURE_SIZE, |a| plot::draw_gradients(a, h, o))?),
        ];
        if let Some(c) = &self.confusion {
            let side = (200 + 60 * c.classes.len() as u32).clamp(480, 1400);
            files.push(("confusion.png", plot::png("confusion.png", (side, side), |a| plot::draw_confusion(a, c))?));
            files.push(("confusion.txt", c.to_text().into_bytes()));
        }
        files.push(("report.md", self.markdown().into_bytes()));
        Ok(files)
    }

    /// `report.md`.
    pub fn markdown(&self) -> String {
        let mut s = format!("# {}\n\n", self.title);
        s.push_str("## Diagnosis\n\n");
        s.push_str(&diagnosis_markdown(&self.diagnosis));
        s.push_str("\n## Model\n\n```\n");
        s.push_str(self.model_summary.trim_end());
        s.push_str("\n```\n\n## Hyperparameters\n\n| setting | value |\n|---|---|\n");
        for (k, v) in &self.hyperparameters {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        s.push_str("\n## Epochs\n\n");
        s.push_str(&epoch_table(&self.history));
        s.push_str(&self.results_markdown());
        s.push_str(
            "\n## Figures\n\n![learning curves](curves.png)\n\n![gradient flow](gradients.png)\n\n\
             Every figure per epoch is in `history.csv`.\n",
        );
        if self.confusion.is_some() {
            s.push_str("\n![confusion matrix](confusion.png)\n");
        }
        s
    }

    fn results_markdown(&self) -> String {
        let mut s = String::from("\n## Results\n\n");
        match &self.test {
            Some(t) => {
                let acc = t.accuracy.map_or_else(String::new, |a| format!(", accuracy {:.2}%", 100.0 * a));
                let _ = writeln!(s, "Test set: {} samples, loss {:.4}{acc}.", t.n_samples, t.loss);
                for (name, v) in &t.extra {
                    let _ = writeln!(s, "- {name}: {v:.4}");
                }
            }
            None => s.push_str("No test set.\n"),
        }
        if let Some(best) = self.history.best_epoch {
            let _ = writeln!(s, "\nEarly stopping restored the weights of epoch {best}.");
        }
        if let Some(stop) = &self.history.stopped {
            let _ = writeln!(s, "\nTraining stopped in epoch {}: {} ({}).", stop.epoch, stop.reason, stop.callback);
        }
        if let Some(c) = &self.confusion {
            let _ = write!(s, "\n### Confusion matrix (test set)\n\n```\n{}```\n", c.to_text());
        }
        if let Some(sps) = self.samples_per_second {
            let _ = writeln!(s, "\nSpeed: {sps:.0} samples per second (training and validation).");
        }
        s
    }

    /// `history.csv`: one row per epoch, every figure (gradient norms and
    /// update ratios per parameter included), through the `csv` crate.
    pub fn history_csv(&self) -> Result<String> {
        let h = &self.history;
        let params: Vec<String> =
            h.last().map(|r| r.grad_norms.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();
        let ratios = self.observations.as_ref().map(|o| o.update_ratios.as_slice()).unwrap_or_default();
        let mut header: Vec<String> = [
            "epoch",
            "batches",
            "train_loss",
            "train_accuracy",
            "val_loss",
            "val_accuracy",
            "learning_rate",
            "seconds",
        ]
        .map(String::from)
        .to_vec();
        header.extend(params.iter().map(|p| format!("grad_norm:{p}")));
        header.extend(params.iter().map(|p| format!("update_ratio:{p}")));
        let mut w = csv::Writer::from_writer(Vec::new());
        let csv_error = |e: csv::Error| ReportError::Csv { file: "history.csv", message: e.to_string() };
        w.write_record(&header).map_err(csv_error)?;
        let opt = |v: Option<f32>| v.map_or_else(String::new, |v| v.to_string());
        for (i, r) in h.epochs.iter().enumerate() {
            let mut row = vec![r.epoch.to_string(), r.batches.to_string()];
            row.extend(r.csv_figures());
            let lookup = |list: Option<&Vec<(String, f32)>>, p: &str| {
                opt(list.and_then(|l| l.iter().find(|(n, _)| n == p)).map(|x| x.1))
            };
            row.extend(params.iter().map(|p| lookup(Some(&r.grad_norms), p)));
            row.extend(params.iter().map(|p| lookup(ratios.get(i), p)));
            w.write_record(&row).map_err(csv_error)?;
        }
        let bytes =
            w.into_inner().map_err(|e| ReportError::Plot { figure: "history.csv".into(), message: e.to_string() })?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn diagnosis_markdown(d: &Diagnosis) -> String {
    if d.findings.is_empty() {
        return "No problem found: the learning rate, the fit, gradient flow and the units are within the rules of \
                `docs/diagnosis.md`.\n"
            .into();
    }
    let mut s = String::new();
    for f in &d.findings {
        let label = if f.severity == Severity::Warning { "Warning" } else { "Note" };
        let (evidence, suggestion) = (capitalised(&f.evidence), capitalised(&f.suggestion));
        let _ = writeln!(s, "- **{label}: {}.** {evidence}. *Try:* {suggestion}.", f.verdict.title());
    }
    s
}

/// A sentence's first letter in capitals (the findings' words start in lower case, to follow a colon).
fn capitalised(sentence: &str) -> String {
    let mut chars = sentence.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

fn epoch_table(h: &History) -> String {
    let mut s = String::from(
        "| epoch | loss | accuracy | val loss | val accuracy | learning rate |\n|---|---|---|---|---|---|\n",
    );
    let pct = |v: Option<f32>| v.map_or_else(|| "-".to_string(), |v| format!("{:.2}%", 100.0 * v));
    for r in &h.epochs {
        let val_loss = r.validation.map_or_else(|| "-".to_string(), |v| format!("{:.4}", v.loss));
        let _ = writeln!(
            s,
            "| {} | {:.4} | {} | {val_loss} | {} | {:.2e} |",
            r.epoch,
            r.train_loss,
            pct(r.train_accuracy),
            pct(r.validation.and_then(|v| v.accuracy)),
            r.learning_rate
        );
    }
    s
}
