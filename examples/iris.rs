//! Iris from a CSV file: split, fit a scaler on the training part, train an
//! MLP, save the model with its scaler, load it back and predict raw rows.
//! Everything comes from `strata::prelude`.
//!
//! Run: `cargo run --release --example iris`

use strata::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 150 flowers: 4 measurements in cm, then the species (0, 1, 2).
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/iris.csv");
    let data = load_csv(path, &CsvOptions::default())?;
    let mut rng = StrataRng::seed_from_u64(7);
    let (mut train, test) = train_test_split(&data, 0.2, true, &mut rng)?;

    // Standardise with statistics of the training part only; the model keeps the scaler.
    let scaler = StandardScaler::fit_transform(train.features_mut())?;
    let mut model = Model::from_spec(&presets::mlp(&[4, 16, 3], ActivationKind::Relu, 0.0)?, 7)?
        .with_preprocessing(Normalizer::Standard(scaler))
        .with_class_names(vec!["setosa".into(), "versicolor".into(), "virginica".into()])?;
    println!("{}", model.summary());

    let config = FitConfig { epochs: 60, batch_size: 16, seed: 7, progress: Progress::Log, ..FitConfig::default() };
    let mut trainer = Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name("adam", 0.01)?)?;
    trainer.fit(model.network_mut(), &train, None)?;

    // Save, load, and predict the test part from its raw measurements.
    let file = std::env::temp_dir().join("strata-example-iris.strata");
    model.save(&file)?;
    let mut loaded = Model::load(&file)?;
    let labels = test.labels().ok_or("the test part has no labels")?;
    let predicted = loaded.predict(test.features())?;
    let right = predicted.iter().zip(&labels).filter(|(p, l)| p == l).count();
    println!(
        "test accuracy of the reloaded model: {right}/{} ({:.1}%)",
        labels.len(),
        100.0 * right as f32 / labels.len() as f32
    );
    let names = loaded.predict_labels(&test.features().slice_rows(0, 3)?)?;
    let proba = loaded.predict_proba(&test.features().slice_rows(0, 3)?)?;
    for (name, p) in names.iter().zip(proba.data().chunks(3)) {
        println!("  {name:<10} probabilities {p:.3?}");
    }
    std::fs::remove_file(&file)?;
    if right * 10 < labels.len() * 9 {
        return Err(format!("only {right}/{} right", labels.len()).into());
    }
    Ok(())
}
