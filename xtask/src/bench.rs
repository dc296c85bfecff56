//! `cargo xtask bench`: the W1-W6 workloads of `docs/performance.md`, run with
//! criterion across the workspace (every crate with a `benches/` folder, the
//! root package included) and as a whole process (W6), printed as one table.
//!
//! Criterion ids follow the workload ids: criterion's `W2/b64` is `W2-b64`.
//! `--compare REV` measures another revision against this tree instead
//! (`compare.rs`); `--peers --rounds N` runs Strata and its peers by turns,
//! one workload at a time (`peer_rounds.rs`).

use crate::{run_cmd, workspace_root};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const HELP: &str = "\
cargo xtask bench [options]
cargo xtask bench --compare REV [--rounds N] [--quick] [--only ID] [--threshold PCT]
cargo xtask bench --peers --rounds N [--quick] [--only ID] [--json FILE]

Runs the W1-W5 criterion benchmarks of every workspace crate with benches, then
W6 (a whole `strata train` process), and prints one table: workload, figure,
unit, change against the baseline (criterion's previous run unless --baseline).

With --compare REV (a commit, tag or branch), builds REV in a git worktree under
target/compare/ (in its own target folder: the first time, every dependency) and
this tree here, runs the two alternately in one session (N rounds, short
criterion runs) and prints, per workload, both medians, the ratio
\"how many times better this tree is than REV\" (median of the per-round ratios,
> 1 is an improvement) and the spread of the per-round ratios.

