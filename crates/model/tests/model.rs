use std::collections::BTreeMap;
use std::path::PathBuf;
use strata_data::{MinMaxScaler, Normalizer};
use strata_io::SavedModel;
use strata_layers::{Dim, Flatten, Layer, LayerError, LayerSpec, Mode, Registry};
use strata_model::{Model, ModelError, keys};
use strata_tensor::{StrataRng, Tensor};

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("strata-model-{name}-{}.strata", std::process::id()))
}

fn mlp_spec(n_in: usize, n_out: usize) -> LayerSpec {
    LayerSpec::from_json(&format!(
        r#"{{"kind": "sequential", "config": {{"input_shape": [{n_in}], "layers": [
            {{"kind": "dense", "config": {{"n_inputs": {n_in}, "n_outputs": 8}}}}, {{"kind": "relu"}},
            {{"kind": "dense", "config": {{"n_inputs": 8, "n_outputs": {n_out}}}}}]}}}}"#
    ))
    .unwrap()
}

fn raw(n: usize, width: usize, seed: u64) -> Tensor {
    Tensor::random_uniform(&[n, width], 0.0, 100.0, &mut StrataRng::seed_from_u64(seed)).unwrap()
}

#[test]
fn a_saved_model_loads_with_its_preprocessing_class_names_and_metadata_and_predicts_the_same() {
    let x = raw(20, 4, 1);
    let scaler = MinMaxScaler::fit(&x).unwrap();
    let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let mut model = Model::from_spec(&mlp_spec(4, 3), 3)
        .unwrap()
        .with_preprocessing(Normalizer::MinMax(scaler.clone()))
        .with_class_names(names.clone())
        .unwrap()
        .with_metadata("trained_on", "synthetic");
    let path = temp("roundtrip");
    model.save(&path).unwrap();
    let mut loaded = Model::load(&path).unwrap();
    std::fs::remove_file(&path).ok();

    assert_eq!(loaded.preprocessing(), &Normalizer::MinMax(scaler));
    assert_eq!(loaded.class_names(), Some(&names[..]));
    assert_eq!(loaded.metadata().get("trained_on").map(String::as_str), Some("synthetic"));
    assert!(!loaded.metadata().contains_key(keys::PREPROCESSING), "model keys are not free-form metadata");
    assert_eq!(loaded.predict(&x).unwrap(), model.predict(&x).unwrap());
    assert_eq!(loaded.predict_labels(&x).unwrap(), model.predict_labels(&x).unwrap());
    let (p, q) = (loaded.predict_proba(&x).unwrap(), model.predict_proba(&x).unwrap());
    assert_eq!(p, q, "the same weights and preprocessing give bitwise the same probabilities");
}

#[test]
fn predict_applies_the_preprocessing_to_raw_features() {
    // Preprocessing scales by 1/100: predicting on raw x equals the network on x/100.
    let x = raw(6, 4, 2);
    let mut model =
        Model::from_spec(&mlp_spec(4, 3), 5).unwrap().with_preprocessing(Normalizer::Scale { factor: 0.01 });
    let scaled = x.scale(0.01);
    let logits = model.network_mut().predict(&scaled).unwrap();
    assert_eq!(model.output(&x).unwrap(), logits);
}

#[test]
fn probabilities_sum_to_one_and_a_single_logit_gives_two_columns() {
    let x = raw(5, 4, 3);
    let mut model = Model::from_spec(&mlp_spec(4, 3), 1).unwrap();
    let p = model.predict_proba(&x).unwrap();
    for row in p.data().chunks(3) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{row:?}");
    }
    let mut binary = Model::from_spec(&mlp_spec(4, 1), 1).unwrap();
    let logits = binary.output(&x).unwrap();
    let p = binary.predict_proba(&x).unwrap();
    assert_eq!(p.shape(), &[5, 2]);
    let classes = binary.predict(&x).unwrap();
    for ((row, &logit), &class) in p.data().chunks(2).zip(logits.data()).zip(&classes) {
        // σ(x) in the second column; the class is 1 exactly when the logit is positive.
        assert!((row[1] - 1.0 / (1.0 + (-logit).exp())).abs() < 1e-6);
        assert_eq!(class, usize::from(logit > 0.0));
    }
}

#[test]
fn features_of_a_wrong_shape_are_an_error_naming_both_shapes() {
    let mut model = Model::from_spec(&mlp_spec(4, 3), 1).unwrap();
    let err = model.predict(&Tensor::zeros(&[2, 5])).unwrap_err();
    assert!(matches!(err, ModelError::InputShape { operation: "predict", ref actual, .. } if actual == &[2, 5]));
    assert_eq!(err.to_string(), "predict: the model takes samples of shape [4], got features of shape [2, 5]");
}

