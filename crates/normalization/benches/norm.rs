//! Normalisation benchmarks: one forward (training mode) and one backward.
//!
//! - `batch_norm/64x256`: [`BatchNorm`] over 256 features, batch 64 (a hidden
//!   layer of the W2 MLP's size).
//! - `layer_norm/2048x128`: [`LayerNorm`] over 128 features of 32 · 64 rows
//!   (a batch of 32 sequences of 64 tokens, flattened).
#![allow(clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use strata_layers::{Layer, Mode};
use strata_normalization::{BatchNorm, BatchNormConfig, LayerNorm, LayerNormConfig};
use strata_tensor::{StrataRng, Tensor};

/// Forward (training mode) then backward of `layer` on `[rows, cols]` random data.
fn forward_backward(c: &mut Criterion, group: &str, layer: &mut dyn Layer, rows: usize, cols: usize) {
    let mut rng = StrataRng::seed_from_u64(0);
    let x = Tensor::random_normal(&[rows, cols], 0.0, 1.0, &mut rng).unwrap();
    let dy = Tensor::random_normal(&[rows, cols], 0.0, 1.0, &mut rng).unwrap();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements((rows * cols) as u64));
    g.bench_function(BenchmarkId::from_parameter(format!("{rows}x{cols}")), |b| {
        b.iter(|| {
            layer.forward(&x, Mode::Train).unwrap();
            black_box(layer.backward(&dy).unwrap());
        });
    });
    g.finish();
}

fn batch_norm(c: &mut Criterion) {
    let mut bn = BatchNorm::new(BatchNormConfig::new(256)).unwrap();
    forward_backward(c, "batch_norm", &mut bn, 64, 256);
}

fn layer_norm(c: &mut Criterion) {
    let mut ln = LayerNorm::new(LayerNormConfig::new(&[128])).unwrap();
    forward_backward(c, "layer_norm", &mut ln, 32 * 64, 128);
}

criterion_group!(benches, batch_norm, layer_norm);
criterion_main!(benches);
