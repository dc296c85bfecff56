//! How far apart the pool's threads sit, measured: the round trip of one
//! cache line between the thread running a [`super::hot`] region and a
//! worker it keeps awake.
//!
//! A virtual machine's two CPUs may share a die (a cache line crosses in
//! 60-130 ns on this project's machine) or sit on two (410-430 ns there: the
//! host moves them for minutes at a time). On two dies every product split
//! between the threads pays for the lines it shares, and the W2 step ran at
//! half speed, slower than on one thread (docs/performance.md). While the
//! threads are [`Placement::Far`], work that shares one operand between the
//! threads (products of a weight matrix, the optimizers' updates) is split
//! only when it is [`FAR_SCALE`] times larger than usual ([`split_scale`]).
//! Work that does not share (element-wise passes, the convolution's groups of
//! images, pooling's planes, a batched product's items) does not ask: it
//! splits at the usual sizes, near or far, so each thread keeps its own half
//! of the samples from layer to layer. Alternated on far threads with that
//! work scaled too: W3 1.17x and 1.19x (medians of 16 and 13 pairs), W4
//! 1.06x (9 pairs, every one faster); docs/performance.md, eighth session.
//!
//! Only the schedule changes, never a result: which thread computes what
//! was never allowed to change a value (see the parent module).

use super::setting::{AUTO, Setting};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where the pool's threads sit relative to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Sharing a cache line is cheap: work is split at the usual sizes.
    Near,
    /// A cache line took longer than [`FAR_ROUND_TRIP`] to go and come
    /// back, and not less than [`NEAR_ROUND_TRIP`] since: only large work
    /// is split.
    Far,
}

/// A round trip longer than this makes [`Placement::Far`]: between the 60-130
/// ns of two CPUs on one die and the 410-430 ns of two dies, both measured
/// on this project's machine.
pub const FAR_ROUND_TRIP: Duration = Duration::from_nanos(250);

/// A [`Placement::Far`] pair becomes [`Placement::Near`] again only on a
/// round trip shorter than this: far pairs have measured as fast as 258 ns,
/// and a reading flapping around [`FAR_ROUND_TRIP`] would switch the
/// schedule back and forth (the near schedule on far threads ran W3 at half
/// the speed of one thread).
pub const NEAR_ROUND_TRIP: Duration = Duration::from_nanos(200);

/// While [`Placement::Far`], work is split between threads only when it is
/// this many times the usual threshold: every product of the W2 step at
/// batch 64 then runs on one thread, the first layer's at batch 256 still
/// on two.
pub const FAR_SCALE: usize = 64;

/// How often a region may measure again (the placement changes over
/// minutes; a measurement takes a few microseconds).
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// Round trips per batch, and batches per measurement (the fastest batch
/// counts: a thread preempted mid-batch does not make the pair far).
const ROUNDS: u32 = 8;
const BATCHES: u32 = 4;
/// How long the prober waits for a worker to answer before giving up.
const ANSWER_WITHIN: Duration = Duration::from_micros(20);
/// The same for a process's first measurement: the spinner a region has
/// just started may still be waking (22-49 µs measured on this project's
/// virtual machine).
const FIRST_ANSWER_WITHIN: Duration = Duration::from_micros(200);
/// After a measurement nobody answered, how soon a region may try again
/// (instead of [`PROBE_EVERY`]): the placement must not stay unknown for
/// long, nor cost every region a wait.
const RETRY_AFTER: Duration = Duration::from_millis(10);
/// How long either side waits for the other's next move.
const MOVE_WITHIN: Duration = Duration::from_millis(1);

const NEAR: u8 = 1;
const FAR: u8 = 2;

/// `AUTO`, or a placement fixed by [`set_placement`] or `STRATA_PLACEMENT`.
static FIXED: Setting = Setting::new("STRATA_PLACEMENT", ["near", "far"]);
static MEASURED_FAR: AtomicBool = AtomicBool::new(false);
/// The last measured round trip in nanoseconds (0: none yet).
static LAST_ROUND_TRIP: AtomicU64 = AtomicU64::new(0);
/// When a region may measure next ([`now_ns`]; 0: at once).
static NEXT_PROBE: AtomicU64 = AtomicU64::new(0);
/// The mailbox of a measurement: 0 free, 1 asked, 2 answered, then the
/// prober writes odd numbers and the worker answers each with the next.
static MAILBOX: AtomicU32 = AtomicU32::new(0);

