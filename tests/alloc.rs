//! A steady-state training step allocates nothing at all, the GEMM kernel's
//! packing buffers included: a counting global allocator around the steps
//! after warm-up. (The `gemm` crate allocated its packing buffers on every
//! call; the workspace's patched `gemm-common`, vendor/gemm-common, takes
//! them from a per-thread cache. The products are also replayed alone, so a
//! failure says whether the kernel or Strata's own code allocated.)
//!
//! This is its own test binary (an exception to one test binary per crate,
//! as `crates/tensor/tests/hot.rs` is): the allocator is process-wide, so no
//! other test may run beside it.
#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use strata::attention::{TransformerBlock, TransformerBlockConfig};
use strata::prelude::*;
use strata::tensor::{BatchMut, BatchRef, MatMut, MatRef, gemm, gemm_batched, gemm_stats};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is only an atomic increment.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is the same as System's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from `alloc` above, i.e. from System.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: ptr came from System, as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

/// Allocations made by the products of one training step of the MLP
/// 784-256-128-10 at batch 64, replayed alone, in the order and with the
/// transposes and `beta`s `Dense` uses: forward `x W^T`, backward
/// `dW += dy^T x` and `dx = dy W` (not for the first layer, whose input is data).
fn kernel_allocations_per_step() -> usize {
    let widths = [784, 256, 128, 10];
    let b = 64;
    let mut total = 0;
    for w in widths.windows(2) {
        total += product(b, w[1], w[0], false, true, 0.0); // y = x W^T
    }
    for (i, w) in widths.windows(2).enumerate().rev() {
        total += product(w[1], w[0], b, true, false, 1.0); // dW += dy^T x
        if i > 0 {
            total += product(b, w[0], w[1], false, false, 0.0); // dx = dy W
        }
    }
    total
}

/// Allocations of one product `C [m, n] = op(A) op(B) + beta C` with
/// operands stored `[m, k]` (`[k, m]` when `ta`: used transposed) and `[k,
/// n]` (`[n, k]` when `tb`), run alone.
fn product(m: usize, n: usize, k: usize, ta: bool, tb: bool, beta: f32) -> usize {
    let (a, bm) = (vec![0.5f32; m * k], vec![0.5f32; k * n]);
    let mut c = vec![0.0f32; m * n];
    let av = if ta { MatRef::new(&a, k, m).unwrap().t() } else { MatRef::new(&a, m, k).unwrap() };
    let bv = if tb { MatRef::new(&bm, n, k).unwrap().t() } else { MatRef::new(&bm, k, n).unwrap() };
    allocations_during(|| gemm(1.0, av, bv, beta, MatMut::new(&mut c, m, n).unwrap()).unwrap())
}

/// The shape of W4's encoder block: `[batch, seq, d]` in, `heads` heads, a
/// `d_ff` hidden layer.
#[derive(Clone, Copy)]
struct BlockShape {
    batch: usize,
    seq: usize,
    d: usize,
    heads: usize,
    d_ff: usize,
}

