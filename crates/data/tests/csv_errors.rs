//! CSV parsing: options, tolerated quirks, and every error with its location.

use crate::{gzip, temp_file};
use std::path::Path;
use strata_data::{CsvOptions, DataError, LabelColumn, Missing, Task, load_csv, load_csv_bytes, read_csv};

fn parse(text: &str, opts: &CsvOptions) -> strata_data::Result<strata_data::InMemoryDataset> {
    read_csv(text.as_bytes(), opts, "t.csv")
}

fn default_parse(text: &str) -> strata_data::Result<strata_data::InMemoryDataset> {
    parse(text, &CsvOptions::default())
}

#[test]
fn crlf_trailing_blank_lines_and_spaces_are_tolerated() {
    let ds = default_parse("1, 2 ,0\r\n3,4,2\r\n\r\n\n  \n").unwrap();
    assert_eq!(ds.features().data(), &[1., 2., 3., 4.]);
    assert_eq!(ds.labels(), Some(vec![0, 2]));
    assert_eq!(ds.n_classes(), Some(3)); // max label 2, + 1
    // No final newline at all.
    assert_eq!(default_parse("1,2,0\n3,4,1").unwrap().len(), 2);
}

#[test]
fn label_column_options() {
    let text = "7,1,2\n8,3,4\n";
    let first = parse(text, &CsvOptions { label_column: LabelColumn::First, ..Default::default() }).unwrap();
    assert_eq!(first.labels(), Some(vec![7, 8]));
    assert_eq!(first.features().data(), &[1., 2., 3., 4.]);
    let middle = parse(text, &CsvOptions { label_column: LabelColumn::Index(1), ..Default::default() }).unwrap();
    assert_eq!(middle.labels(), Some(vec![1, 3]));
    assert_eq!(middle.features().data(), &[7., 2., 8., 4.]);
    let none = parse(text, &CsvOptions { label_column: LabelColumn::None, ..Default::default() }).unwrap();
    assert_eq!(none.features().shape(), &[2, 3]);
    assert_eq!(none.targets().shape(), &[2, 0]);
    assert_eq!(none.n_classes(), None);
    assert_eq!(none.labels(), None);
    let err = parse(text, &CsvOptions { label_column: LabelColumn::Index(3), ..Default::default() }).unwrap_err();
    assert_eq!(err.to_string(), "t.csv: line 1: label column 3 (0-based) does not exist: the row has 3 cells");
    // A file cut by another delimiter is one cell a row.
    let err = parse("1;2;0\n3;4;1\n", &CsvOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.csv: line 1: the row is one cell when cut at ',': a label and no feature (is the file cut by another \
         delimiter? --delimiter)"
    );
}

#[test]
fn header_and_delimiter() {
    let opts = CsvOptions { has_header: true, delimiter: b';', ..Default::default() };
    let ds = parse("\u{feff}x;y;class\n1.5;2;1.0\n", &opts).unwrap();
    assert_eq!(ds.features().data(), &[1.5, 2.0]);
    assert_eq!(ds.labels(), Some(vec![1]));
}

#[test]
fn a_header_of_another_width_than_the_rows_is_refused() {
    // One name short: every name after the gap would name the column before it.
    let opts = CsvOptions { has_header: true, ..Default::default() };
    let err = parse("a,b,label\n1,2,3,0\n5,6,7,1\n", &opts).unwrap_err();
    assert_eq!(err.to_string(), "t.csv: line 2: the header names 3 columns, but this first data row holds 4 cells");
    let err = parse("a,b,c,d,label\n\n1,2,3,0\n", &opts).unwrap_err();
    assert_eq!(err.to_string(), "t.csv: line 3: the header names 5 columns, but this first data row holds 4 cells");
    assert!(parse("a,b,c,label\n1,2,3,0\n5,6,7,1\n", &opts).is_ok());
}

#[test]
fn ragged_row_names_its_line() {
    let err = default_parse("1,2,0\n3,4,1\n\n5,6\n").unwrap_err();
    // Line 3 is blank (skipped); the short row is line 4.
    assert!(matches!(&err, DataError::Ragged { file, line: 4, expected: 3, found: 2 } if file == "t.csv"), "{err:?}");
    assert_eq!(err.to_string(), "t.csv: line 4: expected 3 cells (as on the first data row), found 2");
    let err = default_parse("1,2,0\n3,4,5,1\n").unwrap_err();
    assert!(matches!(err, DataError::Ragged { line: 2, expected: 3, found: 4, .. }), "{err:?}");
}