#[test]
fn class_names_must_fit_the_output() {
    let err = Model::from_spec(&mlp_spec(4, 3), 1).unwrap().with_class_names(vec!["x".into(); 2]).unwrap_err();
    assert!(matches!(err, ModelError::ClassNames { n_outputs: 3, n_names: 2 }));
}

#[test]
fn a_model_of_a_layer_crate_the_registry_lacks_names_the_crate() {
    let spec = LayerSpec::from_json(
        r#"{"kind": "sequential", "config": {"input_shape": [1, 4, 4], "layers": [
            {"kind": "conv2d", "config": {"in_channels": 1, "out_channels": 2, "kernel_size": 3}},
            {"kind": "flatten"}, {"kind": "dense", "config": {"n_inputs": 8, "n_outputs": 2}}]}}"#,
    )
    .unwrap();
    let path = temp("conv");
    Model::from_spec(&spec, 0).unwrap().save(&path).unwrap();
    let err = Model::load_with(&path, &Registry::with_builtins()).unwrap_err();
    std::fs::remove_file(&path).ok();
    let ModelError::LayerInFile { path: file, source: LayerError::UnknownKind { kind, provider, .. } } = &err else {
        panic!("{err}")
    };
    assert_eq!(file, &path, "the error names the file");
    assert_eq!((kind.as_str(), provider.as_deref()), ("conv2d", Some("strata-conv")));
    assert!(err.to_string().contains("provided by the crate strata-conv"), "{err}");
}

/// A third-party layer: flattening under a kind of its own.
#[derive(Debug, Default)]
struct MyFlatten(Flatten);

impl Layer for MyFlatten {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> strata_layers::Result<&Tensor> {
        self.0.forward(input, mode)
    }
    fn backward(&mut self, grad: &Tensor) -> strata_layers::Result<&Tensor> {
        self.0.backward(grad)
    }
    fn output_shape(&self, input_shape: &[Dim]) -> strata_layers::Result<Vec<Dim>> {
        self.0.output_shape(input_shape)
    }
    fn kind(&self) -> &str {
        "my_flatten"
    }
    fn spec(&self) -> strata_layers::Result<LayerSpec> {
        Ok(LayerSpec { kind: "my_flatten".into(), config: serde_json::Value::Null })
    }
}

