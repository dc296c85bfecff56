//! W1: the GEMM entry point, `C = A * B`, in GFLOP/s (criterion's throughput
//! counts 2mnk floating-point operations per call).
//!
//! Ids: `W1/128`, `W1/512`, `W1/1024`, `W1/2048` (square) and `W1/mlp`
//! (256x784 * 784x256, the first layer of the W2 MLP at batch 256).
#![allow(clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use strata::tensor::{MatMut, MatRef, StrataRng, Tensor, gemm};

fn product(c: &mut Criterion, name: &str, m: usize, k: usize, n: usize) {
    let mut rng = StrataRng::seed_from_u64(1);
    let a = Tensor::random_uniform(&[m, k], -1.0, 1.0, &mut rng).unwrap();
    let b = Tensor::random_uniform(&[k, n], -1.0, 1.0, &mut rng).unwrap();
    let mut out = Tensor::zeros(&[m, n]);
    let mut group = c.benchmark_group("W1");
    group.throughput(Throughput::Elements((2 * m * n * k) as u64));
    if m * n * k >= 1 << 30 {
        group.sample_size(10);
    }
    group.bench_function(BenchmarkId::from_parameter(name), |bench| {
        bench.iter(|| {
            gemm(
                1.0,
                MatRef::new(a.data(), m, k).unwrap(),
                MatRef::new(b.data(), k, n).unwrap(),
                0.0,
                MatMut::new(out.data_mut(), m, n).unwrap(),
            )
            .unwrap();
            black_box(&out);
        })
    });
    group.finish();
}

fn w1(c: &mut Criterion) {
    for n in [128, 512, 1024, 2048] {
        product(c, &n.to_string(), n, n, n);
    }
    product(c, "mlp", 256, 784, 256);
}

criterion_group!(benches, w1);
criterion_main!(benches);
