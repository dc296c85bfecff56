//! The batched form of the one GEMM entry point: `C_i = alpha op(A_i)
//! op(B_i) + beta C_i` for a batch of independent products laid out with
//! strides (attention's `Q K^T` and `A V`, one product per sample and head).

use crate::error::{Result, TensorError};
use crate::linalg::{CALLS, OutPtr, PARALLEL_CALLS, PARALLEL_THRESHOLD, split_from};
use rayon::prelude::*;
use std::sync::atomic::Ordering;

/// A batch of `count` matrices of `rows x cols` read from one slice: element
/// `(i, j)` of matrix `t` is `data[t * stride + i * ld + j]` (row-major with
/// leading dimension `ld >= cols`), optionally used transposed.
///
/// With `ld` larger than `cols`, a matrix can be one head's columns of a
/// `[sequence, heads * head_dim]` tensor, read in place without a copy.
#[derive(Debug, Clone, Copy)]
pub struct BatchRef<'a> {
    data: &'a [f32],
    count: usize,
    rows: usize,
    cols: usize,
    ld: usize,
    stride: usize,
    transposed: bool,
}

/// The mutable batch [`gemm_batched`] writes: as [`BatchRef`], and its
/// matrices must not overlap (`ld >= cols`, `stride >= (rows - 1) ld + cols`).
#[derive(Debug)]
pub struct BatchMut<'a> {
    data: &'a mut [f32],
    count: usize,
    rows: usize,
    cols: usize,
    ld: usize,
    stride: usize,
}

/// The smallest slice length holding `count` matrices of this layout, or
/// `None` on overflow or for a leading dimension below `cols`.
fn extent(count: usize, rows: usize, cols: usize, ld: usize, stride: usize) -> Option<usize> {
    if ld < cols {
        return None;
    }
    if count == 0 || rows == 0 || cols == 0 {
        return Some(0);
    }
    let last_in_matrix = (rows - 1).checked_mul(ld)?.checked_add(cols)?;
    (count - 1).checked_mul(stride)?.checked_add(last_in_matrix)
}

fn layout_error(
    op: &'static str,
    count: usize,
    rows: usize,
    cols: usize,
    ld: usize,
    stride: usize,
    len: usize,
) -> TensorError {
    TensorError::InvalidArgument {
        op,
        reason: format!(
            "{count} matrices of {rows}x{cols} with leading dimension {ld} and stride {stride} do not fit in {len} \
             values (or ld < cols)"
        ),
    }
}

impl<'a> BatchRef<'a> {
    /// `count` matrices of `rows x cols` at `t * stride`, rows `ld` apart.
    pub fn new(data: &'a [f32], count: usize, rows: usize, cols: usize, ld: usize, stride: usize) -> Result<Self> {
        match extent(count, rows, cols, ld, stride) {
            Some(n) if n <= data.len() => Ok(BatchRef { data, count, rows, cols, ld, stride, transposed: false }),
            _ => Err(layout_error("BatchRef::new", count, rows, cols, ld, stride, data.len())),
        }
    }

    /// `count` contiguous row-major matrices of `rows x cols`, one after the other.
    pub fn contiguous(data: &'a [f32], count: usize, rows: usize, cols: usize) -> Result<Self> {
        BatchRef::new(data, count, rows, cols, cols, rows * cols)
    }

    /// The same matrices, used transposed (no copy).
    pub fn t(self) -> Self {
        BatchRef { transposed: !self.transposed, ..self }
    }

    /// Rows and columns of `op(matrix)`.
    fn dims(&self) -> (usize, usize) {
        if self.transposed { (self.cols, self.rows) } else { (self.rows, self.cols) }
    }

    /// (row, column) strides of `op(matrix)`.
    fn strides(&self) -> (isize, isize) {
        if self.transposed { (1, self.ld as isize) } else { (self.ld as isize, 1) }
    }
}

impl<'a> BatchMut<'a> {
    /// `count` matrices of `rows x cols` at `t * stride`, rows `ld` apart, not
    /// overlapping.
    pub fn new(data: &'a mut [f32], count: usize, rows: usize, cols: usize, ld: usize, stride: usize) -> Result<Self> {
        let overlap = count > 1 && rows > 0 && cols > 0 && stride < (rows - 1) * ld + cols;
        match extent(count, rows, cols, ld, stride) {
            Some(n) if n <= data.len() && !overlap => Ok(BatchMut { data, count, rows, cols, ld, stride }),
            _ => Err(layout_error("BatchMut::new", count, rows, cols, ld, stride, data.len())),
        }
    }

    /// `count` contiguous row-major matrices of `rows x cols`.
    pub fn contiguous(data: &'a mut [f32], count: usize, rows: usize, cols: usize) -> Result<Self> {
        BatchMut::new(data, count, rows, cols, cols, rows * cols)
    }
}