options:
  --quick            a short run (criterion --quick, one W6 run): a smoke test
  --profile NAME     build with cargo's profile NAME instead of bench (and release for W6): CI's
                     smoke run takes test, whose artifacts the tests built already; its figures
                     (overflow checks on) are not comparable with the bench profile's
  --only ID          one workload: W1-1024, W1-mlp, W1-batched, W1-batched-loop, W2-b64, W2-b256, W2-sgd, W2-rmsprop, W2-adam, W3, W4, W4-h4, W5, W5-predict, IO-encode, IO-save, IO-load, W6
                     (or a prefix: W1; W4 selects W4 and W4-h4, W5 W5 and W5-predict)
  --save NAME        save the criterion results as baseline NAME
  --baseline NAME    compare against baseline NAME (saved with --save)
  --threshold PCT    a change worse than PCT percent is reported as a regression (default 5)
  --json FILE        also write the table as a JSON array of {\"id\", \"value\", \"unit\"}
  --peers            also run the peer scripts of benches/peers/ and print ratios: PyTorch and
                     numpy (torch_bench.py: pip install torch numpy), JAX (jax_bench.py: pip
                     install jax optax); a script whose modules do not import is skipped with
                     a hint. The interpreter is python3, or $STRATA_PYTHON when set (e.g. a
                     virtual environment's bin/python)
  --compare REV      compare this tree with REV, measured side by side (not with --save,
                     --baseline, --peers or --json)
  --rounds N         with --compare: rounds of alternating runs (default 5). With --peers:
                     N rounds in which each workload that has peers runs in Strata, then in
                     each peer program, the placement of the threads (near/far) read around
                     every run; ratios only from runs at the same placement, near and far
                     apart (--json FILE then writes every run)
";

/// The reported workloads: id, criterion directory (group/id), unit.
pub const WORKLOADS: &[(&str, &str, &str)] = &[
    ("W1-fma", "W1/fma-limit", "GFLOP/s"),
    ("W1-1024", "W1/1024", "GFLOP/s"),
    ("W1-mlp", "W1/mlp", "GFLOP/s"),
    ("W1-batched", "W1/batched", "GFLOP/s"),
    ("W1-batched-loop", "W1/batched-loop", "GFLOP/s"),
    ("W2-b64", "W2/b64", "samples/s"),
    ("W2-b256", "W2/b256", "samples/s"),
    ("W2-sgd", "W2/b64-sgd", "samples/s"),
    ("W2-rmsprop", "W2/b64-rmsprop", "samples/s"),
    ("W2-adam", "W2/adam-update", "Mvalues/s"),
    ("W3", "W3/b64", "samples/s"),
    ("W4", "W4/b32", "samples/s"),
    ("W4-h4", "W4/b32-h4", "samples/s"),
    ("W5", "W5/b1", "us"),
    ("W5-predict", "W5/predict", "us"),
    ("IO-encode", "IO/encode", "us"),
    ("IO-save", "IO/save", "us"),
    ("IO-load", "IO/load", "us"),
];

#[derive(Default)]
struct Options {
    quick: bool,
    only: Option<String>,
    save: Option<String>,
    baseline: Option<String>,
    threshold: f64,
    json: Option<PathBuf>,
    peers: bool,
    compare: Option<String>,
    rounds: Option<usize>,
    profile: Option<String>,
}

/// One row of the table.
pub struct Row {
    pub id: String,
    pub value: Option<f64>,
    pub unit: &'static str,
    pub change: Option<f64>,
    pub note: String,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options { threshold: 5.0, ..Options::default() };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value\n\n{HELP}"));
        match a.as_str() {
            "--quick" => o.quick = true,
            "--peers" => o.peers = true,
            "--only" => o.only = Some(value("--only")?),
            "--save" => o.save = Some(value("--save")?),
            "--baseline" => o.baseline = Some(value("--baseline")?),
            "--json" => o.json = Some(PathBuf::from(value("--json")?)),
            "--compare" => o.compare = Some(value("--compare")?),
            "--profile" => o.profile = Some(value("--profile")?),
            "--rounds" => o.rounds = Some(value("--rounds")?.parse().map_err(|_| "--rounds takes a number")?),
            "--threshold" => {
                o.threshold = value("--threshold")?.parse().map_err(|_| "--threshold takes a number of percent")?
            }
            "-h" | "--help" => return Err(HELP.to_string()),
            other => return Err(format!("unknown option '{other}'\n\n{HELP}")),
        }
    }
    check_compare_options(&o)?;
    Ok(o)
}

/// `--compare` measures two trees side by side: a saved or named baseline,
/// peers or a JSON file of one tree's figures have no meaning there.
fn check_compare_options(o: &Options) -> Result<(), String> {
    if o.rounds == Some(0) {
        return Err("--rounds must be at least 1".into());
    }
    if o.profile.is_some() && (o.compare.is_some() || o.peers) {
        return Err("--profile goes with a plain run: --compare and --peers measure in the bench profile".into());
    }
    // The name becomes a folder of target/ (criterion-NAME): cargo's profile names only.
    if let Some(p) = &o.profile
        && (p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(format!("--profile {p:?}: a cargo profile name (letters, digits, '-' and '_')"));
    }
    if o.compare.is_none() {
        return match (o.rounds, o.peers) {
            (Some(_), false) => Err("--rounds goes with --compare REV or --peers".into()),
            (Some(_), true) if o.save.is_some() || o.baseline.is_some() => {
                Err("--peers --rounds runs its own short rounds: not with --save or --baseline".into())
            }
            _ => Ok(()),
        };
    }
    let conflicts = [
        ("--save", o.save.is_some()),
        ("--baseline", o.baseline.is_some()),
        ("--peers", o.peers),
        ("--json", o.json.is_some()),
    ];
    match conflicts.iter().find(|c| c.1).map(|c| c.0) {
        Some(flag) => Err(format!(
            "--compare cannot be combined with {flag}: --compare measures REV and this tree side by side in one \
             session; --save/--baseline/--peers/--json belong to a run of this tree alone"
        )),
        None => Ok(()),
    }
}

/// Whether `--only ONLY` (none: every workload) selects the workload `id`.
pub fn is_selected(only: Option<&str>, id: &str) -> bool {
    only.is_none_or(|only| id == only || id.starts_with(&format!("{only}-")))
}

pub fn run(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let root = workspace_root();
    // The workloads are defined on 2 threads (docs/performance.md).
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "2".into());
    if let Some(rev) = &o.compare {
        let (rounds, only) = (o.rounds.unwrap_or(5), o.only.as_deref());
        let plan =
            crate::compare::Plan { rev, rounds, quick: o.quick, threshold: o.threshold, only, threads: &threads };
        return crate::compare::run(&plan);
    }
    if let (true, Some(rounds)) = (o.peers, o.rounds) {
        let only = o.only.as_deref();
        let plan =
            crate::peer_rounds::Plan { rounds, quick: o.quick, only, threads: &threads, json: o.json.as_deref() };
        return crate::peer_rounds::run(&plan);
    }

    let ids: Vec<&str> = WORKLOADS.iter().map(|w| w.0).filter(|id| is_selected(o.only.as_deref(), id)).collect();
    // Another profile's results go to a folder of their own: its figures are
    // no baseline for the bench profile's, nor the other way round.
    let home = match &o.profile {
        Some(profile) => root.join(format!("target/criterion-{profile}")),
        None => root.join("target/criterion"),
    };
    let placement_log = home.join("placement.log");
    if !ids.is_empty() {
        let mut cargo_args: Vec<String> = ["bench", "--workspace", "--benches", "--quiet"].map(String::from).to_vec();
        if let Some(profile) = &o.profile {
            cargo_args.extend(["--profile".into(), profile.clone()]);
        }
        cargo_args.push("--".into());
        if o.quick {
            cargo_args.push("--quick".into());
        }
        if let Some(name) = &o.save {
            cargo_args.extend(["--save-baseline".into(), name.clone()]);
        }
        if let Some(name) = &o.baseline {
            cargo_args.extend(["--baseline".into(), name.clone()]);
        }
        if let Some(only) = &o.only {
            let dirs: Vec<&str> =
                WORKLOADS.iter().filter(|w| is_selected(o.only.as_deref(), w.0)).map(|w| w.1).collect();
            let _ = only;
            cargo_args.push(format!("^({})$", dirs.join("|")));
        }
        let refs: Vec<&str> = cargo_args.iter().map(String::as_str).collect();
        // Written by `strata_testkit::bench::log_placement` (W2-W4).
        std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
        let _ = std::fs::remove_file(&placement_log);
        let log = placement_log.to_string_lossy();
        crate::run_cmd_env(
            "cargo",
            &refs,
            &[
                ("RAYON_NUM_THREADS", threads.as_str()),
                ("STRATA_BENCH_PLACEMENT_LOG", log.as_ref()),
                ("CRITERION_HOME", &home.to_string_lossy()),
            ],
        )?;
    }

    let mut rows = Vec::new();
    for &(id, dir, unit) in WORKLOADS.iter().filter(|w| is_selected(o.only.as_deref(), w.0)) {
        rows.push(criterion_row(&home, id, dir, unit, o.baseline.as_deref()));
    }
    if is_selected(o.only.as_deref(), "W6-wall")
        || is_selected(o.only.as_deref(), "W6-rss")
        || o.only.as_deref() == Some("W6")
    {
        rows.extend(w6(&root, if o.quick { 1 } else { 5 }, &threads, o.profile.as_deref())?);
    }

    note_fma_share(&mut rows);
    note_placement(&mut rows, &std::fs::read_to_string(&placement_log).unwrap_or_default());
    let peers = if o.peers { crate::peers::run(&root, &o.only, o.quick)? } else { Vec::new() };
    print_table(&rows, &peers, o.threshold);
    if let Some(path) = &o.json {
        write_json(path, &rows)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// The GEMM rows' share of the measured FMA limit (`W1-fma`), in their notes.
fn note_fma_share(rows: &mut [Row]) {
    let Some(limit) = rows.iter().find(|r| r.id == "W1-fma").and_then(|r| r.value) else { return };
    for r in rows.iter_mut().filter(|r| r.unit == "GFLOP/s" && r.id != "W1-fma") {
        if let Some(v) = r.value {
            let share = format!("{:.0}% of the FMA limit", 100.0 * v / limit);
            r.note = if r.note.is_empty() { share } else { format!("{}; {share}", r.note) };
        }
    }
}

/// Where the pool's threads sat while each training workload ran, from the
/// lines `ID near|far NS` of the benchmarks' placement log (`NS`: the round
/// trip of a cache line between them, `-` when not measured), in the notes.
fn note_placement(rows: &mut [Row], log: &str) {
    for line in log.lines() {
        let [id, side, ns] = line.split_whitespace().collect::<Vec<_>>()[..] else { continue };
        let Some(row) = rows.iter_mut().find(|r| r.id == id) else { continue };
        let trip = if ns == "-" { "not measured".to_string() } else { format!("{ns} ns") };
        let note = format!("threads {side} ({trip})");
        row.note = if row.note.is_empty() { note } else { format!("{}; {note}", row.note) };
    }
}

/// The folder of the target directory cargo builds a profile into: dev and
/// test build into debug/, bench into release/, a custom profile into its name.
fn profile_folder(profile: &str) -> &str {
    match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    }
}

/// Median time per iteration (ns) and throughput elements of a criterion result.
pub fn read_estimate(dir: &Path) -> Option<(f64, Option<f64>)> {
    let estimates = std::fs::read_to_string(dir.join("estimates.json")).ok()?;
    let median = json_number_after(&estimates, "\"median\"", "\"point_estimate\"")?;
    let bench = std::fs::read_to_string(dir.join("benchmark.json")).unwrap_or_default();
    let elements = json_number_after(&bench, "\"throughput\"", "\"Elements\"");
    Some((median, elements))
}

/// The number after `key` that follows `section` in a JSON text (criterion's
/// files are flat enough that this avoids a JSON dependency in xtask).
fn json_number_after(text: &str, section: &str, key: &str) -> Option<f64> {
    let rest = &text[text.find(section)?..];
    let rest = &rest[rest.find(key)? + key.len()..];
    let rest = rest.trim_start_matches([':', ' ', '\n']);
    let end = rest.find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c))).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

