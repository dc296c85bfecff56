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
    Registry::with_builtins()
}

fn main() {
    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Train(a) => run::train(a),
        args::Command::Evaluate(a) => run::evaluate(a),
        args::Command::Predict(a) => run::predict(a),
        args::Command::Summary(a) => run::summary_cmd(a),
    };
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