/// `C_t = alpha * op(A_t) * op(B_t) + beta * C_t` for every `t` of a batch,
/// with `op` the identity or the transpose as each batch says. With
/// `beta == 0`, `C` is not read.
///
/// Each product is computed by the same kernel as [`crate::gemm`], whole, by
/// one call: when the batch is larger than the thread count and each product
/// is small, products go to rayon's threads one by one; otherwise they run
/// in turn, each split between threads above the size threshold (over its
/// output, never its sum). Results do not depend on the thread count.
///
/// ```
/// use strata_tensor::{BatchMut, BatchRef, gemm_batched};
/// // Two products of [2, 2] x [2, 2]^T.
/// let a = [1.0, 2.0, 3.0, 4.0, /* second */ 1.0, 0.0, 0.0, 1.0];
/// let b = [5.0, 6.0, 7.0, 8.0, /* second */ 5.0, 6.0, 7.0, 8.0];
/// let mut c = [0.0; 8];
/// gemm_batched(1.0, BatchRef::contiguous(&a, 2, 2, 2)?, BatchRef::contiguous(&b, 2, 2, 2)?.t(), 0.0,
///     BatchMut::contiguous(&mut c, 2, 2, 2)?)?;
/// assert_eq!(c, [17.0, 23.0, 39.0, 53.0, /* I B^T */ 5.0, 7.0, 6.0, 8.0]);
/// # Ok::<(), strata_tensor::TensorError>(())
/// ```
pub fn gemm_batched(alpha: f32, a: BatchRef<'_>, b: BatchRef<'_>, beta: f32, c: BatchMut<'_>) -> Result<()> {
    let (m, k) = a.dims();
    let (k2, n) = b.dims();
    if a.count != b.count || a.count != c.count {
        return Err(TensorError::ShapeMismatch {
            op: "gemm_batched: batch sizes of A, B and C",
            left: vec![a.count, b.count],
            right: vec![c.count],
        });
    }
    if k != k2 {
        return Err(TensorError::ShapeMismatch {
            op: "gemm_batched: inner dimensions of op(A) and op(B)",
            left: vec![m, k],
            right: vec![k2, n],
        });
    }
    if (c.rows, c.cols) != (m, n) {
        return Err(TensorError::ShapeMismatch {
            op: "gemm_batched: output of op(A) * op(B)",
            left: vec![m, n],
            right: vec![c.rows, c.cols],
        });
    }
    if c.count == 0 || m == 0 || n == 0 {
        return Ok(());
    }
    let work = m * n * k.max(1);
    let threads = crate::par::threads();
    let count = c.count;
    let threshold = split_from();
    // Items split between threads share no operand: unlike one product
    // (`threshold`), they split at the usual size on far threads too.
    let across =
        count >= threads && threads > 1 && work < threshold && work.saturating_mul(count) >= PARALLEL_THRESHOLD;
    let out = OutView { ptr: OutPtr(c.data.as_mut_ptr()), ld: c.ld, stride: c.stride };
    let one = |t: usize, parallel: bool| product(alpha, &a, &b, beta, &out, t, (m, n, k), parallel);
    if across {
        (0..count).into_par_iter().for_each(|t| one(t, false));
    } else {
        (0..count).for_each(|t| one(t, work >= threshold));
    }
    Ok(())
}

/// What a thread needs of the output: the pointer and the layout.
#[derive(Clone, Copy)]
struct OutView {
    ptr: OutPtr,
    ld: usize,
    stride: usize,
}

/// Product `t` of the batch, on this thread or split between threads.
#[allow(unsafe_code, clippy::too_many_arguments)]
fn product(
    alpha: f32,
    a: &BatchRef<'_>,
    b: &BatchRef<'_>,
    beta: f32,
    c: &OutView,
    t: usize,
    (m, n, k): (usize, usize, usize),
    parallel: bool,
) {
    let (a_rs, a_cs) = a.strides();
    let (b_rs, b_cs) = b.strides();
    CALLS.fetch_add(1, Ordering::Relaxed);
    let threads = crate::par::threads();
    let parallelism = if parallel && threads > 1 {
        PARALLEL_CALLS.fetch_add(1, Ordering::Relaxed);
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    if k == 0 {
        for i in 0..m {
            for j in 0..n {
                // SAFETY: as below, (i, j) with i < m, j < n lies in matrix t
                // of the checked output layout, written by this call only.
                unsafe {
                    let at = c.ptr.0.add(t * c.stride + i * c.ld + j);
                    *at = if beta == 0.0 { 0.0 } else { beta * *at };
                }
            }
        }
        return;
    }
    // SAFETY: the batch views were checked on construction: matrix `t` of A
    // (and of B, C) lies inside its slice at offset `t * stride`, with `rows`
    // rows `ld` apart and `cols <= ld` columns; `gemm_batched` checked that
    // op(A_t) is m x k, op(B_t) is k x n and C_t is m x n. The output
    // matrices do not overlap (checked in `BatchMut::new`) and come from a
    // unique borrow, so they alias neither A nor B, and each is written by
    // exactly one call. The `gemm` crate computes `dst = alpha_g * dst +
    // beta_g * lhs * rhs` and does not read `dst` when `read_dst` is false.
    unsafe {
        crate::linalg::strided_product(
            alpha,
            (a.data.as_ptr().add(t * a.stride), a_rs, a_cs),
            (b.data.as_ptr().add(t * b.stride), b_rs, b_cs),
            beta,
            (c.ptr.0.add(t * c.stride), c.ld as isize, 1),
            (m, n, k),
            parallelism,
        );
    }
}
