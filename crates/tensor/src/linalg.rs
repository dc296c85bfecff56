//! The one matrix-multiply entry point: `C = alpha * op(A) * op(B) + beta * C`.
//!
//! Every product in Strata (dense layers, convolution through im2col, attention)
//! goes through [`gemm`], so a faster kernel replaces it here without touching
//! a caller.
//!
//! **The kernel, chosen by measurement** (`cargo xtask bench --only W1`, see
//! `docs/performance.md`): the `gemm` crate's packed micro-kernels (runtime
//! dispatch to AVX-512/AVX2/FMA), on rayon's threads above a size threshold.
//! It beat nalgebra's `gemm` (matrixmultiply) at every shape of the
//! workloads, and its results do not depend on the thread count (it splits
//! the output, never the sum over `k`), so training stays bit-reproducible.
//! Products of one row (batch-1 inference) take kernels of this module; the
//! deeper ones sum two halves of the depth, cut by the shape alone, and may
//! run the second on another core ([`crate::par::pair`]).
//! nalgebra stays the user-facing matrix type: [`Tensor::to_dmatrix`] and
//! [`Tensor::from_dmatrix`] convert.

use crate::error::{Result, TensorError};
use crate::tensor::Tensor;
use nalgebra::DMatrix;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// How many products [`gemm`](fn@gemm) has run in this process, and how many of them
/// on more than one thread (for profiling, and for the test that checks a
/// training step allocates nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GemmStats {
    /// Products run.
    pub calls: u64,
    /// Of those, products split between threads.
    pub parallel_calls: u64,
}

pub(crate) static CALLS: AtomicU64 = AtomicU64::new(0);
pub(crate) static PARALLEL_CALLS: AtomicU64 = AtomicU64::new(0);

/// The process-wide [`GemmStats`].
pub fn gemm_stats() -> GemmStats {
    GemmStats { calls: CALLS.load(Ordering::Relaxed), parallel_calls: PARALLEL_CALLS.load(Ordering::Relaxed) }
}

/// Products with fewer multiply-adds than this run on the calling thread:
/// below it, waking a second thread costs more than it saves.
pub const PARALLEL_THRESHOLD: usize = 1 << 18;

/// [`PARALLEL_THRESHOLD`] as it applies now: larger while the threads sit
/// far apart ([`crate::par::split_scale`]).
pub(crate) fn split_from() -> usize {
    PARALLEL_THRESHOLD.saturating_mul(crate::par::split_scale())
}

/// While far threads share data, products of at least this many
/// multiply-adds split at [`PARALLEL_THRESHOLD`] ([`crate::par::splits_at`]):
/// W2's second layer (256x256x128 at batch 256) splits again, the
/// attention's per-item products (64x64x128 in W4) stay whole.
pub const SHARED_PRODUCTS_FROM: usize = 1 << 22;

/// Whether a product of `work` multiply-adds splits between the threads.
fn splits(work: usize) -> bool {
    crate::par::splits_at(work, PARALLEL_THRESHOLD, SHARED_PRODUCTS_FROM)
}

/// A read-only row-major matrix view: `rows x cols` elements of `data`,
/// optionally used transposed.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    transposed: bool,
}

/// A mutable row-major matrix view for the output of [`gemm`](fn@gemm).
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
}

fn check_len(op: &'static str, len: usize, rows: usize, cols: usize) -> Result<()> {
    match rows.checked_mul(cols) {
        Some(n) if n == len => Ok(()),
        _ => Err(TensorError::DataLength { op, shape: vec![rows, cols], expected: rows.saturating_mul(cols), len }),
    }
}

impl<'a> MatRef<'a> {
    /// View `data` as a row-major `rows x cols` matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        check_len("MatRef::new", data.len(), rows, cols)?;
        Ok(MatRef { data, rows, cols, transposed: false })
    }

    /// View a rank-2 tensor.
    pub fn from_tensor(t: &'a Tensor) -> Result<Self> {
        t.expect_rank("gemm", 2)?;
        Ok(MatRef { data: t.data(), rows: t.shape()[0], cols: t.shape()[1], transposed: false })
    }

    /// The same matrix, used transposed (no copy).
    pub fn t(self) -> Self {
        MatRef { transposed: !self.transposed, ..self }
    }

    /// Whether the view is used transposed.
    pub(crate) fn is_transposed(&self) -> bool {
        self.transposed
    }

    /// Rows and columns of `op(self)`.
    pub fn dims(&self) -> (usize, usize) {
        if self.transposed { (self.cols, self.rows) } else { (self.rows, self.cols) }
    }
}

