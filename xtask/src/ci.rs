//! `cargo xtask ci`: the checks CI runs, cheapest first.

/// The test command of the README, also run by `.ci/run` (there with
/// `--locked` and the snapshot references file, see `snapshot.rs`).
pub const TEST_ARGS: &[&str] = &["test", "--workspace"];

pub fn run(_args: &[String]) -> Result<(), String> {
    crate::run_cmd("cargo", &["fmt", "--all", "--", "--check"])?;
    crate::run_cmd("cargo", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    // The test suite, run once: snapshots must match, none pending, none orphaned.
    crate::snapshot::check(&crate::workspace_root())
}
