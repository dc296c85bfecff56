//! # strata-cli
//!
//! The `strata` command as a library: [`main_with`] runs it with any layer
//! registry, so a crate that adds layer kinds gets the whole command line
//! for them without editing Strata:
//!
//! ```no_run
//! // src/bin/strata.rs of a layer crate ("my-layers"), whose `register`
//! // would add its kinds like this one:
//! use strata::layers::{Flatten, Layer};
//!
//! fn main() -> std::process::ExitCode {
//!     let mut registry = strata::registry();
//!     let kind = registry.register_from("my-layers", "my_flatten", |_, _, _| Ok(Box::new(Flatten::new()) as Box<dyn Layer>));
//!     // A kind registered twice is an error, reported, not a panic.
//!     if let Err(e) = kind {
//!         eprintln!("error: {e}");
//!         return std::process::ExitCode::FAILURE;
//!     }
//!     strata_cli::main_with(registry)
//! }
//! ```
//!
//! The design decision: the command is a thin layer over the library. It
//! parses arguments (clap), reads data, and hands everything else to
//! `strata-training` and `strata-model`: the model file it writes is a
//! [`strata::model::Model`], which user code loads and predicts with exactly
//! as `strata predict` does.

/// `print!` to standard output that returns from the enclosing function
/// with a [`StdoutError`] when the write fails (a full disk, a closed pipe)
/// instead of panicking as `print!` does.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*).map_err(crate::StdoutError)?
    }};
}

/// [`out!`] with a newline, as `println!`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(crate::StdoutError)?
    }};
}

/// `eprintln!` that ignores a failed write (`2> /dev/full`) instead of
/// panicking: a warning that cannot be shown must not stop the run.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod args;
mod charlm;
mod checkpoint;
mod checks;
mod dataset;
mod distributed;
mod insight;
mod interop;
mod model;
mod regression;
mod run;
mod sequence;

use clap::Parser;
use std::ffi::OsString;
use std::process::ExitCode;
use strata::layers::Registry;

/// Run the command with the process's arguments and `registry`, printing an
/// error (with its causes) and returning a failure code on error.
pub fn main_with(registry: Registry) -> ExitCode {
    let result = run_args(std::env::args_os(), &registry);
    if std::env::var_os("STRATA_REPORT_PEAK_RSS").is_some()
        && let Some(kb) = peak_rss_kb()
    {
        errln!("peak RSS: {kb} kB");
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of a pipe went away (`strata generate ... | head -1`):
        // stop quietly with the status of a process that SIGPIPE ended, as
        // the coreutils do.
        Err(e) if e.downcast_ref::<StdoutError>().is_some_and(|s| s.0.kind() == std::io::ErrorKind::BrokenPipe) => {
            ExitCode::from(141)
        }
        // clap printed its message already.
        Err(e) if e.is::<UsageError>() => {
            ExitCode::from(e.downcast_ref::<UsageError>().and_then(|u| u8::try_from(u.0).ok()).unwrap_or(2))
        }
        Err(e) => {
            report_error(e.as_ref());
            ExitCode::FAILURE
        }
    }
}

/// Print `e` and the causes its message does not already spell out to
/// standard error. A standard error that cannot be written (`2> /dev/full`)
/// leaves only the exit code to tell, rather than a panic as `eprintln!`'s.
fn report_error(e: &dyn std::error::Error) {
    use std::io::Write as _;
    let mut stderr = std::io::stderr().lock();
    let message = e.to_string();
    let _ = writeln!(stderr, "error: {message}");
    let mut source = e.source();
    while let Some(s) = source {
        let cause = s.to_string();
        if !message.contains(&cause) {
            let _ = writeln!(stderr, "  caused by: {cause}");
        }
        source = s.source();
    }
}

/// Standard output could not be written (`out!`, `outln!`).
#[derive(Debug)]
pub(crate) struct StdoutError(std::io::Error);

impl std::fmt::Display for StdoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write to standard output: {}", self.0)
    }
}

impl std::error::Error for StdoutError {}

/// Run the command on `args` (the first being the program name) with
/// `registry`. `--help` and `--version` print and return `Ok`; a usage error
/// prints clap's message and returns a [`UsageError`] with clap's code.
pub fn run_args(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    registry: &Registry,
) -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match args::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return clap_outcome(&e),
    };
    match cli.command {
        args::Command::Train(a) => {
            let train_args = args.iter().skip_while(|a| *a != "train").skip(1);
            checkpoint::train(*a, registry, train_args.map(|a| a.to_string_lossy().into_owned()).collect())
        }
        args::Command::Evaluate(a) => run::evaluate(a, registry),
        args::Command::Predict(a) => run::predict(a, registry),
        args::Command::Summary(a) => run::summary_cmd(a, registry),
        args::Command::ExportFilters(a) => run::export_filters(a),
        args::Command::Export(a) => interop::export(a, registry),
        args::Command::Import(a) => interop::import(a, registry),
        args::Command::Doctor(a) => insight::doctor(*a, registry),
        args::Command::LrFind(a) => insight::lr_find(*a, registry),
        args::Command::Generate(a) => charlm::generate(a, registry),
        args::Command::AttentionMap(a) => sequence::attention_map(a, registry),
    }
}

/// What clap's refusal of the arguments (or its `--help` and `--version`,
/// which clap reports as errors too) comes to: its text printed, then `Ok`
/// for help and version, a [`UsageError`] with clap's exit code for a usage
/// error. A failed write (`--help > /dev/full`) is an error, not the silent
/// success clap's own `exit` makes of it.
fn clap_outcome(e: &clap::Error) -> Result<(), Box<dyn std::error::Error>> {
    let refused = || -> Box<dyn std::error::Error> { Box::new(UsageError(e.exit_code())) };
    match e.print() {
        Err(_) if e.use_stderr() => Err(refused()),
        Err(io) => Err(Box::new(StdoutError(io))),
        Ok(()) if e.use_stderr() => Err(refused()),
        Ok(()) => Ok(()),
    }
}

/// The arguments were refused; clap already said why on standard error.
/// [`main_with`] exits with `.0`, clap's exit code (2).
#[derive(Debug)]
pub struct UsageError(pub i32);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the arguments were refused (exit code {})", self.0)
    }
}

impl std::error::Error for UsageError {}

/// The process's peak resident set size (Linux `VmHWM`), in kB.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?.trim().parse().ok())
}
