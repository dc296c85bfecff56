//! Weights to and from PyTorch, models to ONNX, checked by the Python
//! scripts of `tests/interop/` (numpy and safetensors; onnx and
//! onnxruntime): they run when `STRATA_INTEROP_PYTHON` names a Python with
//! those packages (`.ci/run` installs them in a virtual environment), and
//! are skipped with a message otherwise.

use crate::{data, strata, temp_dir, text};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use strata::data::{CsvOptions, load_csv};
use strata::layers::{LayerSpec, Mode};
use strata::model::Model;
use strata::prelude::*;

fn python() -> Option<String> {
    let p = std::env::var("STRATA_INTEROP_PYTHON").ok();
    if p.is_none() {
        eprintln!("skipped: set STRATA_INTEROP_PYTHON to a Python with numpy, safetensors, onnx and onnxruntime");
    }
    p
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop").join(name)
}

fn run_python(python: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(python).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    eprint!("{}", text(&out));
    text(&out)
}

fn read(path: &Path) -> HashMap<String, Tensor> {
    let bytes = std::fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .filter(|(_, v)| v.dtype() == Dtype::F32)
        .map(|(name, v)| {
            let data = v.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            (name, Tensor::from_vec(v.shape(), data).unwrap())
        })
        .collect()
}

fn write(path: &Path, tensors: &[(&str, &Tensor)]) {
    let bytes: Vec<Vec<u8>> =
        tensors.iter().map(|(_, t)| t.data().iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, t), b)| (*name, TensorView::new(Dtype::F32, t.shape().to_vec(), b).unwrap()));
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.data().iter().zip(b.data()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn spec_file(dir: &Path, name: &str, json: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, json).unwrap();
    path.display().to_string()
}

const MLP: &str = r#"{"kind": "sequential", "config": {"input_shape": [784], "layers": [
    {"kind": "dense", "config": {"n_inputs": 784, "n_outputs": 32}}, {"kind": "relu"},
    {"kind": "dense", "config": {"n_inputs": 32, "n_outputs": 10}}]}}"#;

const CNN: &str = r#"{"kind": "sequential", "config": {"input_shape": [1, 28, 28], "layers": [
    {"kind": "conv2d", "config": {"in_channels": 1, "out_channels": 4, "kernel_size": 3, "padding": 1}},
    {"kind": "batch_norm", "config": {"n_features": 4}}, {"kind": "relu"},
    {"kind": "max_pool2d", "config": {"kernel": 2}}, {"kind": "flatten"},
    {"kind": "dense", "config": {"n_inputs": 784, "n_outputs": 10}}]}}"#;

/// `strata import` of a PyTorch-layout file with `spec`, then the model's
/// outputs on `x` against numpy's `y`.
fn imported_matches(dir: &Path, weights: &str, spec: &str, x: &Tensor, y: &Tensor) -> Model {
    let out = dir.join(format!("{weights}.strata"));
    let w = dir.join(format!("{weights}.safetensors"));
    let o = strata(&[
        "import",
        "--weights",
        &w.display().to_string(),
        "--model",
        spec,
        "--out",
        &out.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let mut model = Model::load(&out).unwrap();
    let got = model.output(x).unwrap();
    let err = max_diff(&got, y);
    assert!(err < 1e-5, "{weights}: Strata differs from numpy by {err}");
    model
}

#[test]
fn pytorch_layout_weights_run_here_as_numpy_computes_and_strata_exports_read_back_there() {
    let Some(py) = python() else { return };
    let dir = temp_dir("interop-torch");
    let d = dir.display().to_string();
    run_python(&py, &[&script("torch_layout.py").display().to_string(), "write", &d]);
    let io = read(&dir.join("io.safetensors"));
    let mlp = spec_file(&dir, "mlp.json", MLP);
    imported_matches(&dir, "mlp", &mlp, &io["x_mlp"], &io["y_mlp"]);
    imported_matches(&dir, "mlp_f16", &mlp, &io["x_mlp"], &io["y_mlp_f16"]);
    let cnn = spec_file(&dir, "cnn.json", CNN);
    imported_matches(&dir, "cnn", &cnn, &io["x_cnn"], &io["y_cnn"]);

    // Strata's export of the imported CNN: PyTorch's names, shapes and the same values.
    let o = strata(&[
        "export",
        "--model",
        &format!("{d}/cnn.strata"),
        "--format",
        "safetensors",
        "--out",
        &format!("{d}/cnn_strata.safetensors"),
    ]);
    assert!(o.status.success(), "{}", text(&o));

    // A CNN trained here (batch norm's running statistics and counter included).
    let mut model = Model::from_spec(&LayerSpec::from_json(CNN).unwrap(), 3).unwrap();
    let data = InMemoryDataset::from_labels(io["x_cnn"].clone(), &[0, 1, 2, 3, 4, 5, 6, 7]).unwrap();
    let config = FitConfig { epochs: 5, batch_size: 4, progress: Progress::Silent, ..FitConfig::default() };
    let mut trainer =
        Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name("adam", 1e-2).unwrap()).unwrap();
    trainer.fit(model.network_mut(), &data, None).unwrap();
    strata::io::safetensors::save(model.network_mut(), dir.join("trained_strata.safetensors")).unwrap();
    let y = model.network_mut().forward(&io["x_cnn"], Mode::Eval).unwrap().clone();
    write(&dir.join("trained_out.safetensors"), &[("x", &io["x_cnn"]), ("y", &y)]);
    let said = run_python(&py, &[&script("torch_layout.py").display().to_string(), "check", &d]);
    assert!(said.contains("checked Strata's exports"), "{said}");
    std::fs::remove_dir_all(&dir).ok();
}

/// An MLP with a skip connection around one dense layer and one around three layers.
const RESIDUAL_MLP: &str = r#"{"kind": "sequential", "config": {"input_shape": [4], "layers": [
    {"kind": "dense", "config": {"n_inputs": 4, "n_outputs": 8}}, {"kind": "relu"},
    {"kind": "residual", "config": {"inner": {"kind": "dense", "config": {"n_inputs": 8, "n_outputs": 8}}}},
    {"kind": "residual", "config": {"inner": {"kind": "sequential", "config": {"input_shape": [8], "layers": [
        {"kind": "dense", "config": {"n_inputs": 8, "n_outputs": 8}}, {"kind": "tanh"},
        {"kind": "dense", "config": {"n_inputs": 8, "n_outputs": 8}}]}}}},
    {"kind": "dense", "config": {"n_inputs": 8, "n_outputs": 3}}]}}"#;

