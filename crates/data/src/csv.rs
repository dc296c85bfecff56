//! CSV loading (plain or gzipped) through the `csv` crate: numeric features,
//! one target column (class indices, class names or real values), missing
//! values refused or handled, every size bounded before it is allocated.

use crate::dataset::{InMemoryDataset, MAX_LABEL};
use crate::error::{DataError, Result, cell_text};
use crate::gzip::is_gzip;
use flate2::bufread::MultiGzDecoder;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use strata_tensor::Tensor;

/// Which column holds the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabelColumn {
    /// The last column (the default; MNIST, digits and iris files).
    #[default]
    Last,
    /// The first column.
    First,
    /// The column at this 0-based index.
    Index(usize),
    /// No target: every column is a feature and the targets are `[n, 0]`.
    None,
}

/// What the target column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Task {
    /// Classes: non-negative integer indices (`3`, `3.0`), or names (`setosa`),
    /// mapped to indices in sorted order.
    #[default]
    Classification,
    /// A real value per row: targets `[n, 1]`.
    Regression,
}

/// What to do with a missing feature value (an empty cell, `NA`, `N/A`,
/// `NaN`, `?`, `null`, in any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Missing {
    /// Refuse the file, naming the line and column ([`DataError::Missing`]).
    #[default]
    Error,
    /// Leave out the rows that have one.
    Drop,
    /// Replace it with the mean of its column's present values (over the
    /// whole file; to take the mean of the training part only, read with
    /// [`Missing::Keep`], split, then [`nan_means`] and [`fill_nan`]).
    Mean,
    /// Keep it as NaN, for the caller to fill.
    Keep,
}

/// Each column's mean over its non-NaN values, for features `[n, width]`.
/// Errors: [`DataError::InvalidArgument`] for a column with no value.
pub fn nan_means(features: &Tensor) -> Result<Vec<f32>> {
    let width = features.row_len();
    let mut sums = vec![(0.0f64, 0usize); width];
    for row in features.data().chunks_exact(width.max(1)) {
        for (s, &x) in sums.iter_mut().zip(row) {
            if !x.is_nan() {
                *s = (s.0 + f64::from(x), s.1 + 1);
            }
        }
    }
    if let Some(col) = sums.iter().position(|s| s.1 == 0) {
        return Err(DataError::InvalidArgument {
            op: "nan_means",
            reason: format!("feature column {} has no value to take a mean of", col + 1),
        });
    }
    Ok(sums.iter().map(|&(s, n)| (s / n as f64) as f32).collect())
}

/// Replace every NaN of features `[n, width]` by its column's value in `fill`.
pub fn fill_nan(features: &mut Tensor, fill: &[f32]) {
    let width = features.row_len().max(1);
    for row in features.data_mut().chunks_exact_mut(width) {
        for (x, &m) in row.iter_mut().zip(fill) {
            if x.is_nan() {
                *x = m;
            }
        }
    }
}

/// The longest line read by default: 64 MiB.
pub const MAX_LINE_BYTES: usize = 64 << 20;
/// The most data read from one file by default (after decompression): 8 GiB.
pub const MAX_DATA_BYTES: u64 = 8 << 30;
/// The largest class index a file may hold by default (a million classes).
pub const MAX_CLASS_INDEX: usize = 999_999;

/// How to read a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Which column holds the target.
    pub label_column: LabelColumn,
    /// The first row holds the columns' names.
    pub has_header: bool,
    /// The cell separator (`b','`, `b';'`, `b'\t'`).
    pub delimiter: u8,
    /// What the target column holds.
    pub task: Task,
    /// What to do with missing feature values.
    pub missing: Missing,
    /// The longest line accepted, in bytes.
    pub max_line_bytes: usize,
    /// The most bytes read (after decompression).
    pub max_bytes: u64,
    /// The largest class index accepted; also at most twice the number of
    /// rows plus 1000, so a stray large number cannot ask for a huge layer.
    pub max_class_index: usize,
    /// The most values kept (features and targets, as `f32`); by default as
    /// many as a quarter of this machine's memory holds
    /// ([`crate::data_budget`]), so a gzip file that inflates to gigabytes of
    /// short numbers is an error, not a process the memory runs out under.
    pub max_values: usize,
}

