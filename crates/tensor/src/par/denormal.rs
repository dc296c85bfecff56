//! Denormal numbers flushed to zero on the threads that train: the x86 modes
//! flush-to-zero (FTZ: a result too small for a normal `f32` becomes 0) and
//! denormals-are-zero (DAZ: such an input counts as 0), set on every worker
//! of the rayon pool a training call runs on ([`apply_to_pool`]).
//!
//! Intel cores take a microcode assist for each operation that reads or
//! writes a denormal (AMD's Zen cores far cheaper ones, if any: Adam was
//! 11.7% of W2's profile on a Zen 5, 38% on an Intel Xeon). In a long
//! training run Adam's first moments decay by `beta1` at every step a weight
//! sees no gradient, and reach the denormal range after about 800 such
//! steps. On an Intel Xeon (Emerald Rapids) W2's batch-64 epoch took a
//! median 51.8 ms with them flushed against 67.25 kept, over 8 alternated
//! rounds (docs/performance.md, eighteenth session). TensorFlow's executor
//! flushes them too; PyTorch keeps them unless
//! `torch.set_flush_denormal(True)`.
//!
//! The mode is the same on every worker, so results stay bit-identical on
//! any number of threads, and the same on every x86-64 CPU. Only the pool's
//! workers are set: a program's own thread keeps its mode (a training call
//! from outside the pool runs on a worker). The workers keep the mode after
//! the call: other work a program runs on the same pool later flushes too.
//! Inference runs in [`scoped`], which sets the mode on the calling thread
//! for the call only. `STRATA_DENORMALS=keep` (or
//! [`set_flush_denormals`]`(Some(false))`) keeps IEEE denormals. On other
//! architectures nothing is set.

use super::setting::{AUTO, Setting};
use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};

/// `AUTO` (flush), or fixed by [`set_flush_denormals`] or
/// `STRATA_DENORMALS=keep|flush`.
static FIXED: Setting = Setting::new("STRATA_DENORMALS", ["keep", "flush"]);
const KEEP: u8 = 1;
const FLUSH: u8 = 2;

/// MXCSR's flush-to-zero and denormals-are-zero bits.
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = 0x8040;

thread_local! {
    /// The mode [`apply_to_pool`] last set on this thread: 0 none yet, else
    /// `KEEP` or `FLUSH`.
    static APPLIED: Cell<u8> = const { Cell::new(0) };
}

/// Fixes whether training flushes denormals (`None`: the default, flush),
/// for programs that need IEEE denormals and for tests; the next training
/// call applies it.
pub fn set_flush_denormals(on: Option<bool>) {
    FIXED.set(match on {
        None => AUTO,
        Some(false) => KEEP,
        Some(true) => FLUSH,
    });
    GLOBAL_APPLIED.store(0, Ordering::Release);
}

/// Whether training flushes denormals: yes unless `STRATA_DENORMALS=keep`
/// or [`set_flush_denormals`] said otherwise.
pub fn flush_denormals() -> bool {
    FIXED.get() != KEEP
}

/// Sets the mode of [`flush_denormals`] on every worker of the pool the
/// calling thread belongs to, once (a thread-local look per call after
/// that): the pool's workers are the threads a training step computes on.
/// Called from outside any pool, it does nothing.
pub fn apply_to_pool() {
    if rayon::current_thread_index().is_none() {
        return;
    }
    let wanted = wanted();
    if APPLIED.with(Cell::get) == wanted {
        return;
    }
    set_on_workers(wanted);
    // The pool may be the global one: its workers' mode is known no more.
    GLOBAL_APPLIED.store(0, Ordering::Release);
}

/// `FLUSH` or `KEEP`, as [`flush_denormals`] says.
fn wanted() -> u8 {
    if flush_denormals() { FLUSH } else { KEEP }
}

/// Sets `mode` (`FLUSH` or `KEEP`) on every worker of the calling thread's
/// pool, or of the global pool from outside any pool (rayon's broadcast).
fn set_on_workers(mode: u8) {
    rayon::broadcast(|_| {
        set_here(mode == FLUSH);
        APPLIED.with(|a| a.set(mode));
    });
}

/// Runs `f` with the mode of [`flush_denormals`] on the calling thread and
/// gives the thread its own mode back afterwards (when `f` unwinds too):
/// for inference, which computes on the caller's thread (a batch-1 forward
/// pass cannot afford a hand-off to a worker). The pool that `f`'s parallel
/// pieces run on gets the mode first, as [`apply_to_pool`] gives it: the
/// calling thread's pool, or rayon's global pool from outside any pool, so
/// that a product split between this thread and the workers computes both
/// halves in one mode. Costs two reads and at most two writes of MXCSR.
pub fn scoped<R>(f: impl FnOnce() -> R) -> R {
    if rayon::current_thread_index().is_some() {
        apply_to_pool();
    } else {
        apply_to_global_pool();
    }
    let _restore = Restore::set(flush_denormals());
    f()
}

/// The mode last set on the global pool's workers from outside any pool, as
/// [`APPLIED`] is for a worker's own pool: 0 when unknown (none set yet, or
/// the setting or some pool's workers changed since).
static GLOBAL_APPLIED: AtomicU8 = AtomicU8::new(0);

/// [`apply_to_pool`] for rayon's global pool, called from outside any pool:
/// once for each mode change (an atomic read after that).
fn apply_to_global_pool() {
    let wanted = wanted();
    if GLOBAL_APPLIED.load(Ordering::Acquire) == wanted {
        return;
    }
    set_on_workers(wanted);
    GLOBAL_APPLIED.store(wanted, Ordering::Release);
}

/// A thread's MXCSR as it was before [`Restore::set`], written back on drop.
struct Restore {
    #[cfg(target_arch = "x86_64")]
    before: u32,
}

impl Restore {
    fn set(flush: bool) -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let before = mxcsr();
            let wanted = if flush { before | FTZ_DAZ } else { before & !FTZ_DAZ };
            if wanted != before {
                set_mxcsr(wanted);
            }
            Restore { before }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = flush;
            Restore {}
        }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if mxcsr() != self.before {
            set_mxcsr(self.before);
        }
    }
}

/// Whether this thread flushes denormals now (MXCSR's FTZ and DAZ bits both
/// set); false on other architectures.
pub fn flushing_here() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        mxcsr() & FTZ_DAZ == FTZ_DAZ
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Sets or clears FTZ and DAZ on this thread.
fn set_here(flush: bool) {
    #[cfg(target_arch = "x86_64")]
    {
        let csr = mxcsr();
        set_mxcsr(if flush { csr | FTZ_DAZ } else { csr & !FTZ_DAZ });
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = flush;
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn mxcsr() -> u32 {
    let mut csr = 0u32;
    // SAFETY: `stmxcsr` stores the 4-byte register to the address given,
    // a local of that size; SSE is part of x86-64.
    unsafe { core::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags)) };
    csr
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn set_mxcsr(csr: u32) {
    // SAFETY: `ldmxcsr` loads the register from a 4-byte local; the callers
    // change only the FTZ and DAZ bits of the value `stmxcsr` read, which
    // every x86-64 CPU accepts (DAZ since the Pentium 4).
    unsafe { core::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags, readonly)) };
}
