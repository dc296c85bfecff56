//! Denormals flushed on a pool's workers (`par::denormal`). A process of its
//! own: the mode is set process-wide (`set_flush_denormals`).
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use strata_tensor::par::denormal::{apply_to_pool, flush_denormals, flushing_here, scoped, set_flush_denormals};

/// The tests of this process change one process-wide setting: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The smallest normal `f32` halved: a denormal (about 5.9e-39) without
/// flush-to-zero, 0 with it.
fn halved_min() -> f32 {
    black_box(f32::MIN_POSITIVE) * black_box(0.5)
}

/// What every worker of `pool` computes for [`halved_min`], and whether it
/// flushes.
fn on_workers(pool: &rayon::ThreadPool) -> Vec<(f32, bool)> {
    pool.broadcast(|_| (halved_min(), flushing_here()))
}

#[test]
fn a_pools_workers_flush_denormals_once_applied_and_the_callers_thread_keeps_its_mode() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let kept = f32::MIN_POSITIVE / 2.0;
    assert!(kept > 0.0 && !kept.is_normal(), "the probe value is a denormal");
    // A new pool keeps IEEE denormals: nothing set yet.
    assert_eq!(on_workers(&pool), vec![(kept, false); 2]);

    // The default: flush (STRATA_DENORMALS is not set by the test runner).
    set_flush_denormals(None);
    assert!(flush_denormals());
    pool.install(apply_to_pool);
    assert_eq!(on_workers(&pool), vec![(0.0, true); 2], "both workers flush");

    // Called from outside any pool it changes nothing, not the caller's mode.
    apply_to_pool();
    assert!(!flushing_here());
    assert_eq!(halved_min(), kept);

    // Kept on request, and applied again by the next call on the pool.
    set_flush_denormals(Some(false));
    pool.install(apply_to_pool);
    assert_eq!(on_workers(&pool), vec![(kept, false); 2], "both workers keep denormals again");
    set_flush_denormals(Some(true));
    pool.install(apply_to_pool);
    assert_eq!(on_workers(&pool), vec![(0.0, true); 2]);
    set_flush_denormals(None);
}

#[test]
fn scoped_flushes_on_the_callers_thread_and_the_global_pool_and_gives_the_thread_its_mode_back() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let kept = f32::MIN_POSITIVE / 2.0;
    let global = || rayon::broadcast(|_| (halved_min(), flushing_here()));
    let workers = rayon::current_num_threads();

    set_flush_denormals(None);
    let inside = scoped(|| (halved_min(), flushing_here(), global()));
    assert_eq!(inside, (0.0, true, vec![(0.0, true); workers]), "this thread and the global pool flush");
    assert_eq!((halved_min(), flushing_here()), (kept, false), "the thread has its own mode back");

    // A panic inside gives the mode back too.
    let unwound = std::panic::catch_unwind(|| scoped(|| panic!("inside")));
    assert!(unwound.is_err());
    assert_eq!((halved_min(), flushing_here()), (kept, false));

    // Kept on request: the global pool's workers keep denormals again.
    set_flush_denormals(Some(false));
    let inside = scoped(|| (halved_min(), flushing_here(), global()));
    assert_eq!(inside, (kept, false, vec![(kept, false); workers]));
    set_flush_denormals(None);
}
