//! Vanishing gradients, and the skip connections that cure them: a 20-layer
//! sigmoid MLP on the digits dataset, trained as a plain stack and with its
//! hidden layers inside residual blocks (`x + sigmoid(W x + b)`). Both start
//! from the same weights and train with the same optimizer, learning rate,
//! epochs and shuffling; only the skips differ. For a few epochs the table
//! shows the gradient norm of the first, a middle and the last hidden layer's
//! weight (averaged over the epoch's steps), their ratio, and the test
//! accuracy. `docs/depth.md` explains the figures.
//!
//! Run: `cargo run --release --example depth` (`-- SEED` for another seed)

use strata::layers::LayerError;
use strata::prelude::*;

/// Hidden layers (each `dense -> sigmoid`) and their width.
const DEPTH: usize = 20;
const WIDTH: usize = 64;
const EPOCHS: usize = 15;
const LEARNING_RATE: f32 = 3e-3;

/// Hidden layer 1 (`64 -> WIDTH`, the input projection), then `DEPTH - 1`
/// hidden layers `WIDTH -> WIDTH`, each inside a `Residual` when `residual`,
/// then the output layer (`WIDTH -> 10` logits). Same layers, same weights
/// drawn from `seed` with or without the skips.
fn network(residual: bool, seed: u64) -> Result<Sequential, LayerError> {
    let mut rng = StrataRng::seed_from_u64(seed);
    let mut dense = |n_inputs, n_outputs| -> Result<Box<dyn Layer>, LayerError> {
        let config = DenseConfig::new(n_inputs, n_outputs).with_init(Init::XavierUniform);
        Ok(Box::new(Dense::new(config, &mut rng)?))
    };
    let sigmoid = || -> Box<dyn Layer> { Box::new(ActivationLayer::new(ActivationKind::Sigmoid)) };
    let mut layers = vec![dense(64, WIDTH)?, sigmoid()];
    for _ in 1..DEPTH {
        if residual {
            let block = Sequential::new(&[WIDTH], vec![dense(WIDTH, WIDTH)?, sigmoid()])?;
            layers.push(Box::new(Residual::new(Box::new(block))));
        } else {
            layers.extend([dense(WIDTH, WIDTH)?, sigmoid()]);
        }
    }
    layers.push(dense(WIDTH, 10)?);
    Sequential::new(&[64], layers)
}

/// The epoch's mean gradient norm of each weight matrix, first layer to last
/// (parameters are recorded in the model's order: `dense_1.weight`, ...,
/// `residual_19.dense_1.weight`, ...; biases left out).
fn weight_norms(record: &strata::training::EpochRecord) -> Vec<f32> {
    record.grad_norms.iter().filter(|(name, _)| name.ends_with(".weight")).map(|(_, norm)| *norm).collect()
}

/// The smallest and largest ratio last/first hidden layer over the epochs,
/// and the final test accuracy.
#[derive(Debug)]
struct Outcome {
    min_ratio: f32,
    max_ratio: f32,
    accuracy: f32,
}

fn run(
    residual: bool,
    seed: u64,
    train: &InMemoryDataset,
    test: &InMemoryDataset,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let mut model = network(residual, seed)?;
    // One epoch per `fit` call (each call continues the last), to measure the test accuracy in between.
    let config = FitConfig { epochs: 1, batch_size: 32, seed, progress: Progress::Silent, ..FitConfig::default() };
    let mut trainer = Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name("adam", LEARNING_RATE)?)?;
    println!("{} ({DEPTH} hidden layers of {WIDTH} sigmoid units)", if residual { "residual" } else { "plain" });
    println!("epoch    layer 1   layer {:<2}   layer {DEPTH}   ratio {DEPTH}/1   test accuracy", DEPTH / 2);
    let mut outcome = Outcome { min_ratio: f32::INFINITY, max_ratio: 0.0, accuracy: 0.0 };
    for epoch in 1..=EPOCHS {
        let history = trainer.fit(&mut model, train, None)?;
        let norms = weight_norms(history.last().ok_or("fit ran no epoch")?);
        let (first, middle, last) = (norms[0], norms[DEPTH / 2 - 1], norms[DEPTH - 1]);
        outcome.min_ratio = outcome.min_ratio.min(last / first);
        outcome.max_ratio = outcome.max_ratio.max(last / first);
        outcome.accuracy = evaluate(&mut model, test, &LossKind::CrossEntropy)?.accuracy.unwrap_or(0.0);
        if epoch <= 3 || epoch % 5 == 0 {
            println!(
                "{epoch:>5}   {first:>8.2e}   {middle:>8.2e}   {last:>8.2e}   {:>10.2e}   {:>12.1}%",
                last / first,
                100.0 * outcome.accuracy
            );
        }
    }
    println!();
    Ok(outcome)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed: u64 = std::env::args().nth(1).map_or(Ok(0), |s| s.parse())?;

    // 1797 8x8 images, pixels 0-16, then the label; a stratified 20% test
    // part, features standardised with statistics of the training part.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz");
    let data = load_csv(path, &CsvOptions::default())?;
    let (mut train_part, mut test_part) = train_test_split(&data, 0.2, true, &mut StrataRng::seed_from_u64(seed))?;
    let scaler = StandardScaler::fit_transform(train_part.features_mut())?;
    scaler.transform(test_part.features_mut())?;

    println!("seed {seed}; Adam, learning rate {LEARNING_RATE}, batches of 32; gradient norms: each epoch's mean\n");
    let plain = run(false, seed, &train_part, &test_part)?;
    let residual = run(true, seed, &train_part, &test_part)?;

    // The contrast the primer describes: the thresholds of tests/depth.rs,
    // and the residual network's ratio also stays below 100.
    let vanished = plain.min_ratio >= 100.0 && plain.accuracy < 0.5;
    let cured = residual.max_ratio < 100.0 && residual.accuracy >= 0.9;
    for (name, o) in [("plain", &plain), ("residual", &residual)] {
        println!(
            "{name:<8}  ratio layer {DEPTH} / layer 1 between {:.2e} and {:.2e}; final test accuracy {:.1}%",
            o.min_ratio,
            o.max_ratio,
            100.0 * o.accuracy
        );
    }
    if !(vanished && cured) {
        return Err("expected the plain network's gradients to vanish (ratio >= 100, accuracy < 50%) \
                    and the residual network to train (ratio < 100, accuracy >= 90%)"
            .into());
    }
    Ok(())
}
