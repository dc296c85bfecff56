//! Any bytes as an IDX file (plain or gzipped): a tensor or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = strata::data::read_idx(data, "fuzz-idx3-ubyte");
});