/// Allocations made by the products of one training step of a
/// `TransformerBlock` whose input gradient is not needed (the trainer's
/// first layer), replayed alone with the layouts the block uses, and the
/// number of products: attention's two projections (Q, K and V in one, and
/// the output) and the two feed-forward layers, each forward, weight
/// gradient and input gradient (12 products: inside the block every input
/// gradient feeds the layer before; only the block's own is skipped), and per head
/// the batched products `Q K^T`, `A V` forward and `dA`, `dV`, `dQ`, `dK`
/// backward, each one product per sample, reading the head's columns of
/// `[rows, 3d]` in place.
fn block_kernel_allocations_per_step(s: BlockShape) -> (usize, u64) {
    let BlockShape { batch, seq, d, heads, d_ff } = s;
    let (rows, k, ss) = (batch * seq, d / heads, seq * seq);
    let mut total = 0;
    // Forward: the input projection, then attention's products, then the
    // output projection and the feed-forward layers.
    total += product(rows, 3 * d, d, false, false, 0.0);
    let (qkv, mut probs) = (vec![0.5f32; rows * 3 * d], vec![0.5f32; batch * heads * ss]);
    let (mut ctx, mut d_qkv) = (vec![0.5f32; rows * d], vec![0.5f32; rows * 3 * d]);
    // `batch` matrices of `seq x cols` at `off`, rows `ld` apart, matrices `stride` apart.
    fn at(
        buf: &[f32],
        off: usize,
        (batch, seq): (usize, usize),
        cols: usize,
        ld: usize,
        stride: usize,
    ) -> BatchRef<'_> {
        BatchRef::new(&buf[off..], batch, seq, cols, ld, stride).unwrap()
    }
    let at = |buf, off, cols, ld, stride| at(buf, off, (batch, seq), cols, ld, stride);
    let batched = |a: BatchRef<'_>, b: BatchRef<'_>, out: &mut [f32], cols: usize, ld: usize, stride: usize| {
        let c = BatchMut::new(out, batch, seq, cols, ld, stride).unwrap();
        allocations_during(|| gemm_batched(1.0, a, b, 0.0, c).unwrap())
    };
    let hss = heads * ss;
    for j in 0..heads {
        let (q, key) = (at(&qkv, j * k, k, 3 * d, seq * 3 * d), at(&qkv, d + j * k, k, 3 * d, seq * 3 * d));
        total += batched(q, key.t(), &mut probs[j * ss..], seq, seq, hss);
    }
    for j in 0..heads {
        let (a, v) = (at(&probs, j * ss, seq, seq, hss), at(&qkv, 2 * d + j * k, k, 3 * d, seq * 3 * d));
        total += batched(a, v, &mut ctx[j * k..], k, d, seq * d);
    }
    total += product(rows, d, d, false, false, 0.0);
    total += product(rows, d_ff, d, false, false, 0.0);
    total += product(rows, d, d_ff, false, false, 0.0);
    // Backward: the feed-forward layers (weight gradient, input gradient),
    // the output projection, attention's products, the input projection.
    total += product(d_ff, d, rows, true, false, 1.0);
    total += product(rows, d_ff, d, false, true, 0.0);
    total += product(d, d_ff, rows, true, false, 1.0);
    total += product(rows, d, d_ff, false, true, 0.0);
    total += product(d, d, rows, true, false, 1.0);
    total += product(rows, d, d, false, true, 0.0);
    let (d_ctx, mut d_probs) = (vec![0.5f32; rows * d], vec![0.5f32; batch * heads * ss]);
    for j in 0..heads {
        let (dc, v) = (at(&d_ctx, j * k, k, d, seq * d), at(&qkv, 2 * d + j * k, k, 3 * d, seq * 3 * d));
        total += batched(dc, v.t(), &mut d_probs[j * ss..], seq, seq, hss);
        let a = at(&probs, j * ss, seq, seq, hss);
        total += batched(a.t(), dc, &mut d_qkv[2 * d + j * k..], k, 3 * d, seq * 3 * d);
    }
    for j in 0..heads {
        let ds = at(&d_probs, j * ss, seq, seq, hss);
        let (q, key) = (at(&qkv, j * k, k, 3 * d, seq * 3 * d), at(&qkv, d + j * k, k, 3 * d, seq * 3 * d));
        total += batched(ds, key, &mut d_qkv[j * k..], k, 3 * d, seq * 3 * d);
        total += batched(ds.t(), q, &mut d_qkv[d + j * k..], k, 3 * d, seq * 3 * d);
    }
    total += product(d, 3 * d, rows, true, false, 1.0);
    total += product(rows, d, 3 * d, false, true, 0.0);
    (total, 12 + 6 * (heads * batch) as u64)
}

/// On one thread, so that the kernel's own allocations are deterministic (on
/// two, work stealing decides which thread allocates its bookkeeping). One
/// test: the counting allocator is process-wide, so the checks run in turn.
#[test]
fn steady_state_training_steps_and_inference_allocate_nothing() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(check_allocations);
    pool.install(check_block_allocations);
}

