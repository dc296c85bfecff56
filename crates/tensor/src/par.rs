//! Element-wise and row-wise passes over large buffers, split between
//! rayon's threads (the ones the products use) in pieces of whole rows.
//!
//! Every element's result depends on its own row only, so the pieces, and
//! the thread count, change nothing in the results: training stays
//! bit-identical on any number of threads. Reductions across rows are split
//! by columns instead ([`par_columns_mut`]), each column summed in row order.

use rayon::prelude::*;
use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Below this many values a pass runs on the calling thread: handing work
/// to another core costs a few microseconds, what about 64K additions take.
pub const PAR_MIN_ELEMENTS: usize = 1 << 16;

/// Rows per piece when `rows` rows of `row_len` values are split between the
/// threads, or `None` to run on the calling thread: for passes that write
/// several buffers (zip rayon's `par_chunks_mut` of each).
pub fn rows_per_piece(rows: usize, row_len: usize) -> Option<usize> {
    let threads = rayon::current_num_threads();
    if threads < 2 || rows < 2 || rows.saturating_mul(row_len) < PAR_MIN_ELEMENTS {
        return None;
    }
    Some(rows.div_ceil(threads))
}

/// `f(first_row, rows)` over `data` cut into pieces of whole rows of
/// `row_len` values (a trailing part shorter than a row goes with the last
/// piece), one piece per thread when `data` is large.
///
/// ```
/// let mut x = vec![1.0f32; 6 * 70_000];
/// strata_tensor::par::par_rows_mut(&mut x, 6, |first, rows| {
///     for (i, row) in rows.chunks_exact_mut(6).enumerate() {
///         row[0] = (first + i) as f32;
///     }
/// });
/// assert_eq!((x[0], x[6 * 69_999]), (0.0, 69_999.0));
/// ```
pub fn par_rows_mut(data: &mut [f32], row_len: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    let rows = data.len().checked_div(row_len).unwrap_or(0);
    match rows_per_piece(rows, row_len) {
        None => f(0, data),
        Some(per) => data.par_chunks_mut(per * row_len).enumerate().for_each(|(i, piece)| f(i * per, piece)),
    }
}

/// `f(first_column, columns)` over `out` (one value per column of a matrix
/// of `rows` rows) cut into pieces of columns, one per thread when the
/// matrix is large: for column sums whose order of terms must not depend on
/// the thread count.
pub fn par_columns_mut(out: &mut [f32], rows: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    let cols = out.len();
    match rows_per_piece(cols, rows) {
        Some(per) if cols >= 32 => {
            // Pieces of at least 16 columns keep whole cache lines per thread.
            let per = per.max(16);
            out.par_chunks_mut(per).enumerate().for_each(|(i, piece)| f(i * per, piece));
        }
        _ => f(0, out),
    }
}

/// How long the other workers stay awake after the last [`hot`] region
/// ended: long enough to bridge the gap between two training steps, short
/// enough that an idle program stops burning a core at once.
pub const LINGER: Duration = Duration::from_millis(2);

/// Regions of [`hot`] running now, on any thread.
static HOT_REGIONS: AtomicUsize = AtomicUsize::new(0);
/// Spinner jobs alive (queued or spinning).
static SPINNERS: AtomicUsize = AtomicUsize::new(0);
/// When the last region ended, in nanoseconds since [`clock`]'s origin.
static LAST_END: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread runs a [`hot`] region (it must never spin inside it).
    static IN_REGION: Cell<bool> = const { Cell::new(false) };
    /// This thread runs a spinner (a stolen second one returns at once).
    static SPINNING: Cell<bool> = const { Cell::new(false) };
}

fn clock() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    u64::try_from(ORIGIN.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Run `f` with rayon's other workers kept awake: each spins, taking any
/// job the pool has (`rayon::yield_now`), instead of going to sleep between
/// the small products and passes of a training step, and stays so for
/// [`LINGER`] after the last region ends. What OpenMP's spin-wait and
/// XLA's thread pool do.
///
/// Why: a sleeping worker is woken by an inter-processor interrupt, tens of
/// microseconds on a virtual machine, and a pool that sleeps most of the
/// time invites the host to put both virtual CPUs on one physical core.
/// On this project's 2-core KVM machine the W2 step then ran at half speed
/// for minutes at a time, slower than one thread (docs/performance.md).
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
    if rayon::current_num_threads() < 2 || IN_REGION.get() || passive() {
        return f();
    }
    /// Leaves the region even when `f` unwinds.
    struct Region;
    impl Drop for Region {
        fn drop(&mut self) {
            LAST_END.store(clock(), Ordering::Release);
            HOT_REGIONS.fetch_sub(1, Ordering::AcqRel);
            IN_REGION.set(false);
        }
    }
    IN_REGION.set(true);
    HOT_REGIONS.fetch_add(1, Ordering::AcqRel);
    let _region = Region;
    // One spinner for every worker but the one running `f`.
    while take_spinner_slot() {
        rayon::spawn(spin);
    }
    f()
}

/// `STRATA_WAIT_POLICY=passive`: [`hot`] spins no worker.
fn passive() -> bool {
    static PASSIVE: OnceLock<bool> = OnceLock::new();
    *PASSIVE.get_or_init(|| std::env::var("STRATA_WAIT_POLICY").is_ok_and(|v| v.eq_ignore_ascii_case("passive")))
}

/// How many workers [`hot`] keeps awake right now (spinning, or queued to):
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

/// A worker kept awake: runs the pool's jobs as they come and spins
/// between them, until no region has run for [`LINGER`].
fn spin() {
    if IN_REGION.get() || SPINNING.get() {
        SPINNERS.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    SPINNING.set(true);
    loop {
        if rayon::yield_now() == Some(rayon::Yield::Executed) {
            continue;
        }
        if HOT_REGIONS.load(Ordering::Acquire) == 0
            && clock().saturating_sub(LAST_END.load(Ordering::Acquire)) > LINGER.as_nanos() as u64
        {
            SPINNERS.fetch_sub(1, Ordering::AcqRel);
            // A region that began meanwhile and found no room for another
            // spinner counted on this one: stay.
            if HOT_REGIONS.load(Ordering::Acquire) == 0 || !take_spinner_slot() {
                break;
            }
        }
        for _ in 0..64 {
            std::hint::spin_loop();
        }
    }
    SPINNING.set(false);
}