impl<'a> MatMut<'a> {
    /// View `data` as a mutable row-major `rows x cols` matrix.
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self> {
        check_len("MatMut::new", data.len(), rows, cols)?;
        Ok(MatMut { data, rows, cols })
    }

    /// View a rank-2 tensor.
    pub fn from_tensor(t: &'a mut Tensor) -> Result<Self> {
        t.expect_rank("gemm", 2)?;
        let (rows, cols) = (t.shape()[0], t.shape()[1]);
        Ok(MatMut { data: t.data_mut(), rows, cols })
    }
}

/// `C = alpha * op(A) * op(B) + beta * C`, with `op` the identity or the
/// transpose as each view says. With `beta == 0`, `C` is not read (it may hold
/// NaN). Errors name both shapes when the dimensions do not agree.
///
/// ```
/// use strata_tensor::{gemm, MatMut, MatRef};
/// let a = [1.0, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let b = [5.0, 6.0, 7.0, 8.0]; // [[5, 6], [7, 8]]
/// let mut c = [0.0; 4];
/// gemm(1.0, MatRef::new(&a, 2, 2)?, MatRef::new(&b, 2, 2)?.t(), 0.0, MatMut::new(&mut c, 2, 2)?)?;
/// assert_eq!(c, [17.0, 23.0, 39.0, 53.0]); // A * B^T
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
pub fn gemm(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: MatMut<'_>) -> Result<()> {
    let (m, k) = a.dims();
    let (k2, n) = b.dims();
    if k != k2 {
        return Err(TensorError::ShapeMismatch {
            op: "gemm: inner dimensions of op(A) and op(B)",
            left: vec![m, k],
            right: vec![k2, n],
        });
    }
    if (c.rows, c.cols) != (m, n) {
        return Err(TensorError::ShapeMismatch {
            op: "gemm: output of op(A) * op(B)",
            left: vec![m, n],
            right: vec![c.rows, c.cols],
        });
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        for x in c.data.iter_mut() {
            *x = if beta == 0.0 { 0.0 } else { beta * *x };
        }
        return Ok(());
    }
    if m == 1 {
        // One row (batch-1 inference): no packing.
        CALLS.fetch_add(1, Ordering::Relaxed);
        if b.transposed {
            row_times_transposed(alpha, a.data, b.data, beta, c.data, k);
        } else if k >= HALVES_FROM {
            row_times_matrix_in_halves(alpha, a.data, b.data, beta, c.data, (n, k));
        } else {
            row_times_matrix(alpha, a.data, b.data, beta, c.data, n, fused_rows());
        }
        return Ok(());
    }
    if crate::dots::applies(&a, &b, m, n, k) {
        // At most 16 columns: dot products of rows (see the module).
        CALLS.fetch_add(1, Ordering::Relaxed);
        crate::dots::run(alpha, a.data, b.data, beta, c.data, (m, n, k));
        return Ok(());
    }
    run_kernel(alpha, &a, &b, beta, c.data, m, n, k);
    Ok(())
}

simd_kernel! {
    /// `c[j] = alpha * dot(a, B[j, :]) + beta * c[j]` for `B` stored `[n, k]`
    /// (a dense layer's weights): one dot product per output, accumulated in
    /// 64 lanes (four independent vector accumulators, so the additions do
    /// not wait on each other) in a fixed order.
    fn row_times_transposed(alpha: f32, a: &[f32], b: &[f32], beta: f32, c: &mut [f32], k: usize) {
        for (cj, row) in c.iter_mut().zip(b.chunks_exact(k)) {
            let mut lanes = [0f32; 64];
            let mut xs = a.chunks_exact(64);
            let mut ws = row.chunks_exact(64);
            for (x, w) in (&mut xs).zip(&mut ws) {
                for ((l, &xi), &wi) in lanes.iter_mut().zip(x).zip(w) {
                    *l += xi * wi;
                }
            }
            // The rest in 16-wide steps into the first accumulator, then one by one.
            let (xr, wr) = (xs.remainder(), ws.remainder());
            let mut x16 = xr.chunks_exact(16);
            let mut w16 = wr.chunks_exact(16);
            for (x, w) in (&mut x16).zip(&mut w16) {
                for ((l, &xi), &wi) in lanes[..16].iter_mut().zip(x).zip(w) {
                    *l += xi * wi;
                }
            }
            let tail: f32 = x16.remainder().iter().zip(w16.remainder()).map(|(x, w)| x * w).sum();
            *cj = if beta == 0.0 { alpha * (reduce64(&lanes) + tail) } else { alpha * (reduce64(&lanes) + tail) + beta * *cj };
        }
    }
}

