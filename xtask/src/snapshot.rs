//! `cargo xtask snapshot`: the workflow around insta's file snapshots
//! (`insta::assert_snapshot!`, stored in `snapshots/` folders beside the
//! tests) with nothing but the workspace's own dependencies: no cargo-insta.
//!
//! It leans on three of insta's environment variables: `INSTA_UPDATE`
//! (`new`: a snapshot that is missing or differs is written as a `.snap.new`
//! beside its `.snap`; `no`: it is not), `INSTA_FORCE_PASS=1` (such an
//! assertion does not fail its test, so every snapshot of a test runs), and
//! `INSTA_SNAPSHOT_REFERENCES_FILE` (insta appends the path of every
//! snapshot file an assertion compared to that file, whether it passed or
//! not: `memoize_snapshot_file` in insta's `env.rs`). A `.snap` that no
//! assertion named in a complete test run is an orphan.

use crate::diff;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

const HELP: &str = "\
cargo xtask snapshot [MODE] [--root DIR]

Snapshot tests (insta::assert_snapshot!) keep their expected output in
snapshots/NAME.snap files beside the tests; docs/dev/snapshots.md explains them.

modes:
  (none)                     run the test suite, writing every snapshot that is missing or
                             differs as NAME.snap.new beside NAME.snap (no test fails for it),
                             then list pending (.snap.new) and orphaned (.snap that no test
                             used) snapshots; fails if there are any
  --review                   show each pending snapshot as a diff against the accepted one
                             (does not run the tests)
  --accept                   accept every pending snapshot: NAME.snap.new becomes NAME.snap
  --accept --remove-orphans  also delete the orphans of the last complete run, listing them
  --check                    CI: run the test suite with INSTA_UPDATE=no and CI=true (a snapshot
                             that is missing or differs fails its test); fails on any failure,
                             on any .snap.new and on any orphan
  --check-orphans FILE       CI, after `cargo test --workspace` ran with
                             INSTA_SNAPSHOT_REFERENCES_FILE=FILE (an absolute path): fails on
                             any .snap.new and on any .snap not named in FILE (cheap: no tests)

options:
  --root DIR                 the workspace (default: this one)
";

enum Mode {
    Run,
    Review,
    Accept { remove_orphans: bool },
    Check,
    CheckOrphans(PathBuf),
}

pub fn run(args: &[String]) -> Result<(), String> {
    let Some((mode, root)) = parse(args)? else {
        print!("{HELP}");
        return Ok(());
    };
    match mode {
        Mode::Run => run_and_report(&root),
        Mode::Review => review(&root),
        Mode::Accept { remove_orphans } => accept(&root, remove_orphans),
        Mode::Check => check(&root),
        Mode::CheckOrphans(file) => report(&root, &file),
    }
}

/// The mode and the workspace root; `None` for `--help`.
fn parse(args: &[String]) -> Result<Option<(Mode, PathBuf)>, String> {
    let (mut modes, mut remove_orphans, mut root) = (Vec::new(), false, crate::workspace_root());
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--review" => modes.push(Mode::Review),
            "--accept" => modes.push(Mode::Accept { remove_orphans: false }),
            "--remove-orphans" => remove_orphans = true,
            "--check" => modes.push(Mode::Check),
            "--check-orphans" => {
                modes.push(Mode::CheckOrphans(it.next().map(PathBuf::from).ok_or("--check-orphans needs a FILE")?))
            }
            "--root" => root = it.next().map(PathBuf::from).ok_or("--root needs a directory")?,
            other => return Err(format!("unknown option '{other}'\n\n{HELP}")),
        }
    }
    if modes.len() > 1 {
        return Err(format!("one mode at a time: --review, --accept, --check or --check-orphans\n\n{HELP}"));
    }
    let mode = match (modes.pop().unwrap_or(Mode::Run), remove_orphans) {
        (Mode::Accept { .. }, remove_orphans) => Mode::Accept { remove_orphans },
        (_, true) => return Err("--remove-orphans goes with --accept".into()),
        (mode, false) => mode,
    };
    // Absolute: the tests run in their packages' folders and write the references file.
    let root = root.canonicalize().map_err(|e| format!("--root {}: {e}", root.display()))?;
    Ok(Some((mode, root)))
}

/// Where a complete test run leaves the snapshot files its assertions named.
fn references_file(root: &Path) -> PathBuf {
    root.join("target/snapshot-references.txt")
}

