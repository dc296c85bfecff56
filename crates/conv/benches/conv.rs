//! Convolution benchmarks.
//!
//! - `W3`: one training step (forward, backward, Adam) of [`cnn_spec`] at
//!   batch 64 on MNIST-shaped random input; throughput in samples.
//! - `conv2d_3x3_64x64_32x32_b32`: forward + backward of one 3x3 convolution,
//!   64 -> 64 channels, padding 1, on 32x32 images, batch 32.
//! - `gemm_strategy/*`: the forward of a convolution three ways, to choose
//!   the algorithm of `Conv2d` (see its documentation): one GEMM per image
//!   in a loop (`per_image`), one GEMM over the whole batch's column matrix
//!   followed by a transpose to NCHW (`whole_batch`), and the layer itself
//!   (`layer`: one GEMM per image, images split over rayon's threads).
#![allow(clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use strata_conv::bench_support::im2col_square;
use strata_conv::{Conv2d, Conv2dConfig, cnn_spec};
use strata_layers::{Layer, Mode, Registry};
use strata_loss::LossKind;
use strata_optimizer::OptimizerConfig;
use strata_tensor::{MatMut, MatRef, StrataRng, Tensor, gemm};
use strata_training::{FitConfig, Progress, Trainer};

fn w3(c: &mut Criterion) {
    let mut registry = Registry::with_builtins();
    strata_conv::register(&mut registry).unwrap();
    let mut rng = StrataRng::seed_from_u64(0);
    let mut model = registry.build(&cnn_spec(), &mut rng).unwrap();
    let x = Tensor::random_uniform(&[64, 1, 28, 28], 0.0, 1.0, &mut rng).unwrap();
    let y = Tensor::from_vec(&[64], (0..64).map(|i| (i % 10) as f32).collect()).unwrap();
    let config = FitConfig { batch_size: 64, progress: Progress::Silent, ..FitConfig::default() };
    let adam = OptimizerConfig::from_name("adam", 1e-3).unwrap();
    let mut trainer = Trainer::new(config, LossKind::CrossEntropy, adam).unwrap();
    let mut group = c.benchmark_group("W3");
    group.throughput(Throughput::Elements(64));
    group.bench_function(BenchmarkId::from_parameter("b64"), |b| {
        b.iter(|| trainer.train_step(model.as_mut(), &x, &y).unwrap());
    });
    strata_testkit::bench::log_placement("W3");
    group.finish();
}

fn conv_64(c: &mut Criterion) {
    let mut rng = StrataRng::seed_from_u64(0);
    let mut conv = Conv2d::new(Conv2dConfig::new(64, 64, 3).with_padding(1), &mut rng).unwrap();
    let x = Tensor::random_normal(&[32, 64, 32, 32], 0.0, 1.0, &mut rng).unwrap();
    let dy = Tensor::random_normal(&[32, 64, 32, 32], 0.0, 1.0, &mut rng).unwrap();
    let mut group = c.benchmark_group("conv2d_3x3_64x64_32x32_b32");
    group.throughput(Throughput::Elements(32));
    group.sample_size(10);
    group.bench_function(BenchmarkId::from_parameter("forward_backward"), |b| {
        b.iter(|| {
            conv.forward(&x, Mode::Train).unwrap();
            black_box(conv.backward(&dy).unwrap());
        });
    });
    group.finish();
}

/// Forward of a 3x3, padding-1 convolution, `(batch, in, out, hw)`.
fn gemm_strategy(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm_strategy");
    group.sample_size(10);
    for (n, ci, co, hw) in [(64, 8, 16, 14), (32, 64, 64, 32)] {
        let shape = format!("b{n}_{ci}x{co}_{hw}x{hw}");
        let mut rng = StrataRng::seed_from_u64(1);
        let mut conv = Conv2d::new(Conv2dConfig::new(ci, co, 3).with_padding(1), &mut rng).unwrap();
        let w = conv.weight().clone();
        let x = Tensor::random_normal(&[n, ci, hw, hw], 0.0, 1.0, &mut rng).unwrap();
        let (rows, p) = (ci * 9, hw * hw);
        let in_len = ci * p;
        let wm = MatRef::new(w.data(), co, rows).unwrap();
        group.throughput(Throughput::Elements(n as u64));

        let mut cols = vec![0.0; rows * p];
        let mut out = vec![0.0; n * co * p];
        group.bench_function(BenchmarkId::new("per_image", &shape), |b| {
            b.iter(|| {
                for (xi, yi) in x.data().chunks_exact(in_len).zip(out.chunks_exact_mut(co * p)) {
                    im2col_square(xi, [ci, hw, 3, 1], &mut cols, p, 0).unwrap();
                    let cm = MatRef::new(&cols, rows, p).unwrap();
                    gemm(1.0, wm, cm, 0.0, MatMut::new(yi, co, p).unwrap()).unwrap();
                }
                black_box(&out);
            });
        });

        let mut big_cols = vec![0.0; rows * n * p];
        let mut tmp = vec![0.0; co * n * p];
        group.bench_function(BenchmarkId::new("whole_batch", &shape), |b| {
            b.iter(|| {
                for (i, xi) in x.data().chunks_exact(in_len).enumerate() {
                    im2col_square(xi, [ci, hw, 3, 1], &mut big_cols, n * p, i * p).unwrap();
                }
                let cm = MatRef::new(&big_cols, rows, n * p).unwrap();
                gemm(1.0, wm, cm, 0.0, MatMut::new(&mut tmp, co, n * p).unwrap()).unwrap();
                // [out, batch * positions] -> [batch, out, positions]
                for (o, row) in tmp.chunks_exact(n * p).enumerate() {
                    for (i, src) in row.chunks_exact(p).enumerate() {
                        out[(i * co + o) * p..(i * co + o + 1) * p].copy_from_slice(src);
                    }
                }
                black_box(&out);
            });
        });

        group.bench_function(BenchmarkId::new("layer", &shape), |b| {
            b.iter(|| {
                black_box(conv.forward(&x, Mode::Eval).unwrap());
            });
        });
    }
    group.finish();
}

criterion_group!(benches, w3, conv_64, gemm_strategy);
criterion_main!(benches);
