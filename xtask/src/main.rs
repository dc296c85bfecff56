//! Strata's developer workflows (matklad's cargo-xtask pattern): `cargo xtask <command>`.
//! One file per subcommand; plain std, no dependencies.

mod bench;
mod ci;
mod compare;
mod diff;
mod fuzz;
mod new_layer;
mod peer_rounds;
mod peers;
mod snapshot;

use std::process::ExitCode;

const HELP: &str = "\
cargo xtask <command>

commands:
  ci          fmt check, clippy (warnings are errors), the test suite, then the snapshot check
  bench       the W1-W6 benchmarks as one table, or two revisions compared (`cargo xtask bench --help`)
  snapshot    run, review and accept insta snapshots; find orphans (`cargo xtask snapshot --help`)
  new-layer   a new layer crate, crates/NAME, to fill in (`cargo xtask new-layer --help`)
  fuzz        every fuzz target of fuzz/ for N seconds (`cargo xtask fuzz --help`; needs cargo-fuzz)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("new-layer") => new_layer::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("snapshot") => snapshot::run(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command '{other}'\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Run a command from the workspace root, echoing it; an error if it fails.
pub fn run_cmd(program: &str, args: &[&str]) -> Result<(), String> {
    run_cmd_env(program, args, &[])
}

/// [`run_cmd`] with extra environment variables.
pub fn run_cmd_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    run_cmd_in(&workspace_root(), program, args, env)
}

/// [`run_cmd_env`] from the folder `dir`.
pub fn run_cmd_in(dir: &std::path::Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = std::process::Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .status()
        .map_err(|e| format!("could not start {program}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`{program} {}` failed ({status})", args.join(" "))) }
}

/// The workspace root (xtask's parent folder).
pub fn workspace_root() -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.parent().map(std::path::Path::to_path_buf).unwrap_or(dir)
}
