//! Real data and small runs shared by the tests.

use std::path::PathBuf;
use strata_activation::ActivationKind;
use strata_data::{CsvOptions, InMemoryDataset, Normalizer, StandardScaler, load_csv, train_test_split};
use strata_layers::{Layer, Registry};
use strata_loss::LossKind;
use strata_optimizer::OptimizerConfig;
use strata_report::{Diagnosis, Evidence, Observations, Observer, Thresholds, class_prior_loss, diagnose};
use strata_tensor::StrataRng;
use strata_training::{EarlyStopping, FitConfig, History, Progress, Trainer};

/// A file of the repository's `data/` folder (provenance in `data/README.md`).
pub fn data_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data").join(name)
}

/// MNIST 5k: the standard split (first 4000 rows train, last 1000 test),
/// pixels scaled to [0, 1].
pub fn mnist() -> (InMemoryDataset, InMemoryDataset) {
    let mut ds = load_csv(data_file("mnist_5k.csv.gz"), &CsvOptions::default()).expect("the embedded MNIST sample");
    ds.features_mut().scale_assign(1.0 / 255.0);
    ds.split_at(4000).expect("5000 rows")
}

/// The first `n` rows.
pub fn head(ds: &InMemoryDataset, n: usize) -> InMemoryDataset {
    ds.subset(&(0..n.min(ds.len())).collect::<Vec<_>>()).expect("rows in range")
}

/// Rows `from..to`.
pub fn rows(ds: &InMemoryDataset, from: usize, to: usize) -> InMemoryDataset {
    ds.subset(&(from..to.min(ds.len())).collect::<Vec<_>>()).expect("rows in range")
}

/// The digits (8x8), stratified 20% test part, standardised on the training part.
pub fn digits() -> (InMemoryDataset, InMemoryDataset) {
    let ds = load_csv(data_file("digits.csv.gz"), &CsvOptions::default()).expect("digits");
    let (mut train, mut test) = train_test_split(&ds, 0.2, true, &mut StrataRng::seed_from_u64(0)).expect("split");
    let scaler = Normalizer::Standard(StandardScaler::fit(train.features()).expect("scaler"));
    scaler.transform(train.features_mut()).expect("scale");
    scaler.transform(test.features_mut()).expect("scale");
    (train, test)
}

/// An MLP of `widths` (input first) with `activation` and dropout, from `seed`.
pub fn mlp(widths: &[usize], activation: ActivationKind, dropout: f32, seed: u64) -> Box<dyn Layer> {
    let spec = strata_training::presets::mlp(widths, activation, dropout).expect("spec");
    Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(seed)).expect("model")
}

/// What a run left for the diagnosis.
pub struct Run {
    pub history: History,
    pub observations: Observations,
    pub diagnosis: Diagnosis,
    /// `fit`'s error, if it failed (a non-finite loss).
    pub error: Option<String>,
}

/// Train `model` with cross-entropy and `optimizer` at `lr`, an observer
/// probing the first 256 validation rows, and diagnose the run.
pub fn run(
    model: &mut dyn Layer,
    train: &InMemoryDataset,
    val: &InMemoryDataset,
    (optimizer, lr): (&str, f32),
    (epochs, batch_size): (usize, usize),
    early_stopping: Option<EarlyStopping>,
) -> Run {
    let config = FitConfig { epochs, batch_size, seed: 0, progress: Progress::Silent, ..FitConfig::default() };
    let mut trainer =
        Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name(optimizer, lr).expect("optimizer"))
            .expect("trainer");
    let observer = Observer::new(Some(head(val, 256).features().clone()));
    let handle = observer.handle();
    trainer.add_callback(observer).expect("observer");
    if let Some(cb) = early_stopping {
        trainer.add_callback(cb).expect("callback");
    }
    let error = trainer.fit(model, train, Some(val)).err().map(|e| e.to_string());
    let history = trainer.state().history.clone();
    let observations = handle.get();
    let baseline = class_prior_loss(&train.class_counts().expect("labels"));
    let evidence = Evidence { history: &history, observations: Some(&observations), baseline_loss: baseline };
    let diagnosis = diagnose(&evidence, &Thresholds::default());
    Run { history, observations, diagnosis, error }
}
