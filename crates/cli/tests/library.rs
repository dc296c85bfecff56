//! A model written by `strata train --out` is the library's `Model`: loaded
//! in code, it predicts exactly what `strata predict` prints, row by row.

use crate::{data, strata, temp_dir, text};
use strata::data::{CsvOptions, LabelColumn, load_csv};
use strata::model::Model;

/// `strata predict` on `features` with `model`, one label per line.
fn predicted_by_the_command(model: &str, features: &str) -> Vec<String> {
    let out = strata(&["predict", "--model", model, "--data", features]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

/// The same rows predicted by the library: raw features, as the file holds them.
fn predicted_by_the_library(model: &str, features: &str) -> Vec<String> {
    let rows = load_csv(features, &CsvOptions { label_column: LabelColumn::None, ..CsvOptions::default() }).unwrap();
    let mut m = Model::load(model).unwrap();
    m.predict_labels(rows.features()).unwrap()
}

/// A CSV of the first `n` rows of `source` without their last column (the label).
fn features_only(source: &str, n: usize, dest: &std::path::Path) -> String {
    let text = if source.ends_with(".gz") {
        let bytes = std::fs::read(source).unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut s).unwrap();
        s
    } else {
        std::fs::read_to_string(source).unwrap()
    };
    let rows: String = text.lines().take(n).map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n").collect();
    std::fs::write(dest, rows).unwrap();
    dest.display().to_string()
}

#[test]
fn an_mlp_with_a_fitted_scaler_predicts_the_same_in_code_as_on_the_command_line() {
    let dir = temp_dir("library-mlp");
    let model = dir.join("iris.strata").display().to_string();
    // A CSV file: the command fits a standard scaler on the training part.
    let out = strata(&[
        "train",
        "--data",
        &data("iris.csv"),
        "--layers",
        "4,16,3",
        "--epochs",
        "30",
        "--lr",
        "0.01",
        "--dropout",
        "0",
        "--seed",
        "2",
        "--out",
        &model,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let features = features_only(&data("iris.csv"), 150, &dir.join("features.csv"));
    let by_command = predicted_by_the_command(&model, &features);
    let by_library = predicted_by_the_library(&model, &features);
    assert_eq!(by_command.len(), 150);
    assert_eq!(by_command, by_library);
    // Without its scaler, the network would see raw centimetres: the scaler matters.
    let m = Model::load(&model).unwrap();
    assert!(matches!(m.preprocessing(), strata::data::Normalizer::Standard(_)), "{:?}", m.preprocessing());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_cnn_predicts_the_same_in_code_as_on_the_command_line() {
    let dir = temp_dir("library-cnn");
    let model = dir.join("cnn.strata").display().to_string();
    let out = strata(&["train", "--preset", "cnn", "--epochs", "1", "--out", &model]);
    assert!(out.status.success(), "{}", text(&out));
    // Raw pixel rows (0-255, flat): the model scales them by 1/255 and reshapes them to [1, 28, 28].
    let features = features_only(&data("mnist_5k.csv.gz"), 300, &dir.join("pixels.csv"));
    let by_command = predicted_by_the_command(&model, &features);
    assert_eq!(by_command.len(), 300);
    assert_eq!(by_command, predicted_by_the_library(&model, &features));
    std::fs::remove_dir_all(&dir).unwrap();
}
