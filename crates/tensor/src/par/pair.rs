//! Two pieces of work too small for a rayon job: [`pair`] runs the second
//! on a worker that [`super::hot`] keeps spinning, if one takes it at once.
//!
//! A batch-1 product of a dense layer takes a few microseconds; handing half
//! of it to rayon would make the caller wait for the job to be run, and for
//! a sleeping worker that is 22-49 µs (the wake-up of a CPU in this
//! project's virtual machine). Here the caller posts the second piece in a
//! mailbox that spinners look at between two looks at the pool's queues,
//! computes the first piece, and then either finds the second taken (and
//! waits for it to finish, which it is already doing) or withdraws it and
//! computes it itself. So the caller never waits for a thread to wake, and
//! nothing is allocated.
//!
//! Which thread computes a piece never changes what it computes: the
//! callers' pieces are fixed by the shapes alone.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

/// The mailbox's state: a generation (one per posted piece) times 4 plus
/// one of the phases below.
static STATE: AtomicU64 = AtomicU64::new(0);
/// The posted piece, valid while its generation is [`OPEN`] or [`TAKEN`].
static TASK: AtomicPtr<Task> = AtomicPtr::new(std::ptr::null_mut());
/// Set while one caller uses the mailbox: a second caller at the same time
/// computes both of its pieces itself.
static POSTING: AtomicBool = AtomicBool::new(false);

/// Nothing posted (or the last piece withdrawn by its caller).
const FREE: u64 = 0;
/// A piece waits to be taken.
const OPEN: u64 = 1;
/// A worker runs it.
const TAKEN: u64 = 2;
/// The worker is done with it.
const DONE: u64 = 3;

/// A piece of work on the caller's stack: `run(data)` runs it.
struct Task {
    run: unsafe fn(*const ()),
    data: *const (),
    /// The piece panicked on the worker (the caller then panics too).
    panicked: AtomicBool,
}

/// Runs `first` on this thread and `second` on a spinning worker when one
/// takes it while `first` runs, on this thread after `first` otherwise;
/// returns when both are done, and whether `second` ran on another thread.
/// Used only while workers spin (see
/// [`super::hot`] and [`super::linger`]): with none, `second` simply runs
/// here.
///
/// # Panics
/// When `second` panicked on the worker, with that message lost (the
/// pieces given here are kernels that index in bounds).
pub(crate) fn pair<S: FnOnce() + Send>(first: impl FnOnce(), second: S) -> bool {
    if super::awake_workers() == 0 || POSTING.swap(true, Ordering::AcqRel) {
        first();
        second();
        return false;
    }
    /// Frees the mailbox for the next caller, also when `first` unwinds.
    struct Posting;
    impl Drop for Posting {
        fn drop(&mut self) {
            POSTING.store(false, Ordering::Release);
        }
    }
    let _posting = Posting;
    let mut second = Some(second);
    // SAFETY (for the worker's call through `run`): `data` points at
    // `second` on this stack frame, which does not return before the
    // worker is done with it (DONE) or the piece is withdrawn untaken.
    #[allow(unsafe_code)]
    unsafe fn run<F: FnOnce() + Send>(data: *const ()) {
        // SAFETY: the caller of `pair` holds `Option<F>` alive at `data`
        // and reads it only after this call (DONE) or instead of it.
        let f = unsafe { (*data.cast_mut().cast::<Option<F>>()).take() };
        if let Some(f) = f {
            f();
        }
    }
    let task = Task { run: run::<S>, data: (&raw mut second).cast_const().cast(), panicked: AtomicBool::new(false) };
    let generation = (STATE.load(Ordering::Acquire) >> 2) + 1;
    TASK.store((&raw const task).cast_mut(), Ordering::Relaxed);
    STATE.store(generation << 2 | OPEN, Ordering::Release);
    /// Withdraws the piece if nobody took it, or waits for the worker to
    /// finish it: runs on return and when `first` unwinds alike.
    struct Close(u64);
    impl Drop for Close {
        fn drop(&mut self) {
            let open = self.0 << 2 | OPEN;
            if STATE.compare_exchange(open, self.0 << 2 | FREE, Ordering::AcqRel, Ordering::Acquire).is_err() {
                // The worker computes it now; a `yield` now and then lets it
                // run should it share this CPU.
                let mut rounds = 0u32;
                while STATE.load(Ordering::Acquire) != self.0 << 2 | DONE {
                    std::hint::spin_loop();
                    rounds = rounds.wrapping_add(1);
                    if rounds.is_multiple_of(256) {
                        std::thread::yield_now();
                    }
                }
            }
        }
    }
    let close = Close(generation);
    first();
    drop(close);
    if task.panicked.load(Ordering::Acquire) {
        panic!("a piece of work handed to another thread panicked there");
    }
    // Untaken (withdrawn): run it here.
    match second.take() {
        Some(second) => {
            second();
            false
        }
        None => true,
    }
}

