//! W2: training the MLP 784-256-128-10 (ReLU, softmax cross-entropy, He
//! init, Adam 1e-3) for one epoch over the 4000 training rows of MNIST 5k,
//! data already in memory; the figure is training samples per second.
//! Ids: `W2/b64`, `W2/b256`.
#![allow(clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use strata::data::{CsvOptions, Dataset, Normalizer, first_n_split, load_csv};
use strata::prelude::*;
use strata_suite::data_file;

fn w2(c: &mut Criterion) {
    let ds = load_csv(data_file("mnist_5k.csv.gz"), &CsvOptions::default()).unwrap();
    let (mut train, _) = first_n_split(&ds, 4000).unwrap();
    Normalizer::Scale { factor: 1.0 / 255.0 }.transform(train.features_mut()).unwrap();
    let mut group = c.benchmark_group("W2");
    group.sample_size(10);
    group.throughput(Throughput::Elements(train.len() as u64));
    for batch_size in [64, 256] {
        let spec = presets::mlp(&[784, 256, 128, 10], ActivationKind::Relu, 0.0).unwrap();
        let mut model = Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(0)).unwrap();
        let config = FitConfig { batch_size, progress: Progress::Silent, ..FitConfig::default() };
        let adam = OptimizerConfig::from_name("adam", 1e-3).unwrap();
        let mut trainer = Trainer::new(config, LossKind::CrossEntropy, adam).unwrap();
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
        group.bench_function(BenchmarkId::from_parameter(format!("b{batch_size}")), |bench| {
            // The epoch runs on rayon's pool, as `Trainer::fit` runs it.
            bench.iter(|| {
                rayon::scope(|_| {
                    for (x, y) in &batches {
                        trainer.train_step(model.as_mut(), x, y).unwrap();
                    }
                })
            })
        });
        strata_testkit::bench::log_placement(&format!("W2-b{batch_size}"));
    }
    group.finish();
}

criterion_group!(benches, w2);
criterion_main!(benches);
