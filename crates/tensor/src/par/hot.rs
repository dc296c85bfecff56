//! Keeping rayon's other workers awake during training steps: [`hot`].

use super::{far, pair};
use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// How long the other workers stay awake after the last [`hot`] region
/// ended: long enough to bridge the gap between two training steps, short
/// enough that an idle program stops burning a core at once.
pub const LINGER: Duration = Duration::from_millis(2);

/// Idle rounds of a spinner between two `sched_yield` calls (a round is a
/// look at the pool's queues and [`PAUSES`] pause instructions): about
/// every 100 µs.
const YIELD_EVERY: u32 = 1024;
/// Pause instructions between two looks at the pool's queues: a job waits
/// at most this many for a spinner to see it. A pause takes 23 ns on this
/// project's Zen 5 machine (measured) and about 40 on Intel cores since
/// Skylake, so 64 of them, as before, let a job wait up to 1.5-2.5 µs.
const PAUSES: u32 = 4;

/// Regions of [`hot`] running now, on any thread.
static HOT_REGIONS: AtomicUsize = AtomicUsize::new(0);
/// Spinner slots taken: workers spinning, or offered a slot
/// ([`start_spinners`]).
static SPINNERS: AtomicUsize = AtomicUsize::new(0);
/// When the last region ended ([`far::now_ns`]).
static LAST_END: AtomicU64 = AtomicU64::new(0);
/// Steps running inside [`super::serial`] now, on any thread: while one
/// runs and no region does, spinners stop at once instead of lingering
/// (on a machine shared with other work, a spinner would take the core
/// the other work needs, and the step chosen to run on one thread there
/// would wait for it).
static SERIAL_STEPS: AtomicUsize = AtomicUsize::new(0);

/// Counts a step running inside [`super::serial`] until the guard drops.
pub(super) fn serial_step() -> impl Drop {
    struct Step;
    impl Drop for Step {
        fn drop(&mut self) {
            SERIAL_STEPS.fetch_sub(1, Ordering::AcqRel);
        }
    }
    SERIAL_STEPS.fetch_add(1, Ordering::AcqRel);
    Step
}

thread_local! {
    /// This thread runs a [`hot`] region (it must never spin inside it).
    static IN_REGION: Cell<bool> = const { Cell::new(false) };
    /// This thread runs a spinner (it takes no second slot).
    static SPINNING: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` with rayon's other workers kept awake: each spins, taking any
/// job the pool has (`rayon::yield_now`), instead of going to sleep between
/// the small products and passes of a training step, and stays so for
/// [`LINGER`] after the last region ends. What OpenMP's spin-wait and
/// XLA's thread pool do. A region also measures, at most every 100 ms, how
/// far apart the threads sit ([`super::placement`]).
///
/// Why: a sleeping worker is woken by an inter-processor interrupt, 22-49
/// µs on this project's virtual machine (measured), and a training step
/// hands work to the other thread several times. On W2 at batch 64 the
/// spinning gained 1.02x, with the placement 1.09x (docs/performance.md).
///
/// Call it from one of the pool's threads (inside `rayon::scope` or
/// `ThreadPool::install`), as the trainer does: from any other thread the
/// pool's work is handed over while the caller sleeps.
///
/// Only the schedule changes: which thread runs which piece of work was
/// never allowed to change a result (see the module docs), so training is
/// bit-identical with or without it. Nested calls run `f` directly.
///
/// `STRATA_WAIT_POLICY=passive` in the environment turns the spinning off
/// (workers sleep between jobs, as plain rayon does), for machines shared
/// with other work; OpenMP's `OMP_WAIT_POLICY` has the same two values.
/// Anything else, or nothing, is `active`.
///
/// ```
/// let total = strata_tensor::par::hot(|| {
///     let mut x = vec![1.0f32; 4 * 70_000];
///     strata_tensor::par::par_rows_mut(&mut x, 4, |_, rows| rows.iter_mut().for_each(|v| *v *= 2.0));
///     x.iter().sum::<f32>()
/// });
/// assert_eq!(total, 560_000.0);
/// ```
pub fn hot<R>(f: impl FnOnce() -> R) -> R {
    if super::threads() < 2 || IN_REGION.get() || passive() {
        return f();
    }
    /// Leaves the region even when `f` unwinds.
    struct Region {
        /// The region runs inside this thread's spinner (a job it took):
        /// the spinner is not counted while the region runs.
        in_spinner: bool,
    }
    impl Drop for Region {
        fn drop(&mut self) {
            LAST_END.store(far::now_ns(), Ordering::Release);
            HOT_REGIONS.fetch_sub(1, Ordering::AcqRel);
            IN_REGION.set(false);
            if self.in_spinner {
                SPINNERS.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
    IN_REGION.set(true);
    HOT_REGIONS.fetch_add(1, Ordering::AcqRel);
    let in_spinner = SPINNING.get();
    if in_spinner {
        SPINNERS.fetch_sub(1, Ordering::AcqRel);
    }
    let _region = Region { in_spinner };
    // One spinner for every worker but the one running `f`.
    start_spinners();
    far::maybe_measure();
    f()
}

/// Measures now where the pool's threads sit: the round trip of a cache
/// line between two of the current pool's threads (one kept awake for the
/// purpose), which also sets [`super::placement`] unless it is fixed.
/// `None` with fewer than 2 threads (or inside [`super::serial`]), with `STRATA_WAIT_POLICY=passive`, or
/// when no worker answered within 50 ms (a busy machine). Training measures
/// by itself, at most every 100 ms; this is for a program that wants to
/// know before it starts, or a benchmark that records it (`benches/placement.rs`).
///
/// ```
/// if let Some(round_trip) = strata_tensor::par::measure_placement() {
///     assert!(round_trip.as_nanos() > 0);
/// }
/// ```
pub fn measure_placement() -> Option<std::time::Duration> {
    if super::threads() < 2 || passive() {
        return None;
    }
    rayon::scope(|_| {
        hot(|| {
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_millis(50) {
                if let Some(round_trip) = far::measure_and_record() {
                    return Some(round_trip);
                }
                std::thread::yield_now();
            }
            None
        })
    })
}

/// Keeps the pool's other workers spinning for [`LINGER`] from now,
/// starting them if none is, for work outside any region that hands small
/// pieces to them ([`super::pair`]: batch-1 products). So the first call of
/// a burst runs on one thread and the next ones find a worker awake. Does
/// nothing with fewer than 2 threads or `STRATA_WAIT_POLICY=passive`.
pub(crate) fn linger() {
    if super::threads() < 2 || passive() || IN_REGION.get() {
        return;
    }
    LAST_END.store(far::now_ns(), Ordering::Release);
    start_spinners();
}

/// `STRATA_WAIT_POLICY=passive`: [`hot`] spins no worker.
fn passive() -> bool {
    static PASSIVE: OnceLock<bool> = OnceLock::new();
    *PASSIVE.get_or_init(|| std::env::var("STRATA_WAIT_POLICY").is_ok_and(|v| v.eq_ignore_ascii_case("passive")))
}

/// How many workers [`hot`] keeps awake right now (spinning, or offered a slot not yet taken):
/// the pool's other workers inside a region and for [`LINGER`] after it,
/// none once the program has been idle a little longer.
///
/// The count is process-wide: with several rayon pools, regions of one
/// pool may find the other's spinners counted and start fewer of their
/// own (slower, never wrong).
pub fn awake_workers() -> usize {
    SPINNERS.load(Ordering::Acquire)
}

/// Counts one more spinner if fewer than the pool's other workers spin.
fn take_spinner_slot() -> bool {
    let others = rayon::current_num_threads().saturating_sub(1);
    SPINNERS.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < others).then_some(n + 1)).is_ok()
}

/// Offers the free spinner slots to the pool's workers, if any slot is free.
///
/// The offer is one job on every worker (rayon's broadcast), which no other
/// worker can take: a job posted with `rayon::spawn` could be taken by a
/// worker already spinning (it runs the pool's jobs), which could not spin
/// twice, and the slot was lost (with 3 threads, one of the two spinners
/// never started). A worker looks at the offer before it steals work, so a
/// region's own pieces never run under a spinner they would wait for; a
/// worker already inside a job of its own that waits in a join could take
/// the offer and spin there until the regions end, as it could take a
/// spawned spinner before (not seen in any test or benchmark).
fn start_spinners() {
    let workers = rayon::current_num_threads();
    let others = workers.saturating_sub(1);
    let Ok(before) = SPINNERS.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < others).then_some(others))
    else {
        return;
    };
    let offer = Offer { slots: AtomicUsize::new(others - before), jobs: AtomicUsize::new(workers) };
    let offer = std::sync::Arc::new(offer);
    rayon::spawn_broadcast(move |_| offer.take());
}