/// The README's test command (every test binary, even after a failure) with
/// `env` and a references file; the references are kept only if every test
/// passed, since a test that failed early may not have reached its snapshots.
fn run_tests(root: &Path, env: &[(&str, &str)]) -> Result<bool, String> {
    let (complete, partial) = (references_file(root), root.join("target/snapshot-references.partial"));
    let _ = std::fs::remove_file(&complete);
    let _ = std::fs::remove_file(&partial);
    std::fs::create_dir_all(root.join("target")).map_err(|e| format!("{}: {e}", root.display()))?;
    let partial_s = partial.display().to_string();
    let mut env = env.to_vec();
    env.push(("INSTA_SNAPSHOT_REFERENCES_FILE", &partial_s));
    let args: Vec<&str> = crate::ci::TEST_ARGS.iter().copied().chain(["--no-fail-fast"]).collect();
    if crate::run_cmd_in(root, "cargo", &args, &env).is_err() {
        return Ok(false);
    }
    // Insta creates the file at the first snapshot assertion: none ran, none used.
    let moved = std::fs::rename(&partial, &complete).or_else(|_| std::fs::write(&complete, ""));
    moved.map_err(|e| format!("{}: {e}", complete.display()))?;
    Ok(true)
}

/// `cargo xtask snapshot`: every snapshot runs; what differs is written as `.snap.new`.
fn run_and_report(root: &Path) -> Result<(), String> {
    let env = [("INSTA_UPDATE", "new"), ("INSTA_FORCE_PASS", "1")];
    if !run_tests(root, &env)? {
        print_pending(root, &find(root)?.pending);
        return Err("tests failed (not because of a snapshot: INSTA_FORCE_PASS=1 lets those pass); \
                    orphans are judged only after a run where every test passed"
            .into());
    }
    report(root, &references_file(root))
}

/// `--check` (and `cargo xtask ci`): snapshots must match as they are.
pub fn check(root: &Path) -> Result<(), String> {
    let env = [("INSTA_UPDATE", "no"), ("INSTA_FORCE_PASS", "0"), ("CI", "true")];
    if !run_tests(root, &env)? {
        return Err("tests failed; a snapshot that is missing or differs fails its test with insta's diff \
                    above. To see and accept the new output: cargo xtask snapshot, then --review and --accept"
            .into());
    }
    report(root, &references_file(root))
}

/// The `.snap` files and the pending `.snap.new` files of a workspace.
struct Found {
    snaps: Vec<PathBuf>,
    pending: Vec<PathBuf>,
}

/// Every snapshot file under `root`, leaving out `target` and hidden folders
/// (`.git`); symbolic links are not followed.
fn find(root: &Path) -> Result<Found, String> {
    let mut found = Found { snaps: Vec::new(), pending: Vec::new() };
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
            let (path, name) = (entry.path(), entry.file_name().to_string_lossy().into_owned());
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && name != "target" && !name.starts_with('.') {
                dirs.push(path);
            } else if !is_dir && name.ends_with(".snap") {
                found.snaps.push(path);
            } else if !is_dir && name.ends_with(".snap.new") {
                found.pending.push(path);
            }
        }
    }
    found.snaps.sort();
    found.pending.sort();
    Ok(found)
}

/// `path` relative to `root`, for messages.
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// A path as it compares: canonical when it exists.
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// The `.snap` files not named in the references file (a missing file names none).
fn orphans(snaps: &[PathBuf], references: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(references).unwrap_or_default();
    let named: HashSet<PathBuf> = text.lines().filter(|l| !l.is_empty()).map(|l| canonical(Path::new(l))).collect();
    snaps.iter().filter(|s| !named.contains(&canonical(s))).cloned().collect()
}

fn print_pending(root: &Path, pending: &[PathBuf]) {
    if !pending.is_empty() {
        println!("pending snapshots ({}), to review with `cargo xtask snapshot --review`:", pending.len());
        pending.iter().for_each(|p| println!("  {}", shown(root, p)));
    }
}

/// Pending and orphaned snapshots; an error if there are any.
fn report(root: &Path, references: &Path) -> Result<(), String> {
    if !references.is_file() {
        println!("{} does not exist: no snapshot assertion ran", references.display());
    }
    let found = find(root)?;
    let orphans = orphans(&found.snaps, references);
    print_pending(root, &found.pending);
    if !orphans.is_empty() {
        println!("orphaned snapshots ({}), that no test used:", orphans.len());
        orphans.iter().for_each(|p| println!("  {}", shown(root, p)));
        println!("  (delete them with `cargo xtask snapshot --accept --remove-orphans`, or restore their tests)");
    }
    let checked = found.snaps.len() - orphans.len();
    match (found.pending.len(), orphans.len()) {
        (0, 0) => {
            println!("snapshots: {checked} used by the tests, none pending, no orphans");
            Ok(())
        }
        (p, o) => Err(format!("snapshots: {p} pending, {o} orphaned ({checked} used by the tests)")),
    }
}

