//! `cargo xtask new-layer NAME`: names are checked, and the generated crate
//! builds, fails its conformance test until `backward` is written, and
//! passes it once it is.
//!
//! The crate is generated into a temporary *mirror* of this workspace, never
//! into `crates/`: a folder with a copy of the root `Cargo.toml` and
//! `Cargo.lock` and symbolic links to everything else (each `crates/*`
//! member, `tests/`, `benches/`, `xtask/`, ...). Cargo names and
//! fingerprints a workspace member by its path relative to the workspace
//! root, which the links keep the same, so with `CARGO_TARGET_DIR` set to
//! this workspace's target folder the mirror reuses every artifact already
//! built (and rebuilds nothing a later build here would have to redo): only
//! the new crate compiles.
#![allow(clippy::unwrap_used)]

mod common;

use common::{text, workspace_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).output().unwrap()
}

/// A fresh, empty temporary folder.
fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-xtask-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn without_arguments_xtask_lists_new_layer() {
    let out = xtask(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("new-layer"), "{}", text(&out));
    let out = xtask(&["new-layer", "--help"]);
    assert!(text(&out).contains("cargo xtask new-layer NAME [--root DIR]"), "{}", text(&out));
}

#[test]
fn bad_names_are_refused_with_the_reason_and_nothing_is_written() {
    // A minimal workspace: a root manifest, one existing crate.
    let root = temp_dir("names");
    std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = [\"crates/*\"]\n").unwrap();
    std::fs::create_dir_all(root.join("crates/existing")).unwrap();
    std::fs::write(root.join("crates/existing/Cargo.toml"), "[package]\nname = \"strata-other\"\n").unwrap();
    let root_s = root.display().to_string();
    let cases = [
        ("MyLayer", "contains 'M'"),
        ("my-layer", "contains '-'"),
        ("2d_norm", "does not start with a letter"),
        ("_norm", "does not start with a letter"),
        ("layer", "would name the layer type `Layer`"),
        ("tensor", "would name the layer type `Tensor`"),
        ("existing", "crates/existing already exists"),
        ("other", "already defines the package strata-other"),
    ];
    for (name, reason) in cases {
        let out = xtask(&["new-layer", name, "--root", &root_s]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out));
        assert!(text(&out).contains(reason), "{name}: {}", text(&out));
    }
    let out = xtask(&["new-layer", "--root", &root_s]);
    assert!(!out.status.success() && text(&out).contains("missing NAME"), "{}", text(&out));
    let mut left: Vec<String> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["existing"]);
    std::fs::remove_dir_all(&root).unwrap();
}

/// A mirror of this workspace in a temporary folder (see the module documentation).
#[cfg(unix)]
fn mirror_workspace() -> PathBuf {
    use std::os::unix::fs::symlink;
    let real = workspace_root();
    let mirror = temp_dir("mirror");
    for entry in std::fs::read_dir(&real).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        match name.to_str().unwrap() {
            "Cargo.toml" | "Cargo.lock" => {
                std::fs::copy(entry.path(), mirror.join(&name)).unwrap();
            }
            "crates" | "target" | ".git" => {}
            _ => symlink(entry.path(), mirror.join(&name)).unwrap(),
        }
    }
    std::fs::create_dir(mirror.join("crates")).unwrap();
    for entry in std::fs::read_dir(real.join("crates")).unwrap() {
        let entry = entry.unwrap();
        symlink(entry.path(), mirror.join("crates").join(entry.file_name())).unwrap();
    }
    mirror
}

/// `cargo ARGS` in `dir`, offline, building into this workspace's target folder.
fn cargo(dir: &Path, args: &[&str]) -> Output {
    // A relative CARGO_TARGET_DIR is taken from the workspace root, where cargo is usually run.
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let target = workspace_root().join(target);
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .arg("--offline")
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .unwrap()
}