/// Sum of 64 lanes as a fixed tree (64 -> 16 -> 8 -> 4 -> 2 -> 1): vector
/// additions instead of a chain of 63 dependent ones.
#[inline(always)]
fn reduce64(l: &[f32; 64]) -> f32 {
    let mut s16 = [0f32; 16];
    for i in 0..16 {
        s16[i] = (l[i] + l[i + 16]) + (l[i + 32] + l[i + 48]);
    }
    let mut s8 = [0f32; 8];
    for i in 0..8 {
        s8[i] = s16[i] + s16[i + 8];
    }
    let s4 = [s8[0] + s8[4], s8[1] + s8[5], s8[2] + s8[6], s8[3] + s8[7]];
    (s4[0] + s4[2]) + (s4[1] + s4[3])
}

simd_kernel! {
    /// `c = alpha * sum_p a[p] * B[p, :] + beta * c` for `B` stored `[k, n]`
    /// (a dense layer's weights, batch-1 inference). Blocks of 256, 128, 64,
    /// 32 or 16 outputs stay in vector accumulators (16 AVX-512 registers for
    /// the largest: enough independent chains to keep the multiply and add
    /// units busy through their latency) while `p` runs over the inputs, so
    /// each weight is loaded once and `c` is written once; the last fewer
    /// than 16 outputs take one 16-wide block too ([`accumulate_tail`]).
    /// Every output sums its terms in the order of `p`, whatever its block:
    /// the result does not depend on the blocks. With `fused` each term is
    /// added by a fused multiply-add ([`fused_rows`]).
    fn row_times_matrix(alpha: f32, a: &[f32], b: &[f32], beta: f32, c: &mut [f32], n: usize, fused: bool) {
        if fused {
            row_blocks::<true>(alpha, a, b, beta, c, n);
        } else {
            row_blocks::<false>(alpha, a, b, beta, c, n);
        }
    }
}

/// Whether batch-1 products ([`row_times_matrix`]) use fused multiply-adds:
/// on the AVX2 and AVX-512 paths, whose CPUs have them (one instruction for
/// two: W5 3.5% faster, a product whose weights sit in L1 at 95 GFLOP/s
/// against 75 on one core, on an Intel Xeon, model 167). Not on the baseline path, where
/// `f32::mul_add` would call a software routine; so the baseline's last bits
/// differ there, as the `gemm` crate's do between paths, while results stay
/// bit-identical across thread counts on any one path.
fn fused_rows() -> bool {
    crate::simd_path() != crate::SimdPath::Baseline
}

/// [`row_times_matrix`]'s blocks, with fused multiply-adds or not.
#[inline(always)]
fn row_blocks<const FUSED: bool>(alpha: f32, a: &[f32], b: &[f32], beta: f32, c: &mut [f32], n: usize) {
    let mut j0 = 0;
    while j0 < n {
        let step = match n - j0 {
            256.. => 256,
            128.. => 128,
            64.. => 64,
            32.. => 32,
            16.. => 16,
            rest => rest,
        };
        let out = &mut c[j0..j0 + step];
        match step {
            256 => store(alpha, &accumulate::<256, FUSED>(a, b, n, j0), beta, out),
            128 => store(alpha, &accumulate::<128, FUSED>(a, b, n, j0), beta, out),
            64 => store(alpha, &accumulate::<64, FUSED>(a, b, n, j0), beta, out),
            32 => store(alpha, &accumulate::<32, FUSED>(a, b, n, j0), beta, out),
            16 => store(alpha, &accumulate::<16, FUSED>(a, b, n, j0), beta, out),
            _ => store(alpha, &accumulate_tail::<FUSED>(a, b, n, j0, step), beta, out),
        }
        j0 += step;
    }
}

/// `acc + a * b`, rounded once when `FUSED`.
#[inline(always)]
fn multiply_add<const FUSED: bool>(a: f32, b: f32, acc: f32) -> f32 {
    if FUSED { a.mul_add(b, acc) } else { acc + a * b }
}

/// Products of one row at least this deep, with `B` stored `[k, n]`, sum
/// each output in two halves of the depth ([`row_times_matrix_in_halves`]).
const HALVES_FROM: usize = 128;