/// Nanoseconds since the first call: the clock of [`super::hot`]'s
/// linger and of this module's measurements.
pub(super) fn now_ns() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    u64::try_from(ORIGIN.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn fixed() -> u8 {
    FIXED.get()
}

/// Where the threads sit now: fixed by [`set_placement`] or
/// `STRATA_PLACEMENT=near|far`, else as last measured ([`Placement::Near`]
/// before the first measurement).
pub fn placement() -> Placement {
    match fixed() {
        NEAR => Placement::Near,
        FAR => Placement::Far,
        _ if MEASURED_FAR.load(Ordering::Acquire) => Placement::Far,
        _ => Placement::Near,
    }
}

/// Fixes the placement (`None`: measure it again), for tests and
/// benchmarks that compare the two schedules.
pub fn set_placement(placement: Option<Placement>) {
    FIXED.set(match placement {
        None => AUTO,
        Some(Placement::Near) => NEAR,
        Some(Placement::Far) => FAR,
    });
}

/// How many times the usual size work must have to be split between
/// threads now: 1, or [`FAR_SCALE`] while the threads are far apart. Only
/// work whose threads share an operand asks (products of one weight matrix,
/// the optimizers' updates); work that shares nothing splits at its usual
/// size near or far (see the module doc).
pub fn split_scale() -> usize {
    match placement() {
        Placement::Near => 1,
        Placement::Far => FAR_SCALE,
    }
}

/// The last measured round trip of a cache line between two of the pool's
/// threads, if one was measured.
pub fn last_round_trip() -> Option<Duration> {
    match LAST_ROUND_TRIP.load(Ordering::Acquire) {
        0 => None,
        ns => Some(Duration::from_nanos(ns)),
    }
}

/// Measures the round trip if none was measured for [`PROBE_EVERY`] (or
/// for [`RETRY_AFTER`] after a measurement nobody answered) and a worker
/// kept awake answers within [`ANSWER_WITHIN`]; called as a region begins.
pub(super) fn maybe_measure() {
    if fixed() != AUTO {
        return;
    }
    let now = now_ns();
    let next = NEXT_PROBE.load(Ordering::Acquire);
    let soon = |after: Duration| now.saturating_add(after.as_nanos() as u64);
    if now < next || NEXT_PROBE.compare_exchange(next, soon(PROBE_EVERY), Ordering::AcqRel, Ordering::Acquire).is_err()
    {
        return;
    }
    if measure_and_record().is_none() {
        let _ = NEXT_PROBE.compare_exchange(soon(PROBE_EVERY), soon(RETRY_AFTER), Ordering::AcqRel, Ordering::Acquire);
    }
}

/// Measures the round trip now and records it (the placement follows it
/// unless fixed): `None` when no worker answered.
pub(super) fn measure_and_record() -> Option<Duration> {
    let round_trip = measure()?;
    let ns = u64::try_from(round_trip.as_nanos()).unwrap_or(u64::MAX).max(1);
    LAST_ROUND_TRIP.store(ns, Ordering::Release);
    if fixed() == AUTO {
        let was_far = MEASURED_FAR.load(Ordering::Acquire);
        MEASURED_FAR.store(next_far(was_far, round_trip), Ordering::Release);
    }
    Some(round_trip)
}

/// Whether the pair is far after measuring `round_trip`, having been far
/// (`was_far`) or not: far above [`FAR_ROUND_TRIP`], near below
/// [`NEAR_ROUND_TRIP`], unchanged between the two.
pub(super) fn next_far(was_far: bool, round_trip: Duration) -> bool {
    if was_far { round_trip >= NEAR_ROUND_TRIP } else { round_trip > FAR_ROUND_TRIP }
}

/// Waits until `MAILBOX` holds `want` (true), or holds 0 or `within`
/// passed (false).
fn wait_for(want: u32, within: Duration) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            match MAILBOX.load(Ordering::Acquire) {
                v if v == want => return true,
                0 => return false,
                _ => std::hint::spin_loop(),
            }
        }
        if start.elapsed() > within {
            return false;
        }
    }
}

/// The prober's side: the fastest batch's round trip, or `None` when no
/// worker answered or one stopped answering.
fn measure() -> Option<Duration> {
    if MAILBOX.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire).is_err() {
        return None;
    }
    let first = LAST_ROUND_TRIP.load(Ordering::Acquire) == 0;
    if !wait_for(2, if first { FIRST_ANSWER_WITHIN } else { ANSWER_WITHIN }) {
        // Nobody took it: withdraw (unless a worker took it just now).
        if MAILBOX.compare_exchange(1, 0, Ordering::AcqRel, Ordering::Acquire).is_ok() || !wait_for(2, MOVE_WITHIN) {
            MAILBOX.store(0, Ordering::Release);
            return None;
        }
    }
    let mut best: Option<Duration> = None;
    let mut next = 3;
    for _ in 0..BATCHES {
        let start = Instant::now();
        for _ in 0..ROUNDS {
            MAILBOX.store(next, Ordering::Release);
            if !wait_for(next + 1, MOVE_WITHIN) {
                MAILBOX.store(0, Ordering::Release);
                return None;
            }
            next += 2;
        }
        let per_trip = start.elapsed() / ROUNDS;
        best = Some(best.map_or(per_trip, |b| b.min(per_trip)));
    }
    MAILBOX.store(0, Ordering::Release);
    best
}

/// The worker's side, from a spinner between jobs: answers a measurement
/// that asks for one, each odd number with the next, until the prober is
/// done (the mailbox is free again) or stops moving.
pub(super) fn answer() {
    if MAILBOX.load(Ordering::Acquire) != 1
        || MAILBOX.compare_exchange(1, 2, Ordering::AcqRel, Ordering::Acquire).is_err()
    {
        return;
    }
    let mut next = 3;
    while wait_for(next, MOVE_WITHIN) {
        MAILBOX.store(next + 1, Ordering::Release);
        next += 2;
    }
}

#[cfg(test)]
mod tests {
    use super::{FAR_ROUND_TRIP, NEAR_ROUND_TRIP, next_far};
    use std::time::Duration;

    #[test]
    fn the_placement_changes_only_past_its_two_thresholds() {
        let ns = Duration::from_nanos;
        // Near stays near up to FAR_ROUND_TRIP (250 ns) and goes far above it.
        assert!(!next_far(false, FAR_ROUND_TRIP) && !next_far(false, ns(230)) && next_far(false, ns(258)));
        // Far stays far down to NEAR_ROUND_TRIP (200 ns) and comes near below it.
        assert!(next_far(true, ns(230)) && next_far(true, NEAR_ROUND_TRIP) && !next_far(true, ns(130)));
    }
}