pub fn figure(unit: &str, ns: f64, elements: Option<f64>) -> f64 {
    match unit {
        "us" => ns / 1e3,
        "GFLOP/s" => elements.unwrap_or(0.0) / ns,
        "Mvalues/s" => elements.unwrap_or(0.0) / ns * 1e3,
        _ => elements.unwrap_or(1.0) / (ns * 1e-9),
    }
}

fn criterion_row(home: &Path, id: &str, dir: &str, unit: &'static str, baseline: Option<&str>) -> Row {
    let base = home.join(dir);
    let Some((ns, elements)) = read_estimate(&base.join("new")) else {
        return Row { id: id.into(), value: None, unit, change: None, note: "no result".into() };
    };
    // The FMA limit is a ceiling that noise only lowers (another process,
    // a slower clock): its figure is the fastest sample, not the median (a
    // busy Zen 5 host read 236 GFLOP/s as the median, 433 alone).
    let fastest = if id == "W1-fma" { read_fastest(&base.join("new")) } else { None };
    let value = figure(unit, fastest.unwrap_or(ns), elements);
    let change = match baseline {
        // `--baseline NAME`: criterion leaves NAME as it was; compare with it.
        Some(name) => read_estimate(&base.join(name)).map(|(b_ns, b_el)| {
            let old = figure(unit, b_ns, b_el);
            (value - old) / old * 100.0
        }),
        // Otherwise criterion compared with its previous run (and has since
        // overwritten it): its relative change of the median time is in
        // `change/estimates.json`. A time ratio r is a throughput ratio 1/r.
        None => {
            // Only a comparison made by this run counts: with `--save NAME`
            // criterion compares with nothing and leaves an older file here.
            let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            let (change, new) = (base.join("change/estimates.json"), base.join("new/estimates.json"));
            let fresh = matches!((modified(&change), modified(&new)), (Some(c), Some(n)) if c >= n);
            let text = if fresh { std::fs::read_to_string(change).ok() } else { None };
            text.and_then(|t| json_number_after(&t, "\"median\"", "\"point_estimate\""))
                .map(|rel| if unit == "us" { rel * 100.0 } else { (1.0 / (1.0 + rel) - 1.0) * 100.0 })
        }
    };
    let note = if fastest.is_some() { "fastest sample".into() } else { String::new() };
    Row { id: id.into(), value: Some(value), unit, change, note }
}

