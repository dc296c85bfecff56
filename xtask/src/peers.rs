//! `--peers`: the same workloads in PyTorch (and numpy for W1), in JAX and
//! in candle (W2, W5), run by the programs of `benches/peers/` in the same
//! session, so ratios compare runs on the same machine at the same time.
//!
//! The interpreter is `python3`, or `STRATA_PYTHON` when set (a virtual
//! environment's `bin/python`). Each script runs only when its modules
//! import; otherwise it is skipped with a hint.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One figure a peer reached.
pub struct PeerFigure {
    pub peer: String,
    pub id: String,
    pub value: f64,
}

/// A peer script: its file in `benches/peers/`, the modules it needs, the
/// install hint, and the environment that keeps it on 2 threads.
pub struct Script {
    file: &'static str,
    modules: &'static [&'static str],
    hint: &'static str,
    env: &'static [(&'static str, &'static str)],
}

/// BLAS and OpenMP thread counts for every script: the workloads' 2 threads.
const THREADS: [(&str, &str); 3] = [("OMP_NUM_THREADS", "2"), ("MKL_NUM_THREADS", "2"), ("OPENBLAS_NUM_THREADS", "2")];

const SCRIPTS: [Script; 2] = [
    Script { file: "torch_bench.py", modules: &["torch", "numpy"], hint: "pip install torch numpy", env: &[] },
    Script {
        file: "jax_bench.py",
        modules: &["jax", "numpy"],
        hint: "pip install jax optax",
        // XLA's CPU backend sizes its thread pools by the CPUs the process
        // may run on: the script keeps itself to 2 (`sched_setaffinity`).
        // (`intra_op_parallelism_threads=N`, often seen in XLA_FLAGS, is
        // no XLA flag: XLA ignores it.)
        env: &[("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true")],
    },
];

/// The interpreter: `STRATA_PYTHON`, else `python3`.
pub fn python() -> String {
    std::env::var("STRATA_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".into())
}

fn python_has(python: &str, module: &str) -> bool {
    Command::new(python).args(["-c", &format!("import {module}")]).output().is_ok_and(|o| o.status.success())
}

pub fn run(root: &Path, only: &Option<String>, quick: bool) -> Result<Vec<PeerFigure>, String> {
    let mut figures = Vec::new();
    for runner in runners(root) {
        figures.extend(runner.run(root, only, quick)?);
    }
    Ok(figures)
}

/// A peer program that runs the workloads `--only` selects and prints
/// their figures: a script of `benches/peers/` or the candle program.
pub enum Runner {
    /// The script, and the interpreter that imports its modules.
    Script(&'static Script, String),
    /// candle's executable, built.
    Candle(PathBuf),
}

/// The peer programs that can run here, in a fixed order; each one that
/// cannot is skipped with a message that says why.
pub fn runners(root: &Path) -> Vec<Runner> {
    let python = python();
    let mut runners = Vec::new();
    for script in &SCRIPTS {
        match script.modules.iter().find(|m| !python_has(&python, m)) {
            Some(missing) => println!(
                "peers: {} skipped: {python} cannot import {missing} ({}; or set STRATA_PYTHON to an interpreter \
                 that has it)",
                script.file, script.hint
            ),
            None => runners.push(Runner::Script(script, python.clone())),
        }
    }
    runners.extend(build_candle(root).map(Runner::Candle));
    runners
}

impl Runner {
    /// Its name in messages: the script's file, or `candle`.
    pub fn name(&self) -> &str {
        match self {
            Runner::Script(script, _) => script.file,
            Runner::Candle(_) => "candle",
        }
    }

    /// Runs the workloads `only` selects (all: `None`); the figures it printed.
    pub fn run(&self, root: &Path, only: &Option<String>, quick: bool) -> Result<Vec<PeerFigure>, String> {
        match self {
            Runner::Script(script, python) => run_script(root, python, script, only, quick),
            Runner::Candle(exe) => Ok(run_candle(root, exe, only, quick)),
        }
    }
}

/// candle's program of `benches/peers/candle` (W2, W5), built on first use
/// (its own workspace and target folder); `None`, with a message, when it
/// cannot be built.
fn build_candle(root: &Path) -> Option<PathBuf> {
    let dir = root.join("benches/peers/candle");
    let manifest = dir.join("Cargo.toml");
    eprintln!("$ cargo build --release --manifest-path {}", manifest.display());
    let built = Command::new("cargo")
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .status()
        .is_ok_and(|s| s.success());
    if !built {
        println!("peers: candle skipped: {} did not build", manifest.display());
        return None;
    }
    Some(dir.join("target/release/candle-peer"))
}

fn run_candle(root: &Path, exe: &Path, only: &Option<String>, quick: bool) -> Vec<PeerFigure> {
    let mut cmd = Command::new(exe);
    cmd.arg(root.join("data/mnist_5k.csv.gz")).env("RAYON_NUM_THREADS", "2");
    if let Some(o) = only {
        cmd.args(["--only", o]);
    }
    if quick {
        cmd.arg("--quick");
    }
    match cmd.output() {
        Ok(out) => {
            if !out.status.success() {
                println!("peers: candle failed (ignored): {}", String::from_utf8_lossy(&out.stderr));
            }
            parse_figures(&out.stdout)
        }
        Err(e) => {
            println!("peers: candle skipped: {e}");
            Vec::new()
        }
    }
}

/// Lines of `peer id value`.
fn parse_figures(stdout: &[u8]) -> Vec<PeerFigure> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some(PeerFigure { peer: it.next()?.into(), id: it.next()?.into(), value: it.next()?.parse().ok()? })
        })
        .collect()
}

fn run_script(
    root: &Path,
    python: &str,
    script: &Script,
    only: &Option<String>,
    quick: bool,
) -> Result<Vec<PeerFigure>, String> {
    let path = root.join("benches/peers").join(script.file);
    let mut cmd = Command::new(python);
    cmd.arg(&path).envs(THREADS).envs(script.env.iter().copied());
    if let Some(o) = only {
        cmd.args(["--only", o]);
    }
    if quick {
        cmd.arg("--quick");
    }
    eprintln!("$ {python} {}", path.display());
    let out = cmd.output().map_err(|e| format!("could not run {python}: {e}"))?;
    if !out.status.success() {
        // The figures printed before the failure still count.
        println!("peers: {} failed (ignored): {}", script.file, String::from_utf8_lossy(&out.stderr));
    }
    Ok(parse_figures(&out.stdout))
}
