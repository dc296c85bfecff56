//! `strata train --model SPEC.json` with a layer kind from a workspace
//! layer crate (`batch_norm`, from strata-normalization): the example spec
//! of `docs/examples/mlp-batchnorm.json` trains, saves, and evaluates.

use crate::{data, strata, temp_dir, text};
use std::path::Path;

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples").join(name).display().to_string()
}

/// The percentage after `label` in the command's output.
fn percent(log: &str, label: &str) -> f32 {
    log.split(label).nth(1).unwrap().split('%').next().unwrap().parse().unwrap()
}

/// Five epochs at lr 0.01, batch 32, on the digits (359 test images):
/// measured 96.94%, 96.94%, 97.77%, 97.77% test accuracy for seeds 0-3
/// when this test was written, so seed 0 gives 96.94% every run; 90% is
/// 25 more errors than that.
#[test]
fn a_batch_norm_spec_trains_saves_and_evaluates_on_digits() {
    let dir = temp_dir("spec");
    let model = dir.join("mlp-batchnorm.strata").display().to_string();
    let out = strata(&[
        "train",
        "--model",
        &example("mlp-batchnorm.json"),
        "--data",
        &data("digits.csv.gz"),
        "--epochs",
        "5",
        "--lr",
        "0.01",
        "--batch-size",
        "32",
        "--seed",
        "0",
        "--out",
        &model,
    ]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("batch_norm_1 (batch_norm)") && log.contains("epoch   5/5"), "{log}");
    assert!(percent(&log, "test accuracy: ") >= 90.0, "{log}");

    // The model file names batch_norm and holds its running statistics: the
    // command's registry rebuilds it. On the whole file (training part
    // included) the accuracy is at least the test part's floor.
    let out = strata(&["evaluate", "--model", &model, "--data", &data("digits.csv.gz")]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("samples: 1797"), "{log}");
    assert!(percent(&log, "accuracy: ") >= 90.0, "{log}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_batch_norm_over_features_refuses_batches_of_one_sample() {
    // Each feature normalised over one sample is 0: the output is the bias
    // alone, and the run trained nothing (loss ln 3 every epoch) with exit 0.
    let args = ["train", "--model", &example("mlp-batchnorm.json"), "--data", &data("digits.csv.gz"), "--epochs", "1"];
    let o = strata(&[&args[..], &["--batch-size", "1"]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(
            "error: --batch-size 1: layer 'batch_norm_1' (batch_norm) normalises each feature over the batch"
        ),
        "{}",
        text(&o)
    );
}
