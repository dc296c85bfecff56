//! Choosing, by measuring it, whether a repeated step (a training step) runs
//! on all of rayon's threads or on one: [`ThreadChoice`].
//!
//! Two threads are not always faster than one. On this project's virtual
//! machines the two CPUs sometimes sit far apart, and in some stretches
//! even the far schedule ([`super::split_scale`]) ran W3 on two threads
//! slower than on one (docs/performance.md, eighth session). On a machine
//! shared with other work, the second thread waits for a core: with a busy
//! loop on one of two cores, W3's step took 5.4-6.9 ms on two threads and
//! 2.3-2.7 ms on one (ninth session, Zen 4). No threshold sees these
//! cases, so the chooser times the step itself: now and then a trial runs
//! a few steps on one thread, then a few on all, and the side with the
//! faster median is kept until the next trial.
//!
//! A step on one thread runs inside [`serial`]: every split decision asks
//! [`threads`], which is 1 there, and the workers [`super::hot`] keeps
//! spinning stop instead of lingering.
//!
//! Only the schedule changes, never a result: every pass and product gives
//! the same bits on any number of threads (see the parent module).

use super::far::{self, Placement};
use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};
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

/// Steps of each side of a trial that count; the median of each side
/// decides: a step preempted mid-way does not, nor does one lucky step of
/// a side that is slow most of the time.
pub const TRIAL_STEPS: usize = 5;

/// Steps run first on each side of a trial and not counted. A trial runs
/// each side as one block, [`TRIAL_WARM`] then [`TRIAL_STEPS`] steps: with
/// another program busy on one of two cores, steps on two threads
/// alternated with steps on one ran at 1.3-2.5 ms, as fast as one thread,
/// while steady steps on two threads took 5-7 ms (W3; the worker woken
/// after a one-thread step runs at once, then waits its turn for the core).
pub const TRIAL_WARM: usize = 2;

/// One thread is chosen only when its median step took less than this
/// share of the median step on all threads (in percent): a tie keeps the
/// threads.
pub const ONE_THREAD_BELOW_PERCENT: u64 = 95;

/// The least time between two trials. A trial also starts when the
/// placement changes ([`super::placement`]), and never sooner after the
/// last than 100 times the last trial's length, so that the steps run on
/// the slower side cost under 1% of the time.
pub const TRIAL_EVERY: Duration = Duration::from_millis(500);

const AUTO: u8 = 0;
const ONE: u8 = 1;
const ALL: u8 = 2;
const UNREAD: u8 = 3;

static FIXED: AtomicU8 = AtomicU8::new(UNREAD);

thread_local! {
    /// This thread runs inside [`serial`].
    static SERIAL: Cell<bool> = const { Cell::new(false) };
}

fn fixed() -> u8 {
    let v = FIXED.load(Ordering::Acquire);
    if v != UNREAD {
        return v;
    }
    static FROM_ENV: OnceLock<u8> = OnceLock::new();
    let from_env = *FROM_ENV.get_or_init(|| {
        match std::env::var("STRATA_STEP_THREADS").unwrap_or_default().to_ascii_lowercase().as_str() {
            "one" => ONE,
            "all" => ALL,
            _ => AUTO,
        }
    });
    // A value set by `set_step_threads` in the meantime wins.
    let _ = FIXED.compare_exchange(UNREAD, from_env, Ordering::AcqRel, Ordering::Acquire);
    FIXED.load(Ordering::Acquire)
}

/// Fixes how every [`ThreadChoice`] runs its steps from now on, for tests
/// and benchmarks that compare the schedules (`STRATA_STEP_THREADS` sets
/// the same for a whole process).
pub fn set_step_threads(choice: StepThreads) {
    let v = match choice {
        StepThreads::Auto => AUTO,
        StepThreads::One => ONE,
        StepThreads::All => ALL,
    };
    FIXED.store(v, Ordering::Release);
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

/// A trial under way: the steps run so far and the times of those counted.
#[derive(Debug, Clone, Copy)]
struct Trial {
    /// The work of the steps that count (a step of another size, such as
    /// an epoch's last batch, runs but is not compared).
    work: usize,
    steps: usize,
    started: Instant,
    /// The steps' times on one thread and on all, and how many of each.
    times: [[Duration; TRIAL_STEPS]; 2],
    counted: [usize; 2],
}

impl Trial {
    /// The median of a side's counted steps (the upper one of an even
    /// count), `None` if none counted.
    fn median(&mut self, side: usize) -> Option<Duration> {
        let times = &mut self.times[side][..self.counted[side]];
        times.sort_unstable();
        times.get(times.len() / 2).copied()
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
            let times = [[Duration::ZERO; TRIAL_STEPS]; 2];
            self.trial = Some(Trial { work, steps: 0, started: Instant::now(), times, counted: [0; 2] });
            self.placement = Some(placement);
        }
        let Some(trial) = self.trial.as_mut() else {
            return if self.one { serial(f) } else { super::hot(f) };
        };
        // One thread's block first, then all threads'.
        let block = TRIAL_WARM + TRIAL_STEPS;
        let side = trial.steps / block;
        let start = Instant::now();
        let result = if side == 0 { serial(f) } else { super::hot(f) };
        let took = start.elapsed();
        if work == trial.work && trial.steps % block >= TRIAL_WARM {
            trial.times[side][trial.counted[side]] = took;
            trial.counted[side] += 1;
        }
        trial.steps += 1;
        if trial.steps == 2 * block {
            self.decide();
        }
        result
    }

    /// Ends the trial: one thread if it was clearly faster, else all.
    fn decide(&mut self) {
        let Some(mut trial) = self.trial.take() else { return };
        if let (Some(one), Some(all)) = (trial.median(0), trial.median(1)) {
            self.one = one.as_nanos() * 100 < all.as_nanos() * u128::from(ONE_THREAD_BELOW_PERCENT);
        }
        self.trials += 1;
        let length = u64::try_from(trial.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let wait = length.saturating_mul(100).max(TRIAL_EVERY.as_nanos() as u64);
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
