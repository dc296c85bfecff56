//! The measured choice between one thread and all for a repeated step
//! (`par::ThreadChoice`), and `par::serial`. In a file of its own: it fixes
//! the process-wide choice (`set_step_threads`).
#![allow(clippy::unwrap_used)]

use std::time::Duration;
use strata_tensor::par::{
    StepThreads, TRIAL_STEPS, TRIAL_WARM, ThreadChoice, awake_workers, hot, serial, set_step_threads, step_threads,
    threads,
};
use strata_tensor::{MatMut, MatRef, PARALLEL_THRESHOLD, gemm, gemm_stats};

fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap()
}

/// A step that takes `one` on one thread and `all` on two (a sleep: the
/// trial must see the difference whatever else the machine does).
fn step(one: Duration, all: Duration) -> impl Fn() -> usize {
    move || {
        let n = threads();
        std::thread::sleep(if n == 1 { one } else { all });
        n
    }
}

/// Runs steps of `f` through `choice` until its first trial is decided,
/// then `after` more, returning the thread counts the steps saw.
fn run_steps(choice: &mut ThreadChoice, after: usize, f: &impl Fn() -> usize) -> Vec<usize> {
    let mut seen = Vec::new();
    while choice.trials() == 0 && seen.len() < 1000 {
        seen.push(choice.run(64, f));
    }
    seen.extend((0..after).map(|_| choice.run(64, f)));
    seen
}

/// The lengths of the runs of equal values in `seen`, with the value.
fn runs(seen: &[usize]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &n in seen {
        match runs.last_mut() {
            Some((value, len)) if *value == n => *len += 1,
            _ => runs.push((n, 1)),
        }
    }
    runs
}

#[test]
fn a_trial_keeps_the_faster_side_and_the_fixed_choices_are_obeyed() {
    // Steps of 6 ms and more: each block warms for 2 steps (>= 10 ms), then
    // counts 5 (>= 20 ms).
    let block = TRIAL_WARM + TRIAL_STEPS;
    let (fast, slow) = (Duration::from_millis(6), Duration::from_millis(30));
    pool().install(|| {
        // A change of placement starts a trial: fixed, as in the other test.
        strata_tensor::par::set_placement(Some(strata_tensor::par::Placement::Near));
        set_step_threads(StepThreads::Auto);
        // One thread five times faster: the trial (one block on each side,
        // one thread first) chooses one, and the steps after it run there.
        let mut choice = ThreadChoice::default();
        let seen = run_steps(&mut choice, 3, &step(fast, slow));
        assert_eq!(runs(&seen), [(1, block), (2, block), (1, 3)], "one thread's block, all threads', then one");
        assert_eq!((choice.trials(), choice.one_thread()), (1, true));

        // Two threads faster: all threads are kept.
        let mut choice = ThreadChoice::default();
        let seen = run_steps(&mut choice, 2, &step(slow, fast));
        assert_eq!(runs(&seen), [(1, block), (2, block + 2)]);
        assert_eq!((choice.trials(), choice.one_thread()), (1, false));

        // Fixed: no trial, every step on the side asked for.
        for (fixed, want) in [(StepThreads::One, 1), (StepThreads::All, 2)] {
            set_step_threads(fixed);
            assert_eq!(step_threads(), fixed);
            let mut choice = ThreadChoice::default();
            let f = step(Duration::ZERO, Duration::ZERO);
            let seen: Vec<usize> = (0..3).map(|_| choice.run(64, &f)).collect();
            assert_eq!(seen, vec![want; 3]);
            assert_eq!(choice.trials(), 0);
        }
        set_step_threads(StepThreads::Auto);
    });
}

#[test]
fn serial_keeps_products_on_one_thread_and_stops_the_spinners() {
    let (m, n, k) = (128, 128, PARALLEL_THRESHOLD / (128 * 128) * 4);
    let a = vec![1.0f32; m * k];
    let b = vec![0.5f32; k * n];
    let product = || {
        let mut c = vec![0.0f32; m * n];
        let before = gemm_stats().parallel_calls;
        gemm(
            1.0,
            MatRef::new(&a, m, k).unwrap(),
            MatRef::new(&b, k, n).unwrap(),
            0.0,
            MatMut::new(&mut c, m, n).unwrap(),
        )
        .unwrap();
        (c, gemm_stats().parallel_calls > before)
    };
    pool().install(|| {
        strata_tensor::par::set_placement(Some(strata_tensor::par::Placement::Near));
        let (c2, split) = hot(product);
        assert!(split, "a product of {m}x{k}x{n} splits on two threads");
        let (c1, split) = serial(|| {
            assert_eq!(threads(), 1);
            // The spinners the region above left lingering stop at once.
            let start = std::time::Instant::now();
            while awake_workers() > 0 && start.elapsed() < Duration::from_secs(5) {
                std::hint::spin_loop();
            }
            assert_eq!(awake_workers(), 0, "a spinner kept spinning during a serial step");
            product()
        });
        assert!(!split, "a product inside serial ran on two threads");
        assert_eq!(c1, c2, "the same bits on one thread and two");
        assert_eq!(threads(), 2, "serial restored the thread count");
    });
}

/// `STRATA_PLACEMENT` and `STRATA_STEP_THREADS` fix the placement and the
/// step's threads for the whole process, in any case. Checked in a child
/// process of this test binary (the settings are read once per process).
#[test]
fn the_environment_fixes_the_placement_and_the_steps_threads() {
    let name = "the_environment_fixes_the_placement_and_the_steps_threads";
    if std::env::var_os("STRATA_TEST_CHILD").is_some() {
        assert_eq!(strata_tensor::par::placement(), strata_tensor::par::Placement::Far);
        assert_eq!(step_threads(), StepThreads::One);
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--test-threads=1", "--nocapture"])
        .env("STRATA_TEST_CHILD", "1")
        .env("STRATA_PLACEMENT", "Far")
        .env("STRATA_STEP_THREADS", "ONE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the child failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("1 passed"), "the child ran no test:\n{stdout}");
}
