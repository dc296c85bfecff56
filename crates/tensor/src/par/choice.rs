//! Choosing, by measuring it, whether a repeated step (a training step) runs
//! on all of rayon's threads or on one: [`ThreadChoice`].
//!
//! Two threads are not always faster than one. On this project's virtual
//! machines the two CPUs sometimes sit far apart, and in some stretches
//! even the far schedule ([`super::split_scale`]) ran W3 on two threads
//! slower than on one (docs/performance.md, eighth session). On a machine
//! shared with other work, the second thread waits for a core: with a busy
//! loop on one of two cores, W3's step took 5.5 and 6.7 ms on two threads
//! and 2.5 ms on one (ninth session, Zen 4, two rounds). No threshold sees these
//! cases, so the chooser times the step itself: now and then a trial runs
//! a few steps on one thread, then a few on all, and the side with the
//! faster mean step is kept until the next trial.
//!
//! A step on one thread runs inside [`serial`]: every split decision asks
//! [`threads`], which is 1 there, and the workers [`super::hot`] keeps
//! spinning stop instead of lingering.
//!
//! Only the schedule changes, never a result: every pass and product gives
//! the same bits on any number of threads (see the parent module).

use super::far::{self, Placement};
use super::setting::{AUTO, Setting};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// How a step's threads are chosen: [`set_step_threads`], or
/// `STRATA_STEP_THREADS=auto|one|all` in the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepThreads {
    /// Measured by [`ThreadChoice`] (the default).
    Auto,
    /// Every step on the calling thread only.
    One,
    /// Every step on all of rayon's threads (the schedule before the
    /// chooser).
    All,
}

/// Each side of a trial runs as one block: first at least [`TRIAL_WARM`]
/// steps and [`TRIAL_WARM_TIME`], not counted, then at least
/// [`TRIAL_STEPS`] steps and [`TRIAL_COUNT_TIME`], counted. With another
/// program busy on one of two cores, steps on two threads alternated with
/// steps on one ran at 1.3-2.5 ms, as fast as one thread, while steady
/// steps on two threads took 5-7 ms (W3, Zen 4: the worker woken after a
/// one-thread step runs at once, then waits its turn for the core). Short
/// steps (W2 at batch 64: 0.3 ms) need the time as well as the count.
pub const TRIAL_WARM: usize = 2;
/// See [`TRIAL_WARM`].
pub const TRIAL_WARM_TIME: Duration = Duration::from_millis(10);
/// Steps of each side that count, at the least (see [`TRIAL_WARM`]). Each
/// side's mean decides: the time the steps take, preemptions included.
pub const TRIAL_STEPS: usize = 5;
/// See [`TRIAL_WARM`].
pub const TRIAL_COUNT_TIME: Duration = Duration::from_millis(20);

/// One thread is chosen only when its mean step took less than this share
/// of the mean step on all threads (in percent): a tie keeps the threads.
pub const ONE_THREAD_BELOW_PERCENT: u64 = 95;

/// The least time between two trials. A trial also starts when the
/// placement changes ([`super::placement`], measured only while steps run
/// on all threads), and after a trial that kept all threads never sooner
/// than 100 times its length, so that the steps run on the slower side
/// cost under 1% of the time.
pub const TRIAL_EVERY: Duration = Duration::from_millis(500);

/// Trial lengths to wait after a trial that kept all threads (see
/// [`TRIAL_EVERY`]).
const WAIT_AFTER_ALL: u64 = 100;
/// The same after a trial that chose one thread: steps on one thread start
/// no region, so the placement is not measured and its change starts no
/// trial. W2 at batch 256 chose one thread on far threads (2.6-2.7 ms a
/// step against 2.9-3.0 on two, Zen 4) and kept it when they came near
/// again, where two threads take 1.5 ms: the next trial must come soon.
/// The steps on two threads then cost under 5% of the time.
const WAIT_AFTER_ONE: u64 = 20;

const ONE: u8 = 1;
const ALL: u8 = 2;

/// `AUTO`, or a choice fixed by [`set_step_threads`] or `STRATA_STEP_THREADS`.
static FIXED: Setting = Setting::new("STRATA_STEP_THREADS", ["one", "all"]);

thread_local! {
    /// This thread runs inside [`serial`].
    static SERIAL: Cell<bool> = const { Cell::new(false) };
}

fn fixed() -> u8 {
    FIXED.get()
}

/// Fixes how every [`ThreadChoice`] runs its steps from now on, for tests
/// and benchmarks that compare the schedules (`STRATA_STEP_THREADS` sets
/// the same for a whole process).
pub fn set_step_threads(choice: StepThreads) {
    FIXED.set(match choice {
        StepThreads::Auto => AUTO,
        StepThreads::One => ONE,
        StepThreads::All => ALL,
    });
}

/// How steps are chosen now (see [`set_step_threads`]).
pub fn step_threads() -> StepThreads {
    match fixed() {
        ONE => StepThreads::One,
        ALL => StepThreads::All,
        _ => StepThreads::Auto,
    }
}

/// Runs `f` with every pass, product and update it starts kept on this
/// thread: [`threads`] is 1 inside, so nothing is handed to another.
///
/// ```
/// use strata_tensor::par::{serial, threads};
/// assert_eq!(serial(threads), 1);
/// ```
pub fn serial<R>(f: impl FnOnce() -> R) -> R {
    /// Restores the flag also when `f` unwinds.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SERIAL.set(self.0);
        }
    }
    let _restore = Restore(SERIAL.replace(true));
    let _step = super::hot::serial_step();
    f()
}

