//! The `strata` command, run as a user would run it.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod checkpoints;
mod distributed;
mod files;
mod insight;
mod interop;
mod library;
mod sequences;
mod snapshots;
mod spec;

fn strata(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata")).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data").join(name).display().to_string()
}

/// R² of a regression run (`test RMSE .., MAE .., R² 0.58 (88 rows)`).
fn r2(log: &str) -> f64 {
    log.split("R² ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap()
}

/// The rate of `strata lr-find`'s line `suggested learning rate: 9.5e-4 (...)`.
fn suggested_lr(log: &str) -> f64 {
    let line = log.lines().find(|l| l.starts_with("suggested learning rate: ")).unwrap_or_else(|| panic!("{log}"));
    line["suggested learning rate: ".len()..].split(' ').next().unwrap().parse().unwrap()
}

/// The validation losses of the `epoch ...  val_loss X ...` lines of a run's log.
fn val_losses(log: &str) -> Vec<f64> {
    log.lines()
        .filter(|l| l.starts_with("epoch "))
        .map(|l| l.split("val_loss ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap())
        .collect()
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Train on iris, save, then evaluate and predict with the saved model: the
/// evaluation reproduces the accuracy and predict prints one class per row.
#[test]
fn train_save_evaluate_predict_round_trip_on_iris() {
    let dir = temp_dir("iris");
    let model = dir.join("iris.strata");
    let model_s = model.display().to_string();
    let out = strata(&[
        "train",
        "--data",
        &data("iris.csv"),
        "--layers",
        "4,16,3",
        "--epochs",
        "60",
        "--batch-size",
        "16",
        "--lr",
        "0.01",
        "--dropout",
        "0",
        "--test-fraction",
        "0.2",
        "--seed",
        "4",
        "--out",
        &model_s,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let log = text(&out);
    assert!(log.contains("epoch  60/60"), "{log}");
    let acc: f32 = log.split("test accuracy: ").nth(1).unwrap().split('%').next().unwrap().parse().unwrap();
    assert!(acc >= 90.0, "{log}");

    // Evaluating on the whole file: 150 samples.
    let out = strata(&["evaluate", "--model", &model_s, "--data", &data("iris.csv")]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("samples: 150"), "{}", text(&out));
    let acc: f32 = text(&out).split("accuracy: ").nth(1).unwrap().split('%').next().unwrap().parse().unwrap();
    assert!(acc >= 90.0, "{}", text(&out));

    // Predict on features only (the label column dropped): one class per row.
    let rows: String = std::fs::read_to_string(data("iris.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect();
    let features = dir.join("features.csv");
    std::fs::write(&features, rows).unwrap();
    let out = strata(&["predict", "--model", &model_s, "--data", &features.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    let classes: Vec<u32> = String::from_utf8_lossy(&out.stdout).lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(classes.len(), 150);
    // The file is sorted by class: the first rows are setosa (0), the easiest class.
    assert!(classes[..50].iter().filter(|&&c| c == 0).count() >= 48, "{classes:?}");

    let out = strata(&["summary", "--model", &model_s]);
    assert!(text(&out).contains("dense_1 (dense)") && text(&out).contains("Total params: 131"), "{}", text(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_is_a_clear_error_with_exit_code_1() {
    let dir = temp_dir("errors");
    let ragged = dir.join("ragged.csv");
    std::fs::write(&ragged, "1,2,0\n3,4,1\n5,0\n").unwrap();
    let out = strata(&["train", "--data", &ragged.display().to_string(), "--epochs", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let msg = text(&out);
    assert!(msg.contains("error:") && msg.contains("line 3"), "{msg}");

    let out = strata(&["evaluate", "--model", &dir.join("missing.strata").display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("missing.strata"), "{}", text(&out));

    let truncated = dir.join("truncated.strata");
    std::fs::write(&truncated, b"STRATA\0M\x01\x00").unwrap();
    let out = strata(&["evaluate", "--model", &truncated.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("truncated"), "{}", text(&out));

    let out = strata(&["train", "--data", &data("iris.csv"), "--layers", "5,8,3", "--epochs", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("[4]") && text(&out).contains("[5]"), "{}", text(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `strata train` with no data option uses the embedded MNIST sample and its
/// standard split (4000 train, of which 10% validation, 1000 test).
#[test]
fn train_without_arguments_uses_the_embedded_mnist_sample() {
    let out = strata(&["train", "--epochs", "2", "--layers", "784,32,10", "--schedule", "constant", "--dropout", "0"]);
    assert!(out.status.success(), "{}", text(&out));
    let log = text(&out);
    assert!(
        log.contains(
            "embedded MNIST 5k (5000 samples, 784 features, 10 classes): train 3600, validation 400, test 1000"
        ),
        "{log}"
    );
    let acc: f32 = log.split("test accuracy: ").nth(1).unwrap().split('%').next().unwrap().parse().unwrap();
    // Two epochs of a small MLP reach ~88% (measured 88-90%); chance is 10%.
    assert!(acc > 80.0, "{log}");
}

/// IDX (MNIST's distribution format): images and labels in two files.
#[test]
fn trains_on_idx_files_and_asks_for_labels_when_missing() {
    let dir = temp_dir("idx");
    // 40 images of 2x2 u8 pixels: class 1 is bright, class 0 dark.
    let n = 40u32;
    let mut images = vec![0, 0, 0x08, 3];
    for d in [n, 2, 2] {
        images.extend_from_slice(&d.to_be_bytes());
    }
    let mut labels = vec![0, 0, 0x08, 1];
    labels.extend_from_slice(&n.to_be_bytes());
    for i in 0..n {
        let class = (i % 2) as u8;
        images.extend_from_slice(&[10 + 200 * class + (i % 7) as u8; 4]);
        labels.push(class);
    }
    let (img, lab) = (dir.join("train-images-idx3-ubyte"), dir.join("train-labels-idx1-ubyte"));
    std::fs::write(&img, images).unwrap();
    std::fs::write(&lab, labels).unwrap();
    let (img, lab) = (img.display().to_string(), lab.display().to_string());

    let out =
        strata(&["train", "--data", &img, "--labels", &lab, "--layers", "4,8,2", "--epochs", "30", "--lr", "0.01"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("(40 samples, 4 features, 2 classes)"), "{}", text(&out));

    let out = strata(&["train", "--data", &img]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("--labels"), "{}", text(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The CNN preset on the embedded sample, then its first layer's filters as a PNG.
#[test]
fn cnn_preset_trains_and_exports_its_filters() {
    let dir = temp_dir("cnn");
    let model = dir.join("cnn.strata").display().to_string();
    let out = strata(&["train", "--preset", "cnn", "--epochs", "2", "--out", &model]);
    assert!(out.status.success(), "{}", text(&out));
    let log = text(&out);
    assert!(log.contains("conv2d_1 (conv2d)") && log.contains("[None, 8, 28, 28]"), "{log}");
    let acc: f32 = log.split("test accuracy: ").nth(1).unwrap().split('%').next().unwrap().parse().unwrap();
    // Two epochs of the W3 CNN reach about 90% (measured 89-92%); chance is 10%.
    assert!(acc > 80.0, "{log}");

    let png = dir.join("filters.png");
    let out = strata(&["export-filters", "--model", &model, "--out", &png.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");

    // A model without a convolution has no filters to export.
    let mlp = dir.join("mlp.strata").display().to_string();
    assert!(strata(&["train", "--epochs", "1", "--layers", "784,16,10", "--out", &mlp]).status.success());
    let out = strata(&["export-filters", "--model", &mlp, "--out", &png.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}