#[test]
fn non_numeric_cell_names_line_and_column() {
    let err = default_parse("1,2,0\n3,abc,1\n").unwrap_err();
    assert!(matches!(&err, DataError::Parse { line: 2, column: 2, value, .. } if value == "abc"), "{err:?}");
    // With a header the line number counts the header.
    let opts = CsvOptions { has_header: true, ..Default::default() };
    let err = parse("a,b,label\n1,2,0\n3,4,1\n5,6e,1\n", &opts).unwrap_err();
    assert!(matches!(&err, DataError::Parse { line: 4, column: 2, value, .. } if value == "6e"), "{err:?}");
    assert_eq!(err.to_string(), r#"t.csv: line 4, column 2: "6e" is not a finite number"#);
    // Infinity is not a finite number; empty cells and NaN are missing values.
    let err = default_parse("1,inf,0\n").unwrap_err();
    assert!(matches!(err, DataError::Parse { line: 1, column: 2, .. }), "{err:?}");
    for (text, column) in [("1,,0\n", 2), ("NaN,1,0\n", 1), ("1,?,0\n", 2), ("NA,1,0\n", 1)] {
        let err = default_parse(text).unwrap_err();
        assert!(matches!(err, DataError::Missing { line: 1, column: c, .. } if c == column), "{text:?}: {err:?}");
    }
}

#[test]
fn labels_must_be_non_negative_integers() {
    for bad in ["-1", "2.5", "cat", "", "nan", "1e30"] {
        let text = format!("1,2,0\n3,4,{bad}\n");
        let err = default_parse(&text).unwrap_err();
        assert!(
            matches!(&err, DataError::InvalidLabel { line: 2, column: 3, value, .. } if value == bad),
            "{bad:?}: {err:?}"
        );
    }
    assert_eq!(default_parse("1,2,3.0\n").unwrap().labels(), Some(vec![3]));
    let err = default_parse("1,2,-1\n").unwrap_err();
    assert_eq!(err.to_string(), r#"t.csv: line 1, column 3: label "-1" is not a non-negative integer (a class index)"#);
}

#[test]
fn empty_inputs() {
    for text in ["", "\n\n", "\r\n"] {
        let err = default_parse(text).unwrap_err();
        assert!(matches!(err, DataError::Empty { .. }), "{text:?}: {err:?}");
    }
    let header_only = parse("a,b,c\n", &CsvOptions { has_header: true, ..Default::default() }).unwrap_err();
    assert!(matches!(header_only, DataError::Empty { .. }));
    let gz_empty = load_csv_bytes(&gzip(b""), &CsvOptions::default(), "e.csv.gz").unwrap_err();
    assert!(matches!(gz_empty, DataError::Empty { .. }), "{gz_empty:?}");
}

#[test]
fn missing_file_is_io_with_path() {
    let path = Path::new("/nonexistent/strata/data.csv");
    let err = load_csv(path, &CsvOptions::default()).unwrap_err();
    match &err {
        DataError::Io { path: p, source } => {
            assert_eq!(p, path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io, got {other:?}"),
    }
    assert!(err.to_string().starts_with("cannot read /nonexistent/strata/data.csv: "), "{err}");
}

#[test]
fn gzip_files_and_corrupt_gzip() {
    let text = b"1,2,0\n3,4,1\n";
    let path = temp_file("small.csv.gz", &gzip(text));
    let ds = load_csv(&path, &CsvOptions::default()).unwrap();
    assert_eq!(ds.features().data(), &[1., 2., 3., 4.]);
    // Errors inside compressed data still name the line.
    let err = load_csv_bytes(&gzip(b"1,2,0\n1,x,0\n"), &CsvOptions::default(), "z.csv.gz").unwrap_err();
    assert!(matches!(err, DataError::Parse { line: 2, column: 2, .. }), "{err:?}");

    let good = gzip(&text.repeat(50));
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    flipped[mid + 1] ^= 0x55;
    let truncated = &good[..good.len() - 12];
    let magic_only = [0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7];
    for (name, bytes) in [("flipped", &flipped[..]), ("truncated", truncated), ("magic only", &magic_only[..])] {
        let err = load_csv_bytes(bytes, &CsvOptions::default(), "bad.csv.gz").unwrap_err();
        assert!(matches!(&err, DataError::Gzip { file, .. } if file == "bad.csv.gz"), "{name}: {err:?}");
    }
    let path = temp_file("corrupt.csv.gz", truncated);
    let err = load_csv(&path, &CsvOptions::default()).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err:?}");
}

#[test]
fn garbage_bytes_give_errors_not_panics() {
    let inputs: [&[u8]; 8] = [
        b"\x00\x01\x02\xff\xfe",
        b"\xff\xfe\xfd,\x80\n",
        b",,,,\n,,,\n",
        b"1,2,3\n\x1f\x8b\n",
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage",
        b"1;2;3",
        b"\n\n\n\n,\n",
        b"99999999999999999999999999999999999999999,1,0\n",
    ];
    for bytes in inputs {
        for opts in [
            CsvOptions::default(),
            CsvOptions { has_header: true, label_column: LabelColumn::First, delimiter: b';', ..CsvOptions::default() },
        ] {
            assert!(load_csv_bytes(bytes, &opts, "garbage").is_err(), "{bytes:?} parsed");
        }
        assert!(strata_data::read_idx(bytes, "garbage").is_err(), "{bytes:?} parsed as IDX");
    }
}

#[test]
fn class_names_are_sorted_and_numbered_and_quotes_hold_delimiters() {
    let opts = CsvOptions { has_header: true, ..Default::default() };
    let ds = parse("\"a, b\",c,kind\n\"1,5\",2,zebra\n3,4,ant\n5,6,\"zebra\"\n7,8,moth\n", &opts);
    // "1,5" is one quoted cell: not a number.
    assert!(matches!(ds.unwrap_err(), DataError::Parse { line: 2, column: 1, .. }));
    let ds = parse("\"a, b\",c,kind\n\"1.5\",2,zebra\n3,4,ant\n5,6,\"zebra\"\n7,8,moth\n", &opts).unwrap();
    assert_eq!(ds.class_names().unwrap(), ["ant", "moth", "zebra"]);
    assert_eq!(ds.labels(), Some(vec![2, 0, 2, 1]));
    assert_eq!(ds.features().data(), &[1.5, 2., 3., 4., 5., 6., 7., 8.]);
}

#[test]
fn missing_values_are_refused_dropped_or_replaced_by_the_column_mean() {
    let text = "1,2,0\n3,NA,1\n?,6,0\n7,8,1\n";
    let err = default_parse(text).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"t.csv: line 2, column 2: missing value "NA" (use --missing drop or --missing mean to handle it)"#
    );
    let dropped = parse(text, &CsvOptions { missing: Missing::Drop, ..Default::default() }).unwrap();
    assert_eq!((dropped.features().data(), dropped.labels()), (&[1., 2., 7., 8.][..], Some(vec![0, 1])));
    let mean = parse(text, &CsvOptions { missing: Missing::Mean, ..Default::default() }).unwrap();
    // Column 1's present values 1, 3, 7 have mean 11/3; column 2's 2, 6, 8 have mean 16/3.
    assert_eq!(mean.features().data(), &[1., 2., 3., 16. / 3., 11. / 3., 6., 7., 8.]);
}

#[test]
fn regression_targets_are_real_values() {
    let opts = CsvOptions { task: Task::Regression, ..Default::default() };
    let ds = parse("1,2,0.5\n3,4,-17.25\n", &opts).unwrap();
    assert_eq!((ds.targets().shape(), ds.targets().data()), (&[2, 1][..], &[0.5, -17.25][..]));
    assert_eq!(ds.n_classes(), None);
    let err = parse("1,2,0.5\n3,4,x\n", &opts).unwrap_err();
    assert_eq!(err.to_string(), r#"t.csv: line 2, column 3: label "x" is not a finite number (the regression target)"#);
}

#[test]
fn limits_stop_long_lines_large_data_and_large_class_indices_before_allocating() {
    let long = format!("1,2,0\n{},1\n", "5".repeat(300));
    let err = parse(&long, &CsvOptions { max_line_bytes: 100, ..Default::default() }).unwrap_err();
    assert_eq!(err.to_string(), "t.csv: line 2: a line longer than 100 bytes, the longest Strata reads");
    let err = parse("1,2,0\n3,4,1\n5,6,0\n", &CsvOptions { max_bytes: 8, ..Default::default() }).unwrap_err();
    assert!(matches!(err, DataError::Text { .. }), "{err:?}");
    // Three values a row: the third row would make 9, above 8.
    let err = parse("1,2,0\n3,4,1\n5,6,0\n", &CsvOptions { max_values: 8, ..Default::default() }).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.csv: line 3: the data holds more than 8 values, the most Strata keeps in memory from one file"
    );
    assert!(parse("1,2,0\n3,4,1\n5,6,0\n", &CsvOptions { max_values: 9, ..Default::default() }).is_ok());
    // 4 rows: class indices up to 2 * 4 + 1000 = 1008.
    assert!(default_parse("1,0\n1,1\n1,1008\n1,0\n").is_ok());
    let err = default_parse("1,0\n1,1\n1,1009\n1,0\n").unwrap_err();
    assert!(matches!(err, DataError::InvalidLabel { line: 3, column: 2, .. }), "{err:?}");
    let err = parse("1,0\n1,5\n", &CsvOptions { max_class_index: 4, ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("is above 4, the largest class index accepted"), "{err}");
}

#[test]
fn kept_missing_values_are_filled_with_the_means_the_caller_chooses() {
    let ds = parse("1,NA,0\n3,4,1\n?,8,0\n", &CsvOptions { missing: Missing::Keep, ..Default::default() }).unwrap();
    let mut f = ds.features().clone();
    assert!(f.data()[1].is_nan() && f.data()[4].is_nan());
    // The means of a training part (here the last two rows): column 1 has 3 only, column 2 has 4 and 8.
    let train = f.slice_rows(1, 3).unwrap();
    let means = strata_data::nan_means(&train).unwrap();
    assert_eq!(means, [3.0, 6.0]);
    strata_data::fill_nan(&mut f, &means);
    assert_eq!(f.data(), &[1., 6., 3., 4., 3., 8.]);
    let all_missing = parse("NA,1,0\n?,2,1\n", &CsvOptions { missing: Missing::Keep, ..Default::default() }).unwrap();
    let err = strata_data::nan_means(all_missing.features()).unwrap_err();
    assert_eq!(err.to_string(), "nan_means: invalid argument: feature column 1 has no value to take a mean of");
}
