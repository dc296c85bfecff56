//! Any bytes as PyTorch-layout weights for a small MLP (the seed corpus's
//! architecture): loaded or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use strata::prelude::*;

fuzz_target!(|data: &[u8]| {
    let spec = presets::mlp(&[4, 3, 3], ActivationKind::Relu, 0.1).unwrap();
    let mut model = strata::registry().build(&spec, &mut StrataRng::seed_from_u64(0)).unwrap();
    let _ = strata::io::safetensors::import(model.as_mut(), data, Path::new("fuzz.safetensors"));
});
