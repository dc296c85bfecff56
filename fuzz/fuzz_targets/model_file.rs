//! Any bytes as a model file: a model or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(saved) = strata::io::SavedModel::from_bytes(data, Path::new("fuzz.strata")) {
        let _ = saved.instantiate(&strata::registry());
    }
});
