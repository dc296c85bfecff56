//! Checkpoints on the command line: a run killed with SIGKILL at any moment
//! and resumed ends with the weights of an uninterrupted run, bit for bit.

use crate::{data, strata, temp_dir, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use strata::io::SavedModel;

/// The training run of these tests: dropout (a counter-based stream),
/// shuffling and a cosine schedule all have to resume exactly.
fn run_args(ckpt: &Path, out: &Path) -> Vec<String> {
    let args = "train --layers 784,64,10 --epochs 3 --dropout 0.2 --schedule cosine --checkpoint-every 5steps --keep-last 2 --quiet";
    let mut v: Vec<String> = args.split(' ').map(String::from).collect();
    v.extend(["--checkpoint-dir".into(), ckpt.display().to_string(), "--out".into(), out.display().to_string()]);
    v
}

fn tensors(path: &Path) -> Vec<(String, Vec<u32>)> {
    let saved = SavedModel::load(path).unwrap();
    saved.tensors.into_iter().map(|(n, t)| (n, t.data().iter().map(|x| x.to_bits()).collect())).collect()
}

/// The checkpoints of `dir`, oldest first.
fn checkpoint_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("checkpoint-"))
        .collect();
    files.sort();
    files
}

fn checkpoints_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map_or(0, |d| d.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("checkpoint-")).count())
}

/// Start `args`, wait for a first checkpoint in `ckpt`, let it run `delay`
/// longer, then SIGKILL it. Returns whether it was killed (it may finish first).
fn kill_after(args: &[String], ckpt: &Path, delay: Duration) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata")).args(args).stdout(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while checkpoints_in(ckpt) == 0 && started.elapsed() < Duration::from_secs(60) {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(delay);
    if child.try_wait().unwrap().is_some() {
        return false;
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    true
}

