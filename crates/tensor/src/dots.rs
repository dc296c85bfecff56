//! Products `C = A B^T` with at most 16 columns, as dot products of rows.
//!
//! The `gemm` crate runs its vectors along the output's contiguous side; an
//! output 16 or fewer columns wide leaves it one vector of accumulators per
//! column block, too few chains to hide the multiply-add latency, and it
//! packs `B^T` first. Convolutions hit this shape in their weight gradient
//! (`cols * dy^T`: W3's second layer is 72x196 times 196x16, per image):
//! 4.1 µs there, 43% of one Zen 5 core's FMA limit.
//!
//! Here both operands are read as stored, rows contiguous along `k`: a block
//! of 4 rows of `A` and 4 of `B` keeps 16 vector accumulators (lane `l` of an
//! output sums the terms `p` with `p % 16 == l`, in order, with fused
//! multiply-adds; a zero-padded vector ends the row), and [`lane_sum`]'s
//! fixed tree adds the 16 lanes. Every output is thus a function of its two
//! rows alone, whatever block or thread computed it. Measured on Zen 5 (one
//! thread, best of 200 x 20 calls through [`crate::gemm`]): 72x16 by depth
//! 196, 4.1 to 2.4 µs; 9x8 by depth 784, 0.60 to 0.55 µs. At 32 columns the
//! `gemm` crate was as fast, at 64 faster.
//!
//! Only on the AVX-512 path, when no path is forced (`STRATA_SIMD`): the
//! other paths keep the `gemm` crate.

use crate::linalg::MatRef;

/// Widest output taken (one vector of `f32`).
const MAX_COLUMNS: usize = 16;
/// Shallowest product taken: below it the tree's cost is not repaid
/// (not measured below 196).
const MIN_DEPTH: usize = 64;
/// Largest product taken (multiply-adds): one thread computes it, where the
/// `gemm` crate would split larger ones between threads.
const MAX_WORK: usize = 1 << 22;

/// Whether `op(A) * op(B)` (`m x k` by `k x n`) is computed here: `A` as
/// stored, `B` transposed (stored `[n, k]`), on the AVX-512 path.
pub(crate) fn applies(a: &MatRef<'_>, b: &MatRef<'_>, m: usize, n: usize, k: usize) -> bool {
    !a.is_transposed()
        && b.is_transposed()
        && m >= 2
        && n <= MAX_COLUMNS
        && k >= MIN_DEPTH
        && m.saturating_mul(n).saturating_mul(k) <= MAX_WORK
        && !crate::simd_forced()
        && crate::simd_path() == crate::SimdPath::Avx512
}