/// The threads work started here may be split between: 1 inside
/// [`serial`], else rayon's thread count. Every split decision of the
/// workspace asks this.
pub fn threads() -> usize {
    if SERIAL.get() { 1 } else { rayon::current_num_threads() }
}

/// A trial under way.
#[derive(Debug, Clone, Copy)]
struct Trial {
    /// The work of the steps that count (a step of another size, such as
    /// an epoch's last batch, runs but is not compared).
    work: usize,
    started: Instant,
    /// 0 while on one thread, 1 on all.
    side: usize,
    /// The side's block: when it began, its steps so far, and when its
    /// counting began (`None` while warming).
    block_started: Instant,
    block_steps: usize,
    counting_since: Option<(Instant, usize)>,
    /// Each side's counted steps and their total time.
    counted: [(usize, Duration); 2],
}

impl Trial {
    fn new(work: usize) -> Trial {
        let now = Instant::now();
        Trial {
            work,
            started: now,
            side: 0,
            block_started: now,
            block_steps: 0,
            counting_since: None,
            counted: [(0, Duration::ZERO); 2],
        }
    }

    /// Records a step of `took` and `work`; true when the trial is over.
    fn record(&mut self, work: usize, took: Duration) -> bool {
        self.block_steps += 1;
        match self.counting_since {
            None => {
                if self.block_steps >= TRIAL_WARM && self.block_started.elapsed() >= TRIAL_WARM_TIME {
                    self.counting_since = Some((Instant::now(), self.block_steps));
                }
                false
            }
            Some((since, at)) => {
                if work == self.work {
                    let (n, total) = &mut self.counted[self.side];
                    *n += 1;
                    *total += took;
                }
                let done = self.block_steps - at >= TRIAL_STEPS && since.elapsed() >= TRIAL_COUNT_TIME;
                if done && self.side == 0 {
                    // All threads' block next.
                    (self.side, self.block_started, self.block_steps) = (1, Instant::now(), 0);
                    self.counting_since = None;
                    return false;
                }
                done
            }
        }
    }

    /// A side's mean counted step, `None` if none counted.
    fn mean(&self, side: usize) -> Option<Duration> {
        let (n, total) = self.counted[side];
        total.checked_div(u32::try_from(n).ok()?)
    }
}

/// Runs a repeated step on one thread or on all, whichever measured faster
/// in the last trial (see the module doc). Owned by the loop that repeats
/// the step: the trainer keeps one.
///
/// ```
/// use strata_tensor::par::ThreadChoice;
/// let mut choice = ThreadChoice::default();
/// let mut total = 0.0f32;
/// for _ in 0..10 {
///     total += choice.run(64, || (0..64).map(|i| i as f32).sum::<f32>());
/// }
/// assert_eq!(total, 20_160.0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ThreadChoice {
    /// The last trial chose one thread.
    one: bool,
    trial: Option<Trial>,
    /// When the next trial may start ([`far::now_ns`]; 0: at once).
    next_trial_ns: u64,
    /// The placement during the last trial.
    placement: Option<Placement>,
    trials: u64,
}

impl ThreadChoice {
    /// Runs one step `f` of `work` (the batch size, say: only steps of the
    /// same work are compared) on the side chosen now, with rayon's other
    /// workers kept awake ([`super::hot`]) when on all threads.
    pub fn run<R>(&mut self, work: usize, f: impl FnOnce() -> R) -> R {
        match fixed() {
            ONE => return serial(f),
            ALL => return super::hot(f),
            _ => {}
        }
        if threads() < 2 {
            return f();
        }
        let placement = far::placement();
        if self.trial.is_none() && (far::now_ns() >= self.next_trial_ns || self.placement != Some(placement)) {
            self.trial = Some(Trial::new(work));
            self.placement = Some(placement);
        }
        let Some(trial) = self.trial.as_mut() else {
            return if self.one { serial(f) } else { super::hot(f) };
        };
        // One thread's block first, then all threads'.
        let start = Instant::now();
        let result = if trial.side == 0 { serial(f) } else { super::hot(f) };
        if trial.record(work, start.elapsed()) {
            self.decide();
        }
        result
    }

    /// Ends the trial: one thread if it was clearly faster, else all.
    fn decide(&mut self) {
        let Some(trial) = self.trial.take() else { return };
        if let (Some(one), Some(all)) = (trial.mean(0), trial.mean(1)) {
            self.one = one.as_nanos() * 100 < all.as_nanos() * u128::from(ONE_THREAD_BELOW_PERCENT);
        }
        self.trials += 1;
        let length = u64::try_from(trial.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let lengths = if self.one { WAIT_AFTER_ONE } else { WAIT_AFTER_ALL };
        let wait = length.saturating_mul(lengths).max(TRIAL_EVERY.as_nanos() as u64);
        self.next_trial_ns = far::now_ns().saturating_add(wait);
    }

    /// Whether steps between trials now run on one thread.
    pub fn one_thread(&self) -> bool {
        self.one
    }

    /// How many trials have been decided.
    pub fn trials(&self) -> u64 {
        self.trials
    }
}
