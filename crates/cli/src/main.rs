//! `strata`: train, evaluate and predict with Strata networks.
//!
//! A third-party layer crate gets the same command with its own kinds from
//! a binary of its own: `strata_cli::main_with(registry)`.

fn main() -> std::process::ExitCode {
    strata_cli::main_with(strata::registry())
}
