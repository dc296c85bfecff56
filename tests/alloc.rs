//! A steady-state training step allocates nothing but the GEMM kernel's
//! packing buffers: a counting global allocator around the steps after
//! warm-up. (The `gemm` crate allocates its packing buffers on every call;
//! Strata's own code, layers, loss, optimizer and trainer, allocates nothing.)
//!
//! This is its own test binary (the only exception to one test binary per
//! crate): the allocator is process-wide, so no other test may run beside it.
#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use strata::prelude::*;
use strata::tensor::{MatMut, MatRef, gemm, gemm_stats};

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
    let product = |m: usize, n: usize, k: usize, ta: bool, tb: bool, beta: f32| {
        let (a, bm) = (vec![0.5f32; m * k], vec![0.5f32; k * n]);
        let mut c = vec![0.0f32; m * n];
        let av = if ta { MatRef::new(&a, k, m).unwrap().t() } else { MatRef::new(&a, m, k).unwrap() };
        let bv = if tb { MatRef::new(&bm, n, k).unwrap().t() } else { MatRef::new(&bm, k, n).unwrap() };
        allocations_during(|| gemm(1.0, av, bv, beta, MatMut::new(&mut c, m, n).unwrap()).unwrap())
    };
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

/// On one thread, so that the kernel's own allocations are deterministic (on
/// two, work stealing decides which thread allocates its bookkeeping).
#[test]
fn steady_state_training_steps_allocate_only_kernel_buffers_and_inference_nothing() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(check_allocations);
}

fn check_allocations() {
    kernel_allocations_per_step(); // warm the kernel's thread-local buffers
    let per_step = kernel_allocations_per_step();
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
