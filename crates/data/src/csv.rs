//! CSV loading (plain or gzipped): numeric cells, one label column.

use crate::dataset::{InMemoryDataset, label_of};
use crate::error::{DataError, Result, cell_text};
use crate::gzip::for_each_line;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use strata_tensor::Tensor;

/// Which column holds the class label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabelColumn {
    /// The last column (the default; MNIST, digits and iris files).
    #[default]
    Last,
    /// The first column.
    First,
    /// The column at this 0-based index.
    Index(usize),
    /// No label: every column is a feature and the targets are `[n, 0]`.
    None,
}

/// How to read a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Which column holds the class label.
    pub label_column: LabelColumn,
    /// Skip the first line.
    pub has_header: bool,
    /// The cell separator.
    pub delimiter: u8,
}

impl Default for CsvOptions {
    /// Label in the last column, no header, comma-separated.
    fn default() -> Self {
        Self { label_column: LabelColumn::Last, has_header: false, delimiter: b',' }
    }
}

/// Load a CSV file, plain or gzipped (detected by the magic bytes `1f 8b`,
/// not by the file name).
///
/// Every cell must be a finite number (surrounding spaces allowed); the label
/// cell a non-negative integer such as `3` or `3.0`. The number of classes is
/// the largest label + 1. Blank lines are skipped, a trailing `\r` and a UTF-8
/// byte-order mark are tolerated.
///
/// Errors: [`DataError::Io`] when the file cannot be read, and the errors of
/// [`read_csv`].
pub fn load_csv(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<InMemoryDataset> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    let name = path.display().to_string();
    parse(BufReader::with_capacity(1 << 16, file), opts, &name, path)
}

/// [`load_csv`] for bytes in memory (e.g. a file embedded with
/// `include_bytes!`), plain or gzipped; `source_name` names them in errors.
pub fn load_csv_bytes(bytes: &[u8], opts: &CsvOptions, source_name: &str) -> Result<InMemoryDataset> {
    read_csv(bytes, opts, source_name)
}

/// Read CSV data from any buffered reader (plain or gzipped, detected by the
/// magic bytes); `source` names it in errors.
///
/// Errors, each naming `source` and the 1-based line (counting the header)
/// and column: [`DataError::Parse`] for a cell that is not a finite number,
/// [`DataError::InvalidLabel`], [`DataError::Ragged`] for a row whose cell
/// count differs from the first data row's, [`DataError::Empty`] when there is
/// no data row, [`DataError::Gzip`] for corrupt compressed data,
/// [`DataError::InvalidArgument`] when the label column does not exist or no
/// feature column is left, [`DataError::Io`] when reading fails.
///
/// ```
/// use strata_data::{CsvOptions, DataError, read_csv};
///
/// let csv = "1.0,2.0,0\n3.0,oops,1\n";
/// let err = read_csv(csv.as_bytes(), &CsvOptions::default(), "inline.csv").unwrap_err();
/// assert!(matches!(err, DataError::Parse { line: 2, column: 2, .. }));
/// assert_eq!(err.to_string(), r#"inline.csv: line 2, column 2: "oops" is not a finite number"#);
/// ```
pub fn read_csv<R: BufRead>(reader: R, opts: &CsvOptions, source: &str) -> Result<InMemoryDataset> {
    parse(reader, opts, source, Path::new(source))
}

fn parse<R: BufRead>(reader: R, opts: &CsvOptions, source: &str, path: &Path) -> Result<InMemoryDataset> {
    let mut parser = Parser::new(opts, source);
    for_each_line(reader, (source, path), None, |_, line| parser.push_line(line))?;
    parser.finish()
}

/// Line-by-line CSV state.
struct Parser<'a> {
    opts: &'a CsvOptions,
    source: &'a str,
    /// Lines seen so far (the current line's 1-based number once pushed).
    line: usize,
    /// Cells per row and the label's 0-based column, fixed by the first data row.
    layout: Option<(usize, Option<usize>)>,
    features: Vec<f32>,
    labels: Vec<usize>,
    rows: usize,
}

impl<'a> Parser<'a> {
    fn new(opts: &'a CsvOptions, source: &'a str) -> Self {
        Self { opts, source, line: 0, layout: None, features: Vec::new(), labels: Vec::new(), rows: 0 }
    }

    fn push_line(&mut self, raw: &[u8]) -> Result<()> {
        self.line += 1;
        let mut line = raw.strip_suffix(b"\n").unwrap_or(raw);
        line = line.strip_suffix(b"\r").unwrap_or(line);
        if self.line == 1 {
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
            if self.opts.has_header {
                return Ok(());
            }
        }
        if line.trim_ascii().is_empty() {
            return Ok(());
        }
        let delim = self.opts.delimiter;
        let found = line.iter().filter(|&&b| b == delim).count() + 1;
        let (n_cols, label_col) = match self.layout {
            Some(layout) => layout,
            None => {
                let layout = (found, self.label_column(found)?);
                self.layout = Some(layout);
                self.features.reserve(found.saturating_mul(64));
                layout
            }
        };
        if found != n_cols {
            return Err(DataError::Ragged { file: self.source.to_owned(), line: self.line, expected: n_cols, found });
        }
        for (col, cell) in line.split(|&b| b == delim).enumerate() {
            let cell = cell.trim_ascii();
            if Some(col) == label_col {
                let label = std::str::from_utf8(cell).ok().and_then(|s| s.parse::<f64>().ok()).and_then(label_of);
                match label {
                    Some(l) => self.labels.push(l),
                    None => {
                        return Err(DataError::InvalidLabel {
                            file: self.source.to_owned(),
                            line: self.line,
                            column: col + 1,
                            value: cell_text(cell),
                        });
                    }
                }
            } else {
                match std::str::from_utf8(cell).ok().and_then(|s| s.parse::<f32>().ok()) {
                    Some(v) if v.is_finite() => self.features.push(v),
                    _ => {
                        return Err(DataError::Parse {
                            file: self.source.to_owned(),
                            line: self.line,
                            column: col + 1,
                            value: cell_text(cell),
                        });
                    }
                }
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// The label's 0-based column for rows of `n_cols` cells.
    fn label_column(&self, n_cols: usize) -> Result<Option<usize>> {
        let col = match self.opts.label_column {
            LabelColumn::None => return Ok(None),
            LabelColumn::Last => n_cols - 1,
            LabelColumn::First => 0,
            LabelColumn::Index(i) => i,
        };
        if col >= n_cols {
            return Err(DataError::InvalidArgument {
                op: "read_csv",
                reason: format!(
                    "{}:{}: label column {} (0-based) does not exist: the row has {n_cols} cells",
                    self.source, self.line, col
                ),
            });
        }
        if n_cols < 2 {
            return Err(DataError::InvalidArgument {
                op: "read_csv",
                reason: format!("{}:{}: the row holds a label but no feature", self.source, self.line),
            });
        }
        Ok(Some(col))
    }

    fn finish(self) -> Result<InMemoryDataset> {
        let Some((n_cols, label_col)) = self.layout else {
            return Err(DataError::Empty { what: self.source.to_owned() });
        };
        let n_features = n_cols - usize::from(label_col.is_some());
        let features = Tensor::from_vec(&[self.rows, n_features], self.features)?;
        match label_col {
            Some(_) => InMemoryDataset::from_labels(features, &self.labels),
            None => InMemoryDataset::new(features, Tensor::zeros(&[self.rows, 0])),
        }
    }
}
