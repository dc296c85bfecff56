//! Any bytes as a text file of one item a line (plain or gzipped).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(lines) = strata::data::read_lines_bytes(data, "fuzz.txt") {
        let _ = strata::data::CharVocab::from_lines(&lines);
    }
});