#[test]
fn a_run_killed_with_sigkill_at_any_moment_resumes_to_the_weights_of_an_uninterrupted_run() {
    let dir = temp_dir("sigkill");
    let full = dir.join("full.strata");
    let out = strata(&run_args(&dir.join("ck-full"), &full).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", text(&out));
    let expected = tensors(&full);

    // Three runs, each killed at another moment (mid-epoch or mid-write),
    // then resumed and killed again, until one resume finishes.
    for (round, delays) in [[0u64, 40, 90], [15, 3, 250], [70, 0, 5]].iter().enumerate() {
        let ckpt = dir.join(format!("ck-{round}"));
        let killed_out = dir.join(format!("killed-{round}.strata"));
        let mut killed = kill_after(&run_args(&ckpt, &killed_out), &ckpt, Duration::from_millis(delays[0]));
        let resume: Vec<String> =
            ["train", "--resume", &ckpt.display().to_string(), "--quiet"].map(String::from).into();
        for &delay in &delays[1..] {
            killed |= kill_after(&resume, &ckpt, Duration::from_millis(delay));
        }
        let out = strata(&resume.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.status.success(), "round {round}: {}", text(&out));
        assert!(killed, "round {round}: the run finished before it could be killed");
        assert_eq!(tensors(&killed_out), expected, "round {round}");
        // No temporary file survives the next write.
        let stale: Vec<PathBuf> = std::fs::read_dir(&ckpt)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "tmp"))
            .collect();
        assert!(stale.len() <= 1, "round {round}: {stale:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_checkpoint_written_by_an_earlier_build_resumes_to_the_model_its_run_saved() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus");
    let dir = temp_dir("corpus-resume");
    let ckpt = dir.join("ck");
    std::fs::create_dir_all(&ckpt).unwrap();
    std::fs::copy(corpus.join("mlp-v2.checkpoint"), ckpt.join("checkpoint-0000000090.strata")).unwrap();
    // The stored arguments say `--out after.strata`, relative to where the run started.
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["train", "--resume", "ck"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("resuming from ck/checkpoint-0000000090.strata (epoch 1 done, step 90)"),
        "{}",
        text(&out)
    );
    // The whole run's figure (tests/corpus/README.md): 75.50% after two epochs.
    assert!(text(&out).contains("test accuracy: 75.50% (755/1000)"), "{}", text(&out));
    // Since Adam divides once an element (2026-11-30) its update differs in the
    // last bits from the build that wrote the checkpoint: the resumed model is
    // pinned by a file of its own, and stays next to the earlier build's.
    let resumed = tensors(&dir.join("after.strata"));
    assert_eq!(resumed, tensors(&corpus.join("mlp-v2.resumed-to.one-division-adam.strata")));
    let earlier = tensors(&corpus.join("mlp-v2.resumed-to.strata"));
    let value = |bits: u32| f64::from(f32::from_bits(bits));
    let (mut largest, mut differ, mut values) = (0.0f64, 0, 0);
    for ((name, now), (before_name, before)) in resumed.iter().zip(&earlier) {
        assert_eq!(name, before_name);
        for (&a, &b) in now.iter().zip(before) {
            largest = largest.max((value(a) - value(b)).abs());
            differ += usize::from(a != b);
            values += 1;
        }
    }
    eprintln!("{differ} of {values} weights differ from the earlier build's, by at most {largest:e}");
    // Measured: 444 of 12730 weights differ, by at most 6.0e-8.
    assert!(differ > 0 && largest < 1e-6, "{differ} of {values} differ, by at most {largest:e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn checkpoint_flags_with_bad_values_are_refused_by_name() {
    let dir = temp_dir("ckpt-errors");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let cases: [(&[&str], String); 4] = [
        (
            &["train", "--checkpoint-every", "0steps"],
            "error: --checkpoint-every must be N, Nepochs or Nsteps with N at least 1, got '0steps'".into(),
        ),
        (
            &["train", "--checkpoint-every", "5minutes"],
            "error: --checkpoint-every must be N, Nepochs or Nsteps with N at least 1, got '5minutes'".into(),
        ),
        (
            &["train", "--resume", &empty.display().to_string()],
            format!("error: {}: no checkpoint to resume from (checkpoint-*.strata)", empty.display()),
        ),
        (
            &["train", "--resume", &empty.display().to_string(), "--epochs", "3"],
            "error: --resume continues a run with the arguments it was started with: give no other flag but --quiet \
             or --distributed (got --epochs)"
                .into(),
        ),
    ];
    for (args, message) in cases {
        let out = strata(args);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim_end(), message, "{args:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `--resume` on a run whose epochs are all done trains nothing and writes
/// nothing (PyTorch Lightning's "max_epochs reached"): it does not train
/// another `--epochs` on top, nor replace `--out` or the checkpoints.
#[test]
fn resuming_a_complete_run_trains_and_writes_nothing() {
    let dir = temp_dir("resume-complete");
    let (ck, out) = (dir.join("ck"), dir.join("m.strata"));
    let (ck_s, out_s) = (ck.display().to_string(), out.display().to_string());
    let args = ["train", "--data", &data("iris.csv"), "--epochs", "2", "--checkpoint-every", "1"];
    let o = strata(&[&args[..], &["--checkpoint-dir", &ck_s, "--out", &out_s, "-q"]].concat());
    assert!(o.status.success(), "{}", text(&o));
    let files = |d: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        let mut f: Vec<_> =
            std::fs::read_dir(d).unwrap().flatten().map(|e| (e.path(), std::fs::read(e.path()).unwrap())).collect();
        f.sort();
        f
    };
    let (before, model_before) = (files(&ck), std::fs::read(&out).unwrap());
    let o = strata(&["train", "--resume", &ck_s]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "checkpoint-0000000004.strata: the run is complete (2 of 2 epochs done): nothing to resume (its model \
             was saved to {out_s})"
        )),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("test accuracy"), "nothing trained or evaluated: {}", text(&o));
    assert_eq!(files(&ck), before);
    assert_eq!(std::fs::read(&out).unwrap(), model_before);
    std::fs::remove_dir_all(&dir).ok();
}

