use crate::{mlp, model_bytes, scratch};
use std::path::Path;
use strata_io::container::{FileKind, HEADER_LEN};
use strata_io::{FORMAT_VERSION, FormatProblem, IoError, SavedModel};
use strata_layers::{Registry, state_dict};

fn problem(err: IoError) -> FormatProblem {
    match err {
        IoError::Format { problem, .. } => problem,
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn a_model_file_round_trips_bit_for_bit_and_names_its_writer() {
    let bytes = model_bytes(1);
    assert_eq!(&bytes[..8], b"STRATA\0M");
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), FORMAT_VERSION);
    assert!(bytes[12..28].starts_with(b"strata 0."), "{:?}", &bytes[12..28]);
    let saved = SavedModel::from_bytes(&bytes, Path::new("m")).unwrap();
    assert_eq!(saved.metadata["note"], "test");
    let mut back = saved.instantiate(&Registry::with_builtins()).unwrap();
    assert_eq!(state_dict(back.as_mut()), state_dict(mlp(1).as_mut()));
    // Written again, the same bytes: the format has no clock or address in it.
    assert_eq!(saved.to_bytes().unwrap(), bytes);
}

#[test]
fn the_json_document_is_readable_and_holds_no_numbers_of_the_tensors() {
    let bytes = model_bytes(2);
    let json_len = u64::from_le_bytes(bytes[28..36].try_into().unwrap()) as usize;
    let text = std::str::from_utf8(&bytes[HEADER_LEN..HEADER_LEN + json_len]).unwrap();
    assert!(text.contains(r#""kind":"sequential""#), "{text}");
    assert!(text.contains(r#"["dense_1.weight",{"shape":[3,4],"at":0}]"#), "{text}");
    // The blob: 3*4 + 4 + 4*2 + 2 = 26 values of 4 bytes.
    let blob_len = u64::from_le_bytes(bytes[36..44].try_into().unwrap());
    assert_eq!(blob_len, 26 * 4);
}

#[test]
fn a_truncated_file_says_how_many_bytes_it_lacks_at_every_cut() {
    let bytes = model_bytes(3);
    for cut in 0..bytes.len() {
        let err = SavedModel::from_bytes(&bytes[..cut], Path::new("cut.strata")).unwrap_err();
        match problem(err) {
            FormatProblem::Truncated { expected, actual } => {
                assert_eq!(actual, cut as u64);
                assert!(expected > actual);
            }
            FormatProblem::OtherFormat { found } => assert!(cut < 8, "cut {cut}: {found}"),
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn every_flipped_byte_but_the_magic_version_and_lengths_is_a_checksum_error() {
    let bytes = model_bytes(4);
    for at in (12..28).chain(44..bytes.len()) {
        let mut bad = bytes.clone();
        bad[at] ^= 0x10;
        let err = SavedModel::from_bytes(&bad, Path::new("flip.strata")).unwrap_err();
        assert!(matches!(problem(err), FormatProblem::Checksum { .. }), "byte {at}");
    }
}

#[test]
fn a_newer_version_another_kind_and_other_formats_are_named() {
    let bytes = model_bytes(5);
    let mut newer = bytes.clone();
    newer[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let err = SavedModel::from_bytes(&newer, Path::new("new.strata")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "new.strata: not a valid Strata model file: format version {}, newer than this build reads (up to {}); \
             written by strata {}",
            FORMAT_VERSION + 1,
            FORMAT_VERSION,
            env!("CARGO_PKG_VERSION")
        )
    );

    let mut checkpoint = bytes.clone();
    checkpoint[..8].copy_from_slice(&FileKind::Checkpoint.magic());
    let err = SavedModel::from_bytes(&checkpoint, Path::new("c.strata")).unwrap_err();
    assert_eq!(err.to_string(), "c.strata: not a valid Strata model file: this is a Strata checkpoint");

    let mut safetensors = 2u64.to_le_bytes().to_vec();
    safetensors.extend_from_slice(b"{}");
    let cases: [(&[u8], &str); 6] = [
        (&safetensors, "a safetensors file (use `strata import`)"),
        // The first bytes of a model `torch.onnx.export` wrote: ir_version 8, producer_name "pytorch".
        (b"\x08\x08\x12\x07pytorch\x1a\x052.1.0", "an ONNX model (Strata writes ONNX but does not read it"),
        (b"PK\x03\x04rest", "a zip archive"),
        (b"  {\"kind\": \"dense\"}", "a JSON file (a model spec?)"),
        (b"", "an empty file"),
        (b"GIF89a......", "not a Strata file (wrong magic bytes)"),
    ];
    for (content, found) in cases {
        let err = SavedModel::from_bytes(content, Path::new("x")).unwrap_err();
        assert!(err.to_string().contains(found), "{err}");
    }
}

#[test]
fn a_missing_file_is_an_io_error_with_its_path() {
    let path = scratch("missing").join("none.strata");
    let err = SavedModel::load(&path).unwrap_err();
    assert!(matches!(&err, IoError::Io { path: p, .. } if p == &path), "{err:?}");
    std::fs::remove_dir_all(path.parent().unwrap()).ok();
}

#[test]
fn weights_that_do_not_fit_the_spec_are_refused_by_name() {
    let mut saved = SavedModel::from_bytes(&model_bytes(6), Path::new("m")).unwrap();
    saved.tensors.retain(|(name, _)| name != "dense_2.bias");
    let err = saved.instantiate(&Registry::with_builtins()).unwrap_err();
    assert_eq!(err.to_string(), "model file has no tensor 'dense_2.bias'");
    // A tensor held twice (the first copy would be loaded, the second lost).
    let mut twice = SavedModel::from_bytes(&model_bytes(6), Path::new("m")).unwrap();
    let first = twice.tensors[0].clone();
    twice.tensors.push(first);
    let err = twice.instantiate(&Registry::with_builtins()).unwrap_err();
    assert_eq!(err.to_string(), "model file holds the tensor 'dense_1.weight' twice");
}

#[test]
fn counters_that_do_not_fit_the_spec_are_refused_as_counters() {
    let mut rng = strata_tensor::StrataRng::seed_from_u64(0);
    let dense = strata_layers::Dense::new(strata_layers::DenseConfig::new(3, 2), &mut rng).unwrap();
    let dropout = strata_layers::Dropout::new(strata_layers::DropoutConfig { rate: 0.5, seed: 0 }).unwrap();
    let layers: Vec<Box<dyn strata_layers::Layer>> = vec![Box::new(dense), Box::new(dropout)];
    let mut model = strata_layers::Sequential::new(&[3], layers).unwrap();
    let mut saved = SavedModel::capture(&mut model, Default::default()).unwrap();
    assert_eq!(saved.counters.len(), 1, "{:?}", saved.counters);
    let name = saved.counters[0].0.clone();
    saved.counters[0].0 = "bogus.calls".into();
    let err = saved.instantiate(&Registry::with_builtins()).unwrap_err();
    assert_eq!(err.to_string(), format!("model file lacks the counter '{name}'"));
    saved.counters.push((name, 3));
    let err = saved.instantiate(&Registry::with_builtins()).unwrap_err();
    assert_eq!(err.to_string(), "model file has a counter 'bogus.calls' that the model does not keep");
    // The same counter twice (the last would have won).
    let (name, _) = saved.counters.pop().unwrap();
    saved.counters = vec![(name.clone(), 3), (name.clone(), 4)];
    let err = saved.instantiate(&Registry::with_builtins()).unwrap_err();
    assert_eq!(err.to_string(), format!("model file holds the counter '{name}' twice"));
}

#[test]
fn safetensors_in_bfloat16_and_float16_import_as_their_float32_values() {
    use safetensors::{Dtype, tensor::TensorView};
    let mut source = mlp(10);
    let names = strata_io::safetensors::torch_names(source.as_mut());
    let by_name: std::collections::HashMap<String, strata_tensor::Tensor> =
        state_dict(source.as_mut()).into_iter().collect();
    for dtype in [Dtype::BF16, Dtype::F16] {
        // Each value rounded to the 16-bit type: what import must give back, exactly.
        let mut expected = Vec::new();
        let mut bytes = Vec::new();
        for n in &names {
            let t = &by_name[&n.strata];
            let torch = if n.transposed {
                let (r, c) = (t.shape()[0], t.shape()[1]);
                (0..r * c).map(|i| t.data()[(i % r) * c + i / r]).collect::<Vec<f32>>()
            } else {
                t.data().to_vec()
            };
            let (b, back): (Vec<u8>, Vec<f32>) = match dtype {
                Dtype::BF16 => (
                    torch.iter().flat_map(|&x| half::bf16::from_f32(x).to_le_bytes()).collect(),
                    t.data().iter().map(|&x| half::bf16::from_f32(x).to_f32()).collect(),
                ),
                _ => (
                    torch.iter().flat_map(|&x| half::f16::from_f32(x).to_le_bytes()).collect(),
                    t.data().iter().map(|&x| half::f16::from_f32(x).to_f32()).collect(),
                ),
            };
            bytes.push(b);
            expected.push((n.strata.clone(), back));
        }
        let views = names.iter().zip(&bytes).map(|(n, b)| {
            let shape: Vec<usize> = if n.transposed {
                by_name[&n.strata].shape().iter().rev().copied().collect()
            } else {
                by_name[&n.strata].shape().to_vec()
            };
            (n.torch.as_str(), TensorView::new(dtype, shape, b).unwrap())
        });
        let file = safetensors::serialize(views, None).unwrap();
        let mut target = mlp(11);
        strata_io::safetensors::import(target.as_mut(), &file, Path::new("half.safetensors")).unwrap();
        let got: Vec<(String, Vec<f32>)> =
            state_dict(target.as_mut()).into_iter().map(|(n, t)| (n, t.data().to_vec())).collect();
        assert_eq!(got, expected, "{dtype:?}");
    }
}

#[test]
fn safetensors_names_follow_pytorch_and_a_wrong_shape_is_named() {
    let mut model = mlp(12);
    let torch: Vec<(String, bool)> =
        strata_io::safetensors::torch_names(model.as_mut()).into_iter().map(|n| (n.torch, n.transposed)).collect();
    // nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).state_dict().keys()
    let expected = [("0.weight", true), ("0.bias", false), ("2.weight", true), ("2.bias", false)];
    assert_eq!(torch, expected.map(|(n, t)| (n.to_string(), t)));
    let bytes = strata_io::safetensors::export(model.as_mut(), None).unwrap();
    let mut other = strata_io::safetensors::export(crate::mlp(13).as_mut(), None).unwrap();
    strata_io::safetensors::import(model.as_mut(), &other, Path::new("ok.safetensors")).unwrap();
    // A 3-4-2 file into a 3-4-2 model works; into a 3-5-2 model, the first tensor that differs is named.
    let mut wide = {
        use strata_layers::{Dense, DenseConfig, Sequential};
        let mut rng = strata_tensor::StrataRng::seed_from_u64(1);
        Sequential::new(
            &[3],
            vec![
                Box::new(Dense::new(DenseConfig::new(3, 5), &mut rng).unwrap()) as Box<dyn strata_layers::Layer>,
                Box::new(strata_layers::ActivationLayer::new(strata_activation::ActivationKind::Relu)),
                Box::new(Dense::new(DenseConfig::new(5, 2), &mut rng).unwrap()),
            ],
        )
        .unwrap()
    };
    let err = strata_io::safetensors::import(&mut wide, &bytes, Path::new("w.safetensors")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "w.safetensors: tensor '0.weight': the model expects shape [5, 3], the file holds [4, 3]"
    );
    other.truncate(10);
    let err = strata_io::safetensors::import(model.as_mut(), &other, Path::new("cut.safetensors")).unwrap_err();
    assert!(err.to_string().starts_with("cut.safetensors: not a valid safetensors file"), "{err}");
}

#[test]
fn a_strata_file_or_garbage_given_as_safetensors_is_named_as_such() {
    let mut model = mlp(14);
    let strata_file = model_bytes(14);
    let err = strata_io::safetensors::import(model.as_mut(), &strata_file, Path::new("m.strata")).unwrap_err();
    assert_eq!(err.to_string(), "m.strata: not a valid safetensors file: this is a Strata model file");
    let err = strata_io::safetensors::import(model.as_mut(), b"\x01\x02garbage bytes", Path::new("g")).unwrap_err();
    assert!(matches!(&err, IoError::Format { problem: FormatProblem::Payload(_), .. }), "{err:?}");
}

#[test]
fn safetensors_numbered_for_another_sequence_of_modules_name_both_lists() {
    // PyTorch's nn.Sequential(Linear(3, 4), ReLU(), Flatten(), Linear(4, 2))
    // numbers its last layer 3; a Strata spec without the flatten numbers it 2.
    use strata_layers::{ActivationLayer, Dense, DenseConfig, Flatten, Layer, Sequential};
    let mut rng = strata_tensor::StrataRng::seed_from_u64(1);
    let relu = || Box::new(ActivationLayer::new(strata_activation::ActivationKind::Relu));
    let mut with_flatten = Sequential::new(
        &[3],
        vec![
            Box::new(Dense::new(DenseConfig::new(3, 4), &mut rng).unwrap()) as Box<dyn Layer>,
            relu(),
            Box::new(Flatten::new()),
            Box::new(Dense::new(DenseConfig::new(4, 2), &mut rng).unwrap()),
        ],
    )
    .unwrap();
    let bytes = strata_io::safetensors::export(&mut with_flatten, None).unwrap();
    let mut model = mlp(15);
    let before = state_dict(model.as_mut());
    let err = strata_io::safetensors::import(model.as_mut(), &bytes, Path::new("torch.safetensors")).unwrap_err();
    assert!(
        matches!(&err, IoError::TorchNames { missing, unused, .. }
        if missing == &["2.bias", "2.weight"] && unused == &["3.bias", "3.weight"]),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "torch.safetensors: the model needs tensors the file lacks: 2.bias, 2.weight; the file's tensors the model \
         does not use: 3.bias, 3.weight. PyTorch numbers every module of an nn.Sequential, so a module with no \
         Strata layer of its own (the Flatten after AdaptiveAvgPool2d(1), say) shifts the numbers after it: add it \
         to the spec (docs/interop.md)"
    );
    assert_eq!(state_dict(model.as_mut()), before, "the model is left as it was");
}

#[test]
fn a_residual_layer_s_tensors_take_pytorch_names_under_inner_and_its_layout() {
    // nn.Sequential(Residual(nn.Linear(3, 3)), Residual(nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 3))))
    // with a module `Residual` holding `inner`: its state_dict names are `0.inner.weight`, `1.inner.0.weight`, ...
    use strata_layers::{ActivationLayer, Dense, DenseConfig, Layer, Residual, Sequential};
    let mut rng = strata_tensor::StrataRng::seed_from_u64(2);
    let mut dense = || Box::new(Dense::new(DenseConfig::new(3, 3), &mut rng).unwrap()) as Box<dyn Layer>;
    let one = Residual::new(dense());
    let relu = Box::new(ActivationLayer::new(strata_activation::ActivationKind::Relu));
    let three = Residual::new(Box::new(Sequential::new(&[3], vec![dense(), relu, dense()]).unwrap()));
    let mut model = Sequential::new(&[3], vec![Box::new(one) as Box<dyn Layer>, Box::new(three)]).unwrap();
    let names: Vec<(String, String, bool)> = strata_io::safetensors::torch_names(&mut model)
        .into_iter()
        .map(|n| (n.strata, n.torch, n.transposed))
        .collect();
    let expected = [
        ("residual_1.weight", "0.inner.weight", true),
        ("residual_1.bias", "0.inner.bias", false),
        ("residual_2.dense_1.weight", "1.inner.0.weight", true),
        ("residual_2.dense_1.bias", "1.inner.0.bias", false),
        ("residual_2.dense_2.weight", "1.inner.2.weight", true),
        ("residual_2.dense_2.bias", "1.inner.2.bias", false),
    ];
    assert_eq!(names, expected.map(|(s, t, x)| (s.to_string(), t.to_string(), x)));
    // The file holds nn.Linear's [out, in]: the transpose of Strata's [in, out].
    let bytes = strata_io::safetensors::export(&mut model, None).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let strata_weight = state_dict(&mut model).into_iter().find(|(n, _)| n == "residual_1.weight").unwrap().1;
    let torch: Vec<f32> = file
        .tensor("0.inner.weight")
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let transposed: Vec<f32> = (0..9).map(|i| strata_weight.data()[(i % 3) * 3 + i / 3]).collect();
    assert_eq!(torch, transposed);
    // And back: the same weights.
    let before = state_dict(&mut model);
    strata_io::safetensors::import(&mut model, &bytes, Path::new("residual.safetensors")).unwrap();
    assert_eq!(state_dict(&mut model), before);
}

#[test]
fn a_non_finite_weight_in_a_safetensors_file_is_refused_by_its_name_and_index() {
    // The second value of PyTorch's `2.bias` is infinite: refused where it is, the model unchanged.
    let mut source = mlp(16);
    let mut path = String::new();
    let mut f = |p: strata_tensor::ParamRef<'_>| {
        if p.name == "dense_2.bias" {
            p.value.data_mut()[1] = f32::INFINITY;
        }
    };
    source.visit_parameters(&mut strata_tensor::ParamVisitor::new(&mut path, &mut f));
    let bytes = strata_io::safetensors::export(source.as_mut(), None).unwrap();
    let mut model = mlp(17);
    let before = state_dict(model.as_mut());
    let err = strata_io::safetensors::import(model.as_mut(), &bytes, Path::new("inf.safetensors")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "inf.safetensors: tensor '2.bias' holds inf at index 1: a model's weights are finite numbers"
    );
    assert_eq!(state_dict(model.as_mut()), before);
}

#[test]
fn a_spec_nested_deeper_than_a_file_can_hold_is_refused_at_capture() {
    // Residual inside residual, built in code: each adds two levels of JSON.
    // 45 of them (93 levels) travel and read back; 60 (2 x 60 + 3 for the
    // dense layer and the spec around it) would be written unreadable.
    use strata_layers::{Dense, DenseConfig, Layer, Residual};
    let nested = |n: usize| {
        let mut rng = strata_tensor::StrataRng::seed_from_u64(3);
        let mut layer: Box<dyn Layer> = Box::new(Dense::new(DenseConfig::new(2, 2), &mut rng).unwrap());
        for _ in 0..n {
            layer = Box::new(Residual::new(layer));
        }
        layer
    };
    let saved = SavedModel::capture(nested(45).as_mut(), Default::default()).unwrap();
    let back = SavedModel::from_bytes(&saved.to_bytes().unwrap(), Path::new("deep.strata")).unwrap();
    back.instantiate(&Registry::with_builtins()).unwrap();
    let err = SavedModel::capture(nested(60).as_mut(), Default::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "model spec: the spec nests 123 levels of JSON deep; a model file or a checkpoint holds at most 100 (its \
         reader's limit), so it could not be read back"
    );
}
