//! Where rayon's threads sit right now: prints `near NS` or `far NS` (the
//! round trip of a cache line between two of the pool's threads, in
//! nanoseconds; over 250 ns is far) or `unmeasured` (one thread, or no
//! worker answered). Not a criterion benchmark: `cargo xtask bench
//! --compare` runs it around each measurement to find the rounds during
//! which the threads moved, whose ratios it then leaves out
//! (`docs/performance.md`, "why W2 was bimodal"). It ignores its arguments.

use strata::tensor::par::{FAR_ROUND_TRIP, measure_placement};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // no criterion ids
    }
    match measure_placement() {
        Some(rt) => println!("{} {}", if rt > FAR_ROUND_TRIP { "far" } else { "near" }, rt.as_nanos()),
        None => println!("unmeasured"),
    }
}