/// The worker's side, from a spinner between jobs: takes and runs the
/// posted piece, if any.
pub(super) fn answer() {
    let state = STATE.load(Ordering::Acquire);
    if state & 3 != OPEN {
        return;
    }
    let generation = state >> 2;
    if STATE.compare_exchange(state, generation << 2 | TAKEN, Ordering::AcqRel, Ordering::Acquire).is_err() {
        return;
    }
    let task = TASK.load(Ordering::Acquire);
    // SAFETY: the caller published `task` before opening this generation
    // (Release, read above with Acquire) and keeps it alive until DONE.
    #[allow(unsafe_code)]
    let task = unsafe { &*task };
    // SAFETY: `run` and `data` come from the same `pair` call.
    #[allow(unsafe_code)]
    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { (task.run)(task.data) }));
    if outcome.is_err() {
        task.panicked.store(true, Ordering::Release);
    }
    STATE.store(generation << 2 | DONE, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::pair;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// A piece that panics on the worker makes the caller panic too, instead
    /// of leaving it waiting; the mailbox works again after it. Inside a
    /// region, so that a worker spins and takes pieces.
    #[test]
    fn a_piece_that_panics_on_the_worker_ends_the_call_with_a_panic() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("a pool of 2 threads");
        let taken = AtomicBool::new(false);
        pool.install(|| {
            crate::par::hot(|| {
                for _ in 0..100_000 {
                    let outcome = std::panic::catch_unwind(|| {
                        pair(|| std::thread::sleep(std::time::Duration::from_micros(20)), || panic!("the piece"))
                    });
                    let message = outcome.expect_err("a piece that panics returned");
                    let text = message
                        .downcast_ref::<&str>()
                        .copied()
                        .or(message.downcast_ref::<String>().map(|s| s.as_str()));
                    if text == Some("a piece of work handed to another thread panicked there") {
                        taken.store(true, Ordering::Relaxed);
                        break;
                    }
                    assert_eq!(text, Some("the piece"), "run here, the piece's own panic");
                }
            })
        });
        assert!(taken.load(Ordering::Relaxed), "no worker took a piece in 100,000 calls");
        let n = AtomicUsize::new(0);
        _ = pair(|| _ = n.fetch_add(1, Ordering::Relaxed), || _ = n.fetch_add(1, Ordering::Relaxed));
        assert_eq!(n.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn both_pieces_run_once_with_or_without_a_worker() {
        let (a, b) = (AtomicUsize::new(0), AtomicUsize::new(0));
        for _ in 0..1000 {
            _ = pair(|| _ = a.fetch_add(1, Ordering::Relaxed), || _ = b.fetch_add(1, Ordering::Relaxed));
        }
        assert_eq!((a.load(Ordering::Relaxed), b.load(Ordering::Relaxed)), (1000, 1000));
    }
}