/// The generated crate compiles (library, test, benchmark); its conformance
/// test fails with the kit's report until `backward` is written, and passes
/// once it is (so everything else in the skeleton conforms already).
#[cfg(unix)]
#[test]
fn the_generated_crate_builds_and_its_conformance_test_fails_until_backward_is_written() {
    let mirror = mirror_workspace();
    let out = xtask(&["new-layer", "xtask_probe", "--root", &mirror.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    let log = text(&out);
    assert!(log.contains("crates/xtask_probe/benches/xtask_probe.rs"), "{log}");
    assert!(log.contains(r#"strata-xtask_probe = { path = "crates/xtask_probe", version = "0.1.0" }"#), "{log}");
    let krate = mirror.join("crates/xtask_probe");
    for file in ["Cargo.toml", "src/lib.rs", "src/bin/cli.rs", "tests/tests.rs", "benches/xtask_probe.rs"] {
        assert!(krate.join(file).is_file(), "{file} was not generated");
    }

    let build = cargo(&mirror, &["test", "-p", "strata-xtask_probe", "--all-targets", "--no-run"]);
    assert!(build.status.success(), "the generated crate does not build:\n{}", text(&build));

    let run = cargo(&mirror, &["test", "-p", "strata-xtask_probe", "--test", "tests"]);
    let log = text(&run);
    assert!(!run.status.success(), "the conformance test passed with the backward left to write:\n{log}");
    // The kit's report: backward returns zeros, so both gradients are wrong
    // and an SGD step (with zero gradients) leaves the loss where it was.
    for expected in [
        "'xtask_probe_conforms' failed 2 of 10 conformance checks:",
        "'xtask_probe_on_sequences' failed 2 of 10 conformance checks:",
        "[gradients] xtask_probe_conforms: gradient of the input differs from finite differences",
        "[gradients] xtask_probe_conforms: gradient of 'weight' differs from finite differences",
        "[optimizer step] xtask_probe_conforms: one SGD step (lr 0.01) on an MSE regression did not lower the loss",
        "test register_adds_the_kind ... ok",
    ] {
        assert!(log.contains(expected), "missing {expected:?} in:\n{log}");
    }

    // Write the backward the TODO asks for: the same test passes.
    let lib = krate.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    let (start, end) = (
        source.find("        // TODO: write backward.").unwrap(),
        source.find("        Ok(&self.grad_input)").unwrap(),
    );
    let backward = "        let n = self.config.n_features;
        self.grad_input.resize(grad_output.shape());
        let rows = grad_output.data().chunks_exact(n).zip(self.input.data().chunks_exact(n));
        for ((g, x), dx) in rows.zip(self.grad_input.data_mut().chunks_exact_mut(n)) {
            let params = self.weight.data().iter().zip(self.grad_weight.data_mut());
            for (((dx, &g), &x), (&w, gw)) in dx.iter_mut().zip(g).zip(x).zip(params) {
                *dx = g * w;
                *gw += g * x;
            }
        }
";
    std::fs::write(&lib, format!("{}{backward}{}", &source[..start], &source[end..])).unwrap();
    let run = cargo(&mirror, &["test", "-p", "strata-xtask_probe", "--test", "tests"]);
    assert!(run.status.success(), "the conformance test still fails with backward written:\n{}", text(&run));
    assert!(text(&run).contains("test xtask_probe_conforms ... ok"), "{}", text(&run));
    assert!(text(&run).contains("test xtask_probe_on_sequences ... ok"), "{}", text(&run));

    // The crate's own `strata` command knows its kind, without editing Strata.
    let spec = mirror.join("probe.json");
    std::fs::write(
        &spec,
        r#"{"kind": "sequential", "config": {"input_shape": [4], "layers": [{"kind": "xtask_probe", "config": {"n_features": 4}}]}}"#,
    )
    .unwrap();
    // In the test profile, whose artifacts the builds above made (the test
    // still took 280 s of CI with it, against 305 s before).
    let args = [
        "run",
        "-q",
        "--profile",
        "test",
        "-p",
        "strata-xtask_probe",
        "--features",
        "cli",
        "--bin",
        "strata-xtask_probe",
        "--",
    ];
    let run = cargo(&mirror, &[&args[..], &["summary", "--model", &spec.display().to_string()]].concat());
    assert!(run.status.success(), "{}", text(&run));
    assert!(text(&run).contains("xtask_probe_1 (xtask_probe)"), "{}", text(&run));

    std::fs::remove_dir_all(&mirror).unwrap();
}
