//! IO: a checkpoint of the W2 MLP (784-256-128-10, Adam with its moments,
//! the trainer's state) encoded, written (atomically: temporary file,
//! fsync, rename, fsync of the folder) and read back. Ids: `IO/encode`,
//! `IO/save`, `IO/load`; figures in microseconds per call.
#![allow(clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use strata::prelude::*;
use strata::training::Checkpoint;

fn checkpoint() -> Checkpoint {
    let spec = presets::mlp(&[784, 256, 128, 10], ActivationKind::Relu, 0.0).unwrap();
    let mut model = Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(0)).unwrap();
    let mut trainer =
        Trainer::new(FitConfig::default(), LossKind::CrossEntropy, OptimizerConfig::from_name("adam", 1e-3).unwrap())
            .unwrap();
    let x = Tensor::random_uniform(&[64, 784], 0.0, 1.0, &mut StrataRng::seed_from_u64(1)).unwrap();
    let y = Tensor::from_vec(&[64], (0..64).map(|i| (i % 10) as f32).collect()).unwrap();
    trainer.train_step(model.as_mut(), &x, &y).unwrap();
    Checkpoint::new(trainer.snapshot(model.as_mut()).unwrap())
}

fn io(c: &mut Criterion) {
    let ckpt = checkpoint();
    let dir = std::env::temp_dir().join(format!("strata-bench-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("checkpoint.strata");
    let mut group = c.benchmark_group("IO");
    group.bench_function(BenchmarkId::from_parameter("encode"), |b| b.iter(|| black_box(ckpt.to_bytes().unwrap())));
    group.bench_function(BenchmarkId::from_parameter("save"), |b| b.iter(|| ckpt.save(black_box(&path)).unwrap()));
    group.bench_function(BenchmarkId::from_parameter("load"), |b| {
        b.iter(|| black_box(Checkpoint::load(&path).unwrap()))
    });
    group.finish();
    // Absent when criterion only lists the benchmarks (`--list`, as `cargo xtask bench --compare` does).
    if let Ok(meta) = std::fs::metadata(&path) {
        eprintln!("IO: the checkpoint is {} bytes", meta.len());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, io);
criterion_main!(benches);