impl Default for CsvOptions {
    /// Label in the last column, no header, comma-separated, classification,
    /// missing values refused, the default limits.
    fn default() -> Self {
        Self {
            label_column: LabelColumn::Last,
            has_header: false,
            delimiter: b',',
            task: Task::Classification,
            missing: Missing::Error,
            max_line_bytes: MAX_LINE_BYTES,
            max_bytes: MAX_DATA_BYTES,
            max_class_index: MAX_CLASS_INDEX,
            max_values: crate::memory::default_max_values(),
        }
    }
}

/// The delimiter a file's name suggests: tab for `.tsv` and `.tab` (also
/// gzipped), else comma.
pub fn delimiter_for(path: &Path) -> u8 {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".tsv") || name.ends_with(".tab") { b'\t' } else { b',' }
}

/// Load a CSV file, plain or gzipped (detected by the magic bytes `1f 8b`,
/// not by the file name). See [`read_csv`] for what it accepts.
///
/// Errors: [`DataError::Io`] when the file cannot be read, and the errors of
/// [`read_csv`].
pub fn load_csv(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<InMemoryDataset> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    parse(BufReader::with_capacity(1 << 16, file), opts, &path.display().to_string(), path)
}

/// The cells of a CSV file's first row (its header), plain or gzipped, read
/// with `opts`'s delimiter and line cap.
///
/// ```
/// # let path = std::env::temp_dir().join(format!("strata-doc-header-{}.csv", std::process::id()));
/// std::fs::write(&path, "\"sepal length\",species\n5.1,setosa\n")?;
/// let names = strata_data::csv_header(&path, &strata_data::CsvOptions::default())?;
/// assert_eq!(names, ["sepal length", "species"]);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn csv_header(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<Vec<String>> {
    let path = path.as_ref();
    let source = path.display().to_string();
    let file = File::open(path).map_err(|e| DataError::Io { path: path.to_path_buf(), source: e })?;
    let (mut csv, gz) = reader(BufReader::new(file), opts, path)?;
    let mut record = ::csv::ByteRecord::new();
    match csv.read_byte_record(&mut record) {
        Ok(true) => Ok(record
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c = if i == 0 { c.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(c) } else { c };
                String::from_utf8_lossy(c).into_owned()
            })
            .collect()),
        Ok(false) => Err(DataError::Empty { what: source }),
        Err(e) => Err(read_error(e, gz, &source, path, 1)),
    }
}

/// [`load_csv`] for bytes in memory (e.g. a file embedded with
/// `include_bytes!`), plain or gzipped; `source_name` names them in errors.
pub fn load_csv_bytes(bytes: &[u8], opts: &CsvOptions, source_name: &str) -> Result<InMemoryDataset> {
    read_csv(bytes, opts, source_name)
}

/// Read CSV data from any buffered reader (plain or gzipped, detected by the
/// magic bytes); `source` names it in errors.
///
/// Cells may be quoted (`"a, b"`), surrounded by spaces, and the file may
/// start with a header row (`has_header`) and a UTF-8 byte-order mark; blank
/// lines are skipped. Feature cells are finite numbers; missing ones are
/// handled as `opts.missing` says. The target cell is a class index, a class
/// name (every row's, then: the names are sorted and numbered, and kept in
/// [`InMemoryDataset::class_names`]) or, for [`Task::Regression`], a finite
/// number.
///
/// Errors, each naming `source` and the 1-based line (counting the header)
/// and column: [`DataError::Parse`] for a cell that is not a finite number,
/// [`DataError::Missing`], [`DataError::InvalidLabel`] (a negative or
/// fractional index, names mixed with indices, an index above the limit),
/// [`DataError::Ragged`] for a row whose cell count differs from the first
/// data row's, [`DataError::Text`] for a line longer than
/// `opts.max_line_bytes` or data beyond `opts.max_bytes`, [`DataError::Empty`]
/// when there is no data row, [`DataError::Gzip`] for corrupt compressed
/// data, [`DataError::InvalidArgument`] when the label column does not exist
/// or no feature column is left, [`DataError::Io`] when reading fails.
///
/// ```
/// use strata_data::{CsvOptions, DataError, read_csv};
///
/// let csv = "1.0,2.0,0\n3.0,oops,1\n";
/// let err = read_csv(csv.as_bytes(), &CsvOptions::default(), "inline.csv").unwrap_err();
/// assert!(matches!(err, DataError::Parse { line: 2, column: 2, .. }));
/// assert_eq!(err.to_string(), r#"inline.csv: line 2, column 2: "oops" is not a finite number"#);
///
/// let named = "sepal,petal,species\n5.1,1.4,\"setosa\"\n6.3,6.0,virginica\n";
/// let opts = CsvOptions { has_header: true, ..CsvOptions::default() };
/// let ds = read_csv(named.as_bytes(), &opts, "named.csv")?;
/// assert_eq!(ds.class_names().unwrap(), ["setosa", "virginica"]);
/// # Ok::<(), DataError>(())
/// ```
pub fn read_csv<R: BufRead>(reader: R, opts: &CsvOptions, source: &str) -> Result<InMemoryDataset> {
    parse(reader, opts, source, Path::new(source))
}

