//! `par::hot`: the other workers stay awake inside a region and for
//! `LINGER` after it, then sleep; a region that unwinds ends all the same.
#![allow(clippy::unwrap_used)]

use std::sync::Mutex;
use std::time::{Duration, Instant};
use strata_tensor::par::{LINGER, awake_workers, hot};

/// Polls `f` until it holds or `limit` passes.
fn eventually(limit: Duration, f: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    f()
}

/// The count is process-wide: the tests take turns.
static TURN: Mutex<()> = Mutex::new(());

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

#[test]
fn the_other_workers_spin_inside_a_region_and_sleep_after_it() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let pool = pool(3);
    pool.install(|| {
        hot(|| {
            // 3 threads: the one running the region and 2 kept awake.
            assert!(eventually(Duration::from_secs(5), || awake_workers() == 2), "awake: {}", awake_workers());
            // A nested region adds none.
            hot(|| assert_eq!(awake_workers(), 2));
            // Work handed to the pool still gets done (by the spinners).
            let (sum, one) = rayon::join(|| (0..1000u64).sum::<u64>(), || 1);
            assert_eq!((sum, one), (499_500, 1));
        });
    });
    // LINGER is 2 ms; 5 s is the bound a loaded CI machine still meets.
    assert!(LINGER < Duration::from_secs(1));
    assert!(eventually(Duration::from_secs(5), || awake_workers() == 0), "still awake: {}", awake_workers());
}

#[test]
fn a_region_that_panics_ends_and_lets_the_workers_sleep() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let pool = pool(2);
    let outcome = pool.install(|| std::panic::catch_unwind(|| hot(|| -> u32 { panic!("inside the region") })));
    assert!(outcome.is_err());
    assert!(eventually(Duration::from_secs(5), || awake_workers() == 0), "still awake: {}", awake_workers());
    // The next region works as the first did.
    assert_eq!(pool.install(|| hot(|| 7)), 7);
}

#[test]
fn one_thread_runs_the_region_alone() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    assert!(eventually(Duration::from_secs(5), || awake_workers() == 0));
    let pool = pool(1);
    assert_eq!(pool.install(|| hot(awake_workers)), 0);
}