#[test]
fn a_third_party_kind_is_named_with_the_crate_the_model_file_recorded() {
    let mut registry = strata_model::registry();
    registry.register_from("my-layers", "my_flatten", |_, _, _| Ok(Box::new(MyFlatten::default()))).unwrap();
    let spec = LayerSpec::from_json(
        r#"{"kind": "sequential", "config": {"input_shape": [2, 2], "layers": [
            {"kind": "my_flatten"}, {"kind": "dense", "config": {"n_inputs": 4, "n_outputs": 2}}]}}"#,
    )
    .unwrap();
    let path = temp("third-party");
    Model::from_spec_with(&spec, 0, &registry).unwrap().save(&path).unwrap();
    assert!(Model::load_with(&path, &registry).is_ok());
    let err = Model::load(&path).unwrap_err();
    std::fs::remove_file(&path).ok();
    assert!(
        err.to_string().starts_with(&format!(
            "{}: unknown layer kind 'my_flatten': it is provided by the crate my-layers",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn a_model_file_of_the_earlier_command_line_keeps_its_scaler() {
    // Before the model type, `strata train --out` kept its scaler under
    // `strata.cli.normalizer`; such files still load with it.
    let mut network = strata_model::registry().build(&mlp_spec(4, 3), &mut StrataRng::seed_from_u64(0)).unwrap();
    let normalizer = Normalizer::Scale { factor: 0.5 };
    let mut meta = BTreeMap::new();
    meta.insert(keys::LEGACY_CLI_NORMALIZER.to_string(), serde_json::to_string(&normalizer).unwrap());
    let path = temp("legacy");
    SavedModel::capture(network.as_mut(), meta).unwrap().save(&path).unwrap();
    let model = Model::load(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(model.preprocessing(), &normalizer);
    assert_eq!(model.input_shape(), &[Dim::Fixed(4)]);
}

#[test]
fn the_default_registry_has_every_layer_crate_of_the_workspace() {
    let r = strata_model::registry();
    let mut kinds: Vec<&str> = r.kinds().collect();
    kinds.sort();
    for kind in [
        "avg_pool2d",
        "batch_norm",
        "conv2d",
        "dense",
        "dropout",
        "global_avg_pool",
        "layer_norm",
        "max_pool2d",
        "embedding",
        "positional_encoding",
        "multi_head_attention",
        "transformer_encoder_block",
        "transformer_decoder_block",
        "sequence_pool",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert_eq!(r.provider("batch_norm"), Some("strata-normalization"));
    assert_eq!(r.provider("dense"), Some("strata-layers"));
    assert_eq!(r.provider("transformer_decoder_block"), Some("strata-attention"));
}

/// Metadata that does not fit the network is refused by key when the file
/// loads (checksummed again, so only the contents are wrong), instead of
/// shapes and names that would mislead every later call.
#[test]
fn metadata_that_does_not_fit_the_network_is_refused_by_key() {
    let cases = [
        (keys::INPUT_SHAPE, "[7]", "the network refuses it: layer 'sequential': expected input of shape [4], got [7]"),
        (keys::CLASS_NAMES, r#"["a", "b"]"#, "2 class names for 3 outputs"),
        (keys::CLASS_NAMES, r#"["a", "b", "a"]"#, "the class name 'a' occurs twice"),
        (
            keys::PREPROCESSING,
            r#"{"Standard": {"mean": [0.0], "std": [1.0]}}"#,
            "scales 1 features, but a sample of the model's input has 4",
        ),
    ];
    for (key, value, reason) in cases {
        let mut network = strata_model::registry().build(&mlp_spec(4, 3), &mut StrataRng::seed_from_u64(0)).unwrap();
        let meta = BTreeMap::from([(key.to_string(), value.to_string())]);
        let path = temp("misfit");
        SavedModel::capture(network.as_mut(), meta).unwrap().save(&path).unwrap();
        let err = Model::load(&path).unwrap_err();
        std::fs::remove_file(&path).ok();
        assert!(matches!(&err, ModelError::Metadata { .. }), "{err:?}");
        assert_eq!(err.to_string(), format!("{}: model metadata '{key}' is invalid: {reason}", path.display()));
    }
}

#[test]
fn a_larger_batch_is_checked_against_the_activation_budget_after_a_small_one_passed() {
    // The model remembers the batch it checked last; a larger one is checked
    // again. One sample's output is 1/256 of the budget, so 512 samples
    // (one of `output`'s batches) ask for twice the budget.
    let budget = strata_model::default_activation_budget();
    let wide = usize::try_from(budget / 256).unwrap();
    let spec = LayerSpec::from_json(&format!(
        r#"{{"kind": "sequential", "config": {{"input_shape": [1], "layers": [
            {{"kind": "dense", "config": {{"n_inputs": 1, "n_outputs": {wide}}}}}]}}}}"#
    ))
    .unwrap();
    let mut model = Model::from_spec(&spec, 0).unwrap();
    assert_eq!(model.output(&raw(1, 1, 0)).unwrap().shape(), [1, wide]);
    let err = model.output(&raw(512, 1, 0)).unwrap_err();
    assert!(matches!(&err, ModelError::Layer(LayerError::TooManyActivations(e)) if e.batch == 512), "{err}");
    assert_eq!(model.predict(&raw(1, 1, 0)).unwrap().len(), 1, "a small batch still runs");
}

#[test]
fn a_model_whose_file_could_not_be_read_back_is_refused_before_it_is_written() {
    // NaN would be written as JSON null, which no reader takes as a number;
    // a class name twice or with a line break, which `predict` cannot print.
    let model = || Model::from_spec(&mlp_spec(4, 3), 1).unwrap();
    let err = model().with_preprocessing(Normalizer::Scale { factor: f32::NAN }).to_saved().unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot save the model: its preprocessing is invalid: a factor of NaN, where a finite number above 0 belongs"
    );
    let scaler = strata_data::StandardScaler { mean: vec![0.0; 4], std: vec![1.0; 3] };
    let err = model().with_preprocessing(Normalizer::Standard(scaler)).to_saved().unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot save the model: its preprocessing is invalid: 4 means but 3 standard deviations"
    );
    let names = |n: [&str; 3]| n.map(String::from).to_vec();
    let err = model().with_class_names(names(["a", "a", "b"])).unwrap_err();
    assert_eq!(err.to_string(), "invalid class names: the class name 'a' occurs twice");
    let err = model().with_class_names(names(["a", "b\nX", "c"])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid class names: the class name \"b\\nX\" holds a control character (a line break, a tab, ...)"
    );
    assert!(model().with_class_names(names(["setosa", "versicolor", "virginica"])).is_ok());
}