/// The shortest time per iteration (ns) of a criterion result's samples
/// (`sample.json`: the arrays `iters` and `times`).
fn read_fastest(dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("sample.json")).ok()?;
    let array = |key: &str| -> Option<Vec<f64>> {
        let rest = &text[text.find(key)? + key.len()..];
        let rest = &rest[rest.find('[')? + 1..];
        rest[..rest.find(']')?].split(',').map(|v| v.trim().parse().ok()).collect()
    };
    let (iters, times) = (array("\"iters\"")?, array("\"times\"")?);
    iters.iter().zip(&times).filter(|(i, _)| **i > 0.0).map(|(i, t)| t / i).min_by(f64::total_cmp)
}

/// W6's command line of `strata`: the W2 settings.
pub const W6_ARGS: [&str; 14] = [
    "train",
    "--epochs",
    "10",
    "--batch-size",
    "64",
    "--dropout",
    "0",
    "--val-fraction",
    "0",
    "--schedule",
    "constant",
    "--lr",
    "0.001",
    "--quiet",
];

/// W6: the whole process, `strata train` on the embedded MNIST sample with
/// the W2 settings (MLP 784-256-128-10, batch 64, Adam 1e-3, 10 epochs),
/// wall seconds including start-up, and the peak RSS the process reports.
fn w6(root: &Path, runs: usize, threads: &str, profile: Option<&str>) -> Result<Vec<Row>, String> {
    let profile = profile.unwrap_or("release");
    run_cmd("cargo", &["build", "--profile", profile, "--quiet", "-p", "strata-cli"])?;
    let exe = crate::compare::target_dir(root).join(profile_folder(profile)).join("strata");
    let (mut walls, mut rss) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let run = w6_once(&exe, threads)?;
        walls.push(run.wall);
        rss.extend(run.rss_mb);
        eprintln!("W6 run: {:.2} s, {}", run.wall, run.stdout.trim());
    }
    Ok(vec![
        Row { id: "W6-wall".into(), value: median(&walls), unit: "s", change: None, note: format!("median of {runs}") },
        Row { id: "W6-rss".into(), value: median(&rss), unit: "MB", change: None, note: "peak RSS (VmHWM)".into() },
    ])
}

