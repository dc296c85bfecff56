//! Once every parameter has been seen, a step allocates nothing: state is
//! looked up by `&str`. Checked with a counting global allocator (per thread,
//! so tests running in parallel do not interfere).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use strata_optimizer::{AdamConfig, AdamWConfig, OptimizerConfig, RmsPropConfig, SgdConfig, clip_grad_norm};
use strata_tensor::{ParamVisitor, Tensor};

thread_local! {
    /// `Some(count)` while this thread is counting.
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

struct Counting;

fn bump() {
    let _ = COUNT.try_with(|c| {
        if let Some(n) = c.get() {
            c.set(Some(n + 1));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Number of allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(Some(0)));
    f();
    COUNT.with(|c| c.replace(None)).unwrap_or(0)
}

#[test]
fn steady_state_steps_do_not_allocate() {
    let configs = [
        OptimizerConfig::Sgd(SgdConfig { momentum: 0.9, nesterov: true, weight_decay: 0.1, ..SgdConfig::default() }),
        OptimizerConfig::Adam(AdamConfig { weight_decay: 0.1, ..AdamConfig::default() }),
        OptimizerConfig::AdamW(AdamWConfig::default()),
        OptimizerConfig::RmsProp(RmsPropConfig { momentum: 0.9, ..RmsPropConfig::default() }),
    ];
    for config in configs {
        let name = config.name();
        let mut opt = config.build().unwrap();
        let (mut w, mut gw) = (Tensor::ones(&[8, 4]), Tensor::full(&[8, 4], 0.5));
        let (mut b, mut gb) = (Tensor::ones(&[4]), Tensor::full(&[4], -0.5));
        let mut running = Tensor::zeros(&[4]);
        let mut model = |v: &mut ParamVisitor<'_>| {
            v.scope("dense_1", |v| {
                v.param("weight", &mut w, &mut gw);
                v.param("bias", &mut b, &mut gb);
                v.buffer("running_mean", &mut running);
            });
        };
        let mut path = String::with_capacity(64);
        opt.step(&mut model, &mut path).unwrap(); // first sight: state is created
        let n = allocations(|| {
            for _ in 0..5 {
                clip_grad_norm(&mut model, &mut path, 1.0);
                opt.set_learning_rate(0.01);
                opt.step(&mut model, &mut path).unwrap();
            }
        });
        assert_eq!(n, 0, "{name}: steady-state steps allocated {n} times");
    }
}

#[test]
fn the_counter_sees_allocations() {
    let n = allocations(|| drop(std::hint::black_box(vec![1u8; 16])));
    assert_eq!(n, 1);
}
