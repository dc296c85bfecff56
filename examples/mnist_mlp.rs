//! An MLP on the MNIST 5k sample (the first 4000 images for training, 10% of
//! them held out for validation, the last 1000 for testing), with early
//! stopping and a CSV log of every epoch.
//!
//! Run: `cargo run --release --example mnist_mlp`

use strata::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist_5k.csv.gz");
    let data = load_csv(path, &CsvOptions::default())?.with_n_classes(10)?;
    let (train_val, mut test) = data.split_at(4000)?;
    let (mut train, mut val) = train_test_split(&train_val, 0.1, true, &mut StrataRng::seed_from_u64(0))?;
    // Pixels 0-255 to [0, 1].
    let scale = Normalizer::Scale { factor: 1.0 / 255.0 };
    for part in [&mut train, &mut val, &mut test] {
        scale.transform(part.features_mut())?;
    }

    let mut model = Model::from_spec(&presets::mlp(&[784, 128, 10], ActivationKind::Relu, 0.2)?, 0)?;
    let config = FitConfig { epochs: 8, batch_size: 64, progress: Progress::Log, ..FitConfig::default() };
    let mut trainer = Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name("adam", 1e-3)?)?;
    trainer.add_callback(EarlyStopping::new(2).restore_best_weights(true))?;
    let log = std::env::temp_dir().join("strata-example-mnist.csv");
    trainer.add_callback(CsvLogger::new(&log))?;
    let history = trainer.fit(model.network_mut(), &train, Some(&val))?;

    let test_metrics = evaluate(model.network_mut(), &test, &LossKind::CrossEntropy)?;
    let accuracy = test_metrics.accuracy.unwrap_or(0.0);
    println!(
        "{} epochs (best: {:?}); test accuracy {:.2}%, loss {:.4}; the per-epoch log is in {}",
        history.epochs.len(),
        history.best_epoch,
        100.0 * accuracy,
        test_metrics.loss,
        log.display()
    );
    if accuracy < 0.9 {
        return Err(format!("test accuracy {accuracy} is below 90%").into());
    }
    Ok(())
}
