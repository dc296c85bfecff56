//! Runtime SIMD dispatch for element-wise loops.
//!
//! Rust builds for the baseline x86-64 CPU (SSE2, 4 lanes) unless told
//! otherwise, and a library cannot choose its users' compiler flags. So a hot
//! loop is written once, as plain Rust, inside [`simd_kernel!`]: the macro
//! compiles the body three times (AVX-512, AVX2+FMA, baseline) and picks the
//! widest version the CPU supports at run time.
//!
//! Results do not depend on the version taken: the compiler neither reorders
//! floating-point sums nor fuses multiply-adds on its own, so every version
//! computes the same operations in the same order.
//!
//! **Forcing a path.** The environment variable `STRATA_SIMD` (`avx512`,
//! `avx2` or `baseline`; unset or `auto`: the widest the CPU has) caps the
//! path every kernel takes, read once per process ([`simd_path`]). It exists
//! to check on one machine what another CPU computes: the tests run the
//! snapshotted training runs on every path and compare. Matrix products go
//! to the `gemm` crate, which chooses its kernel from the CPU alone; with
//! `STRATA_SIMD` set, they run in a portable kernel of this crate on the
//! chosen path instead (see `linalg.rs`).
//!
//! (A closure handed to a `#[target_feature]` function is not reliably
//! inlined into it, since it may live in another codegen unit; the macro's
//! body is an `#[inline(always)]` function, which is.)

/// Define a function whose body is compiled for AVX-512, for AVX2+FMA and for
/// the baseline CPU, dispatching at run time (feature detection is cached by
/// the standard library: one atomic load per call).
///
/// ```
/// strata_tensor::simd_kernel! {
///     /// `y += a * x`.
///     pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
///         for (yi, &xi) in y.iter_mut().zip(x) {
///             *yi += a * xi;
///         }
///     }
/// }
/// let mut y = vec![1.0; 100];
/// axpy(2.0, &vec![1.0; 100], &mut y);
/// assert!(y.iter().all(|&v| v == 3.0));
/// ```
#[macro_export]
macro_rules! simd_kernel {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn v4($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }

                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn v3($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }

                match $crate::simd_path() {
                    // SAFETY: `simd_path` returns `Avx512` only when the CPU
                    // supports AVX-512F (it checks), the only requirement of
                    // calling a function compiled for it.
                    #[allow(unsafe_code)]
                    $crate::SimdPath::Avx512 => return unsafe { v4($($arg),*) },
                    // SAFETY: `Avx2` only when the CPU supports AVX2 and FMA.
                    #[allow(unsafe_code)]
                    $crate::SimdPath::Avx2 => return unsafe { v3($($arg),*) },
                    $crate::SimdPath::Baseline => {}
                }
            }
            body($($arg),*)
        }
    };
}

/// A code path of the element-wise kernels (and, when forced, of the matrix
/// products): see [`simd_path`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdPath {
    /// The baseline x86-64 CPU (SSE2), or any other architecture.
    Baseline,
    /// AVX2 with FMA.
    Avx2,
    /// AVX-512F.
    Avx512,
}

impl SimdPath {
    /// `baseline`, `avx2` or `avx512`.
    pub const fn name(self) -> &'static str {
        match self {
            SimdPath::Baseline => "baseline",
            SimdPath::Avx2 => "avx2",
            SimdPath::Avx512 => "avx512",
        }
    }
}

/// 0: not decided yet; else 1 + the path, with bit 3 set when forced.
static PATH: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// The widest path this CPU runs.
fn detected() -> SimdPath {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return SimdPath::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return SimdPath::Avx2;
        }
    }
    SimdPath::Baseline
}

/// The path the kernels take: the widest the CPU runs, capped by the
/// environment variable `STRATA_SIMD` (`avx512`, `avx2`, `baseline`; unset or
/// `auto` for no cap). Decided on the first call and kept for the process;
/// an unknown value is reported once on stderr and ignored.
///
/// ```
/// let path = strata_tensor::simd_path();
/// assert!(path <= strata_tensor::SimdPath::Avx512);
/// ```
pub fn simd_path() -> SimdPath {
    decide().0
}

/// Whether `STRATA_SIMD` capped the path (the matrix products then run in
/// the portable kernel).
pub fn simd_forced() -> bool {
    decide().1
}

#[inline]
fn decide() -> (SimdPath, bool) {
    use std::sync::atomic::Ordering;
    let decode = |v: u8| {
        let path = match (v & 7) - 1 {
            0 => SimdPath::Baseline,
            1 => SimdPath::Avx2,
            _ => SimdPath::Avx512,
        };
        (path, v & 8 != 0)
    };
    let v = PATH.load(Ordering::Relaxed);
    if v != 0 {
        return decode(v);
    }
    let cpu = detected();
    let cap = match std::env::var("STRATA_SIMD").as_deref().map(str::trim) {
        Err(_) | Ok("" | "auto") => None,
        Ok("avx512") => Some(SimdPath::Avx512),
        Ok("avx2") => Some(SimdPath::Avx2),
        Ok("baseline") => Some(SimdPath::Baseline),
        Ok(other) => {
            use std::io::Write as _;
            // A standard error that cannot be written loses the warning, not the run.
            let _ = writeln!(
                std::io::stderr(),
                "strata: warning: STRATA_SIMD={other:?} is not auto, avx512, avx2 or baseline; ignored"
            );
            None
        }
    };
    let path = cap.map_or(cpu, |c| c.min(cpu));
    let v = (1 + path as u8) | if cap.is_some() { 8 } else { 0 };
    PATH.store(v, Ordering::Relaxed);
    decode(v)
}
