//! W5: batch-1 inference latency of the W2 MLP (784-256-128-10), forward
//! only; the figure is microseconds per call. Id: `W5/b1`. `W5/predict`
//! is the same sample through `Model::predict`, the call a user makes: its
//! checks, preprocessing and copies on top of the forward pass.
#![allow(clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use strata::prelude::*;

fn w5(c: &mut Criterion) {
    let spec = presets::mlp(&[784, 256, 128, 10], ActivationKind::Relu, 0.0).unwrap();
    let mut model = Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(0)).unwrap();
    let x = Tensor::random_uniform(&[1, 784], 0.0, 1.0, &mut StrataRng::seed_from_u64(1)).unwrap();
    let mut group = c.benchmark_group("W5");
    group.bench_function(BenchmarkId::from_parameter("b1"), |bench| {
        bench.iter(|| {
            black_box(model.forward(black_box(&x), Mode::Eval).unwrap());
        })
    });
    let mut user = Model::from_spec(&spec, 0).unwrap();
    group.bench_function(BenchmarkId::from_parameter("predict"), |bench| {
        bench.iter(|| {
            black_box(user.predict(black_box(&x)).unwrap());
        })
    });
    group.finish();
}

criterion_group!(benches, w5);
criterion_main!(benches);