/// W4's encoder block with 4 heads (and with one): after warm-up, a training
/// step (forward, MSE, backward, Adam) allocates exactly what its products
/// allocate on their own, so nothing per head beyond the kernel's buffers of
/// each product.
fn check_block_allocations() {
    for heads in [4, 1] {
        let shape = BlockShape { batch: 32, seq: 64, d: 128, heads, d_ff: 512 };
        block_kernel_allocations_per_step(shape); // warm the kernel's thread-local buffers
        let (per_step, products) = block_kernel_allocations_per_step(shape);
        assert_eq!(
            per_step, 0,
            "{heads} heads: the {products} products of a step, replayed alone, allocated {per_step} times"
        );
        let mut rng = StrataRng::seed_from_u64(0);
        let config = TransformerBlockConfig::new(shape.d, heads, shape.d_ff);
        let mut block = TransformerBlock::new(config, &mut rng).unwrap();
        let x = Tensor::random_normal(&[shape.batch, shape.seq, shape.d], 0.0, 1.0, &mut rng).unwrap();
        let y = Tensor::random_normal(&[shape.batch, shape.seq, shape.d], 0.0, 1.0, &mut rng).unwrap();
        let config = FitConfig { batch_size: shape.batch, progress: Progress::Silent, ..FitConfig::default() };
        let adam = OptimizerConfig::from_name("adam", 1e-3).unwrap();
        let mut trainer = Trainer::new(config, LossKind::Mse, adam).unwrap();
        for _ in 0..3 {
            trainer.train_step(&mut block, &x, &y).unwrap(); // warm-up: buffers, optimizer state
        }
        let calls = gemm_stats().calls;
        let n = allocations_during(|| {
            for _ in 0..5 {
                trainer.train_step(&mut block, &x, &y).unwrap();
            }
        });
        assert_eq!(
            gemm_stats().calls - calls,
            5 * products,
            "{heads} heads: {products} products per step, as replayed"
        );
        assert_eq!(
            n,
            5 * per_step,
            "{heads} heads: 5 steps allocated {n} times; their products alone allocate {}",
            5 * per_step
        );
    }
}

fn check_allocations() {
    kernel_allocations_per_step(); // warm the kernel's thread-local buffers
    let per_step = kernel_allocations_per_step();
    assert_eq!(per_step, 0, "the 8 products of a step, replayed alone, allocated {per_step} times");
    // The W2 network with dropout, Adam and gradient clipping: every part of a step.
    let spec = presets::mlp(&[784, 256, 128, 10], ActivationKind::Relu, 0.2).unwrap();
    let mut model = Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(0)).unwrap();
    let config =
        FitConfig { batch_size: 64, clip_grad_norm: Some(5.0), progress: Progress::Silent, ..FitConfig::default() };
    let adam = OptimizerConfig::from_name("adam", 1e-3).unwrap();
    let mut trainer = Trainer::new(config, LossKind::CrossEntropy, adam).unwrap();
    let mut rng = StrataRng::seed_from_u64(1);
    let x = Tensor::random_uniform(&[64, 784], 0.0, 1.0, &mut rng).unwrap();
    let y = Tensor::from_vec(&[64], (0..64).map(|i| (i % 10) as f32).collect()).unwrap();

    for _ in 0..3 {
        trainer.train_step(model.as_mut(), &x, &y).unwrap(); // warm-up: buffers, optimizer state
    }
    let calls = gemm_stats().calls;
    let n = allocations_during(|| {
        for _ in 0..10 {
            trainer.train_step(model.as_mut(), &x, &y).unwrap();
        }
    });
    assert_eq!(gemm_stats().calls - calls, 80, "8 products per step, as replayed");
    assert_eq!(n, 10 * per_step, "10 steps allocated {n} times; their products alone allocate {}", 10 * per_step);

    // Inside `fit` (epochs, callbacks' events, the epoch's running figures):
    // an epoch of 2k batches allocates exactly k steps' kernel buffers more
    // than an epoch of k batches; whatever else an epoch allocates (its
    // record in the history, the gradient-norm names) is the same for both.
    let mut data = |batches: usize| {
        let n = 64 * batches;
        let x = Tensor::random_uniform(&[n, 784], 0.0, 1.0, &mut rng).unwrap();
        InMemoryDataset::from_labels(x, &(0..n).map(|i| i % 10).collect::<Vec<_>>()).unwrap()
    };
    let (short, long) = (data(4), data(8));
    trainer.config_mut().epochs = 1;
    trainer.add_callback(EarlyStopping::new(100).with_monitor(Monitor::Loss)).unwrap();
    trainer.fit(model.as_mut(), &long, None).unwrap(); // warm: the epoch's order, the callback's state
    let per_epoch = |data: &InMemoryDataset, trainer: &mut Trainer, model: &mut dyn Layer| {
        allocations_during(|| {
            trainer.fit(model, data, None).unwrap();
        })
    };
    let (a, b) = (per_epoch(&short, &mut trainer, model.as_mut()), per_epoch(&long, &mut trainer, model.as_mut()));
    assert_eq!(
        b - a,
        4 * per_step,
        "4 more steps in fit allocated {} times more; their products {}",
        b - a,
        4 * per_step
    );

    let one = x.slice_rows(0, 1).unwrap();
    model.forward(&one, Mode::Eval).unwrap();
    let n = allocations_during(|| {
        for _ in 0..100 {
            model.forward(&one, Mode::Eval).unwrap();
        }
    });
    assert_eq!(n, 0, "batch-1 inference allocated {n} times");
}
