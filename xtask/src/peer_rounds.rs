//! `cargo xtask bench --peers --rounds N`: Strata and its peers run by
//! turns, one workload at a time, N rounds, with the placement of the
//! threads read around every run; a ratio is taken only from two runs that
//! sat at the same placement.
//!
//! Why: on a machine whose two virtual CPUs move between near (a cache line
//! back in about 60 ns) and far (about 300 ns) every minute or two, a plain
//! `--peers` run measures Strata's rows first and the peers' minutes later,
//! and a ratio can set a far figure against a near one (the tenth session's
//! run 1 had W2 at batch 64 at 0.80x JAX so, and 1.31x in the next).

use crate::bench::{self, WORKLOADS};
use crate::compare::{self, Bench};
use crate::peers::{self, PeerFigure};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What to run, from `cargo xtask bench`'s options.
pub struct Plan<'a> {
    pub rounds: usize,
    pub quick: bool,
    pub only: Option<&'a str>,
    pub threads: &'a str,
    pub json: Option<&'a Path>,
}

/// The workloads some peer measures.
const PEERED: [&str; 8] = ["W1-1024", "W1-mlp", "W2-b64", "W2-b256", "W3", "W4", "W4-h4", "W5"];

/// One run's figure: who ran (`strata`, or the peer's name), which round,
/// and where the threads sat: `near` or `far` when the readings before and
/// after it agree, `moved` when they differ, `?` when not measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub round: usize,
    pub id: &'static str,
    pub who: String,
    pub value: f64,
    pub place: &'static str,
}