/// Export `model` to ONNX, write its outputs on `x`, and have onnxruntime compare.
fn onnx_matches(py: &str, dir: &Path, name: &str, model: &mut Model, x: &Tensor) {
    let onnx = dir.join(format!("{name}.onnx"));
    std::fs::write(&onnx, model.to_onnx().unwrap()).unwrap();
    let y = model.output(x).unwrap();
    let io = dir.join(format!("{name}-io.safetensors"));
    write(&io, &[("x", x), ("y", &y)]);
    let said = run_python(
        py,
        &[&script("onnx_check.py").display().to_string(), &onnx.display().to_string(), &io.display().to_string()],
    );
    assert!(said.contains("checker passed, onnxruntime within"), "{said}");
}

#[test]
fn onnx_exports_of_an_mlp_a_cnn_and_transformers_run_in_onnxruntime_as_here() {
    let Some(py) = python() else { return };
    let dir = temp_dir("interop-onnx");
    let d = dir.display().to_string();

    // The MLP as `strata train` saves it (standard scaling fitted on iris), on every row of iris.
    let o = strata(&[
        "train",
        "--data",
        &data("iris.csv"),
        "--epochs",
        "30",
        "--quiet",
        "--out",
        &format!("{d}/iris.strata"),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = strata(&[
        "export",
        "--model",
        &format!("{d}/iris.strata"),
        "--format",
        "onnx",
        "--out",
        &format!("{d}/iris-cli.onnx"),
    ]);
    assert!(o.status.success() && text(&o).contains("wrote the ONNX graph (opset 17)"), "{}", text(&o));
    let iris = load_csv(data("iris.csv"), &CsvOptions::default()).unwrap();
    let mut mlp = Model::load(format!("{d}/iris.strata")).unwrap();
    onnx_matches(&py, &dir, "iris", &mut mlp, iris.features());

    // The CNN with batch norm, on random images.
    let mut rng = StrataRng::seed_from_u64(5);
    let mut cnn = Model::from_spec(&LayerSpec::from_json(CNN).unwrap(), 4).unwrap();
    let images = Tensor::random_uniform(&[16, 1, 28, 28], 0.0, 1.0, &mut rng).unwrap();
    onnx_matches(&py, &dir, "cnn", &mut cnn, &images);

    // The transformer classifier of `--preset transformer` (sinusoidal positions, mean pooling).
    let spec = strata::attention::presets::sequence_classifier(28, 28, 32, 4, 64, 2, 0.1, 10).unwrap();
    let mut classifier = Model::from_spec(&spec, 6).unwrap();
    let rows = Tensor::random_uniform(&[8, 28, 28], 0.0, 1.0, &mut rng).unwrap();
    onnx_matches(&py, &dir, "transformer", &mut classifier, &rows);

    // Skip connections around a dense layer and around a sequence of layers (their tensors are named
    // through the residual: `residual_1.weight`).
    let spec = LayerSpec::from_json(RESIDUAL_MLP).unwrap();
    let mut residual = Model::from_spec(&spec, 8).unwrap();
    let x = Tensor::random_uniform(&[16, 4], -1.0, 1.0, &mut rng).unwrap();
    onnx_matches(&py, &dir, "residual", &mut residual, &x);

    // A causal language model (embedding, learned positions, decoder blocks), on token ids.
    let spec = strata::attention::presets::language_model(27, 16, 32, 4, 64, 2, 0.1).unwrap();
    let mut lm = Model::from_spec(&spec, 7).unwrap();
    let ids: Vec<f32> = (0..4 * 11).map(|i| ((i * 7 + 3) % 27) as f32).collect();
    onnx_matches(&py, &dir, "language_model", &mut lm, &Tensor::from_vec(&[4, 11], ids).unwrap());
    std::fs::remove_dir_all(&dir).ok();
}
