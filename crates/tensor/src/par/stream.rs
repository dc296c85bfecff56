//! Streaming stores for writes to lines the other core holds: while the
//! threads sit far apart and share the step's data, the optimizer's update
//! of the parameters, the zeroing of the gradients and a layer's copy of its
//! input write past this core's caches ([`streaming`]).
//!
//! A plain store to a cache line that a core on the other die has read
//! first waits for that copy to be invalidated, one line at a time: 467-531
//! µs a megabyte measured on this project's machine (Zen 4, far threads),
//! about 25 times a local write. A streaming store does not wait: the same
//! megabyte took 41-83 µs, and the other core read it back from memory in
//! 25-33 µs. On near threads, and for data one thread keeps to itself,
//! streaming is slower (the data must come back from memory): forced on
//! near threads, W2 ran its epoch in 26.1 ms against 23.6 at batch 256 and
//! 42.5 against 32.6 at batch 64 (docs/performance.md, twelfth session). So
//! it is on only while the threads are [`Placement::Far`] and a product ran
//! split between them within [`SHARED_WITHIN`].
//!
//! Only where the values go changes, never a value: the same bits are
//! written either way.

use super::far::{Placement, now_ns, placement};
use super::setting::{AUTO, Setting};
use crate::{SimdPath, simd_path};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// After a product split between the threads, how long their writes count
/// as shared: a few training steps.
pub const SHARED_WITHIN: Duration = Duration::from_millis(20);

/// Buffers shorter than this are written plainly, without asking
/// [`streaming`] (a few atomic loads, and on far threads a read of the
/// clock): a 16 KB write is over in about a microsecond either way.
pub const STREAM_FROM: usize = 1 << 12;

/// `AUTO`, or fixed by [`set_streaming`] or `STRATA_STREAM=off|on`.
static FIXED: Setting = Setting::new("STRATA_STREAM", ["off", "on"]);
const OFF: u8 = 1;
const ON: u8 = 2;

/// When a product last ran split between threads ([`now_ns`] plus one; 0:
/// never).
static LAST_SHARED: AtomicU64 = AtomicU64::new(0);

/// Fixes whether writes stream (`None`: decide as usual), for tests and
/// benchmarks; `Some(true)` streams only on CPUs with AVX-512.
pub fn set_streaming(on: Option<bool>) {
    FIXED.set(match on {
        None => AUTO,
        Some(false) => OFF,
        Some(true) => ON,
    });
}

/// A product just ran split between the threads.
pub(crate) fn note_shared() {
    LAST_SHARED.store(now_ns().saturating_add(1), Ordering::Relaxed);
}

/// Whether a product ran split between the threads within [`SHARED_WITHIN`].
pub(crate) fn shared_recently() -> bool {
    let last = LAST_SHARED.load(Ordering::Relaxed);
    let within = u64::try_from(SHARED_WITHIN.as_nanos()).unwrap_or(u64::MAX);
    last != 0 && now_ns().saturating_add(1).saturating_sub(last) < within
}

/// Whether the writes this module offers stream now: on a CPU with AVX-512
/// (the stores are 64-byte vectors), while the threads are far apart and
/// share data (see the module doc), unless fixed by [`set_streaming`] or
/// `STRATA_STREAM`.
pub fn streaming() -> bool {
    if !cfg!(target_arch = "x86_64") || simd_path() != SimdPath::Avx512 {
        return false;
    }
    match FIXED.get() {
        OFF => false,
        ON => true,
        _ => placement() == Placement::Far && shared_recently(),
    }
}

/// The first and the end index of the 64-byte aligned 16-value blocks of
/// `out`: `out[a..b]` holds whole blocks, `out[..a]` and `out[b..]` the rest.
pub fn aligned_blocks(out: &[f32]) -> (usize, usize) {
    let head = out.as_ptr().align_offset(64).min(out.len());
    (head, head + (out.len() - head) / 16 * 16)
}

