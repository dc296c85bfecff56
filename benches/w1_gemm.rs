//! W1: the GEMM entry point, `C = A * B`, in GFLOP/s (criterion's throughput
//! counts 2mnk floating-point operations per call).
//!
//! Ids: `W1/128`, `W1/512`, `W1/1024`, `W1/2048` (square), `W1/mlp`
//! (256x784 * 784x256, the first layer of the W2 MLP at batch 256), and
//! `W1/batched`: the batched entry point on W4's attention scores with 4
//! heads (128 products `Q_t K_t^T` of 64x32 by 32x64, heads read in place
//! from `[32, 64, 128]` tensors), beside `W1/batched-loop`, the same products
//! as 128 calls of the single entry point on copied heads.
#![allow(clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use strata::tensor::{BatchMut, BatchRef, MatMut, MatRef, StrataRng, Tensor, gemm, gemm_batched};

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
    // Where the threads sat, read right after the run (`cargo xtask bench` notes it).
    strata_testkit::bench::log_placement_after(&format!("W1-{name}"));
    group.finish();
}

/// W4's attention scores: batch 32, sequence 64, 4 heads of 32.
fn batched(c: &mut Criterion) {
    let (batch, seq, heads, d) = (32, 64, 4, 32);
    let mut rng = StrataRng::seed_from_u64(2);
    let q = Tensor::random_uniform(&[batch, seq, heads * d], -1.0, 1.0, &mut rng).unwrap();
    let k = Tensor::random_uniform(&[batch, seq, heads * d], -1.0, 1.0, &mut rng).unwrap();
    let mut scores = vec![0.0f32; batch * heads * seq * seq];
    let mut group = c.benchmark_group("W1");
    group.throughput(Throughput::Elements((2 * batch * heads * seq * seq * d) as u64));
    let (ld, stride) = (heads * d, seq * heads * d);
    group.bench_function(BenchmarkId::from_parameter("batched"), |bench| {
        bench.iter(|| {
            for (h, out) in scores.chunks_mut(batch * seq * seq).enumerate() {
                let qh = BatchRef::new(&q.data()[h * d..], batch, seq, d, ld, stride).unwrap();
                let kh = BatchRef::new(&k.data()[h * d..], batch, seq, d, ld, stride).unwrap();
                gemm_batched(1.0, qh, kh.t(), 0.0, BatchMut::contiguous(out, batch, seq, seq).unwrap()).unwrap();
            }
            black_box(&scores);
        })
    });
    // The same products one call each, on heads copied out first into
    // buffers allocated once (what a caller without strided batches would
    // do; the copies are timed, the allocator is not).
    let copy_head = |t: &Tensor, b: usize, h: usize, into: &mut [f32]| {
        for (i, row) in into.chunks_exact_mut(d).enumerate() {
            row.copy_from_slice(&t.data()[b * stride + i * ld + h * d..][..d]);
        }
    };
    let (mut qh, mut kh) = (vec![0.0f32; seq * d], vec![0.0f32; seq * d]);
    group.bench_function(BenchmarkId::from_parameter("batched-loop"), |bench| {
        bench.iter(|| {
            for h in 0..heads {
                for b in 0..batch {
                    copy_head(&q, b, h, &mut qh);
                    copy_head(&k, b, h, &mut kh);
                    let out = &mut scores[(h * batch + b) * seq * seq..][..seq * seq];
                    gemm(
                        1.0,
                        MatRef::new(&qh, seq, d).unwrap(),
                        MatRef::new(&kh, seq, d).unwrap().t(),
                        0.0,
                        MatMut::new(out, seq, seq).unwrap(),
                    )
                    .unwrap();
                }
            }
            black_box(&scores);
        })
    });
    group.finish();
}

/// Independent FMA chains, more than the FMA units' latency times their
/// count keeps busy, so the figure is the core's FMA throughput, not its
/// latency: 384 accumulators in 24 of the 32 AVX-512 registers, or 96 in 12
/// of the 16 AVX2 registers (384 there spilled to the stack: Zen 3 read 66
/// GFLOP/s, a third of its limit, in the twenty-third session).
const WIDE: usize = 384;
const NARROW: usize = 96;
const ROUNDS: usize = 1 << 18;

#[inline(always)]
fn chains<const N: usize>(seed: f32, x: f32, y: f32) -> f32 {
    let mut acc = [seed; N];
    for (i, a) in acc.iter_mut().enumerate() {
        *a += i as f32 * 1e-3;
    }
    for _ in 0..ROUNDS {
        for a in acc.iter_mut() {
            *a = a.mul_add(x, y);
        }
    }
    acc.iter().sum()
}

strata::tensor::simd_kernel! {
    fn fma_chains_wide(seed: f32, x: f32, y: f32) -> f32 {
        chains::<WIDE>(seed, x, y)
    }
}

strata::tensor::simd_kernel! {
    fn fma_chains_narrow(seed: f32, x: f32, y: f32) -> f32 {
        chains::<NARROW>(seed, x, y)
    }
}

/// The machine's FMA limit (`W1/fma-limit`): the chains above on every thread
/// of rayon's pool (2 for the workloads), 2 flops per FMA, in the kernels'
/// best SIMD path. The GEMM rows are read as a share of it.
fn fma_limit(c: &mut Criterion) {
    let threads = rayon::current_num_threads();
    let wide = strata::tensor::simd_path() == strata::tensor::SimdPath::Avx512;
    let (n_chains, kernel): (usize, fn(f32, f32, f32) -> f32) =
        if wide { (WIDE, fma_chains_wide) } else { (NARROW, fma_chains_narrow) };
    let mut group = c.benchmark_group("W1");
    group.throughput(Throughput::Elements((2 * n_chains * ROUNDS * threads) as u64));
    group.bench_function(BenchmarkId::from_parameter("fma-limit"), |bench| {
        bench.iter(|| {
            let sums: Vec<f32> = rayon::broadcast(|ctx| kernel(black_box(ctx.index() as f32), 0.999, 1e-3));
            black_box(sums);
        })
    });
    group.finish();
}

fn w1(c: &mut Criterion) {
    fma_limit(c);
    for n in [128, 512, 1024, 2048] {
        product(c, &n.to_string(), n, n, n);
    }
    product(c, "mlp", 256, 784, 256);
    batched(c);
}

criterion_group!(benches, w1);
criterion_main!(benches);
