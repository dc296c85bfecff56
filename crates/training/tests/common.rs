//! Data, models and trainers the tests share.

use strata_activation::ActivationKind;
use strata_data::InMemoryDataset;
use strata_layers::{Layer, Registry};
use strata_loss::LossKind;
use strata_optimizer::OptimizerConfig;
use strata_tensor::{StrataRng, Tensor};
use strata_training::{FitConfig, Trainer, presets};

/// Two Gaussian blobs, 2-D, labels 0 and 1, drawn from `seed`.
pub fn blobs(n: usize, seed: u64) -> InMemoryDataset {
    let mut rng = StrataRng::seed_from_u64(seed);
    let noise = Tensor::random_normal(&[n, 2], 0.0, 0.5, &mut rng).unwrap();
    let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let x: Vec<f32> = noise
        .data()
        .chunks(2)
        .zip(&labels)
        .flat_map(|(p, &l)| {
            let c = if l == 0 { -1.0 } else { 1.0 };
            [p[0] + c, p[1] + c]
        })
        .collect();
    InMemoryDataset::from_labels(Tensor::from_vec(&[n, 2], x).unwrap(), &labels).unwrap()
}

pub fn model(seed: u64) -> Box<dyn Layer> {
    model_with_dropout(seed, 0.0)
}

/// An MLP 2-8-2 with dropout after the hidden layer (a layer with a counter).
pub fn model_with_dropout(seed: u64, rate: f32) -> Box<dyn Layer> {
    let spec = presets::mlp(&[2, 8, 2], ActivationKind::Relu, rate).unwrap();
    Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(seed)).unwrap()
}

pub fn trainer(config: FitConfig, lr: f32) -> Trainer {
    Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name("adam", lr).unwrap()).unwrap()
}
