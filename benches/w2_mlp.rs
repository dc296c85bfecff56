//! W2: training the MLP 784-256-128-10 (ReLU, softmax cross-entropy, He
//! init, Adam 1e-3) for one epoch over the 4000 training rows of MNIST 5k,
//! data already in memory; the figure is training samples per second.
//! Ids: `W2/b64`, `W2/b256`; with plain SGD (lr 0.01) or RMSprop (1e-3)
//! instead of Adam at batch 64, `W2/b64-sgd` and `W2/b64-rmsprop`.
//! `W2/adam-update`: Adam's update alone over the model's 235,146
//! parameters (what a step spends after backward), in values per second.
#![allow(clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use strata::data::{CsvOptions, Dataset, Normalizer, first_n_split, load_csv};
use strata::prelude::*;
use strata::tensor::{ParamRef, ParamVisitor};
use strata_suite::data_file;

fn w2(c: &mut Criterion) {
    let ds = load_csv(data_file("mnist_5k.csv.gz"), &CsvOptions::default()).unwrap();
    let (mut train, _) = first_n_split(&ds, 4000).unwrap();
    Normalizer::Scale { factor: 1.0 / 255.0 }.transform(train.features_mut()).unwrap();
    let mut group = c.benchmark_group("W2");
    group.sample_size(10);
    group.throughput(Throughput::Elements(train.len() as u64));
    for (batch_size, optimizer, lr) in
        [(64, "adam", 1e-3), (256, "adam", 1e-3), (64, "sgd", 1e-2), (64, "rmsprop", 1e-3)]
    {
        let spec = presets::mlp(&[784, 256, 128, 10], ActivationKind::Relu, 0.0).unwrap();
        let mut model = Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(0)).unwrap();
        let config = FitConfig { batch_size, progress: Progress::Silent, ..FitConfig::default() };
        let optimizer_config = OptimizerConfig::from_name(optimizer, lr).unwrap();
        let mut trainer = Trainer::new(config, LossKind::CrossEntropy, optimizer_config).unwrap();
        // The epoch's batches, gathered once: the benchmark measures the steps.
        let order: Vec<usize> = (0..train.len()).collect();
        let batches: Vec<(Tensor, Tensor)> = order
            .chunks(batch_size)
            .map(|idx| {
                let (mut x, mut y) = (Tensor::default(), Tensor::default());
                train.fill_batch(idx, &mut x, &mut y).unwrap();
                (x, y)
            })
            .collect();
        let suffix = if optimizer == "adam" { String::new() } else { format!("-{optimizer}") };
        group.bench_function(BenchmarkId::from_parameter(format!("b{batch_size}{suffix}")), |bench| {
            // The epoch runs on rayon's pool, as `Trainer::fit` runs it.
            bench.iter(|| {
                rayon::scope(|_| {
                    for (x, y) in &batches {
                        trainer.train_step(model.as_mut(), x, y).unwrap();
                    }
                })
            })
        });
        // The table's ids: W2-b64, W2-b256, W2-sgd, W2-rmsprop.
        let id = if optimizer == "adam" { format!("W2-b{batch_size}") } else { format!("W2-{optimizer}") };
        strata_testkit::bench::log_placement(&id);
    }
    group.finish();
}

/// Adam's update of W2's parameters, on rayon's pool as in a step: the
/// kernel the Xeon profile found at 36% of a batch-64 step.
fn w2_adam_update(c: &mut Criterion) {
    let spec = presets::mlp(&[784, 256, 128, 10], ActivationKind::Relu, 0.0).unwrap();
    let mut model = Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(0)).unwrap();
    // Gradients of one real batch, so the update reads the values it would.
    let mut ds = load_csv(data_file("mnist_5k.csv.gz"), &CsvOptions::default()).unwrap();
    Normalizer::Scale { factor: 1.0 / 255.0 }.transform(ds.features_mut()).unwrap();
    let (mut x, mut y) = (Tensor::default(), Tensor::default());
    ds.fill_batch(&(0..64).collect::<Vec<_>>(), &mut x, &mut y).unwrap();
    let config = FitConfig { batch_size: 64, progress: Progress::Silent, ..FitConfig::default() };
    let mut trainer =
        Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name("adam", 1e-3).unwrap()).unwrap();
    trainer.train_step(model.as_mut(), &x, &y).unwrap();
    let mut n_values = 0;
    model.visit_parameters(&mut ParamVisitor::new(&mut String::new(), &mut |p: ParamRef<'_>| {
        n_values += p.grad.map_or(0, |g| g.len());
    }));
    let mut adam = OptimizerConfig::from_name("adam", 1e-3).unwrap().build().unwrap();
    let mut path = String::new();
    let mut group = c.benchmark_group("W2");
    group.throughput(Throughput::Elements(n_values as u64));
    group.bench_function("adam-update", |bench| {
        bench.iter(|| rayon::scope(|_| adam.step(&mut |v| model.visit_parameters(v), &mut path).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, w2, w2_adam_update);
criterion_main!(benches);
