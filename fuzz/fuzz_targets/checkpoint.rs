//! Any bytes as a checkpoint: a training state or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = strata::training::Checkpoint::from_bytes(data.to_vec(), Path::new("fuzz.checkpoint")) {
        let _ = c.snapshot.build_model(&strata::registry());
    }
});