/// From this many multiply-adds (times [`crate::par::split_scale`]) a
/// product of one row hands its second half to a spinning worker: W5's
/// first layer (784x256) gains, its second (256x128) would not.
const PAIR_FROM: usize = 1 << 17;

thread_local! {
    /// The two halves' sums of [`row_times_matrix_in_halves`] (grown once
    /// to the widest product's `2 n`, then reused).
    static HALVES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `c = alpha * (s0 + s1) + beta * c`, where `s0` sums the terms `p < k / 2`
/// and `s1` the others, each in the order of `p` ([`row_times_matrix`]):
/// a fixed order that does not depend on the threads. Both halves stream
/// half of `B`; when the product is large and a worker spins
/// ([`crate::par::hot`], or [`crate::par::linger`] started here), the
/// worker computes `s1` while this thread computes `s0` ([`crate::par::pair`]),
/// each from its own core's cache: W5 (784-256-128-10) from 6.2-7.4 to 3.2
/// µs in a probe on Zen 5 (6.83 to 3.34 µs in `cargo xtask bench --compare`),
/// where one core streams the 784 KB of the first layer's weights at about
/// its L2 bandwidth.
fn row_times_matrix_in_halves(alpha: f32, a: &[f32], b: &[f32], beta: f32, c: &mut [f32], (n, k): (usize, usize)) {
    let h = k / 2;
    let (a0, a1) = a.split_at(h);
    let (b0, b1) = b.split_at(h * n);
    let fused = fused_rows();
    let two = crate::par::threads() > 1 && n.saturating_mul(k) >= PAIR_FROM.saturating_mul(crate::par::split_scale());
    if two {
        crate::par::linger();
    }
    HALVES.with_borrow_mut(|halves| {
        halves.resize(2 * n, 0.0);
        let (s0, s1) = halves.split_at_mut(n);
        if two {
            let (t0, t1) = (&mut *s0, &mut *s1);
            let first = || row_times_matrix(1.0, a0, b0, 0.0, t0, n, fused);
            if crate::par::pair(first, || row_times_matrix(1.0, a1, b1, 0.0, t1, n, fused)) {
                PARALLEL_CALLS.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            row_times_matrix(1.0, a0, b0, 0.0, s0, n, fused);
            row_times_matrix(1.0, a1, b1, 0.0, s1, n, fused);
        }
        add_halves(alpha, s0, s1, beta, c);
    });
}

simd_kernel! {
    /// `c = alpha * (s0 + s1) + beta * c` (the halves of
    /// [`row_times_matrix_in_halves`]).
    fn add_halves(alpha: f32, s0: &[f32], s1: &[f32], beta: f32, c: &mut [f32]) {
        for ((cj, &x0), &x1) in c.iter_mut().zip(s0).zip(s1) {
            *cj = if beta == 0.0 { alpha * (x0 + x1) } else { alpha * (x0 + x1) + beta * *cj };
        }
    }
}

/// `sum_p a[p] * B[p, j0..j0 + W]`, the `W` sums in registers.
#[inline(always)]
fn accumulate<const W: usize, const FUSED: bool>(a: &[f32], b: &[f32], n: usize, j0: usize) -> [f32; W] {
    let mut acc = [0f32; W];
    for (p, &ap) in a.iter().enumerate() {
        for (x, &bv) in acc.iter_mut().zip(&b[p * n + j0..p * n + j0 + W]) {
            *x = multiply_add::<FUSED>(ap, bv, *x);
        }
    }
    acc
}

/// The same for the last `width < 16` outputs, as one 16-wide block: each
/// row's 16 loaded weights run on into the next row (a plain vector load;
/// the extra lanes are never stored), and the last rows, which have fewer
/// than 16 weights left in `b`, are copied into a zero-padded block. A loop
/// of `width` scalar steps per row measured 0.41 us for W5's 128x10 layer.
#[inline(always)]
fn accumulate_tail<const FUSED: bool>(a: &[f32], b: &[f32], n: usize, j0: usize, width: usize) -> [f32; 16] {
    let mut acc = [0f32; 16];
    let mut padded = [0f32; 16];
    for (p, &ap) in a.iter().enumerate() {
        let at = p * n + j0;
        let row: &[f32; 16] = match b.get(at..at + 16).and_then(|r| r.try_into().ok()) {
            Some(row) => row,
            None => {
                padded[..width].copy_from_slice(&b[at..at + width]);
                &padded
            }
        };
        for (x, &bv) in acc.iter_mut().zip(row) {
            *x = multiply_add::<FUSED>(ap, bv, *x);
        }
    }
    acc
}

/// `c = alpha * acc + beta * c` over `c`'s length.
#[inline(always)]
fn store(alpha: f32, acc: &[f32], beta: f32, c: &mut [f32]) {
    for (cj, &x) in c.iter_mut().zip(acc) {
        *cj = if beta == 0.0 { alpha * x } else { alpha * x + beta * *cj };
    }
}

/// A raw output pointer handed to rayon's threads, each of which writes
/// only its own part of the output: the blocks of a product cut between the
/// threads ([`with_caller`]), or the matrices of a batch, which
/// [`crate::BatchMut::new`] checked do not overlap.
#[derive(Clone, Copy)]
pub(crate) struct OutPtr(pub(crate) *mut f32);
// SAFETY: the pointer is only dereferenced (by the `gemm` crate) inside
// `gemm` and `gemm_batched`, while the `&mut [f32]` it came from is
// borrowed, and each thread writes a disjoint part of it.
#[allow(unsafe_code)]
unsafe impl Send for OutPtr {}
#[allow(unsafe_code)]
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The pointer (a method, so that closures capture the `Sync` wrapper
    /// rather than its field).
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

/// Strides (row, column) of `op(view)` over its row-major storage.
fn strides(v: &MatRef<'_>) -> (isize, isize) {
    if v.transposed { (1, v.cols as isize) } else { (v.cols as isize, 1) }
}

/// The `gemm` crate is fast (and splits between threads) when the right
/// operand and the output share a layout, and slow when a row-major output
/// meets a transposed right operand (measured: `x W^T` for a 64x784 batch
/// and 256x784 weights, 280 us against 121 us with both row-major). So a
/// product with a transposed right operand is computed as its transpose,
/// `C^T = op(B)^T op(A)^T`, written column-major straight into `C`'s
/// row-major storage: the right operand `op(A)^T` and the output then share
/// the column-major layout, with no scratch and no transpose afterwards (a
/// strided transpose cost 13% of W4's step).
#[allow(clippy::too_many_arguments)]
fn run_kernel(alpha: f32, a: &MatRef<'_>, b: &MatRef<'_>, beta: f32, c: &mut [f32], m: usize, n: usize, k: usize) {
    if !b.transposed {
        return kernel(alpha, a, b, beta, c, (n as isize, 1), m, n, k);
    }
    // C^T (n x m), element (j, i) at i * n + j: row stride 1, column stride n.
    kernel(alpha, &b.t(), &a.t(), beta, c, (1, n as isize), n, m, k);
}

/// A product on strided views (element `(i, j)` of a view at `i * rs + j *
/// cs`): [`portable_product`] when `STRATA_SIMD` forces a path, else one call
/// of the `gemm` crate. Shared by [`gemm`] and [`crate::gemm_batched`].
///
/// # Safety
/// The callers checked that `a` holds `m x k`, `b` `k x n` and `c` `m x n`
/// elements at these strides, and `c` aliases neither.
#[allow(unsafe_code, clippy::too_many_arguments)]
pub(crate) unsafe fn strided_product(
    alpha: f32,
    (a, a_rs, a_cs): (*const f32, isize, isize),
    (b, b_rs, b_cs): (*const f32, isize, isize),
    beta: f32,
    (c, c_rs, c_cs): (*mut f32, isize, isize),
    (m, n, k): (usize, usize, usize),
    parallelism: gemm::Parallelism,
) {
    if crate::simd_forced() {
        // SAFETY: the caller's contract.
        unsafe { portable_product(alpha, (a, a_rs, a_cs), (b, b_rs, b_cs), beta, (c, c_rs, c_cs), (m, n, k)) };
        return;
    }
    // SAFETY: the caller's contract; `gemm` computes `dst = alpha_g * dst +
    // beta_g * lhs * rhs` and does not read `dst` when `read_dst` is false.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            c_cs,
            c_rs,
            beta != 0.0,
            a,
            a_cs,
            a_rs,
            b,
            b_cs,
            b_rs,
            beta,
            alpha,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// The product when `STRATA_SIMD` forces a path: each output row
/// accumulates `a_ip * B[p, :]` for `p` in order into a row of `f32`
/// accumulators, on the forced path (the `gemm` crate cannot be told which
/// kernel to take). Slower than the `gemm` crate; for tests that check
/// results do not depend on the CPU.
///
/// # Safety
/// As [`strided_product`].
#[allow(unsafe_code)]
unsafe fn portable_product(
    alpha: f32,
    (a, a_rs, a_cs): (*const f32, isize, isize),
    (b, b_rs, b_cs): (*const f32, isize, isize),
    beta: f32,
    (c, c_rs, c_cs): (*mut f32, isize, isize),
    (m, n, k): (usize, usize, usize),
) {
    // B as a dense row-major k x n copy, read row by row below.
    let mut dense_b = vec![0f32; k * n];
    for (p, row) in dense_b.chunks_exact_mut(n.max(1)).enumerate().take(k) {
        for (j, x) in row.iter_mut().enumerate() {
            // SAFETY: p < k, j < n lie inside the view (the caller's contract).
            *x = unsafe { *b.offset(p as isize * b_rs + j as isize * b_cs) };
        }
    }
    let mut acc = vec![0f32; n];
    for i in 0..m {
        acc.fill(0.0);
        for (p, row) in dense_b.chunks_exact(n.max(1)).enumerate().take(k) {
            // SAFETY: i < m, p < k lie inside the view (the caller's contract).
            let aip = unsafe { *a.offset(i as isize * a_rs + p as isize * a_cs) };
            axpy_row(aip, row, &mut acc);
        }
        for (j, &x) in acc.iter().enumerate() {
            // SAFETY: as above; `c` is written by this call only.
            unsafe {
                let at = c.offset(i as isize * c_rs + j as isize * c_cs);
                *at = if beta == 0.0 { alpha * x } else { alpha * x + beta * *at };
            }
        }
    }
}

simd_kernel! {
    /// `acc += a * row`, element by element (no fused multiply-add: the same
    /// bits on every path).
    fn axpy_row(a: f32, row: &[f32], acc: &mut [f32]) {
        for (x, &r) in acc.iter_mut().zip(row) {
            *x += a * r;
        }
    }
}

/// One call of the `gemm` crate; `c_strides` are (row, column) strides of `c`.
#[allow(unsafe_code, clippy::too_many_arguments)]
fn kernel(
    alpha: f32,
    a: &MatRef<'_>,
    b: &MatRef<'_>,
    beta: f32,
    c: &mut [f32],
    c_strides: (isize, isize),
    m: usize,
    n: usize,
    k: usize,
) {
    let (a_rs, a_cs) = strides(a);
    let (b_rs, b_cs) = strides(b);
    let (c_rs, c_cs) = c_strides;
    let threads_for = |m: usize, n: usize| if splits(m * n * k) { crate::par::threads() } else { 1 };
    // The `gemm` crate runs its vectors along the output's contiguous side
    // (rows when `c` is column-major), reading the left operand of that
    // orientation: `a`, or `b` transposed. The cut comes first, the same on
    // any number of threads, so that results do not depend on the threads.
    let along_rows = c_cs.unsigned_abs() >= c_rs.unsigned_abs();
    let unit = if along_rows { a_rs == 1 } else { b_cs == 1 };
    let (head, tail) = match aligned_split(if along_rows { m } else { n }, k, unit) {
        None => (((0, m), (0, n)), None),
        Some(len) if along_rows => (((0, len), (0, n)), Some(((len, m), (0, n)))),
        Some(len) => (((0, m), (0, len)), Some(((0, m), (len, n)))),
    };
    CALLS.fetch_add(1, Ordering::Relaxed);
    let threads = threads_for(head.0.1 - head.0.0, head.1.1 - head.1.0);
    if threads > 1 {
        PARALLEL_CALLS.fetch_add(1, Ordering::Relaxed);
        crate::par::stream::note_shared();
    }
    let out = OutPtr(c.as_mut_ptr());
    // Rows `r0..r1` and columns `c0..c1` of the output.
    let block = |(r0, r1): (usize, usize), (c0, c1): (usize, usize), parallelism| {
        // SAFETY: the views were checked on construction (`data.len() == rows * cols`)
        // and `gemm` above checked that op(A) is m x k, op(B) is k x n and that `c`
        // holds m x n values (row-major, or column-major scratch of that length),
        // so with `r0 < r1 <= m` and `c0 < c1 <= n` every strided access the
        // kernel makes lies inside its slice (strides are positive). `c` is a
        // unique borrow, so it cannot alias `a` or `b`, and pieces run at the
        // same time cover disjoint blocks of it. The `gemm` crate computes
        // `dst = alpha_g * dst + beta_g * lhs * rhs`, and does not read `dst`
        // when `read_dst` is false (our beta == 0: C may hold NaN).
        unsafe {
            strided_product(
                alpha,
                (a.data.as_ptr().offset(r0 as isize * a_rs), a_rs, a_cs),
                (b.data.as_ptr().offset(c0 as isize * b_cs), b_rs, b_cs),
                beta,
                (out.get().offset(r0 as isize * c_rs + c0 as isize * c_cs), c_rs, c_cs),
                (r1 - r0, c1 - c0, k),
                parallelism,
            );
        }
    };
    // Rows `r0..r1` and columns `c0..c1` as one product, on `threads`.
    let region = |((r0, r1), (c0, c1)): ((usize, usize), (usize, usize)), threads: usize| {
        let (m, n) = (r1 - r0, c1 - c0);
        if threads < 2 {
            return block((r0, r1), (c0, c1), gemm::Parallelism::None);
        }
        if rayon::current_thread_index().is_some() {
            return block((r0, r1), (c0, c1), gemm::Parallelism::Rayon(threads));
        }
        // Called from outside the pool (a user's own thread).
        let at = |(lo, hi): (usize, usize), start: usize| (start + lo, start + hi);
        match caller_cut(m, n, k, threads, along_rows) {
            Some(true) => {
                with_caller(threads, |i| block(at(bounds(m, threads, i), r0), (c0, c1), gemm::Parallelism::None))
            }
            Some(false) => {
                with_caller(threads, |i| block((r0, r1), at(bounds(n, threads, i), c0), gemm::Parallelism::None))
            }
            // Each parallel region of the `gemm` crate (one per block of depth
            // and columns) would hand its work to the pool and put this thread
            // to sleep until it ends: hand the whole product over once instead
            // (1.06x on W1-mlp, 256x784x256, on Zen 5, before it was cut).
            None => rayon::scope(|_| block((r0, r1), (c0, c1), gemm::Parallelism::Rayon(threads))),
        }
    };
    region(head, threads);
    if let Some(tail @ ((r0, r1), (c0, c1))) = tail {
        // From outside the pool the remainder (at most 15 outputs wide) runs
        // on this thread: handing it over would wake a worker for it.
        let inside = rayon::current_thread_index().is_some();
        region(tail, if inside { threads_for(r1 - r0, c1 - c0) } else { 1 });
    }
}

/// Where to cut the side of `len` outputs along which the `gemm` crate runs
/// its vectors (depth `k`), if at all: before the last `len % lanes`. The
/// crate copies (packs) the whole left operand when that side is not a
/// multiple of its vector width, even when the operand is already laid out
/// as its kernel reads it (`unit`). Cut, the aligned part reads it in
/// place and only the remainder is packed. Measured on Zen 5 for W3's
/// forward product (16x72 weights times a 72x196 column matrix, one
/// thread): 3.2 µs whole, 2.5 µs cut as 192 + 4 columns; the second call
/// costs about 0.6 µs, so sides under 32 and operands under 8192 values
/// are not cut.
fn aligned_split(len: usize, k: usize, unit: bool) -> Option<usize> {
    if !unit || len < 32 || len.is_multiple_of(16) || len.saturating_mul(k) < 8192 {
        return None;
    }
    let lanes = if crate::simd_path() == crate::SimdPath::Avx512 { 16 } else { 8 };
    let aligned = len / lanes * lanes;
    (aligned < len).then_some(aligned)
}

/// Products up to this many multiply-adds called from outside the pool are
/// cut between the caller and the pool ([`with_caller`]); larger ones go to
/// the pool whole. Each piece packs the whole of the operand it does not
/// cut, which costs more than the hand-off saves on large products:
/// measured on Zen 5 with `cargo xtask bench --compare` (5 rounds), cutting
/// gained 1.029x on W1-mlp (256x784x256, 5.1e7) and lost 0.954x on W1-1024
/// (1.1e9). The bound sits between the two.
const CALLER_CUTS_UP_TO: usize = 1 << 27;

/// Along which side the output of an `m x n` product (depth `k`) is cut
/// into `threads` pieces for [`with_caller`] (`true`: rows), if at all.
/// Where both sides could be cut, the cut runs across the side along which
/// the `gemm` crate runs its vectors (rows when `along_rows`): each piece
/// then packs only its own share of the operand the crate packs once per
/// product, where a cut of the other side has every piece pack all of it.
/// Measured on Zen 5 from the main thread (best of 40 x 20 calls): 1.024x
/// on 256x784x256, 1.056x on 256^3, 1.18x on 128^3, 1.00x on 512^3. A
/// piece computes the bits the whole product would only outside the `gemm`
/// crate's paths for small products, which block the depth differently
/// (both sides at most 64) or use other kernels (at most 256 outputs, one
/// row or column): so the side left whole must exceed 64 and each piece
/// keeps at least 16 of the cut side.
fn caller_cut(m: usize, n: usize, k: usize, threads: usize, along_rows: bool) -> Option<bool> {
    if m.saturating_mul(n).saturating_mul(k) > CALLER_CUTS_UP_TO {
        return None;
    }
    let rows = n > 64 && m >= 32 * threads;
    let cols = m > 64 && n >= 32 * threads;
    match (rows, cols) {
        (true, true) => Some(along_rows),
        (true, false) => Some(true),
        (false, true) => Some(false),
        (false, false) => None,
    }
}

/// Piece `i` of `len` cut into `pieces`, boundaries on multiples of 16 (a
/// vector of `f32`): with `len >= 32 * pieces`, every piece has at least 16.
fn bounds(len: usize, pieces: usize, i: usize) -> (usize, usize) {
    let start = |i: usize| if i >= pieces { len } else { len * i / pieces / 16 * 16 };
    (start(i), start(i + 1))
}

/// Runs `piece(0)` on the calling thread, which is not one of the pool's,
/// while the pool runs `piece(1)` to `piece(pieces - 1)`, then waits for
/// them, spinning (with a `yield` every 256 rounds). So the caller computes
/// a share instead of sleeping until the pool is done, and wakes nobody at
/// the end: 1.029x on W1-mlp (256x784x256, from the benchmark's main
/// thread) over handing the whole product to the pool, on Zen 5.
fn with_caller(pieces: usize, piece: impl Fn(usize) + Sync) {
    /// Counts a piece done, also when it unwinds (the caller's wait must end).
    struct Done<'a>(&'a AtomicUsize);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Release);
        }
    }
    let done = AtomicUsize::new(0);
    rayon::in_place_scope(|s| {
        for i in 1..pieces {
            let (piece, done) = (&piece, &done);
            s.spawn(move |_| {
                let _done = Done(done);
                piece(i);
            });
        }
        piece(0);
        let mut rounds = 0u32;
        while done.load(Ordering::Acquire) < pieces - 1 {
            std::hint::spin_loop();
            rounds = rounds.wrapping_add(1);
            if rounds.is_multiple_of(256) {
                std::thread::yield_now();
            }
        }
    });
}

