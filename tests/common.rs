//! Shared set-up: load a real dataset, split it, build and train an MLP.

use strata::data::{CsvOptions, InMemoryDataset, Normalizer, StandardScaler, load_csv, train_test_split};
use strata::prelude::*;
use strata_suite::data_file;

/// Train/test parts of a real file, stratified and shuffled with `seed`,
/// standardised with statistics of the training part only.
pub fn split(file: &str, test_fraction: f32, seed: u64) -> (InMemoryDataset, InMemoryDataset) {
    let ds = load_csv(data_file(file), &CsvOptions::default()).unwrap();
    let (mut train, mut test) =
        train_test_split(&ds, test_fraction, true, &mut StrataRng::seed_from_u64(seed)).unwrap();
    let scaler = Normalizer::Standard(StandardScaler::fit(train.features()).unwrap());
    scaler.transform(train.features_mut()).unwrap();
    scaler.transform(test.features_mut()).unwrap();
    (train, test)
}

/// An MLP of `widths` with ReLU and dropout, built from `seed`.
pub fn mlp(widths: &[usize], dropout: f32, seed: u64) -> Box<dyn Layer> {
    let spec = presets::mlp(widths, ActivationKind::Relu, dropout).unwrap();
    Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(seed)).unwrap()
}

/// A trainer with cross-entropy and Adam.
pub fn trainer(epochs: usize, batch_size: usize, lr: f32, seed: u64) -> Trainer {
    let config = FitConfig { epochs, batch_size, seed, progress: Progress::Silent, ..FitConfig::default() };
    Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name("adam", lr).unwrap()).unwrap()
}