/// The `csv` crate's reader over a bounded, possibly decompressing input.
type CsvReader<'a> = ::csv::Reader<Bounded<'a, Box<dyn Read + 'a>>>;

/// A `csv` crate reader of `input` (plain or gzipped, told by the magic
/// bytes) through [`Bounded`], and whether it is gzipped.
fn reader<'a, R: BufRead + 'a>(mut input: R, opts: &'a CsvOptions, path: &Path) -> Result<(CsvReader<'a>, bool)> {
    let gz = is_gzip(input.fill_buf().map_err(|e| DataError::Io { path: path.to_path_buf(), source: e })?);
    let inner: Box<dyn Read + 'a> = if gz { Box::new(MultiGzDecoder::new(input)) } else { Box::new(input) };
    let bounded = Bounded { inner, line_bytes: 0, total: 0, newlines: VecDeque::new(), lines_before: 0, opts };
    let csv = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(opts.delimiter)
        .trim(::csv::Trim::All)
        .buffer_capacity(1 << 16)
        .from_reader(bounded);
    Ok((csv, gz))
}

fn parse<R: BufRead>(input: R, opts: &CsvOptions, source: &str, path: &Path) -> Result<InMemoryDataset> {
    let (mut csv, gz) = reader(input, opts, path)?;
    let mut parser = Parser::new(opts, source);
    let mut record = ::csv::ByteRecord::new();
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let start = record.position().map_or(0, |p| p.byte());
                let line = csv.get_mut().line_of(start);
                parser.push(&record, line)?;
            }
            Err(e) => {
                let line = csv.get_mut().line_of(e.position().map_or(u64::MAX, |p| p.byte()));
                return Err(read_error(e, gz, source, path, line));
            }
        }
    }
    parser.finish()
}

/// A `csv` crate error as the data error it stands for.
fn read_error(e: ::csv::Error, gz: bool, source: &str, path: &Path, line: usize) -> DataError {
    match e.into_kind() {
        ::csv::ErrorKind::Io(e)
            if e.kind() == std::io::ErrorKind::InvalidData && e.get_ref().is_some_and(|i| i.is::<Limit>()) =>
        {
            DataError::Text { file: source.to_owned(), line, reason: e.to_string() }
        }
        ::csv::ErrorKind::Io(e) if gz => DataError::Gzip { file: source.to_owned(), source: e },
        ::csv::ErrorKind::Io(e) => DataError::Io { path: path.to_path_buf(), source: e },
        other => DataError::Text { file: source.to_owned(), line, reason: format!("{other:?}") },
    }
}

/// A limit a file went past.
#[derive(Debug)]
struct Limit(String);

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Limit {}

/// The reader the `csv` crate reads through: it stops a line longer than
/// the limit, and data beyond the limit, before they fill the memory, and
/// numbers lines (blank ones included) for the messages.
struct Bounded<'a, R> {
    inner: R,
    line_bytes: usize,
    total: u64,
    /// Offsets of the newlines read but not yet passed by a record.
    newlines: VecDeque<u64>,
    /// Newlines before the last record asked about.
    lines_before: usize,
    opts: &'a CsvOptions,
}

