//! `cargo xtask ci`: the checks CI runs, cheapest first.

/// The test command of the README, also run by `.ci/run`.
pub const TEST_ARGS: &[&str] = &["test", "--workspace"];

pub fn run(_args: &[String]) -> Result<(), String> {
    crate::run_cmd("cargo", &["fmt", "--all", "--", "--check"])?;
    crate::run_cmd("cargo", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    crate::run_cmd("cargo", TEST_ARGS)
}
