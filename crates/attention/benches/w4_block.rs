//! W4: one training step of one encoder block (docs/performance.md).
//!
//! A [`TransformerBlock`] with d_model 128, feed-forward 128 -> 512 -> 128
//! ReLU, dropout 0, on a batch of 32 sequences of 64 random tokens; MSE
//! against random targets; forward, backward and an Adam (1e-3) step through
//! [`Trainer::train_step`]. The figure is samples (sequences) per second.
//!
//! Ids: `W4/b32` (one head) and `W4/b32-h4` (4 heads of 32 features). The
//! block is pre-norm (PyTorch's `norm_first=True`): the same products and
//! element-wise work as the post-norm block of the workload's text.
#![allow(clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use strata_attention::{TransformerBlock, TransformerBlockConfig};
use strata_loss::LossKind;
use strata_optimizer::OptimizerConfig;
use strata_tensor::{StrataRng, Tensor};
use strata_training::{FitConfig, Progress, Trainer};

const BATCH: usize = 32;
const SEQ: usize = 64;
const D_MODEL: usize = 128;
const D_FF: usize = 512;

fn w4(c: &mut Criterion) {
    let mut group = c.benchmark_group("W4");
    // A step is a few GFLOP: 10 samples keep a full run within seconds.
    group.sample_size(10);
    group.throughput(Throughput::Elements(BATCH as u64));
    for (id, heads, workload) in [("b32", 1, "W4"), ("b32-h4", 4, "W4-h4")] {
        let mut rng = StrataRng::seed_from_u64(0);
        let mut block = TransformerBlock::new(TransformerBlockConfig::new(D_MODEL, heads, D_FF), &mut rng).unwrap();
        let x = Tensor::random_normal(&[BATCH, SEQ, D_MODEL], 0.0, 1.0, &mut rng).unwrap();
        let y = Tensor::random_normal(&[BATCH, SEQ, D_MODEL], 0.0, 1.0, &mut rng).unwrap();
        let config = FitConfig { batch_size: BATCH, progress: Progress::Silent, ..FitConfig::default() };
        let adam = OptimizerConfig::from_name("adam", 1e-3).unwrap();
        let mut trainer = Trainer::new(config, LossKind::Mse, adam).unwrap();
        group.bench_function(BenchmarkId::from_parameter(id), |b| {
            b.iter(|| trainer.train_step(&mut block, &x, &y).unwrap());
        });
        strata_testkit::bench::log_placement(workload);
    }
    group.finish();
}

criterion_group!(benches, w4);
criterion_main!(benches);