/// The YAML header insta writes between two `---` lines, and the contents after it.
fn split_header(text: &str) -> (&str, &str) {
    text.strip_prefix("---\n")
        .and_then(|rest| rest.find("\n---\n").map(|end| (&rest[..end], &rest[end + 5..])))
        .unwrap_or(("", text))
}

/// `--review`: each pending snapshot against the accepted one, as a line diff.
fn review(root: &Path) -> Result<(), String> {
    let pending = find(root)?.pending;
    if pending.is_empty() {
        println!("no pending snapshots");
    }
    for new_path in &pending {
        let old_path = new_path.with_extension("");
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
        let new = read(new_path)?;
        let old = if old_path.is_file() { Some(read(&old_path)?) } else { None };
        let (header, new_body) = split_header(&new);
        let state = if old.is_some() { "differs from the accepted snapshot" } else { "new, no accepted snapshot" };
        println!("\n{}: {state}", shown(root, &old_path));
        header.lines().for_each(|l| println!("  | {l}"));
        let old_body = old.as_deref().map_or("", |o| split_header(o).1);
        println!("  - accepted (.snap)  + pending (.snap.new)");
        print!("{}", diff::render(&diff::diff(old_body, new_body), 3));
    }
    if !pending.is_empty() {
        println!(
            "\naccept all with `cargo xtask snapshot --accept`; or fix the code and run `cargo xtask snapshot` again"
        );
    }
    Ok(())
}

/// A pending snapshot as insta itself saves an accepted one: without the
/// `assertion_line` of its header, which only helps a review.
fn persisted(new: &str) -> String {
    let (header, body) = split_header(new);
    if header.is_empty() {
        return new.to_string();
    }
    let kept: Vec<&str> = header.lines().filter(|l| !l.starts_with("assertion_line:")).collect();
    format!("---\n{}\n---\n{body}", kept.join("\n"))
}

/// `--accept`: every `.snap.new` becomes its `.snap`; with `remove_orphans`,
/// the orphans of the last complete run are deleted.
fn accept(root: &Path, remove_orphans: bool) -> Result<(), String> {
    let found = find(root)?;
    if found.pending.is_empty() {
        println!("no pending snapshots");
    }
    for new_path in &found.pending {
        let path = new_path.with_extension("");
        let new = std::fs::read_to_string(new_path).map_err(|e| format!("{}: {e}", new_path.display()))?;
        std::fs::write(&path, persisted(&new)).map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::remove_file(new_path).map_err(|e| format!("{}: {e}", new_path.display()))?;
        println!("accepted {}", shown(root, &path));
    }
    if !remove_orphans {
        return Ok(());
    }
    let references = references_file(root);
    if !references.is_file() {
        return Err("orphans are known after a complete run where every test passed: \
                    run `cargo xtask snapshot` first"
            .into());
    }
    for orphan in orphans(&find(root)?.snaps, &references) {
        std::fs::remove_file(&orphan).map_err(|e| format!("{}: {e}", orphan.display()))?;
        println!("removed the orphan {}", shown(root, &orphan));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_split_from_the_contents() {
        let text = "---\nsource: tests/t.rs\nexpression: x\n---\nloss 0.693\n";
        assert_eq!(split_header(text), ("source: tests/t.rs\nexpression: x", "loss 0.693\n"));
        assert_eq!(split_header("no header\n"), ("", "no header\n"));
    }

    #[test]
    fn an_accepted_snapshot_loses_the_assertion_line_as_with_insta() {
        let new = "---\nsource: tests/t.rs\nassertion_line: 3\nexpression: x\n---\nloss 0.693\n";
        assert_eq!(persisted(new), "---\nsource: tests/t.rs\nexpression: x\n---\nloss 0.693\n");
    }

    #[test]
    fn the_mode_flags_are_exclusive_and_remove_orphans_needs_accept() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(matches!(
            parse(&args(&["--accept", "--remove-orphans"])),
            Ok(Some((Mode::Accept { remove_orphans: true }, _)))
        ));
        assert!(matches!(parse(&args(&[])), Ok(Some((Mode::Run, _)))));
        let err = |a: &[&str]| parse(&args(a)).err().unwrap_or_default();
        assert!(err(&["--review", "--check"]).starts_with("one mode at a time"));
        assert_eq!(err(&["--remove-orphans"]), "--remove-orphans goes with --accept");
    }
}