impl Tensor {
    /// A rank-2 tensor as a nalgebra matrix (copied).
    pub fn to_dmatrix(&self) -> Result<DMatrix<f32>> {
        self.expect_rank("to_dmatrix", 2)?;
        Ok(DMatrix::from_row_slice(self.shape()[0], self.shape()[1], self.data()))
    }

    /// A nalgebra matrix as a rank-2 tensor (copied).
    pub fn from_dmatrix(m: &DMatrix<f32>) -> Tensor {
        let data: Vec<f32> = m.transpose().as_slice().to_vec();
        Tensor::from_vec(&[m.nrows(), m.ncols()], data).unwrap_or_default()
    }

    /// The matrix product of two rank-2 tensors, `self * other`.
    ///
    /// ```
    /// use strata_tensor::Tensor;
    /// let a = Tensor::from_vec(&[1, 2], vec![1.0, 2.0])?;
    /// let b = Tensor::from_vec(&[2, 1], vec![3.0, 4.0])?;
    /// assert_eq!(a.matmul(&b)?.data(), &[11.0]);
    /// # Ok::<(), strata_tensor::TensorError>(())
    /// ```
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let a = MatRef::from_tensor(self)?;
        let b = MatRef::from_tensor(other)?;
        let (m, _) = a.dims();
        let (_, n) = b.dims();
        let mut out = Tensor::zeros(&[m, n]);
        gemm(1.0, a, b, 0.0, MatMut::from_tensor(&mut out)?).map_err(|e| match e {
            TensorError::ShapeMismatch { .. } => {
                TensorError::ShapeMismatch { op: "matmul", left: self.shape().to_vec(), right: other.shape().to_vec() }
            }
            other => other,
        })?;
        Ok(out)
    }
}
