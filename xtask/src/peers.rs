//! `--peers`: the same workloads in PyTorch (and numpy for W1), run by the
//! scripts of `benches/peers/` in the same session, so ratios compare runs
//! on the same machine at the same time.

use std::path::Path;
use std::process::Command;

/// One figure a peer reached.
pub struct PeerFigure {
    pub peer: String,
    pub id: String,
    pub value: f64,
}

fn python_has(module: &str) -> bool {
    Command::new("python3").args(["-c", &format!("import {module}")]).output().is_ok_and(|o| o.status.success())
}

pub fn run(root: &Path, only: &Option<String>, quick: bool) -> Result<Vec<PeerFigure>, String> {
    if !python_has("torch") || !python_has("numpy") {
        println!("peers skipped: python3 with torch and numpy is needed (pip install torch numpy)");
        return Ok(Vec::new());
    }
    let script = root.join("benches/peers/torch_bench.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script).env("OMP_NUM_THREADS", "2").env("MKL_NUM_THREADS", "2").env("OPENBLAS_NUM_THREADS", "2");
    if let Some(o) = only {
        cmd.args(["--only", o]);
    }
    if quick {
        cmd.arg("--quick");
    }
    eprintln!("$ python3 {}", script.display());
    let out = cmd.output().map_err(|e| format!("could not run python3: {e}"))?;
    if !out.status.success() {
        println!("peers failed (ignored): {}", String::from_utf8_lossy(&out.stderr));
        return Ok(Vec::new());
    }
    // Lines of `peer id value`.
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some(PeerFigure { peer: it.next()?.into(), id: it.next()?.into(), value: it.next()?.parse().ok()? })
        })
        .collect())
}