/// A newest checkpoint the disk damaged (one byte flipped: the writes are
/// atomic, so a crash leaves none such) is passed over with a warning: the
/// run resumes from the one before it and ends with the weights of the
/// uninterrupted run, bit for bit.
#[test]
fn a_damaged_newest_checkpoint_resumes_from_the_one_before_it() {
    let dir = temp_dir("damaged-ckpt");
    let (ck, whole, out) = (dir.join("ck"), dir.join("whole.strata"), dir.join("m.strata"));
    let base = ["train", "--data", &data("iris.csv"), "--epochs", "3", "--schedule", "cosine", "-q"];
    let o = strata(&[&base[..], &["--out", &whole.display().to_string()]].concat());
    assert!(o.status.success(), "{}", text(&o));
    // The same run with a checkpoint each epoch.
    let ck_s = ck.display().to_string();
    let out_s = out.display().to_string();
    let every = ["--checkpoint-every", "1", "--keep-last", "3", "--checkpoint-dir", &ck_s, "--out", &out_s];
    let o = strata(&[&base[..], &every[..]].concat());
    assert!(o.status.success(), "{}", text(&o));
    std::fs::remove_file(&out).unwrap();
    let files = checkpoint_files(&ck);
    assert_eq!(files.len(), 3, "{files:?}");
    // As if it had stopped after epoch 2 (its last checkpoint gone), and the
    // disk had damaged that epoch's.
    std::fs::remove_file(&files[2]).unwrap();
    let mut bytes = std::fs::read(&files[1]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&files[1], bytes).unwrap();
    let o = strata(&["train", "--resume", &ck_s]);
    assert!(o.status.success(), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("checksum mismatch") && stderr.contains("resuming from the checkpoint before it"),
        "{stderr}"
    );
    assert!(text(&o).contains(&format!("resuming from {}", files[0].display())), "{}", text(&o));
    assert_eq!(tensors(&out), tensors(&whole), "the uninterrupted run's weights");
    std::fs::remove_dir_all(&dir).ok();
}

