//! Any bytes as a CSV file (plain or gzipped), with each missing-value
//! policy: a dataset or a typed error, never a panic, never an allocation
//! beyond the caps.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::data::{CsvOptions, Missing, Task, read_csv};

fuzz_target!(|data: &[u8]| {
    let caps = CsvOptions { max_line_bytes: 1 << 20, max_bytes: 64 << 20, ..CsvOptions::default() };
    for (missing, task, header) in [
        (Missing::Error, Task::Classification, false),
        (Missing::Mean, Task::Classification, true),
        (Missing::Drop, Task::Regression, false),
    ] {
        let opts = CsvOptions { missing, task, has_header: header, ..caps.clone() };
        let _ = read_csv(data, &opts, "fuzz.csv");
    }
});
