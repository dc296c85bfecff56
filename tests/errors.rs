//! Bad input gives a typed error that says what and where, and loses nothing.

use crate::common::{mlp, trainer};
use std::io::Cursor;
use strata::data::{CsvOptions, DataError, InMemoryDataset, read_csv};
use strata::layers::{LayerError, dims, state_dict};
use strata::prelude::*;
use strata::training::TrainingError;

fn csv(text: &str) -> Result<InMemoryDataset, DataError> {
    read_csv(Cursor::new(text.as_bytes()), &CsvOptions::default(), "test.csv")
}

#[test]
fn a_ragged_csv_row_names_its_line() {
    let err = csv("1,2,0\n3,4,1\n5,1\n").unwrap_err();
    assert!(matches!(err, DataError::Ragged { line: 3, expected: 3, found: 2, .. }), "{err:?}");
    assert!(err.to_string().contains("test.csv"), "{err}");
}

#[test]
fn a_non_numeric_cell_names_line_and_column() {
    let err = csv("1,2,0\n3,x4,1\n").unwrap_err();
    assert!(matches!(err, DataError::Parse { line: 2, column: 2, ref value, .. } if value == "x4"), "{err:?}");
}

#[test]
fn a_label_out_of_range_for_the_model_is_refused_before_training() {
    // Labels 0..=3 but the model has 3 outputs.
    let data = csv("0,0,0\n1,1,1\n0,1,2\n1,0,3\n").unwrap();
    let mut model = mlp(&[2, 4, 3], 0.0, 1);
    let before = state_dict(model.as_mut());
    let err = trainer(1, 2, 1e-2, 1).fit(model.as_mut(), &data, None).unwrap_err();
    assert!(matches!(err, TrainingError::LabelOutOfRange { label: 3, n_classes: 3, .. }), "{err:?}");
    assert_eq!(before, state_dict(model.as_mut()), "nothing was trained");
}

#[test]
fn an_empty_dataset_is_an_error_not_a_panic() {
    assert!(matches!(csv("").unwrap_err(), DataError::Empty { .. }));
    let empty = InMemoryDataset::new(Tensor::zeros(&[0, 2]), Tensor::zeros(&[0]));
    match empty {
        Err(e) => assert!(matches!(e, DataError::Empty { .. }), "{e:?}"),
        Ok(ds) => {
            let err = trainer(1, 2, 1e-2, 1).fit(mlp(&[2, 3], 0.0, 1).as_mut(), &ds, None).unwrap_err();
            assert!(matches!(err, TrainingError::EmptyDataset { what: "training" }), "{err:?}");
        }
    }
}

#[test]
fn a_layer_shape_mismatch_names_both_layers_and_shapes_before_data_flows() {
    let mut rng = StrataRng::seed_from_u64(0);
    let err = Sequential::new(
        &[784],
        vec![
            Box::new(Dense::new(DenseConfig::new(784, 256), &mut rng).unwrap()),
            Box::new(ActivationLayer::new(ActivationKind::Relu)),
            Box::new(Dense::new(DenseConfig::new(128, 10), &mut rng).unwrap()),
        ],
    )
    .unwrap_err();
    match &err {
        LayerError::IncompatibleLayers { previous, previous_output, next, next_expected } => {
            assert_eq!((previous.as_str(), next.as_str()), ("relu_1", "dense_2"));
            assert_eq!((previous_output.as_slice(), next_expected.as_slice()), (&dims(&[256])[..], &dims(&[128])[..]));
        }
        other => panic!("expected IncompatibleLayers, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "layer 'dense_2' cannot follow layer 'relu_1': 'relu_1' produces shape [256] but 'dense_2' expects [128]"
    );
}

#[test]
fn a_wrong_input_shape_at_run_time_names_the_layer_and_both_shapes() {
    let mut model = mlp(&[4, 8, 3], 0.0, 0);
    let err = model.forward(&Tensor::zeros(&[2, 5]), Mode::Eval).unwrap_err();
    assert!(
        matches!(&err, LayerError::ShapeMismatch { layer, expected, actual } if layer == "dense_1" && expected == &[Dim::Any, Dim::Fixed(4)] && actual == &[2, 5]),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "layer 'dense_1': expected input of shape [*, 4], got [2, 5]");
}

#[test]
fn a_non_finite_loss_stops_training_and_keeps_the_weights_from_before_that_batch() {
    // Row 3 (batch 2 with batch size 2, no shuffling) holds an infinite feature:
    // its forward pass gives a NaN loss.
    let x = Tensor::from_vec(&[4, 2], vec![0.0, 1.0, 1.0, 0.0, f32::INFINITY, 1.0, 1.0, 1.0]).unwrap();
    let data = InMemoryDataset::from_labels(x, &[0, 1, 0, 1]).unwrap();
    let mut model = mlp(&[2, 4, 2], 0.0, 3);
    let config =
        FitConfig { epochs: 3, batch_size: 2, shuffle: false, progress: Progress::Silent, ..FitConfig::default() };
    let opt = OptimizerConfig::from_name("sgd", 0.1).unwrap();
    let mut t = Trainer::new(config, LossKind::CrossEntropy, opt).unwrap();

    // The weights after batch 1 only: what the failing run must leave behind.
    let mut reference = mlp(&[2, 4, 2], 0.0, 3);
    let first =
        InMemoryDataset::from_labels(Tensor::from_vec(&[2, 2], vec![0.0, 1.0, 1.0, 0.0]).unwrap(), &[0, 1]).unwrap();
    let ref_config =
        FitConfig { epochs: 1, batch_size: 2, shuffle: false, progress: Progress::Silent, ..FitConfig::default() };
    let ref_opt = OptimizerConfig::from_name("sgd", 0.1).unwrap();
    Trainer::new(ref_config, LossKind::CrossEntropy, ref_opt).unwrap().fit(reference.as_mut(), &first, None).unwrap();

    let err = t.fit(model.as_mut(), &data, None).unwrap_err();
    assert!(matches!(err, TrainingError::NonFiniteLoss { epoch: 1, batch: 2, .. }), "{err:?}");
    assert!(err.to_string().contains("epoch 1, batch 2"), "{err}");
    assert_eq!(state_dict(model.as_mut()), state_dict(reference.as_mut()));
}
