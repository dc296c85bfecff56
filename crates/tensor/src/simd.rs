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

                if ::std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports AVX-512F (checked just above),
                    // the only requirement of calling a function compiled for it.
                    #[allow(unsafe_code)]
                    return unsafe { v4($($arg),*) };
                }
                if ::std::arch::is_x86_feature_detected!("avx2") && ::std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                    #[allow(unsafe_code)]
                    return unsafe { v3($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
