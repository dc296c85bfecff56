//! `cargo xtask snapshot`: the whole cycle on a tiny standalone crate with
//! one `insta::assert_snapshot!` of a formatted figure, in a temporary
//! folder (`--root`): a new snapshot is pending, accepted, checked; a change
//! of the figure fails the check, naming the snapshot, shows as a diff and is
//! accepted; a deleted test leaves an orphan that the check reports and
//! `--accept --remove-orphans` deletes.
//!
//! The crate builds into `target/xtask-snapshot-test` of this workspace, so
//! insta is compiled once, not on every run. It starts from this
//! workspace's `Cargo.lock` (the versions already used here) and resolves
//! insta offline when the registry cache has it, online otherwise.
#![allow(clippy::unwrap_used)]

mod common;

use common::{text, workspace_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Variables of the surrounding run (`.ci/run` sets some) that would change what is tested.
const OUTER_ENV: &[&str] =
    &["CI", "INSTA_UPDATE", "INSTA_FORCE_PASS", "INSTA_SNAPSHOT_REFERENCES_FILE", "INSTA_WORKSPACE_ROOT"];

/// `program ARGS` in `dir`, building into the shared test target folder.
fn command(program: impl AsRef<std::ffi::OsStr>, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", workspace_root().join("target/xtask-snapshot-test"))
        .env("CARGO_TERM_COLOR", "never");
    OUTER_ENV.iter().for_each(|var| {
        cmd.env_remove(var);
    });
    cmd.output().unwrap()
}

/// `cargo xtask snapshot ARGS --root CRATE`.
fn snapshot(krate: &Path, args: &[&str]) -> Output {
    let mut args = args.to_vec();
    let root = krate.display().to_string();
    args.extend(["--root", &root]);
    command(env!("CARGO_BIN_EXE_xtask"), krate, &[&["snapshot"], &args[..]].concat())
}

fn cargo(dir: &Path, args: &[&str]) -> Output {
    command(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()), dir, args)
}

/// The output of a run that must succeed (or fail, with `ok` false).
fn expect(o: Output, ok: bool, what: &str) -> String {
    assert_eq!(o.status.success(), ok, "{what}: expected success = {ok}:\n{}", text(&o));
    text(&o)
}

const TEST: &str = "#[test]
fn the_loss_of_a_fair_coin_is_ln_2() {
    insta::assert_snapshot!(\"loss\", snapshot_probe::figure(std::f64::consts::LN_2));
}
";

/// The probe crate, its dependencies resolved and downloaded.
fn probe_crate() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-xtask-snapshot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    let manifest = "[package]\nname = \"snapshot-probe\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
                    [dev-dependencies]\ninsta = \"1\"\n\n[workspace]\n";
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    let lib = "/// A loss as the tests print it: 3 decimals.\npub fn figure(loss: f64) -> String {\n    \
               format!(\"loss {loss:.3}\")\n}\n";
    std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
    std::fs::write(dir.join("tests/probe.rs"), TEST).unwrap();
    std::fs::copy(workspace_root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    if !cargo(&dir, &["fetch", "--offline"]).status.success() {
        expect(cargo(&dir, &["fetch"]), true, "cargo fetch");
    }
    dir
}

#[test]
fn without_arguments_xtask_lists_snapshot() {
    let out = command(env!("CARGO_BIN_EXE_xtask"), &workspace_root(), &[]);
    assert!(text(&out).contains("snapshot    run, review and accept insta snapshots"), "{}", text(&out));
    let help = expect(command(env!("CARGO_BIN_EXE_xtask"), &workspace_root(), &["snapshot", "--help"]), true, "help");
    assert!(help.contains("--check-orphans FILE"), "{help}");
}

#[test]
fn a_snapshot_is_accepted_checked_changed_reviewed_and_orphaned() {
    let krate = probe_crate();
    let (snap, new) = ("tests/snapshots/probe__loss.snap", "tests/snapshots/probe__loss.snap.new");

    // A new snapshot: pending until accepted.
    let log = expect(snapshot(&krate, &[]), false, "a new snapshot is pending");
    assert!(log.contains(&format!("pending snapshots (1), to review with `cargo xtask snapshot --review`:\n  {new}")));
    let log = expect(snapshot(&krate, &["--review"]), true, "review");
    assert!(log.contains(&format!("{snap}: new, no accepted snapshot")), "{log}");
    assert!(log.contains("+ loss 0.693\n"), "{log}");
    let log = expect(snapshot(&krate, &["--accept"]), true, "accept");
    assert!(log.contains(&format!("accepted {snap}")), "{log}");
    let log = expect(snapshot(&krate, &["--check"]), true, "the accepted snapshot matches");
    assert!(log.contains("snapshots: 1 used by the tests, none pending, no orphans"), "{log}");

    // The figure changes: the check fails and names the snapshot.
    let lib = krate.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap().replace("{loss:.3}", "{loss:.4}");
    std::fs::write(&lib, source).unwrap();
    let log = expect(snapshot(&krate, &["--check"]), false, "a changed figure fails the check");
    assert!(log.contains("probe__loss.snap"), "{log}");
    assert!(log.contains("test the_loss_of_a_fair_coin_is_ln_2 ... FAILED"), "{log}");
    assert!(!krate.join(new).exists(), "--check wrote a .snap.new");

    // Run, review the diff, accept: the check passes again.
    expect(snapshot(&krate, &[]), false, "the changed snapshot is pending");
    let log = expect(snapshot(&krate, &["--review"]), true, "review");
    assert!(log.contains(&format!("{snap}: differs from the accepted snapshot")), "{log}");
    assert!(log.contains("- loss 0.693\n+ loss 0.6931\n"), "{log}");
    assert!(log.contains("  | source: tests/probe.rs"), "{log}");
    expect(snapshot(&krate, &["--accept"]), true, "accept");
    expect(snapshot(&krate, &["--check"]), true, "the accepted change matches");
    assert!(std::fs::read_to_string(krate.join(snap)).unwrap().ends_with("loss 0.6931\n"));

    // The test is deleted: its snapshot is an orphan, reported, then removed.
    std::fs::remove_file(krate.join("tests/probe.rs")).unwrap();
    let log = expect(snapshot(&krate, &["--check"]), false, "an orphan fails the check");
    assert!(log.contains(&format!("orphaned snapshots (1), that no test used:\n  {snap}")), "{log}");
    let references = krate.join("target/snapshot-references.txt");
    let cheap = snapshot(&krate, &["--check-orphans", &references.display().to_string()]);
    assert!(expect(cheap, false, "--check-orphans").contains(&format!("\n  {snap}\n")));
    let log = expect(snapshot(&krate, &["--accept", "--remove-orphans"]), true, "remove orphans");
    assert!(log.contains(&format!("removed the orphan {snap}")), "{log}");
    assert!(!krate.join(snap).exists());
    let cheap = snapshot(&krate, &["--check-orphans", &references.display().to_string()]);
    assert!(expect(cheap, true, "no orphan left").contains("snapshots: 0 used by the tests"));

    std::fs::remove_dir_all(&krate).unwrap();
}