/// One W6 process: its wall time, its peak RSS, and what it printed.
pub struct W6Run {
    pub wall: f64,
    pub rss_mb: Option<f64>,
    pub stdout: String,
}

/// Run `exe train` with the W6 settings on `threads` threads.
pub fn w6_once(exe: &Path, threads: &str) -> Result<W6Run, String> {
    let start = Instant::now();
    let out = Command::new(exe)
        .args(W6_ARGS)
        .env("RAYON_NUM_THREADS", threads)
        .env("STRATA_REPORT_PEAK_RSS", "1")
        .output()
        .map_err(|e| format!("could not run {}: {e}", exe.display()))?;
    let wall = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!("{} train failed: {}", exe.display(), String::from_utf8_lossy(&out.stderr)));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss_mb = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak RSS: ")?.strip_suffix(" kB")?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0);
    Ok(W6Run { wall, rss_mb, stdout: String::from_utf8_lossy(&out.stdout).into_owned() })
}

/// The median (of an even count, the mean of the two middle values).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    (n > 0).then(|| if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Higher is better for throughput, lower for time and memory.
pub fn higher_is_better(unit: &str) -> bool {
    unit.ends_with("/s")
}

fn print_table(rows: &[Row], peers: &[crate::peers::PeerFigure], threshold: f64) {
    let peer_names: Vec<String> = {
        let mut n: Vec<String> = peers.iter().map(|p| p.peer.clone()).collect();
        n.sort();
        n.dedup();
        n
    };
    let mut header = format!("{:<9} {:>12} {:<10} {:>10}", "workload", "figure", "unit", "change");
    for p in &peer_names {
        header.push_str(&format!(" {:>12} {:>8}", p, "ratio"));
    }
    if !peer_names.is_empty() {
        header.push_str(&format!(" {:>9}", "vs best"));
    }
    println!("\n{header}  note");
    println!("{}", "-".repeat(header.len() + 6));
    let mut regressions = Vec::new();
    for r in rows {
        let value = r.value.map_or_else(|| "-".into(), |v| format!("{v:.1}"));
        let change = r.change.map_or_else(|| "".into(), |c| format!("{c:+.1}%"));
        let mut line = format!("{:<9} {:>12} {:<10} {:>10}", r.id, value, r.unit, change);
        for p in &peer_names {
            match peers.iter().find(|f| &f.peer == p && f.id == r.id) {
                Some(f) => {
                    // The ratio reads "x times better than the peer" for every unit.
                    let ratio = r.value.map(|v| if higher_is_better(r.unit) { v / f.value } else { f.value / v });
                    line.push_str(&format!(
                        " {:>12.1} {:>8}",
                        f.value,
                        ratio.map_or("-".into(), |x| format!("{x:.2}x"))
                    ));
                }
                None => line.push_str(&format!(" {:>12} {:>8}", "-", "-")),
            }
        }
        if !peer_names.is_empty() {
            let best = best_peer_ratio(r, peers);
            line.push_str(&format!(" {:>9}", best.map_or("-".into(), |x| format!("{x:.2}x"))));
        }
        println!("{line}  {}", r.note);
        if let Some(c) = r.change {
            let worse = if higher_is_better(r.unit) { -c } else { c };
            if worse > threshold {
                regressions.push(format!("{} is {:.1}% worse than the baseline", r.id, worse));
            }
        }
    }
    if !peer_names.is_empty() {
        println!(
            "ratio: how many times better Strata's figure is than the peer's (throughput / peer, or peer time / Strata time); \
             vs best: against the best peer of the row"
        );
    }
    for r in &regressions {
        println!("REGRESSION (threshold {threshold}%): {r}");
    }
}

