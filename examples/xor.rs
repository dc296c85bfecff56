//! XOR: the smallest problem a single neuron cannot solve and two layers can.
//! Four points, two classes; a 2-16-2 tanh network learns them in 300 epochs.
//!
//! Run: `cargo run --release --example xor`

use strata::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let x = Tensor::from_vec(&[4, 2], vec![0., 0., 0., 1., 1., 0., 1., 1.])?;
    let data = InMemoryDataset::from_labels(x, &[0, 1, 1, 0])?;

    // 2 inputs -> 16 tanh neurons -> 2 logits, weights drawn from seed 3.
    let spec = presets::mlp(&[2, 16, 2], ActivationKind::Tanh, 0.0)?;
    let mut model = Model::from_spec(&spec, 3)?;
    println!("{}", model.summary());

    let config = FitConfig { epochs: 300, batch_size: 4, progress: Progress::Silent, ..FitConfig::default() };
    let mut trainer = Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name("adam", 0.05)?)?;
    let history = trainer.fit(model.network_mut(), &data, None)?;

    let first = history.epochs.first().map_or(f32::NAN, |r| r.train_loss);
    let last = history.last().map_or(f32::NAN, |r| r.train_loss);
    println!("loss: epoch 1 {first:.4}, epoch {} {last:.4}", history.epochs.len());
    let predicted = model.predict(data.features())?;
    println!("predicted classes for (0,0), (0,1), (1,0), (1,1): {predicted:?}");
    if predicted != [0, 1, 1, 0] {
        return Err("the network did not learn XOR".into());
    }
    Ok(())
}
