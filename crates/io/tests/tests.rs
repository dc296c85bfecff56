//! strata-io's tests: the container, hostile files, atomic writes,
//! checkpoint folders, the corpus of files earlier builds wrote.
#![allow(clippy::unwrap_used)]

mod atomic;
mod corpus;
mod files;
mod hostile;

use std::collections::BTreeMap;
use std::path::PathBuf;
use strata_activation::ActivationKind;
use strata_io::SavedModel;
use strata_layers::{ActivationLayer, Dense, DenseConfig, Layer, Sequential};
use strata_tensor::StrataRng;

/// A fresh folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-io-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small MLP, seeded.
pub fn mlp(seed: u64) -> Box<dyn Layer> {
    let mut rng = StrataRng::seed_from_u64(seed);
    Box::new(
        Sequential::new(
            &[3],
            vec![
                Box::new(Dense::new(DenseConfig::new(3, 4), &mut rng).unwrap()) as Box<dyn Layer>,
                Box::new(ActivationLayer::new(ActivationKind::Relu)),
                Box::new(Dense::new(DenseConfig::new(4, 2), &mut rng).unwrap()),
            ],
        )
        .unwrap(),
    )
}

/// The bytes of `mlp(seed)` as a model file, with one metadata entry.
pub fn model_bytes(seed: u64) -> Vec<u8> {
    let meta = BTreeMap::from([("note".to_string(), "test".to_string())]);
    SavedModel::capture(mlp(seed).as_mut(), meta).unwrap().to_bytes().unwrap()
}
