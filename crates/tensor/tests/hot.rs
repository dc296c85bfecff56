//! `par::hot`: the other workers stay awake inside a region and for
//! `LINGER` after it, then sleep; a region that unwinds ends all the same;
//! regions measure how far apart the threads sit, and far threads split
//! only large products and updates, with the same results.
#![allow(clippy::unwrap_used)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use strata_tensor::par::stream::SHARED_WITHIN;
use strata_tensor::par::{
    FAR_ROUND_TRIP, FAR_SCALE, NEAR_ROUND_TRIP, PAR_MIN_ELEMENTS, Placement, awake_workers, hot, last_round_trip,
    measure_placement, par_rows_mut, placement, set_placement, split_scale, splits_at,
};
use strata_tensor::{MatMut, MatRef, PARALLEL_THRESHOLD, SHARED_PRODUCTS_FROM, gemm, gemm_stats};

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

/// A region measures how far apart the threads sit: within a few tries (one
/// every 100 ms), a worker kept awake answers and a round trip is recorded.
#[test]
fn regions_measure_the_round_trip_between_threads() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    set_placement(None);
    let pool = pool(2);
    let measured = eventually(Duration::from_secs(10), || {
        pool.install(|| hot(|| std::thread::sleep(Duration::from_millis(1))));
        last_round_trip().is_some()
    });
    assert!(measured, "no round trip measured in 10 s");
    let rt = last_round_trip().unwrap();
    // Any machine's cache line comes back within 100 µs; the placement follows the measurement.
    assert!(rt > Duration::ZERO && rt < Duration::from_micros(100), "{rt:?}");
    assert_follows(rt);
}

/// The placement after measuring `rt`: far above `FAR_ROUND_TRIP`, near
/// below `NEAR_ROUND_TRIP` (between the two it keeps what it was).
fn assert_follows(rt: Duration) {
    if rt > FAR_ROUND_TRIP {
        assert_eq!(placement(), Placement::Far, "{rt:?}");
    } else if rt < NEAR_ROUND_TRIP {
        assert_eq!(placement(), Placement::Near, "{rt:?}");
    }
}

#[test]
fn measure_placement_measures_now_and_sets_the_placement() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    set_placement(None);
    assert_eq!(pool(1).install(measure_placement), None, "one thread has no other to measure against");
    let pool = pool(2);
    let got = std::cell::Cell::new(None);
    // Each call waits at most 50 ms for a worker; a loaded machine may need a few.
    assert!(eventually(Duration::from_secs(10), || {
        got.set(pool.install(measure_placement));
        got.get().is_some()
    }));
    let rt = got.get().unwrap();
    assert_eq!(last_round_trip(), Some(rt), "the measurement is recorded");
    assert_follows(rt);
    // A fixed placement stays fixed; the round trip is still measured.
    set_placement(Some(Placement::Far));
    assert!(eventually(Duration::from_secs(10), || pool.install(measure_placement).is_some()));
    assert_eq!(placement(), Placement::Far);
    set_placement(None);
}

/// Far apart, a product 4x the usual threshold runs on one thread instead
/// of two, with the same bits: the placement changes the schedule only.
#[test]
fn far_threads_split_only_large_work_and_compute_the_same_bits() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let pool = pool(2);
    // 64 x 256 x 64 = 4 x 2^18 multiply-adds: split when near, not when far
    // (FAR_SCALE is 64).
    let (m, n, k) = (64, 256, 64);
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1000) as f32 / 999.0 - 0.5).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 104_729) % 1000) as f32 / 999.0 - 0.5).collect();
    let product = |placement: Placement| {
        set_placement(Some(placement));
        let mut c = vec![0f32; m * n];
        let before = gemm_stats().parallel_calls;
        pool.install(|| {
            let (av, bv) = (MatRef::new(&a, m, k).unwrap(), MatRef::new(&b, k, n).unwrap());
            gemm(1.0, av, bv, 0.0, MatMut::new(&mut c, m, n).unwrap()).unwrap();
        });
        let split = gemm_stats().parallel_calls > before;
        (c.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), split)
    };
    assert!(m * n * k >= PARALLEL_THRESHOLD && m * n * k < PARALLEL_THRESHOLD * FAR_SCALE);
    let (near, near_split) = product(Placement::Near);
    let (far, far_split) = product(Placement::Far);
    set_placement(None);
    assert!(near_split, "near: the product was not split");
    assert!(!far_split, "far: the product was split");
    assert_eq!(near, far, "the placement changed a result");
    assert_eq!(split_scale(), if placement() == Placement::Far { FAR_SCALE } else { 1 });
}