impl<R> Bounded<'_, R> {
    /// The 1-based line of a record that the `csv` crate says starts at
    /// `offset` (records come in order). The crate's offset is where it
    /// began to read the record, before the blank lines it skipped.
    fn line_of(&mut self, mut offset: u64) -> usize {
        while let Some(&n) = self.newlines.front() {
            if n > offset {
                break;
            }
            if n == offset {
                offset += 1; // a blank line the record comes after
            }
            self.newlines.pop_front();
            self.lines_before += 1;
        }
        self.lines_before + 1
    }
}

impl<R: Read> Read for Bounded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let at = self.total;
        self.total += n as u64;
        let limit = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, Limit(what));
        if self.total > self.opts.max_bytes {
            return Err(limit(format!("the data goes on beyond {} bytes, the most Strata reads", self.opts.max_bytes)));
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' {
                self.line_bytes = 0;
                self.newlines.push_back(at + i as u64);
            } else {
                self.line_bytes += 1;
                if self.line_bytes > self.opts.max_line_bytes {
                    return Err(limit(format!(
                        "a line longer than {} bytes, the longest Strata reads",
                        self.opts.max_line_bytes
                    )));
                }
            }
        }
        Ok(n)
    }
}

/// Missing-value spellings, lower case.
fn is_missing(cell: &[u8]) -> bool {
    cell.is_empty() || matches!(cell.to_ascii_lowercase().as_slice(), b"na" | b"n/a" | b"nan" | b"?" | b"null")
}

/// Record-by-record CSV state.
struct Parser<'a> {
    opts: &'a CsvOptions,
    source: &'a str,
    /// Cells per row and the target's 0-based column, fixed by the first data row.
    layout: Option<(usize, Option<usize>)>,
    header_seen: bool,
    /// Cells of the header row, once read.
    header_cells: Option<usize>,
    features: Vec<f32>,
    /// Per row: the target's text id (classification) or value (regression).
    targets: Vec<f32>,
    /// Target texts by first appearance, with the line and column of it.
    texts: HashMap<Vec<u8>, usize>,
    first_at: Vec<(String, usize, usize)>,
    rows: usize,
    /// Whether a value was missing (for `Missing::Mean`).
    any_missing: bool,
}

impl<'a> Parser<'a> {
    fn new(opts: &'a CsvOptions, source: &'a str) -> Self {
        Self {
            opts,
            source,
            layout: None,
            header_seen: false,
            header_cells: None,
            features: Vec::new(),
            targets: Vec::new(),
            texts: HashMap::new(),
            first_at: Vec::new(),
            rows: 0,
            any_missing: false,
        }
    }

    fn push(&mut self, record: &::csv::ByteRecord, line: usize) -> Result<()> {
        if self.opts.has_header && !self.header_seen {
            self.header_seen = true;
            self.header_cells = Some(record.len());
            return Ok(());
        }
        if record.len() == 1 && record[0].is_empty() {
            return Ok(()); // a blank line
        }
        let found = record.len();
        let (n_cols, label_col) = match self.layout {
            Some(layout) => layout,
            None => {
                self.check_header_width(found, line)?;
                *self.layout.insert((found, self.label_column(found, line)?))
            }
        };
        if found != n_cols {
            return Err(DataError::Ragged { file: self.source.to_owned(), line, expected: n_cols, found });
        }
        self.make_room(n_cols, line)?;
        let start = self.features.len();
        let mut target = None;
        for (col, cell) in record.iter().enumerate() {
            let cell = if col == 0 { cell.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(cell) } else { cell };
            if Some(col) == label_col {
                target = Some((cell, col));
                continue;
            }
            if is_missing(cell) {
                match self.opts.missing {
                    Missing::Error => {
                        let (file, column) = (self.source.to_owned(), col + 1);
                        return Err(DataError::Missing { file, line, column, value: cell_text(cell) });
                    }
                    Missing::Drop => {
                        self.features.truncate(start);
                        return Ok(());
                    }
                    Missing::Mean | Missing::Keep => {
                        self.any_missing |= self.opts.missing == Missing::Mean;
                        self.features.push(f32::NAN);
                        continue;
                    }
                }
            }
            match std::str::from_utf8(cell).ok().and_then(|s| s.parse::<f32>().ok()) {
                Some(v) if v.is_finite() => self.features.push(v),
                _ => {
                    return Err(DataError::Parse {
                        file: self.source.to_owned(),
                        line,
                        column: col + 1,
                        value: cell_text(cell),
                    });
                }
            }
        }
        if let Some((cell, col)) = target {
            if is_missing(cell) && self.opts.missing == Missing::Drop {
                self.features.truncate(start);
                return Ok(());
            }
            self.push_target(cell, line, col)?;
        }
        self.rows += 1;
        Ok(())
    }