/// Spinner slots offered to every worker at once ([`start_spinners`]);
/// counted in [`SPINNERS`] until taken or given back.
struct Offer {
    /// Slots not taken yet.
    slots: AtomicUsize,
    /// Workers that have not looked at the offer yet.
    jobs: AtomicUsize,
}

impl Offer {
    /// A worker's look: it spins if a slot is left and it neither runs a
    /// region nor spins already. The last worker to look gives back the
    /// slots nobody took (every other worker decided before counting
    /// itself out).
    fn take(&self) {
        let free = !IN_REGION.get() && !SPINNING.get();
        let mine = free && self.slots.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok();
        if self.jobs.fetch_sub(1, Ordering::AcqRel) == 1 {
            SPINNERS.fetch_sub(self.slots.swap(0, Ordering::AcqRel), Ordering::AcqRel);
        }
        if mine {
            spin();
        }
    }
}

/// A worker kept awake, in a slot counted in [`SPINNERS`]: runs the pool's
/// jobs as they come and spins between them, until no region has run for
/// [`LINGER`].
fn spin() {
    SPINNING.set(true);
    let mut idle = 0u32;
    loop {
        if rayon::yield_now() == Some(rayon::Yield::Executed) {
            idle = 0;
            continue;
        }
        far::answer();
        pair::answer();
        // Now and then, let the OS run another thread waiting for this CPU
        // (more threads than cores: a rank bound to one core, a CPU quota);
        // with none waiting, the call returns at once.
        idle = idle.wrapping_add(1);
        if idle.is_multiple_of(YIELD_EVERY) {
            std::thread::yield_now();
        }
        if HOT_REGIONS.load(Ordering::Acquire) == 0
            && (SERIAL_STEPS.load(Ordering::Acquire) > 0
                || far::now_ns().saturating_sub(LAST_END.load(Ordering::Acquire)) > LINGER.as_nanos() as u64)
        {
            SPINNERS.fetch_sub(1, Ordering::AcqRel);
            // A region that began meanwhile and found no room for another
            // spinner counted on this one: stay.
            if HOT_REGIONS.load(Ordering::Acquire) == 0 || !take_spinner_slot() {
                break;
            }
        }
        for _ in 0..PAUSES {
            std::hint::spin_loop();
        }
    }
    SPINNING.set(false);
}