/// The product `m x k` times `k x n` of fixed values on `pool`: its bits,
/// and whether it split between the threads.
fn product_on(pool: &rayon::ThreadPool, (m, n, k): (usize, usize, usize)) -> (Vec<u32>, bool) {
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1000) as f32 / 999.0 - 0.5).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 104_729) % 1000) as f32 / 999.0 - 0.5).collect();
    let mut c = vec![0f32; m * n];
    let before = gemm_stats().parallel_calls;
    pool.install(|| {
        let (av, bv) = (MatRef::new(&a, m, k).unwrap(), MatRef::new(&b, k, n).unwrap());
        gemm(1.0, av, bv, 0.0, MatMut::new(&mut c, m, n).unwrap()).unwrap();
    });
    (c.iter().map(|x| x.to_bits()).collect(), gemm_stats().parallel_calls > before)
}

/// Far apart, right after a product split between the threads (they share
/// data), a product of `SHARED_PRODUCTS_FROM` multiply-adds splits too; a
/// smaller one does not, nor the same one once the sharing is older than
/// `SHARED_WITHIN`. The bits are the same either way.
#[test]
fn far_threads_that_share_data_split_mid_sized_products() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let pool = pool(2);
    set_placement(Some(Placement::Far));
    // 2^24 multiply-adds: the far threshold (PARALLEL_THRESHOLD * FAR_SCALE).
    let large = (256, 256, 256);
    // 2^22, the floor while sharing; 2^20, past the near threshold only.
    let (mid, small) = ((256, 128, 128), (128, 64, 128));
    const { assert!(256 * 256 * 256 == PARALLEL_THRESHOLD * FAR_SCALE) };
    const { assert!(256 * 128 * 128 == SHARED_PRODUCTS_FROM && 128 * 64 * 128 >= PARALLEL_THRESHOLD) };
    // The three must run within SHARED_WITHIN; a preempted try runs again.
    let shared = (0..5).find_map(|_| {
        let start = Instant::now();
        let splits = [large, mid, small].map(|dims| product_on(&pool, dims));
        (start.elapsed() < SHARED_WITHIN).then_some(splits)
    });
    let [(_, large_split), (mid_bits, mid_split), (_, small_split)] =
        shared.expect("three products never ran within SHARED_WITHIN");
    std::thread::sleep(SHARED_WITHIN + Duration::from_millis(5));
    let (alone_bits, alone_split) = product_on(&pool, mid);
    set_placement(None);
    assert!(large_split, "the far threshold's product did not split");
    assert!(mid_split, "sharing: the floor's product did not split");
    assert!(!small_split, "sharing: a product below the floor split");
    assert!(!alone_split, "not sharing: the floor's product split");
    assert_eq!(mid_bits, alone_bits, "the split changed a result");
}