pub fn run(plan: &Plan) -> Result<(), String> {
    let root = crate::workspace_root();
    let workloads: Vec<_> =
        WORKLOADS.iter().filter(|w| PEERED.contains(&w.0) && bench::is_selected(plan.only, w.0)).collect();
    if workloads.is_empty() {
        return Err(format!(
            "no workload with peers matches --only {} (with --rounds, --peers runs {})",
            plan.only.unwrap_or_default(),
            PEERED.join(", ")
        ));
    }
    let benches = compare::build_benches(&root, &compare::target_dir(&root))?;
    let probe =
        benches.iter().find(|b| b.exe.file_name().is_some_and(|n| n.to_string_lossy().starts_with("placement-")));
    let ids = compare::list_ids(&benches, plan.threads)?;
    let runners = peers::runners(&root);
    if runners.is_empty() {
        return Err("no peer program can run here (see the messages above)".into());
    }
    let scratch = compare::target_dir(&root).join("peer-rounds/criterion");
    let mut runs = Vec::new();
    // (runner, workload) pairs that printed no figure in the first round:
    // a program that does not measure a workload is not started for it again.
    let mut silent = Vec::new();
    for round in 0..plan.rounds {
        for &&(id, criterion_id, unit) in &workloads {
            let bench = ids
                .iter()
                .find(|(i, _)| i == criterion_id)
                .map(|(_, b)| b)
                .ok_or_else(|| format!("no benchmark of this tree has the criterion id {criterion_id}"))?;
            let job = Job { id, criterion_id, unit, bench, round };
            runs.extend(one_round(&job, plan, (&root, &scratch), (&runners, &mut silent), probe)?);
        }
    }
    let units: Vec<_> = workloads.iter().map(|w| (w.0, w.2)).collect();
    print!("{}", table(&units, &runs));
    if let Some(path) = plan.json {
        write_json(path, &runs, &units)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// One workload in one round.
struct Job<'a> {
    id: &'static str,
    criterion_id: &'static str,
    unit: &'static str,
    bench: &'a Bench,
    round: usize,
}

/// Strata's run of the workload, then each peer program's (but those in
/// `silent`), each followed by a reading of the placement (one reading
/// before the first).
fn one_round(
    job: &Job,
    plan: &Plan,
    (root, scratch): (&Path, &Path),
    (runners, silent): (&[peers::Runner], &mut Vec<(usize, &'static str)>),
    probe: Option<&Bench>,
) -> Result<Vec<Run>, String> {
    let mut before = compare::placement(probe, plan.threads);
    let value = compare::criterion_run(job.bench, job.criterion_id, job.unit, (plan.quick, plan.threads), scratch)?;
    let mut after = compare::placement(probe, plan.threads);
    let place = |a: &str, b: &str| compare::round_place(&[a.to_string(), b.to_string()]);
    let mut runs =
        vec![Run { round: job.round, id: job.id, who: "strata".into(), value, place: place(&before, &after) }];
    let only = Some(job.id.to_string());
    for (i, runner) in runners.iter().enumerate() {
        if silent.contains(&(i, job.id)) {
            continue;
        }
        before = after;
        let figures: Vec<PeerFigure> =
            runner.run(root, &only, plan.quick)?.into_iter().filter(|f| f.id == job.id).collect();
        after = compare::placement(probe, plan.threads);
        let place = place(&before, &after);
        if job.round == 0 && figures.is_empty() {
            eprintln!("{} printed no figure for {}: not run for it again", runner.name(), job.id);
            silent.push((i, job.id));
        }
        runs.extend(figures.into_iter().map(|f| Run {
            round: job.round,
            id: job.id,
            who: f.peer,
            value: f.value,
            place,
        }));
    }
    let line: Vec<String> =
        runs.iter().map(|r| format!("{} {} ({})", r.who, compare::show(r.value), r.place)).collect();
    eprintln!("round {}/{} {}: {}", job.round + 1, plan.rounds, job.id, line.join(", "));
    Ok(runs)
}

/// Strata's ratio against `who` at `place`: one per round in which both
/// ran there (how many times better Strata is: throughput, or time, ratio).
fn ratios(runs: &[Run], id: &str, unit: &str, who: &str, place: &str) -> Vec<f64> {
    let at = |w: &str, round: usize| {
        runs.iter().find(|r| r.id == id && r.who == w && r.round == round && r.place == place).map(|r| r.value)
    };
    let rounds = runs.iter().map(|r| r.round).max().map_or(0, |m| m + 1);
    (0..rounds).filter_map(|round| Some(compare::ratio(unit, at(who, round)?, at("strata", round)?))).collect()
}

/// The peers that ran `id`, in order of first appearance.
fn peers_of<'a>(runs: &'a [Run], id: &str) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    for r in runs.iter().filter(|r| r.id == id && r.who != "strata") {
        if !names.contains(&r.who.as_str()) {
            names.push(&r.who);
        }
    }
    names
}

/// The table: per workload and peer, the median ratio near and far (with
/// the rounds counted), and how many rounds were left out because Strata
/// and the peer did not both sit at one placement; per workload, the ratio
/// against the best peer at each placement.
pub fn table(workloads: &[(&'static str, &'static str)], runs: &[Run]) -> String {
    // Without a placement probe every run is `?`: then they are compared as
    // they are, in one column. With one, a `?` reading is an unknown side.
    let probed = runs.iter().any(|r| r.place == "near" || r.place == "far");
    let places: &[&str] = if probed { &["near", "far"] } else { &["?"] };
    let mut out = String::new();
    let mut header = format!("{:<9} {:<10} {:<7}", "workload", "unit", "peer");
    for place in places {
        let _ = write!(header, " {:>22}", place_name(place));
    }
    let _ = write!(header, " {:>8}", "left out");
    let _ = writeln!(out, "\n{header}\n{}", "-".repeat(header.len()));
    for &(id, unit) in workloads {
        let mut best: Vec<(&str, f64, &str)> = Vec::new();
        for who in peers_of(runs, id) {
            let mut cells = Vec::new();
            let mut counted = 0;
            for &place in places {
                let r = ratios(runs, id, unit, who, place);
                counted += r.len();
                cells.push(cell(&r));
                if let Some(m) = bench::median(&r) {
                    match best.iter_mut().find(|b| b.0 == place) {
                        Some(b) if m < b.1 => *b = (place, m, who),
                        Some(_) => {}
                        None => best.push((place, m, who)),
                    }
                }
            }
            let ran = runs.iter().filter(|r| r.id == id && r.who == who).count();
            let mut line = format!("{id:<9} {unit:<10} {who:<7}");
            for c in &cells {
                let _ = write!(line, " {c:>22}");
            }
            let _ = writeln!(out, "{line} {:>8}", ran - counted);
        }
        if !best.is_empty() {
            let parts: Vec<String> =
                best.iter().map(|(p, m, who)| format!("{} {m:.2}x ({who})", place_name(p))).collect();
            let _ = writeln!(out, "{id:<9} against the best peer: {}", parts.join(", "));
        }
    }
    let _ = writeln!(
        out,
        "each cell: the median of the per-round ratios (how many times better Strata's figure is than the peer's: \
         throughput / peer, or peer time / Strata time), [lowest-highest], (rounds); a round counts at a placement \
         when the readings before and after both runs say it; left out: the peer's runs in rounds where they did not \
         (the threads moved during a run, or a reading failed)"
    );
    out
}

/// A placement as the table names it.
fn place_name(place: &str) -> &str {
    if place == "?" { "placement unknown" } else { place }
}

fn cell(ratios: &[f64]) -> String {
    match bench::median(ratios) {
        None => "-".into(),
        Some(m) if ratios.len() == 1 => format!("{m:.2}x (1)"),
        Some(m) => {
            let (lo, hi) = compare::spread(ratios);
            format!("{m:.2}x [{lo:.2}-{hi:.2}] ({})", ratios.len())
        }
    }
}

/// Every run as `{"round", "id", "who", "value", "unit", "place"}`.
fn write_json(path: &Path, runs: &[Run], units: &[(&str, &str)]) -> Result<(), String> {
    let unit = |id: &str| units.iter().find(|u| u.0 == id).map_or("", |u| u.1);
    let items: Vec<String> = runs
        .iter()
        .map(|r| {
            format!(
                "  {{\"round\": {}, \"id\": \"{}\", \"who\": \"{}\", \"value\": {:.3}, \"unit\": \"{}\", \"place\": \"{}\"}}",
                r.round + 1,
                r.id,
                r.who,
                r.value,
                unit(r.id),
                r.place
            )
        })
        .collect();
    let text = format!("[\n{}\n]\n", items.join(",\n"));
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(round: usize, id: &'static str, who: &str, value: f64, place: &'static str) -> Run {
        Run { round, id, who: who.into(), value, place }
    }

    /// The table's line that starts with `start`.
    fn line<'a>(text: &'a str, start: &str) -> &'a str {
        text.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("no line {start:?} in {text}"))
    }

    #[test]
    fn a_ratio_counts_only_where_strata_and_the_peer_sat_alike() {
        // Round 1 both near; round 2 Strata far, JAX near (left out); round 3 both far.
        let runs = [
            run(0, "W2-b64", "strata", 120.0, "near"),
            run(0, "W2-b64", "jax", 100.0, "near"),
            run(1, "W2-b64", "strata", 75.0, "far"),
            run(1, "W2-b64", "jax", 94.0, "near"),
            run(2, "W2-b64", "strata", 75.0, "far"),
            run(2, "W2-b64", "jax", 50.0, "far"),
        ];
        assert_eq!(ratios(&runs, "W2-b64", "samples/s", "jax", "near"), [1.2]);
        assert_eq!(ratios(&runs, "W2-b64", "samples/s", "jax", "far"), [1.5]);
        let text = table(&[("W2-b64", "samples/s")], &runs);
        let row = line(&text, "W2-b64    samples/s  jax");
        // near 1.20x (1), far 1.50x (1), one of JAX's three runs left out.
        assert_eq!(
            row.split_whitespace().collect::<Vec<_>>(),
            ["W2-b64", "samples/s", "jax", "1.20x", "(1)", "1.50x", "(1)", "1"]
        );
    }

    #[test]
    fn an_unknown_placement_is_left_out_unless_no_run_has_a_known_one() {
        let mut runs = vec![
            run(0, "W3", "strata", 50.0, "?"),
            run(0, "W3", "torch", 25.0, "?"),
            run(1, "W3", "strata", 50.0, "near"),
            run(1, "W3", "torch", 20.0, "near"),
        ];
        let text = table(&[("W3", "samples/s")], &runs);
        let row = line(&text, "W3        samples/s  torch");
        assert_eq!(row.split_whitespace().skip(3).collect::<Vec<_>>(), ["2.50x", "(1)", "-", "1"]);
        // Without a probe (every reading `?`), the runs are compared as they are.
        runs.truncate(2);
        let text = table(&[("W3", "samples/s")], &runs);
        assert!(text.contains("placement unknown"), "{text}");
        let row = line(&text, "W3        samples/s  torch");
        assert_eq!(row.split_whitespace().skip(3).collect::<Vec<_>>(), ["2.00x", "(1)", "0"]);
    }

    #[test]
    fn the_best_peer_is_the_lowest_ratio_at_each_placement_and_time_reads_inverted() {
        // W5 in µs: Strata 6 against candle 15 (2.5x) and torch 40 (6.67x), near.
        let runs = [
            run(0, "W5", "strata", 6.0, "near"),
            run(0, "W5", "candle", 15.0, "near"),
            run(0, "W5", "torch", 40.0, "near"),
            run(1, "W5", "strata", 6.0, "far"),
            run(1, "W5", "candle", 12.0, "far"),
            run(1, "W5", "torch", 30.0, "moved"),
        ];
        let text = table(&[("W5", "us")], &runs);
        assert!(text.contains("W5        against the best peer: near 2.50x (candle), far 2.00x (candle)"), "{text}");
        let torch = line(&text, "W5        us         torch");
        assert!(torch.ends_with(" 1"), "torch's moved run is left out: {torch}");
    }
}