/// Strata's ratio against the best peer figure of the row.
fn best_peer_ratio(r: &Row, peers: &[crate::peers::PeerFigure]) -> Option<f64> {
    let higher = higher_is_better(r.unit);
    let figures = peers.iter().filter(|f| f.id == r.id).map(|f| f.value);
    let best = if higher {
        figures.fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))))
    } else {
        figures.fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.min(v))))
    };
    let (v, b) = (r.value?, best?);
    Some(if higher { v / b } else { b / v })
}

fn write_json(path: &Path, rows: &[Row]) -> Result<(), String> {
    let items: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            r.value.map(|v| format!("  {{\"id\": \"{}\", \"value\": {v:.3}, \"unit\": \"{}\"}}", r.id, r.unit))
        })
        .collect();
    std::fs::write(path, format!("[\n{}\n]\n", items.join(",\n"))).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, note: &str) -> Row {
        Row { id: id.into(), value: Some(1.0), unit: "samples/s", change: None, note: note.into() }
    }

    fn options(args: &[&str]) -> Result<Options, String> {
        parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn every_throughput_unit_is_better_higher_and_every_time_lower() {
        // W2-adam's Mvalues/s was read as a time: a faster update was reported as a regression.
        for unit in WORKLOADS.iter().map(|w| w.2) {
            assert_eq!(higher_is_better(unit), unit != "us", "{unit}");
        }
        assert!(!higher_is_better("s") && !higher_is_better("MB"), "W6's wall time and memory");
    }

    #[test]
    fn the_fma_limit_is_read_from_the_fastest_sample() {
        // Three samples of 2, 4 and 6 iterations: 300, 250 and 400 ns each; the median would be 300.
        let dir = std::env::temp_dir().join(format!("strata-xtask-fastest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let sample = r#"{"sampling_mode":"Linear","iters":[2.0,4.0,6.0],"times":[600.0,1000.0,2400.0]}"#;
        std::fs::write(dir.join("sample.json"), sample).expect("written");
        assert_eq!(read_fastest(&dir), Some(250.0));
        std::fs::write(dir.join("sample.json"), r#"{"iters":[2.0],"times":[]}"#).expect("written");
        assert_eq!(read_fastest(&dir), None, "no sample");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn rounds_go_with_compare_or_peers_only() {
        assert_eq!(options(&["--rounds", "3"]).err().as_deref(), Some("--rounds goes with --compare REV or --peers"));
        assert_eq!(options(&["--peers", "--rounds", "0"]).err().as_deref(), Some("--rounds must be at least 1"));
        assert_eq!(
            options(&["--peers", "--rounds", "2", "--save", "x"]).err().as_deref(),
            Some("--peers --rounds runs its own short rounds: not with --save or --baseline")
        );
        let o = options(&["--peers", "--rounds", "2", "--only", "W2", "--json", "r.json"]).expect("valid options");
        assert_eq!((o.peers, o.rounds, o.only.as_deref()), (true, Some(2), Some("W2")));
    }

    #[test]
    fn a_profile_goes_with_a_plain_run_and_w6_finds_the_binary_in_its_folder() {
        let o = options(&["--quick", "--profile", "test"]).expect("valid options");
        assert_eq!(o.profile.as_deref(), Some("test"));
        let refused = "--profile goes with a plain run: --compare and --peers measure in the bench profile";
        assert_eq!(options(&["--peers", "--profile", "test"]).err().as_deref(), Some(refused));
        assert_eq!(options(&["--compare", "main", "--profile", "test"]).err().as_deref(), Some(refused));
        assert!(options(&["--profile"]).err().unwrap_or_default().starts_with("--profile needs a value"));
        assert_eq!(
            options(&["--profile", "../x"]).err().as_deref(),
            Some(r#"--profile "../x": a cargo profile name (letters, digits, '-' and '_')"#)
        );
        let folders = ["test", "dev", "release", "bench", "fast"].map(profile_folder);
        assert_eq!(folders, ["debug", "debug", "release", "release", "fast"]);
    }

    #[test]
    fn placement_lines_become_notes_of_their_rows_only() {
        let mut rows = [row("W2-b64", ""), row("W3", "an earlier note"), row("W5", "")];
        let log = "W2-b64 near 57\nW3 far 356\nW4 near -\nnot a line\n";
        note_placement(&mut rows, log);
        assert_eq!(rows[0].note, "threads near (57 ns)");
        assert_eq!(rows[1].note, "an earlier note; threads far (356 ns)");
        assert_eq!(rows[2].note, "", "W5 has no line");
        note_placement(&mut rows[2..], "W5 near -");
        assert_eq!(rows[2].note, "threads near (not measured)");
    }
}