    /// The header names as many columns as the first data row holds: one
    /// name fewer would shift every name, so `--label-column progression`
    /// would take the column before it, in silence.
    fn check_header_width(&self, found: usize, line: usize) -> Result<()> {
        match self.header_cells {
            Some(names) if names != found => Err(DataError::Text {
                file: self.source.to_owned(),
                line,
                reason: format!("the header names {names} columns, but this first data row holds {found} cells"),
            }),
            _ => Ok(()),
        }
    }

    /// Room for one more row of `n_cols` cells, within `max_values`.
    fn make_room(&mut self, n_cols: usize, line: usize) -> Result<()> {
        let kept = self.features.len() + self.targets.len();
        let reason = if kept.saturating_add(n_cols) > self.opts.max_values {
            crate::memory::beyond(self.opts.max_values, "values")
        } else {
            match crate::memory::room(&mut self.features, n_cols, "values")
                .and_then(|()| crate::memory::room(&mut self.targets, 1, "targets"))
            {
                Ok(()) => return Ok(()),
                Err(reason) => reason,
            }
        };
        Err(DataError::Text { file: self.source.to_owned(), line, reason })
    }

    fn push_target(&mut self, cell: &[u8], line: usize, col: usize) -> Result<()> {
        let invalid = |what: &str| DataError::InvalidLabel {
            file: self.source.to_owned(),
            line,
            column: col + 1,
            value: cell_text(cell),
            reason: what.to_string(),
        };
        if self.opts.task == Task::Regression {
            return match std::str::from_utf8(cell).ok().and_then(|s| s.parse::<f32>().ok()) {
                Some(v) if v.is_finite() => {
                    self.targets.push(v);
                    Ok(())
                }
                _ if is_missing(cell) => Err(invalid("is missing: a regression target must be a finite number")),
                _ => Err(invalid("is not a finite number (the regression target)")),
            };
        }
        if is_missing(cell) {
            return Err(invalid("is missing: every row needs its class"));
        }
        let next = self.texts.len();
        let id = *self.texts.entry(cell.to_vec()).or_insert(next);
        if id == next {
            self.first_at.push((cell_text(cell), line, col + 1));
        }
        self.targets.push(id as f32);
        Ok(())
    }

    /// The target's 0-based column for rows of `n_cols` cells.
    fn label_column(&self, n_cols: usize, line: usize) -> Result<Option<usize>> {
        let col = match self.opts.label_column {
            LabelColumn::None => return Ok(None),
            LabelColumn::Last => n_cols - 1,
            LabelColumn::First => 0,
            LabelColumn::Index(i) => i,
        };
        let text = |reason: String| Err(DataError::Text { file: self.source.to_owned(), line, reason });
        if col >= n_cols {
            return text(format!("label column {col} (0-based) does not exist: the row has {n_cols} cells"));
        }
        if n_cols < 2 {
            let d = self.opts.delimiter;
            let shown = if d == b'\t' { "a tab".to_string() } else { format!("'{}'", char::from(d)) };
            return text(format!(
                "the row is one cell when cut at {shown}: a label and no feature (is the file cut by another \
                 delimiter? --delimiter)"
            ));
        }
        Ok(Some(col))
    }

