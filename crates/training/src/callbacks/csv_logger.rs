use super::{from_state, to_state};
use crate::callback::{Callback, CallbackContext, CallbackResult};
use crate::history::EpochRecord;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::path::PathBuf;

/// Write each epoch's figures to a CSV file (Keras's `CSVLogger`): a header
/// row, then one row per epoch, flushed as it is written.
///
/// Columns: `epoch` (counted from 1, as Strata counts), `loss`, `accuracy`,
/// `val_loss`, `val_accuracy`, `learning_rate`, `seconds`; a figure an epoch
/// lacks (no validation data, a loss without accuracy) is an empty cell.
/// With `append`, rows go after what the file holds and the header is only
/// written to an empty file; otherwise the file starts afresh at the start of
/// `fit`. A `fit` resumed from a snapshot always appends.
#[derive(Debug)]
pub struct CsvLogger {
    path: PathBuf,
    /// Field separator (default `,`).
    pub separator: u8,
    /// Append to an existing file (default false).
    pub append: bool,
    writer: Option<csv::Writer<File>>,
    state: State,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    rows: usize,
}

const HEADER: [&str; 7] = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"];

impl CsvLogger {
    /// Log to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CsvLogger { path: path.into(), separator: b',', append: false, writer: None, state: State::default() }
    }

    /// Append instead of starting afresh.
    pub fn append(mut self, append: bool) -> Self {
        self.append = append;
        self
    }

    /// Another separator (`b';'`, `b'\t'`).
    pub fn with_separator(mut self, separator: u8) -> Self {
        self.separator = separator;
        self
    }

    fn row(record: &EpochRecord) -> impl Iterator<Item = String> {
        std::iter::once(record.epoch.to_string()).chain(record.csv_figures())
    }
}

impl Callback for CsvLogger {
    fn name(&self) -> &str {
        "csv_logger"
    }

    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> CallbackResult {
        let append = self.append || ctx.resuming();
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(true);
        let mut writer = csv::WriterBuilder::new().delimiter(self.separator).from_writer(file);
        if empty {
            writer.write_record(HEADER)?;
            writer.flush()?;
        }
        self.writer = Some(writer);
        Ok(())
    }

    fn on_epoch_end(&mut self, _ctx: &mut CallbackContext<'_>, record: &EpochRecord) -> CallbackResult {
        if let Some(w) = self.writer.as_mut() {
            w.write_record(CsvLogger::row(record))?;
            w.flush().map_err(|e| format!("{}: {e}", self.path.display()))?;
            self.state.rows = self.state.rows.saturating_add(1);
        }
        Ok(())
    }

    fn on_train_end(&mut self, _ctx: &mut CallbackContext<'_>) -> CallbackResult {
        if let Some(mut w) = self.writer.take() {
            w.flush().map_err(|e| format!("{}: {e}", self.path.display()))?;
        }
        Ok(())
    }

    fn state(&self) -> Option<serde_json::Value> {
        to_state(&self.state)
    }

    fn load_state(&mut self, state: serde_json::Value) -> CallbackResult {
        self.state = from_state(state)?;
        Ok(())
    }
}
