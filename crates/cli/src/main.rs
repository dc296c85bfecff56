//! `strata`: train, evaluate and predict with Strata networks.
//!
//! `strata train` with no arguments trains an MLP 784-256-128-10 on the
//! embedded MNIST 5k sample and reports its test accuracy.

mod args;
mod dataset;
mod model;
mod run;

use clap::Parser;
use strata::layers::Registry;

/// Every layer kind this build of the command knows: the built-ins and those
/// of the workspace's layer crates. A new layer crate adds one line here.
pub fn registry() -> Registry {
    let mut r = Registry::with_builtins();
    // Its kinds (conv2d, max_pool2d, ...) are not built-ins: no duplicate.
    #[allow(clippy::expect_used)]
    strata_conv::register(&mut r).expect("strata-conv's layer kinds are registered once");
    // batch_norm, layer_norm: not built-ins either.
    #[allow(clippy::expect_used)]
    strata_normalization::register(&mut r).expect("strata-normalization's layer kinds are registered once");
    r
}

fn main() {
    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Train(a) => run::train(*a),
        args::Command::Evaluate(a) => run::evaluate(a),
        args::Command::Predict(a) => run::predict(a),
        args::Command::Summary(a) => run::summary_cmd(a),
        args::Command::ExportFilters(a) => run::export_filters(a),
    };
    if std::env::var_os("STRATA_REPORT_PEAK_RSS").is_some()
        && let Some(kb) = peak_rss_kb()
    {
        eprintln!("peak RSS: {kb} kB");
    }
    if let Err(e) = result {
        eprintln!("error: {e}");
        let mut source = std::error::Error::source(e.as_ref());
        while let Some(s) = source {
            eprintln!("  caused by: {s}");
            source = s.source();
        }
        std::process::exit(1);
    }
}

/// The process's peak resident set size (Linux `VmHWM`), in kB.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?.trim().parse().ok())
}