/// `C = alpha * A B^T + beta * C` (`beta == 0`: `C` is not read), with `a`
/// `[m, k]`, `b` `[n, k]` and `c` `[m, n]`, all row-major; the caller
/// checked [`applies`] and the shapes.
pub(crate) fn run(alpha: f32, a: &[f32], b: &[f32], beta: f32, c: &mut [f32], (m, n, k): (usize, usize, usize)) {
    assert!(a.len() >= m * k && b.len() >= n * k && c.len() >= m * n, "dots::run: operands shorter than their shapes");
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `applies` checked the AVX-512 path, which `simd_path` takes
        // only when the CPU has AVX-512F; the lengths were checked above.
        #[allow(unsafe_code)]
        unsafe {
            avx512::products(alpha, a, b, beta, c, (m, n, k))
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("dots::applies is false off x86_64");
}

/// The sum of an output's 16 lane sums, as a fixed tree: in each group of
/// four lanes `(l0 + l2) + (l1 + l3)`, then `(g0 + g1) + (g2 + g3)`. The
/// AVX-512 reduction of a 4x4 block computes the same additions.
#[inline(always)]
fn lane_sum(l: &[f32; 16]) -> f32 {
    let g = |i: usize| (l[4 * i] + l[4 * i + 2]) + (l[4 * i + 1] + l[4 * i + 3]);
    (g(0) + g(1)) + (g(2) + g(3))
}

/// `alpha * s + beta * c` (`c` not read when `beta == 0`), as [`crate::gemm`].
#[inline(always)]
fn scaled(alpha: f32, s: f32, beta: f32, c: f32) -> f32 {
    if beta == 0.0 { alpha * s } else { alpha * s + beta * c }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx512 {
    use super::{lane_sum, scaled};
    use std::arch::x86_64::*;

    /// All of `C`: blocks of 4 rows by 4 columns, then the last rows and
    /// columns one at a time.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `a`, `b` and `c` hold `m x k`, `n x k` and
    /// `m x n` values.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn products(
        alpha: f32,
        a: &[f32],
        b: &[f32],
        beta: f32,
        c: &mut [f32],
        (m, n, k): (usize, usize, usize),
    ) {
        let s = Scale { alpha, beta };
        for i in (0..m).step_by(4) {
            for j in (0..n).step_by(4) {
                let (a, b) = (&a[i * k..], &b[j * k..]);
                let c = &mut c[i * n + j..];
                let tile = ((m - i).min(4), (n - j).min(4));
                // SAFETY: the tile's rows lie inside `a` and `b`, its
                // outputs inside `c`.
                unsafe {
                    match tile {
                        (4, 4) => blocks::<4, 4>(a, b, c, (n, k), s, tile),
                        (4, _) => blocks::<4, 1>(a, b, c, (n, k), s, tile),
                        (_, 4) => blocks::<1, 4>(a, b, c, (n, k), s, tile),
                        _ => blocks::<1, 1>(a, b, c, (n, k), s, tile),
                    }
                }
            }
        }
    }

    #[derive(Clone, Copy)]
    struct Scale {
        alpha: f32,
        beta: f32,
    }

    /// A tile of `rows x cols` outputs (at most 4 x 4) as blocks of `RB x OB`.
    #[target_feature(enable = "avx512f")]
    unsafe fn blocks<const RB: usize, const OB: usize>(
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        (n, k): (usize, usize),
        s: Scale,
        (rows, cols): (usize, usize),
    ) {
        for r in (0..rows).step_by(RB) {
            for j in (0..cols).step_by(OB) {
                // SAFETY: the caller's contract.
                unsafe { block::<RB, OB>(&a[r * k..], &b[j * k..], &mut c[r * n + j..], n, k, s) };
            }
        }
    }

    /// Rows `0..RB` of `a` against rows `0..OB` of `b` (each `k` long), into
    /// `c[r * n + j]`.
    #[target_feature(enable = "avx512f")]
    unsafe fn block<const RB: usize, const OB: usize>(
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        n: usize,
        k: usize,
        s: Scale,
    ) {
        assert!(a.len() >= (RB - 1) * k + k && b.len() >= (OB - 1) * k + k && c.len() > (RB - 1) * n + OB - 1);
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [[_mm512_setzero_ps(); OB]; RB];
        // One step of 16 terms from `at`: the rows' vectors, then every
        // product into its accumulator.
        macro_rules! step {
            ($load:expr, $at:expr) => {
                let x: [__m512; RB] = core::array::from_fn(|r| $load(pa.wrapping_add(r * k + $at)));
                let y: [__m512; OB] = core::array::from_fn(|j| $load(pb.wrapping_add(j * k + $at)));
                for r in 0..RB {
                    for j in 0..OB {
                        acc[r][j] = _mm512_fmadd_ps(x[r], y[j], acc[r][j]);
                    }
                }
            };
        }
        let full = k / 16;
        for q in 0..full {
            // SAFETY: `q * 16 + 16 <= k`, and the rows lie inside `a` and `b`.
            step!(|p| unsafe { _mm512_loadu_ps(p) }, q * 16);
        }
        if !k.is_multiple_of(16) {
            let mask = ((1u32 << (k % 16)) - 1) as __mmask16;
            // SAFETY: only the lanes below `k - full * 16` are read.
            step!(|p| unsafe { _mm512_maskz_loadu_ps(mask, p) }, full * 16);
        }
        if RB == 4 && OB == 4 {
            let v: [__m512; 16] = core::array::from_fn(|i| acc[i / OB % RB][i % OB]);
            let mut lanes = [0f32; 16];
            // SAFETY: `lanes` holds 16 values.
            unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), _mm512_mul_ps(tree16(&v), _mm512_set1_ps(s.alpha))) };
            for (r, quad) in lanes.chunks_exact(4).enumerate() {
                let out = &mut c[r * n..r * n + 4];
                if s.beta == 0.0 {
                    out.copy_from_slice(quad);
                } else {
                    for (o, &x) in out.iter_mut().zip(quad) {
                        *o = x + s.beta * *o;
                    }
                }
            }
            return;
        }
        for (r, row) in acc.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                let mut lanes = [0f32; 16];
                // SAFETY: `lanes` holds 16 values.
                unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), v) };
                let at = r * n + j;
                c[at] = scaled(s.alpha, lane_sum(&lanes), s.beta, c[at]);
            }
        }
    }

    /// The lane sums of 16 vectors at once, lane `i` of the result summing
    /// `v[i]` with [`lane_sum`]'s additions: pairs of lanes two apart, then
    /// neighbours, then 128-bit groups (0 + 1) + (2 + 3).
    #[target_feature(enable = "avx512f")]
    fn tree16(v: &[__m512; 16]) -> __m512 {
        let a: [__m512; 8] = core::array::from_fn(|i| {
            _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]))
        });
        let b: [__m512; 4] = core::array::from_fn(|i| {
            let (x, y) = (_mm512_castps_pd(a[2 * i]), _mm512_castps_pd(a[2 * i + 1]));
            _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)))
        });
        let pair = |x: __m512, y: __m512| {
            _mm512_add_ps(_mm512_shuffle_f32x4::<0b10_00_10_00>(x, y), _mm512_shuffle_f32x4::<0b11_01_11_01>(x, y))
        };
        pair(pair(b[0], b[1]), pair(b[2], b[3]))
    }
}
