//! Real data: the model spec `tests/mlp_batchnorm.json` (dense 64 -> 64,
//! batch_norm 64, relu, dense 64 -> 10), built by a registry with this
//! crate's kinds, trained on the 8x8 digits (1797 images, 10 classes),
//! saved, loaded and evaluated.

use crate::common::registry;
use std::path::Path;
use strata_data::{CsvOptions, Dataset, InMemoryDataset, StandardScaler, load_csv, train_test_split};
use strata_io::SavedModel;
use strata_layers::{Layer, LayerSpec};
use strata_loss::LossKind;
use strata_optimizer::OptimizerConfig;
use strata_tensor::StrataRng;
use strata_training::{FitConfig, Progress, Trainer};

/// A stratified 75/25 split, standardised with the training part's statistics.
fn digits() -> (InMemoryDataset, InMemoryDataset) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/digits.csv.gz");
    let ds = load_csv(&path, &CsvOptions::default()).unwrap();
    assert_eq!((ds.len(), ds.feature_shape(), ds.n_classes()), (1797, &[64][..], Some(10)));
    let (mut train, mut test) = train_test_split(&ds, 0.25, true, &mut StrataRng::seed_from_u64(2024)).unwrap();
    let scaler = StandardScaler::fit_transform(train.features_mut()).unwrap();
    scaler.transform(test.features_mut()).unwrap();
    (train, test)
}

fn spec() -> LayerSpec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mlp_batchnorm.json");
    LayerSpec::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn trainer(seed: u64, epochs: usize) -> Trainer {
    let config = FitConfig {
        epochs,
        batch_size: 32,
        seed,
        progress: Progress::Silent,
        track_grad_norms: false,
        ..FitConfig::default()
    };
    let optimizer = OptimizerConfig::from_name("adam", 1e-3).unwrap();
    Trainer::new(config, LossKind::CrossEntropy, optimizer).unwrap()
}

/// Measured when this test was written (451 test images, Adam 1e-3, batch
/// 32, 15 epochs), test accuracy for seeds 0 to 4: 96.67%, 98.00%, 96.90%,
/// 98.00%, 96.23% (the same network without batch_norm: 96.23%, 96.67%,
/// 96.45%, 96.23%, 97.34%). Training is bit-reproducible, so seed 0 gives
/// 96.67% (436 of 451) every run; the floor of 95% (429 of 451) leaves room
/// for a change of summation order, not for a broken layer.
#[test]
fn a_batch_norm_mlp_from_a_spec_trains_saves_and_loads_on_digits() {
    let (train, test) = digits();
    let registry = registry();
    let seed = 0;
    let mut model = registry.build(&spec(), &mut StrataRng::seed_from_u64(seed)).unwrap();
    // dense 64*64+64, batch_norm 64+64, dense 64*10+10
    assert_eq!(model.n_parameters(), 4160 + 128 + 650);
    let mut trainer = trainer(seed, 15);
    trainer.fit(model.as_mut(), &train, None).unwrap();
    let metrics = trainer.evaluate(model.as_mut(), &test).unwrap();
    let accuracy = metrics.accuracy.unwrap();
    println!("digits, batch-norm MLP, seed {seed}: test accuracy {accuracy}");
    assert!(accuracy >= 0.95, "test accuracy {accuracy}");

    let bytes = SavedModel::capture(model.as_mut(), Default::default()).unwrap().to_bytes().unwrap();
    let saved = SavedModel::from_bytes(&bytes, Path::new("<memory>")).unwrap();
    assert!(saved.tensors.iter().any(|(name, _)| name == "batch_norm_1.running_var"));
    let mut loaded = saved.instantiate(&registry).unwrap();
    // Bitwise the same inference (running statistics included) ...
    assert_eq!(loaded.predict(test.features()).unwrap(), model.predict(test.features()).unwrap());
    // ... so the same accuracy.
    let reloaded = trainer.evaluate(loaded.as_mut(), &test).unwrap();
    assert_eq!(reloaded.accuracy, metrics.accuracy);
    assert_eq!(reloaded.loss, metrics.loss);
}