/// A run resumes on the data it started on: a data file changed since (one
/// value) is refused by the fingerprint its checkpoints carry, and so is a
/// checkpoint whose stored arguments ask for another optimizer than its
/// state holds. Neither trains nor writes anything.
#[test]
fn a_resume_on_changed_data_or_a_self_contradicting_checkpoint_is_refused() {
    let dir = temp_dir("changed-data");
    let (ck, out, csv) = (dir.join("ck"), dir.join("m.strata"), dir.join("iris.csv"));
    let original = std::fs::read_to_string(data("iris.csv")).unwrap();
    std::fs::write(&csv, &original).unwrap();
    let (ck_s, out_s, csv_s) = (ck.display().to_string(), out.display().to_string(), csv.display().to_string());
    let o = strata(&[
        "train",
        "--data",
        &csv_s,
        "--epochs",
        "3",
        "-q",
        "--checkpoint-every",
        "1",
        "--checkpoint-dir",
        &ck_s,
        "--out",
        &out_s,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // As if it had stopped after epoch 1.
    let files = checkpoint_files(&ck);
    for newer in &files[1..] {
        std::fs::remove_file(newer).unwrap();
    }
    std::fs::remove_file(&out).unwrap();
    // One value of the file changed: 5.1 of its first row becomes 5.2.
    let first_value = original.find("5.1").unwrap();
    std::fs::write(&csv, format!("{}5.2{}", &original[..first_value], &original[first_value + 3..])).unwrap();
    let o = strata(&["train", "--resume", &ck_s]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("--resume: the training data differs from the data the run started on"), "{}", text(&o));
    assert!(!out.exists(), "nothing written");
    // A checkpoint whose arguments were changed to --optimizer sgd (its state is Adam's).
    std::fs::write(&csv, &original).unwrap();
    let mut checkpoint = strata::training::Checkpoint::load(&files[0]).unwrap();
    let mut args: Vec<String> = serde_json::from_str(&checkpoint.metadata["strata.train_args"]).unwrap();
    args.extend(["--optimizer".into(), "sgd".into()]);
    checkpoint.metadata.insert("strata.train_args".into(), serde_json::to_string(&args).unwrap());
    checkpoint.save(&files[0]).unwrap();
    let o = strata(&["train", "--resume", &ck_s]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(
            "--resume: the checkpoint's arguments ask for --optimizer sgd, but its optimizer state is adam's: the \
             checkpoint contradicts itself"
        ),
        "{}",
        text(&o)
    );
    assert!(!out.exists(), "nothing written");
    // A snapshot that contradicts itself is named with the checkpoint it is in.
    let mut checkpoint = strata::training::Checkpoint::load(&files[0]).unwrap();
    args.truncate(args.len() - 2);
    checkpoint.metadata.insert("strata.train_args".into(), serde_json::to_string(&args).unwrap());
    checkpoint.snapshot.state.history.best_epoch = Some(50);
    checkpoint.save(&files[0]).unwrap();
    let o = strata(&["train", "--resume", &ck_s]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "{}: cannot restore the snapshot: its history names epoch 50 the best, but holds epochs 1 to 1",
            files[0].display()
        )),
        "{}",
        text(&o)
    );
    assert!(!out.exists(), "nothing written");
    // More epochs done than its run has: refused, not "the run is complete" with exit code 0.
    let mut checkpoint = strata::training::Checkpoint::load(&files[0]).unwrap();
    checkpoint.snapshot.state.history.best_epoch = None;
    checkpoint.snapshot.state.epoch = 1000;
    checkpoint.save(&files[0]).unwrap();
    let o = strata(&["train", "--resume", &ck_s]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(
        text(&o).trim_end(),
        format!("error: {}: its state says 1000 epochs are done, but its run has 3", files[0].display())
    );
    assert!(!out.exists(), "nothing written");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_new_run_refuses_a_folder_holding_another_runs_checkpoints() {
    // The second run's rotation deleted the first run's checkpoints, its
    // best.strata replaced theirs, and --resume then continued the second run.
    let dir = temp_dir("ck-other-run");
    let ck = dir.join("ck");
    let ck_s = ck.display().to_string();
    let first = ["train", "--data", &data("iris.csv"), "--epochs", "2", "--quiet", "--checkpoint-every", "1"];
    let o = strata(&[&first[..], &["--checkpoint-dir", &ck_s]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let before: Vec<(PathBuf, Vec<u8>)> = checkpoint_files(&ck)
        .into_iter()
        .chain([ck.join("best.strata")])
        .map(|p| (p.clone(), std::fs::read(p).unwrap()))
        .collect();
    assert_eq!(before.len(), 3, "two epochs' checkpoints (2 steps each: 108 rows, batches of 64) and the best");
    let o = strata(&[&first[..], &["--checkpoint-dir", &ck_s, "--seed", "7"]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "error: --checkpoint-dir {ck_s}: holds the checkpoints of an earlier run (checkpoint-0000000002.strata, \
             checkpoint-0000000004.strata, best.strata); resume it with --resume {ck_s}"
        )),
        "{}",
        text(&o)
    );
    for (path, bytes) in &before {
        assert_eq!(&std::fs::read(path).unwrap(), bytes, "{}", path.display());
    }
    // --out onto the folder's best checkpoint: refused before training.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = empty.join("best.strata").display().to_string();
    let o = strata(&[&first[..], &["--checkpoint-dir", &empty.display().to_string(), "--out", &out]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("error: --out {out}: names a checkpoint file of --checkpoint-dir")),
        "{}",
        text(&o)
    );
    assert!(!Path::new(&out).exists());
    std::fs::remove_dir_all(&dir).ok();
}

/// A run that fails before its first checkpoint (here the loss diverges in the
/// first epoch) leaves no empty checkpoint folder behind; a folder that was
/// there before stays.
#[test]
fn a_run_that_fails_before_its_first_checkpoint_leaves_no_folder() {
    let dir = temp_dir("no-empty-ck");
    let ck = dir.join("ck");
    let ck_s = ck.display().to_string();
    let args = ["train", "--data", &data("iris.csv"), "--lr", "1e30", "--epochs", "2", "-q", "--checkpoint-dir", &ck_s];
    let o = strata(&args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("the loss is not finite"), "{}", text(&o));
    assert!(!ck.exists(), "the folder it created is gone");
    std::fs::create_dir(&ck).unwrap();
    let o = strata(&args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(ck.is_dir(), "a folder that was there stays");
    std::fs::remove_dir_all(&dir).ok();
}