#[test]
fn a_negative_running_variance_is_refused_when_saved_loaded_or_imported() {
    // `sqrt(-1 + eps)` is NaN: every prediction in inference mode would be NaN.
    let spec = LayerSpec::from_json(
        r#"{"kind": "sequential", "config": {"input_shape": [3], "layers": [
            {"kind": "dense", "config": {"n_inputs": 3, "n_outputs": 2}},
            {"kind": "batch_norm", "config": {"n_features": 2}}]}}"#,
    )
    .unwrap();
    let negative = |model: &mut Model| {
        let mut path = String::new();
        let mut f = |p: strata_tensor::ParamRef<'_>| {
            if p.name == "batch_norm_1.running_var" {
                p.value.data_mut()[1] = -1.0;
            }
        };
        model.network_mut().visit_parameters(&mut strata_tensor::ParamVisitor::new(&mut path, &mut f));
    };
    let mut model = Model::from_spec(&spec, 1).unwrap();
    negative(&mut model);
    let err = model.to_saved().unwrap_err();
    assert!(matches!(&err, ModelError::Layer(LayerError::NegativeVariance { index: 1, .. })), "{err:?}");
    assert_eq!(
        err.to_string(),
        "tensor 'batch_norm_1.running_var' holds -1 at index 1: a running variance is at least 0"
    );
    // A file written by other code: refused at load, naming the file.
    let mut good = Model::from_spec(&spec, 1).unwrap();
    let mut saved = good.to_saved().unwrap();
    saved.tensors.iter_mut().find(|(n, _)| n == "batch_norm_1.running_var").unwrap().1.data_mut()[0] = -0.5;
    let path = temp("negative-variance");
    std::fs::write(&path, saved.to_bytes().unwrap()).unwrap();
    let err = Model::load(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: tensor 'batch_norm_1.running_var' holds -0.5 at index 0: a running variance is at least 0",
            path.display()
        )
    );
    // A PyTorch file: refused by PyTorch's name, the model unchanged.
    let bytes = strata_io::safetensors::export(model.network_mut(), None).unwrap();
    let before = strata_layers::state_dict(good.network_mut());
    let err =
        strata_io::safetensors::import(good.network_mut(), &bytes, std::path::Path::new("bn.safetensors")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bn.safetensors: tensor '1.running_var' holds -1 at index 1: a running variance is at least 0"
    );
    assert_eq!(strata_layers::state_dict(good.network_mut()), before);
}

/// A model of one dense neuron (1 input, 1 output) with a denormal weight,
/// half the smallest normal `f32` (about 5.9e-39), and bias 0.
fn denormal_neuron() -> Model {
    let spec = LayerSpec::from_json(
        r#"{"kind": "sequential", "config": {"input_shape": [1], "layers": [
            {"kind": "dense", "config": {"n_inputs": 1, "n_outputs": 1}}]}}"#,
    )
    .unwrap();
    let mut model = Model::from_spec(&spec, 0).unwrap();
    let mut path = String::new();
    let mut set = |p: strata_tensor::ParamRef<'_>| {
        let value = if p.name.ends_with("weight") { f32::MIN_POSITIVE / 2.0 } else { 0.0 };
        p.value.data_mut().fill(value);
    };
    model.network_mut().visit_parameters(&mut strata_tensor::ParamVisitor::new(&mut path, &mut set));
    model
}

#[test]
fn inference_flushes_denormals_as_training_does_and_gives_the_caller_its_mode_back() {
    use std::hint::black_box;
    use strata_tensor::par::denormal::{flush_denormals, flushing_here};
    assert!(flush_denormals(), "the default (STRATA_DENORMALS is not set by the test runner)");
    let mut model = denormal_neuron();
    let one = Tensor::from_vec(&[1, 1], vec![1.0]).unwrap();
    // Flushed, the weight reads as 0 (denormals-are-zero): the output is the
    // bias, 0. Kept, it would be the weight itself, 5.9e-39, as this test's
    // own thread computes it below.
    assert_eq!(model.output(&one).unwrap().data(), &[0.0]);
    assert!(!flushing_here(), "the caller's thread has its own mode back");
    let kept = black_box(f32::MIN_POSITIVE) * black_box(0.5);
    assert!(kept > 0.0 && !kept.is_normal(), "this thread keeps denormals: {kept:e}");
    assert_eq!(black_box(f32::MIN_POSITIVE / 2.0) * black_box(1.0), kept);
}