    fn finish(mut self) -> Result<InMemoryDataset> {
        let Some((n_cols, label_col)) = self.layout else {
            return Err(DataError::Empty { what: self.source.to_owned() });
        };
        if self.rows == 0 {
            return Err(DataError::Empty { what: format!("{} (every row had a missing value)", self.source) });
        }
        let n_features = n_cols - usize::from(label_col.is_some());
        if self.any_missing {
            self.impute_means(n_features)?;
        }
        let features = Tensor::from_vec(&[self.rows, n_features], std::mem::take(&mut self.features))?;
        match (label_col, self.opts.task) {
            (None, _) => InMemoryDataset::new(features, Tensor::zeros(&[self.rows, 0])),
            (Some(_), Task::Regression) => {
                InMemoryDataset::new(features, Tensor::from_vec(&[self.rows, 1], std::mem::take(&mut self.targets))?)
            }
            (Some(_), Task::Classification) => self.classes(features),
        }
    }

    /// Class indices from the target texts: all indices, or all names.
    fn classes(self, features: Tensor) -> Result<InMemoryDataset> {
        let index = |t: &str| t.parse::<f64>().ok().filter(|v| v.is_finite());
        let numeric: Vec<Option<f64>> = self.first_at.iter().map(|(t, ..)| index(t)).collect();
        let bad = |i: usize, reason: String| {
            let (value, line, column) = self.first_at[i].clone();
            DataError::InvalidLabel { file: self.source.to_owned(), line, column, value, reason }
        };
        if numeric.iter().all(Option::is_none) {
            if let Some(i) = self.first_at.iter().position(|(t, ..)| t.chars().any(char::is_control)) {
                let why = "a class name holds a control character (a line break, a tab, ...): `strata predict` prints one a line";
                return Err(bad(i, why.into()));
            }
            // Names: sorted, numbered.
            let mut order: Vec<usize> = (0..self.first_at.len()).collect();
            order.sort_by(|&a, &b| self.first_at[a].0.cmp(&self.first_at[b].0));
            let mut rank = vec![0; order.len()];
            for (r, &i) in order.iter().enumerate() {
                rank[i] = r;
            }
            let labels: Vec<usize> = self.targets.iter().map(|&id| rank[id as usize]).collect();
            let names = order.iter().map(|&i| self.first_at[i].0.clone()).collect();
            return InMemoryDataset::from_labels(features, &labels)?.with_class_names(names);
        }
        if let Some(i) = numeric.iter().position(Option::is_none) {
            let j = numeric.iter().position(Option::is_some).unwrap_or(0);
            let reason = format!(
                "is a name, but line {}'s label {:?} is a number: class labels must all be indices or all be names",
                self.first_at[j].1, self.first_at[j].0
            );
            return Err(bad(i, reason));
        }
        let limit = self.opts.max_class_index.min(self.rows.saturating_mul(2).saturating_add(1000)).min(MAX_LABEL);
        let mut values = Vec::with_capacity(numeric.len());
        for (i, v) in numeric.iter().enumerate() {
            let v = v.unwrap_or(-1.0);
            if v < 0.0 || v.fract() != 0.0 {
                return Err(bad(i, "is not a non-negative integer (a class index)".into()));
            }
            if v > limit as f64 {
                return Err(bad(
                    i,
                    format!(
                        "is above {limit}, the largest class index accepted for {} rows (class indices count from 0; \
                         for a real-valued target, use regression)",
                        self.rows
                    ),
                ));
            }
            values.push(v as usize);
        }
        let labels: Vec<usize> = self.targets.iter().map(|&id| values[id as usize]).collect();
        InMemoryDataset::from_labels(features, &labels)
    }

    /// Replace each NaN (a missing value) by its column's mean.
    fn impute_means(&mut self, width: usize) -> Result<()> {
        let t = Tensor::from_vec(&[self.rows, width], std::mem::take(&mut self.features))?;
        let means = nan_means(&t).map_err(|e| match e {
            DataError::InvalidArgument { reason, .. } => {
                DataError::InvalidArgument { op: "read_csv", reason: format!("{}: {reason}", self.source) }
            }
            other => other,
        })?;
        let mut t = t;
        fill_nan(&mut t, &means);
        self.features = t.into_vec();
        Ok(())
    }
}
