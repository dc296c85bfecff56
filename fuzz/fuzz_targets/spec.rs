//! Any bytes as a model spec (JSON): refused by the parser or the parameter
//! budget (kept small here), or built; never a panic or an allocation bomb.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata::prelude::*;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(spec) = LayerSpec::from_json(text) else { return };
    if strata::model::check_budget(&spec, 1 << 20).is_ok() {
        let _ = strata::registry().build(&spec, &mut StrataRng::seed_from_u64(0));
    }
});