/// `splits_at`: near, work splits at its usual size; far, at FAR_SCALE
/// times it, or at the shared floor (and the usual size) while sharing.
#[test]
fn splits_at_follows_the_placement_and_the_sharing() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let (usual, floor) = (1000, 4000);
    set_placement(Some(Placement::Near));
    let near = [999, 1000].map(|len| splits_at(len, usual, floor));
    set_placement(Some(Placement::Far));
    std::thread::sleep(SHARED_WITHIN + Duration::from_millis(5));
    let far = [3999, 4000, 63_999, 64_000].map(|len| splits_at(len, usual, floor));
    let pool = pool(2);
    let sharing = (0..5).find_map(|_| {
        let start = Instant::now();
        let _ = product_on(&pool, (256, 256, 256));
        let sharing = [3999, 4000].map(|len| splits_at(len, usual, floor));
        (start.elapsed() < SHARED_WITHIN).then_some(sharing)
    });
    let floor_under_usual = splits_at(999, usual, 10);
    set_placement(None);
    assert_eq!(near, [false, true]);
    assert_eq!(far, [false, false, false, true]);
    assert_eq!(sharing, Some([false, true]), "within SHARED_WITHIN of a split product");
    assert!(!floor_under_usual, "a floor below the usual size does not lower it");
}

/// Far apart, work that shares no operand between the threads still splits
/// at the usual sizes (each thread keeps its half of the samples); products
/// and the optimizers' updates split only at `FAR_SCALE` times theirs.
#[test]
fn far_threads_still_split_passes_and_samples_at_the_usual_sizes() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let pool = pool(2);
    for (where_, far) in [(Placement::Near, false), (Placement::Far, true)] {
        set_placement(Some(where_));
        let pieces = AtomicUsize::new(0);
        // 2^17 values: twice the size from which a pass splits.
        let mut x = vec![1f32; 2 * PAR_MIN_ELEMENTS];
        pool.install(|| {
            par_rows_mut(&mut x, 1, |_, piece| {
                pieces.fetch_add(1, Ordering::Relaxed);
                piece.iter_mut().for_each(|v| *v *= 2.0);
            })
        });
        assert_eq!(pieces.load(Ordering::Relaxed), 2, "{where_:?}: the pass was not split");
        assert!(x.iter().all(|&v| v == 2.0));
        assert_eq!(split_scale(), if far { FAR_SCALE } else { 1 }, "{where_:?}: products and updates");
    }
    set_placement(None);
}

/// A batch-1 product of W5's first layer (784x256): on one thread, both
/// halves of the depth run here; on two, the first call starts a spinner
/// (`linger`) and later calls hand it the second half. The bits are the
/// same, and the hand-off happens.
#[test]
fn batch_one_products_hand_half_to_a_spinning_worker_with_the_same_bits() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    set_placement(Some(Placement::Near));
    let (n, k) = (256, 784);
    let a: Vec<f32> = (0..k).map(|i| ((i * 7919) % 1000) as f32 / 999.0 - 0.5).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 104_729) % 1000) as f32 / 999.0 - 0.5).collect();
    let product = || {
        let mut c = vec![0f32; n];
        let (av, bv) = (MatRef::new(&a, 1, k).unwrap(), MatRef::new(&b, k, n).unwrap());
        gemm(1.0, av, bv, 0.0, MatMut::new(&mut c, 1, n).unwrap()).unwrap();
        c.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    };
    // No worker awake anywhere (the count is process-wide): all on this thread.
    assert!(eventually(Duration::from_secs(5), || awake_workers() == 0));
    let before = gemm_stats().parallel_calls;
    let alone = pool(1).install(product);
    assert_eq!(gemm_stats().parallel_calls, before, "one thread handed work away");
    let pool = pool(2);
    let handed = eventually(Duration::from_secs(10), || {
        pool.install(|| {
            for _ in 0..100 {
                assert_eq!(product(), alone, "two threads changed a bit");
            }
        });
        gemm_stats().parallel_calls > before
    });
    assert!(handed, "no half was handed to the other thread in 10 s");
    // Four threads of a user's own (a server's request handlers) at once:
    // one posts at a time, the others compute both halves; the same bits.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..200 {
                    assert_eq!(product(), alone, "concurrent callers changed a bit");
                }
            });
        }
    });
    set_placement(None);
}
