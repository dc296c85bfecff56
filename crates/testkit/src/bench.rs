//! For the workspace's criterion benchmarks: where the threads sat while a
//! workload ran, which changes its figure more than most code changes do
//! (`docs/performance.md`, "why W2 was bimodal").

use std::io::Write;
use strata_tensor::par::{Placement, last_round_trip, measure_placement, placement};

/// The environment variable `cargo xtask bench` sets to the file that
/// collects the lines of [`log_placement`].
pub const PLACEMENT_LOG: &str = "STRATA_BENCH_PLACEMENT_LOG";

/// Appends `ID near|far NS` (the last measured round trip of a cache line
/// between two of the pool's threads, in nanoseconds; `-` when none was
/// measured, as with `STRATA_PLACEMENT` set) to the file named by
/// [`PLACEMENT_LOG`], if set. Call it right after the workload's
/// `bench_function`: the training steps it measured took the readings.
/// A file that cannot be written is reported on stderr; the benchmark goes
/// on.
pub fn log_placement(id: &str) {
    let Ok(path) = std::env::var(PLACEMENT_LOG) else { return };
    let side = match placement() {
        Placement::Near => "near",
        Placement::Far => "far",
    };
    let ns = last_round_trip().map_or_else(|| "-".to_string(), |d| d.as_nanos().to_string());
    let line = format!("{id} {side} {ns}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("{PLACEMENT_LOG}: cannot append to {path}: {e}");
    }
}

/// [`log_placement`] for a workload that starts no training step (the
/// products of W1), so nothing measured the placement while it ran: it is
/// measured now, right after the run ([`measure_placement`]), when the log
/// is asked for. Nothing is logged when no worker answered: the row then
/// has no note, rather than a placement that was not read.
pub fn log_placement_after(id: &str) {
    if std::env::var_os(PLACEMENT_LOG).is_some() && measure_placement().is_some() {
        log_placement(id);
    }
}