/// Store one 16-value block at `dst` past the caches.
///
/// # Safety
/// `dst` must be 64-byte aligned and valid for 16 writes, and the CPU must
/// have AVX-512F (as [`streaming`] checks).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[inline(always)]
pub unsafe fn store16(dst: *mut f32, block: &[f32; 16]) {
    use std::arch::x86_64::{_mm512_loadu_ps, _mm512_stream_ps};
    // SAFETY: the caller's contract.
    unsafe { _mm512_stream_ps(dst, _mm512_loadu_ps(block.as_ptr())) }
}

/// Order the streaming stores before the writes that follow (the hand-off
/// to another thread).
#[allow(unsafe_code)]
pub fn fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `sfence` is part of SSE, which every x86-64 CPU has.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    }
}

/// `out.fill(value)`, streaming when [`streaming`] (from [`STREAM_FROM`]
/// values).
pub fn fill(out: &mut [f32], value: f32) {
    #[cfg(target_arch = "x86_64")]
    if out.len() >= STREAM_FROM && streaming() {
        let (a, b) = aligned_blocks(out);
        out[..a].fill(value);
        out[b..].fill(value);
        for block in out[a..b].chunks_exact_mut(16) {
            // SAFETY: `a..b` holds whole aligned blocks; `streaming` checked AVX-512F.
            #[allow(unsafe_code)]
            unsafe {
                store16(block.as_mut_ptr(), &[value; 16])
            };
        }
        fence();
        return;
    }
    out.fill(value);
}

/// `out.copy_from_slice(src)`, streaming when [`streaming`] (from
/// [`STREAM_FROM`] values). Panics as `copy_from_slice` does when the
/// lengths differ.
pub fn copy(out: &mut [f32], src: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if out.len() >= STREAM_FROM && out.len() == src.len() && streaming() {
        put(out, src);
        fence();
        return;
    }
    out.copy_from_slice(src);
}

/// Copy `src` (as long as `out`) to `out`, the aligned blocks streamed and
/// the rest stored plainly; without the fence.
#[cfg(target_arch = "x86_64")]
fn put(out: &mut [f32], src: &[f32]) {
    let (a, b) = aligned_blocks(out);
    out[..a].copy_from_slice(&src[..a]);
    out[b..].copy_from_slice(&src[b..]);
    for (block, from) in out[a..b].chunks_exact_mut(16).zip(src[a..b].chunks_exact(16)) {
        let mut values = [0.0f32; 16];
        values.copy_from_slice(from);
        // SAFETY: `a..b` holds whole aligned blocks; the callers checked
        // AVX-512F through `streaming`.
        #[allow(unsafe_code)]
        unsafe {
            store16(block.as_mut_ptr(), &values)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Streamed or not, every offset and length writes the same values
    /// (unaligned heads and tails included).
    #[test]
    fn streamed_fill_and_copy_write_what_plain_ones_do() {
        const N: usize = STREAM_FROM + 100;
        let src: Vec<f32> = (0..N).map(|i| i as f32 * 0.5 - 7.0).collect();
        for on in [false, true] {
            set_streaming(Some(on));
            for start in 0..17 {
                for len in [0, 1, 17, STREAM_FROM - 1, STREAM_FROM, STREAM_FROM + 1, N - 17 - start] {
                    let mut out = vec![f32::NAN; N];
                    copy(&mut out[start..start + len], &src[start..start + len]);
                    assert_eq!(out[start..start + len], src[start..start + len], "copy {start}+{len} on={on}");
                    assert!(out[..start].iter().chain(&out[start + len..]).all(|v| v.is_nan()), "copy wrote outside");
                    fill(&mut out[start..start + len], 2.5);
                    assert!(out[start..start + len].iter().all(|&v| v == 2.5), "fill {start}+{len} on={on}");
                    assert!(out[..start].iter().chain(&out[start + len..]).all(|v| v.is_nan()), "fill wrote outside");
                }
            }
        }
        set_streaming(None);
    }

    #[test]
    fn aligned_blocks_are_whole_and_aligned() {
        let v = vec![0.0f32; 100];
        for start in 0..20 {
            let s = &v[start..];
            let (a, b) = aligned_blocks(s);
            assert!(a <= b && b <= s.len() && (b - a) % 16 == 0);
            assert!(a == b || s[a..].as_ptr().align_offset(64) == 0);
            assert!(a < 16 && s.len() - b < 16);
        }
    }
}
