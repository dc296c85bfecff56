//! Specs, the registry and model files: every kind builds from JSON, saves
//! and loads, and composes with Flatten, Dense, Residual and Sequential.

use crate::common::{random, registry};
use strata_conv::{Conv2d, Conv2dConfig, MaxPool2d, Pool2dConfig, cnn_spec};
use strata_io::SavedModel;
use strata_layers::{Layer, LayerError, LayerSpec, Mode, Registry, dims, summary};
use strata_tensor::{Init, StrataRng};

#[test]
fn register_adds_four_kinds_once() {
    let mut r = Registry::with_builtins();
    let before = r.kinds().count();
    strata_conv::register(&mut r).unwrap();
    let kinds: Vec<&str> = r.kinds().collect();
    assert_eq!(kinds.len(), before + 4);
    for kind in ["conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool"] {
        assert!(kinds.contains(&kind), "{kind}");
    }
    assert!(matches!(strata_conv::register(&mut r), Err(LayerError::DuplicateKind { kind }) if kind == "conv2d"));
}

#[test]
fn specs_round_trip_through_json() {
    let r = registry();
    let config = Conv2dConfig {
        kernel_size: [3, 5],
        stride: [2, 1],
        padding: [1, 2],
        dilation: [1, 2],
        bias: false,
        init: Init::XavierUniform,
        ..Conv2dConfig::new(2, 4, 1)
    };
    let conv = Conv2d::new(config.clone(), &mut StrataRng::seed_from_u64(0)).unwrap();
    let spec = conv.spec().unwrap();
    assert_eq!(spec.kind, "conv2d");
    let text = spec.to_json().unwrap();
    let back = LayerSpec::from_json(&text).unwrap();
    assert_eq!(back.config::<Conv2dConfig>().unwrap(), config);
    let rebuilt = r.build(&back, &mut StrataRng::seed_from_u64(0)).unwrap();
    assert_eq!(rebuilt.spec().unwrap(), spec);

    // Short forms: a number for a square, defaults for the rest.
    let short = LayerSpec::from_json(
        r#"{"kind": "conv2d", "config": {"in_channels": 1, "out_channels": 2, "kernel_size": 3}}"#,
    )
    .unwrap();
    assert_eq!(short.config::<Conv2dConfig>().unwrap(), Conv2dConfig::new(1, 2, 3));
    let pool = MaxPool2d::new(Pool2dConfig::new(2)).unwrap();
    assert_eq!(
        pool.spec().unwrap().to_json().unwrap(),
        "{\n  \"kind\": \"max_pool2d\",\n  \"config\": {\n    \"kernel\": [\n      2,\n      2\n    ]\n  }\n}"
    );
}

#[test]
fn cnn_spec_is_the_w3_network() {
    let mut model = registry().build(&cnn_spec(), &mut StrataRng::seed_from_u64(0)).unwrap();
    assert_eq!(model.output_shape(&dims(&[1, 28, 28])).unwrap(), vec![10]);
    assert_eq!(model.n_parameters(), 80 + 1168 + 7850);
    let table = summary(model.as_mut(), &dims(&[1, 28, 28])).unwrap();
    for line in ["conv2d_1 (conv2d)", "max_pool2d_2 (max_pool2d)", "16, 7, 7]", "784]", "Total params: 9098"] {
        assert!(table.contains(line), "{line} missing from\n{table}");
    }
    // The spec a model reports is the spec it was built from.
    assert_eq!(
        model.spec().unwrap().to_json().unwrap(),
        registry().build(&cnn_spec(), &mut StrataRng::seed_from_u64(1)).unwrap().spec().unwrap().to_json().unwrap()
    );
}

#[test]
fn save_and_load_every_kind() {
    let r = registry();
    let spec = LayerSpec::from_json(
        r#"{"kind": "sequential", "config": {"input_shape": [3, 12, 12], "layers": [
            {"kind": "conv2d", "config": {"in_channels": 3, "out_channels": 6, "kernel_size": [3, 3], "padding": 1}},
            {"kind": "relu"},
            {"kind": "residual", "config": {"inner": {"kind": "conv2d",
                "config": {"in_channels": 6, "out_channels": 6, "kernel_size": 3, "padding": 1, "bias": false}}}},
            {"kind": "max_pool2d", "config": {"kernel": 2}},
            {"kind": "avg_pool2d", "config": {"kernel": 3, "stride": [1, 1]}},
            {"kind": "conv2d", "config": {"in_channels": 6, "out_channels": 4, "kernel_size": 2, "dilation": 2}},
            {"kind": "global_avg_pool"},
            {"kind": "dense", "config": {"n_inputs": 4, "n_outputs": 3}}]}}"#,
    )
    .unwrap();
    let mut model = r.build(&spec, &mut StrataRng::seed_from_u64(5)).unwrap();
    assert_eq!(model.output_shape(&dims(&[3, 12, 12])).unwrap(), vec![3]);
    let x = random(&[4, 3, 12, 12], 6);
    let y = model.predict(&x).unwrap();

    let saved = SavedModel::capture(model.as_mut(), Default::default()).unwrap();
    let names: Vec<&str> = saved.tensors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "conv2d_1.weight",
            "conv2d_1.bias",
            "residual_1.weight",
            "conv2d_2.weight",
            "conv2d_2.bias",
            "dense_1.weight",
            "dense_1.bias"
        ]
    );
    let path = std::env::temp_dir().join(format!("strata-conv-save-{}.model", std::process::id()));
    saved.save(&path).unwrap();
    let loaded = SavedModel::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded, saved);
    let mut copy = loaded.instantiate(&r).unwrap();
    assert_eq!(copy.predict(&x).unwrap(), y, "bitwise the same output after a round trip");
    assert_eq!(copy.spec().unwrap(), model.spec().unwrap());

    // Without this crate's kinds, the file names an unknown kind.
    let err = loaded.instantiate(&Registry::with_builtins()).unwrap_err();
    assert!(matches!(err, LayerError::UnknownKind { kind, .. } if kind == "conv2d"));
}

#[test]
fn training_and_inference_mode_give_the_same_output() {
    let mut model = registry().build(&cnn_spec(), &mut StrataRng::seed_from_u64(0)).unwrap();
    let x = random(&[3, 1, 28, 28], 1);
    let a = model.forward(&x, Mode::Train).unwrap().clone();
    assert_eq!(&a, model.forward(&x, Mode::Eval).unwrap());
}
