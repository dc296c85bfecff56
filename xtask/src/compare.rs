//! `cargo xtask bench --compare REV`: REV (A) against this tree (B), measured
//! side by side in one session, because absolute figures differ between
//! machines and between hours on a shared one.
//!
//! REV is checked out in a git worktree under `target/compare/` (ignored by
//! git) and built in that worktree's own `target/`. The two trees cannot
//! share a target folder: cargo names a workspace member's artifacts by its
//! path relative to the workspace root, the same in both trees, and judges
//! them fresh by file times, so one tree's build would pass for the other's.
//! Each revision runs its own benchmark sources; workloads are matched by
//! criterion id. The runs alternate, A then B, then
//! B then A in the next round, so that a drift of the machine hits both.

use crate::bench::{self, WORKLOADS};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What to compare, from `cargo xtask bench`'s options.
pub struct Plan<'a> {
    pub rev: &'a str,
    pub rounds: usize,
    pub quick: bool,
    pub threshold: f64,
    pub only: Option<&'a str>,
    pub threads: &'a str,
}

/// A benchmark executable and the folder cargo runs it from (its package's).
#[derive(Clone)]
pub struct Bench {
    pub exe: PathBuf,
    pub dir: PathBuf,
}

/// How one workload runs in A and in B.
enum Job {
    /// A criterion id, and the executable that has it in A and in B.
    Criterion(&'static str, Bench, Bench),
    /// A whole `strata train` process (W6): A's binary and B's.
    Process(PathBuf, PathBuf),
}

/// One workload's figures, round by round (A: REV, B: this tree).
struct Series {
    id: &'static str,
    unit: &'static str,
    job: Option<Job>,
    a: Vec<f64>,
    b: Vec<f64>,
    /// Per round: where the threads sat (`near`, `far`), `moved` when the
    /// readings around its two runs differ, or `?` when not measured.
    places: Vec<&'static str>,
    note: String,
}

pub fn run(plan: &Plan) -> Result<(), String> {
    let root = crate::workspace_root();
    let sha = resolve(&root, plan.rev)?;
    let dirty = if git(&root, &["status", "--porcelain"])?.is_empty() { "" } else { " with uncommitted changes" };
    println!("A: {} resolved to {}", plan.rev, git(&root, &["log", "-1", "--format=%H %s", &sha])?);
    println!("B: this tree, HEAD {}{dirty}", git(&root, &["log", "-1", "--format=%H %s", "HEAD"])?);
    if !WORKLOADS.iter().any(|w| bench::is_selected(plan.only, w.0)) && !bench::is_selected(plan.only, "W6-wall") {
        return Err(format!("no workload matches --only {}", plan.only.unwrap_or_default()));
    }
    let tree = worktree(&root, plan.rev, &sha)?;
    let (mut series, probe) = plan_series(plan, &root, &tree)?;
    let scratch = target_dir(&root).join("compare/criterion");
    for round in 0..plan.rounds {
        for s in series.iter_mut() {
            measure_round(s, round, plan, &scratch, probe.as_ref())?;
        }
    }
    print_table(&series, plan);
    Ok(())
}

/// The commit REV names, or a clear error.
fn resolve(root: &Path, rev: &str) -> Result<String, String> {
    let spec = format!("{rev}^{{commit}}");
    git(root, &["rev-parse", "--verify", "--quiet", "--end-of-options", &spec]).map_err(|_| {
        format!("git cannot resolve '{rev}' to a commit (give a commit, tag or branch of this repository)")
    })
}

/// `git ARGS` in `dir`: its trimmed output, or an error with git's message.
fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out =
        Command::new("git").args(args).current_dir(dir).output().map_err(|e| format!("could not start git: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!("`git {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// The target folder cargo uses here (`CARGO_TARGET_DIR`, else `target`).
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |dir| root.join(dir))
}

/// A worktree of `sha` at `target/compare/<rev>`: created, or reused and moved to `sha`.
fn worktree(root: &Path, rev: &str, sha: &str) -> Result<PathBuf, String> {
    let name: String =
        rev.chars().map(|c| if c.is_ascii_alphanumeric() || "-_".contains(c) { c } else { '-' }).collect();
    let dir = root.join("target/compare").join(name);
    if is_worktree_root(&dir) {
        eprintln!("reusing the worktree {}", dir.display());
        git(&dir, &["checkout", "--quiet", "--force", "--detach", sha])?;
    } else {
        // Left over from an interrupted run: this folder is xtask's own. (A
        // worktree registered at a path that is gone is replaced by --force.)
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let path = dir.display().to_string();
        git(root, &["worktree", "add", "--quiet", "--force", "--detach", &path, sha])?;
        eprintln!("created the worktree {path}");
    }
    Ok(dir)
}

/// Whether `dir` is the top of a git worktree of its own (and not a plain
/// folder inside this one, where a checkout would move this tree).
fn is_worktree_root(dir: &Path) -> bool {
    let top = git(dir, &["rev-parse", "--show-toplevel"]).ok().map(PathBuf::from);
    dir.join(".git").is_file() && top.and_then(|t| t.canonicalize().ok()) == dir.canonicalize().ok()
}

/// The selected workloads, each with what runs it in A and B (built here),
/// or the reason it cannot be compared.
/// The workloads to measure, and this tree's placement probe
/// (`benches/placement.rs`), if it was built.
fn plan_series(plan: &Plan, root: &Path, tree: &Path) -> Result<(Vec<Series>, Option<Bench>), String> {
    let workloads: Vec<_> = WORKLOADS.iter().filter(|w| bench::is_selected(plan.only, w.0)).collect();
    let (a_target, b_target) = (tree.join("target"), target_dir(root));
    let mut series = Vec::new();
    let b_benches = build_benches(root, &b_target)?;
    let probe =
        b_benches.iter().find(|b| b.exe.file_name().is_some_and(|n| n.to_string_lossy().starts_with("placement-")));
    let probe = probe.cloned();
    if !workloads.is_empty() {
        let a = list_ids(&build_benches(tree, &a_target)?, plan.threads)?;
        let b = list_ids(&b_benches, plan.threads)?;
        for &&(id, criterion_id, unit) in &workloads {
            let find = |side: &[(String, Bench)]| side.iter().find(|(i, _)| i == criterion_id).map(|(_, b)| b.clone());
            let (job, note) = match (find(&a), find(&b)) {
                (Some(a), Some(b)) => (Some(Job::Criterion(criterion_id, a, b)), String::new()),
                (None, Some(_)) => (None, format!("{criterion_id} is missing in {}", plan.rev)),
                (Some(_), None) => (None, format!("{criterion_id} is missing in this tree")),
                (None, None) => (None, format!("{criterion_id} is missing in both")),
            };
            series.push(Series { id, unit, job, a: Vec::new(), b: Vec::new(), places: Vec::new(), note });
        }
    }
    if bench::is_selected(plan.only, "W6-wall") {
        let (a, b) = (build_strata(tree, &a_target)?, build_strata(root, &b_target)?);
        let job = Some(Job::Process(a, b));
        let note = String::new();
        series.push(Series { id: "W6-wall", unit: "s", job, a: Vec::new(), b: Vec::new(), places: Vec::new(), note });
    }
    Ok((series, probe))
}

/// `cargo ARGS` in `tree`, building into `target`: its JSON messages.
fn cargo_json(tree: &Path, target: &Path, args: &[&str]) -> Result<String, String> {
    eprintln!("$ cargo {} (in {})", args.join(" "), tree.display());
    let out = Command::new("cargo")
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(tree)
        .env("CARGO_TARGET_DIR", target)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not start cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("`cargo {}` failed in {} (see above)", args.join(" "), tree.display()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The benchmark executables of every workspace crate of `tree`.
pub fn build_benches(tree: &Path, target: &Path) -> Result<Vec<Bench>, String> {
    let messages = cargo_json(tree, target, &["bench", "--no-run", "--workspace", "--benches"])?;
    Ok(artifacts(&messages, "\"kind\":[\"bench\"]")
        .into_iter()
        .map(|(exe, manifest)| Bench { exe, dir: manifest.parent().map(Path::to_path_buf).unwrap_or_default() })
        .collect())
}

/// `tree`'s release `strata` binary.
fn build_strata(tree: &Path, target: &Path) -> Result<PathBuf, String> {
    let messages = cargo_json(tree, target, &["build", "--release", "-p", "strata-cli"])?;
    artifacts(&messages, "\"kind\":[\"bin\"]")
        .into_iter()
        .map(|(exe, _)| exe)
        .find(|exe| exe.file_name().is_some_and(|n| n == "strata"))
        .ok_or_else(|| format!("no `strata` binary was built in {}", tree.display()))
}

/// (executable, manifest path) of the `compiler-artifact` messages whose
/// line contains `kind`, from cargo's JSON lines, parsed by hand.
fn artifacts(messages: &str, kind: &str) -> Vec<(PathBuf, PathBuf)> {
    messages
        .lines()
        .filter(|l| l.contains("\"reason\":\"compiler-artifact\"") && l.contains(kind))
        .filter_map(|l| Some((json_string(l, "executable")?.into(), json_string(l, "manifest_path")?.into())))
        .collect()
}

/// The string value of `"key":"..."` in one line of compact JSON (cargo's).
fn json_string(line: &str, key: &str) -> Option<String> {
    let pattern = format!("\"{key}\":\"");
    let mut chars = line[line.find(&pattern)? + pattern.len()..].chars();
    let mut value = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(value),
            '\\' => value.push(match chars.next()? {
                'n' => '\n',
                't' => '\t',
                other => other,
            }),
            c => value.push(c),
        }
    }
}

/// Every criterion id of every executable (`EXE --list` prints `ID: benchmark`).
pub fn list_ids(benches: &[Bench], threads: &str) -> Result<Vec<(String, Bench)>, String> {
    let mut ids = Vec::new();
    for bench in benches {
        let out = Command::new(&bench.exe)
            .arg("--list")
            .current_dir(&bench.dir)
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .map_err(|e| format!("could not run {}: {e}", bench.exe.display()))?;
        if !out.status.success() {
            return Err(format!("`{} --list` failed: {}", bench.exe.display(), String::from_utf8_lossy(&out.stderr)));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        ids.extend(
            text.lines().filter_map(|l| l.strip_suffix(": benchmark")).map(|id| (id.to_string(), bench.clone())),
        );
    }
    Ok(ids)
}

/// One round of a workload: A and B, in an order that alternates between
/// rounds, with the threads' placement read before, between and after.
fn measure_round(
    s: &mut Series,
    round: usize,
    plan: &Plan,
    scratch: &Path,
    probe: Option<&Bench>,
) -> Result<(), String> {
    let Some(job) = &s.job else { return Ok(()) };
    let order = if round.is_multiple_of(2) { [false, true] } else { [true, false] };
    let mut readings = vec![placement(probe, plan.threads)];
    for in_b in order {
        let value = match job {
            Job::Criterion(id, a, b) => {
                criterion_run(if in_b { b } else { a }, id, s.unit, (plan.quick, plan.threads), scratch)?
            }
            Job::Process(a, b) => bench::w6_once(if in_b { b } else { a }, plan.threads)?.wall,
        };
        if in_b {
            s.b.push(value)
        } else {
            s.a.push(value)
        }
        readings.push(placement(probe, plan.threads));
    }
    let place = round_place(&readings);
    s.places.push(place);
    let (a, b) = (show(s.a[round]), show(s.b[round]));
    eprintln!(
        "round {}/{} {}: A {a}, B {b} {} ({}; threads {}: {})",
        round + 1,
        plan.rounds,
        s.id,
        s.unit,
        if order[0] { "B ran first" } else { "A ran first" },
        place,
        readings.join(", ")
    );
    Ok(())
}

/// One reading of the placement probe: `near NS`, `far NS` or `?`. The
/// probe says `unmeasured` when no worker answered within 50 ms (the machine
/// was busy, as right after a peer's process): up to three tries.
pub fn placement(probe: Option<&Bench>, threads: &str) -> String {
    let Some(probe) = probe else { return "?".into() };
    for _ in 0..3 {
        let out = Command::new(&probe.exe).current_dir(&probe.dir).env("RAYON_NUM_THREADS", threads).output();
        let text =
            out.ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        match text {
            Some(t) if t.starts_with("near ") || t.starts_with("far ") => return t,
            Some(t) if t == "unmeasured" => continue,
            _ => break,
        }
    }
    "?".into()
}

/// A round's placement from its readings: `near` or `far` when all agree,
/// `moved` when they differ, `?` when any is missing.
pub fn round_place(readings: &[String]) -> &'static str {
    let all = |side: &str| readings.iter().all(|r| r.split_whitespace().next() == Some(side));
    if readings.iter().any(|r| r == "?") {
        "?"
    } else if all("near") {
        "near"
    } else if all("far") {
        "far"
    } else {
        "moved"
    }
}

/// A short criterion run of one id, in a fresh `CRITERION_HOME`: the median, in the workload's unit.
pub fn criterion_run(
    bench: &Bench,
    id: &str,
    unit: &str,
    (quick, threads): (bool, &str),
    scratch: &Path,
) -> Result<f64, String> {
    let _ = std::fs::remove_dir_all(scratch);
    std::fs::create_dir_all(scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let filter = format!("^{id}$");
    let mut cmd = Command::new(&bench.exe);
    cmd.args(["--bench", &filter, "--noplot"]);
    if quick {
        cmd.arg("--quick");
    } else {
        cmd.args(["--warm-up-time", "1", "--measurement-time", "3"]);
    }
    let out = cmd
        .current_dir(&bench.dir)
        .env("CRITERION_HOME", scratch)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .map_err(|e| format!("could not run {}: {e}", bench.exe.display()))?;
    if !out.status.success() {
        return Err(format!("{} {id} failed: {}", bench.exe.display(), String::from_utf8_lossy(&out.stderr)));
    }
    let (ns, elements) = bench::read_estimate(&scratch.join(id).join("new"))
        .ok_or_else(|| format!("{} {id}: criterion wrote no estimates.json", bench.exe.display()))?;
    Ok(bench::figure(unit, ns, elements))
}

/// A figure with at least three significant digits and one decimal.
pub fn show(value: f64) -> String {
    let decimals = (2 - value.abs().log10().floor() as i32).clamp(1, 6) as usize;
    format!("{value:.decimals$}")
}

/// The lowest and the highest of `values`.
pub fn spread(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

/// How many times better `b` is than `a`: throughput b/a, time a/b.
pub fn ratio(unit: &str, a: f64, b: f64) -> f64 {
    if bench::higher_is_better(unit) { b / a } else { a / b }
}

/// How much worse B is than A in percent of A's figure, from the ratio.
fn worse_percent(unit: &str, ratio: f64) -> f64 {
    if bench::higher_is_better(unit) { (1.0 - ratio) * 100.0 } else { (1.0 / ratio - 1.0) * 100.0 }
}

fn print_table(series: &[Series], plan: &Plan) {
    let a_head = format!("A: {}", plan.rev);
    let header = format!(
        "{:<9} {:<10} {:>12} {:>12} {:>8} {:>18}",
        "workload", "unit", a_head, "B: this tree", "B vs A", "spread (rounds)"
    );
    println!("\n{header}  note\n{}", "-".repeat(header.len() + 6));
    let mut regressions = Vec::new();
    for s in series {
        // Rounds during which the threads moved compare two placements, not two trees: left out (unless all moved).
        let rounds = 0..s.a.len().min(s.b.len());
        let steady = |i: &usize| s.places.get(*i).is_none_or(|&p| p != "moved");
        let kept: Vec<usize> = rounds.clone().filter(steady).collect();
        let kept = if kept.is_empty() { rounds.collect() } else { kept };
        let ratios: Vec<f64> = kept.iter().map(|&i| ratio(s.unit, s.a[i], s.b[i])).collect();
        let (Some(a), Some(b), Some(r)) = (bench::median(&s.a), bench::median(&s.b), bench::median(&ratios)) else {
            println!("{:<9} {:<10} {:>12} {:>12} {:>8} {:>18}  {}", s.id, s.unit, "-", "-", "-", "-", s.note);
            continue;
        };
        let (lo, hi) = spread(&ratios);
        let spread = format!("{lo:.2}-{hi:.2}x ({})", ratios.len());
        let mut notes = Vec::new();
        if lo < 1.0 && hi > 1.0 {
            notes.push("some rounds better, some worse".to_string());
        }
        notes.extend(placement_note(&s.places));
        let note = notes.join("; ");
        let (a, b, x) = (show(a), show(b), format!("{r:.3}x"));
        println!("{:<9} {:<10} {a:>12} {b:>12} {x:>8} {spread:>18}  {note}", s.id, s.unit);
        let worse = worse_percent(s.unit, r);
        if worse > plan.threshold {
            regressions.push(format!("{} is {worse:.1}% worse in this tree than in {}", s.id, plan.rev));
        }
    }
    println!(
        "B vs A: how many times better this tree is than {} (throughput B/A, time A/B; > 1 is an improvement), \
         the median of the per-round ratios; spread: the lowest and highest per-round ratio; rounds during which \
         the threads moved (near/far, read by benches/placement.rs around each run) are left out",
        plan.rev
    );
    for r in &regressions {
        println!("REGRESSION (threshold {}%): {r}", plan.threshold);
    }
}

/// Where the threads sat in the rounds counted, and how many were left out
/// (the rounds during which they moved, unless every round did).
fn placement_note(places: &[&str]) -> Option<String> {
    let count = |p: &str| places.iter().filter(|&&x| x == p).count();
    let (near, far, moved) = (count("near"), count("far"), count("moved"));
    let mut parts = Vec::new();
    if near + far > 0 {
        parts.push(format!("threads near in {near}, far in {far}"));
    }
    if moved == places.len() && moved > 0 {
        parts.push("threads moved in every round: all counted".to_string());
    } else if moved > 0 {
        parts.push(format!("{moved} left out: threads moved"));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_executables_are_read_from_cargo_json_lines() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w#0.1.0","manifest_path":"/w/crates/conv/Cargo.toml","#,
            r#""target":{"kind":["bench"],"crate_types":["bin"],"name":"conv"},"executable":"/w/target/release/deps/conv-1a2b"}"#,
            "\n",
            r#"{"reason":"compiler-artifact","manifest_path":"/w/Cargo.toml","target":{"kind":["lib"]},"executable":null}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
        );
        let found = artifacts(messages, "\"kind\":[\"bench\"]");
        assert_eq!(
            found,
            [(PathBuf::from("/w/target/release/deps/conv-1a2b"), PathBuf::from("/w/crates/conv/Cargo.toml"))]
        );
    }

    #[test]
    fn json_strings_are_unescaped() {
        assert_eq!(json_string(r#"{"a":"x\"y\\z","b":1}"#, "a").as_deref(), Some(r#"x"y\z"#));
        assert_eq!(json_string(r#"{"a":null}"#, "a"), None);
    }

    #[test]
    fn ratios_read_better_than_one_for_an_improvement_whatever_the_unit() {
        // Throughput 100 -> 110 samples/s and time 10 -> 8 us are both improvements.
        assert!((ratio("samples/s", 100.0, 110.0) - 1.1).abs() < 1e-12);
        assert!((ratio("us", 10.0, 8.0) - 1.25).abs() < 1e-12);
        // A time ratio of 1/1.1 is a 10% longer time.
        assert!((worse_percent("us", 1.0 / 1.1) - 10.0).abs() < 1e-9);
        assert_eq!(bench::median(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
        assert_eq!([show(0.3124), show(9.8), show(10.24), show(96126.0)], ["0.312", "9.80", "10.2", "96126.0"]);
    }

    #[test]
    fn a_round_is_near_or_far_only_when_every_reading_agrees() {
        let r = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(round_place(&r(&["near 51", "near 60", "near 48"])), "near");
        assert_eq!(round_place(&r(&["far 356", "far 320", "far 401"])), "far");
        assert_eq!(round_place(&r(&["near 51", "far 330", "near 48"])), "moved");
        assert_eq!(round_place(&r(&["near 51", "?", "near 48"])), "?");
        assert_eq!(
            placement_note(&["near", "moved", "far", "near"]).as_deref(),
            Some("threads near in 2, far in 1, 1 left out: threads moved")
        );
        assert_eq!(placement_note(&["moved", "moved"]).as_deref(), Some("threads moved in every round: all counted"));
        assert_eq!(placement_note(&["?", "?"]), None);
    }
}
