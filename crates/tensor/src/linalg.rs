//! The one matrix-multiply entry point: `C = alpha * op(A) * op(B) + beta * C`.
//!
//! Every product in Strata (dense layers, convolution through im2col, attention)
//! goes through [`gemm`], so a faster kernel replaces it here without touching
//! a caller. Today the kernel is nalgebra's `gemm` on strided views (which
//! dispatches to `matrixmultiply`'s packed SIMD kernel for `f32`).

use crate::error::{Result, TensorError};
use crate::tensor::Tensor;
use nalgebra::{DMatrixView, DMatrixViewMut};

/// A read-only row-major matrix view: `rows x cols` elements of `data`,
/// optionally used transposed.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    transposed: bool,
}

/// A mutable row-major matrix view for the output of [`gemm`].
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

    /// Rows and columns of `op(self)`.
    pub fn dims(&self) -> (usize, usize) {
        if self.transposed { (self.cols, self.rows) } else { (self.rows, self.cols) }
    }

    fn view(&self) -> DMatrixView<'a, f32, nalgebra::Dyn, nalgebra::Dyn> {
        // Row-major (r, c) lives at r * cols + c: row stride `cols`, column stride 1.
        // Transposed, the roles of the strides swap.
        if self.transposed {
            DMatrixView::from_slice_with_strides(self.data, self.cols, self.rows, 1, self.cols)
        } else {
            DMatrixView::from_slice_with_strides(self.data, self.rows, self.cols, self.cols, 1)
        }
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
    if m.min(n).min(k) <= SMALL_DIM {
        small_gemm(alpha, &a, &b, beta, c.data, m, n, k);
        return Ok(());
    }
    let mut cv = DMatrixViewMut::from_slice_with_strides_mut(c.data, m, n, n, 1);
    cv.gemm(alpha, &a.view(), &b.view(), beta);
    Ok(())
}

/// nalgebra hands products with a dimension of at most 5 to a generic path
/// that indexes strided views out of bounds (its `axcpy` on a column of a
/// row-major view); those go to [`small_gemm`] instead.
const SMALL_DIM: usize = 5;

/// A plain kernel for thin products (one dimension <= [`SMALL_DIM`]), with
/// a contiguous inner loop for each transpose case.
#[allow(clippy::too_many_arguments)]
fn small_gemm(alpha: f32, a: &MatRef<'_>, b: &MatRef<'_>, beta: f32, c: &mut [f32], m: usize, n: usize, k: usize) {
    if beta == 0.0 {
        c.fill(0.0);
    } else if beta != 1.0 {
        c.iter_mut().for_each(|x| *x *= beta);
    }
    let (ad, bd) = (a.data, b.data);
    match (a.transposed, b.transposed) {
        // C[i, :] += alpha * A[i, p] * B[p, :]
        (false, false) => {
            for i in 0..m {
                let crow = &mut c[i * n..(i + 1) * n];
                for p in 0..k {
                    let s = alpha * ad[i * k + p];
                    for (cv, &bv) in crow.iter_mut().zip(&bd[p * n..(p + 1) * n]) {
                        *cv += s * bv;
                    }
                }
            }
        }
        // C[i, j] += alpha * dot(A[i, :], B_stored[j, :])
        (false, true) => {
            for i in 0..m {
                let arow = &ad[i * k..(i + 1) * k];
                for j in 0..n {
                    let dot: f32 = arow.iter().zip(&bd[j * k..(j + 1) * k]).map(|(x, y)| x * y).sum();
                    c[i * n + j] += alpha * dot;
                }
            }
        }
        // C[i, :] += alpha * A_stored[p, i] * B[p, :]
        (true, false) => {
            for p in 0..k {
                let brow = &bd[p * n..(p + 1) * n];
                for i in 0..m {
                    let s = alpha * ad[p * m + i];
                    for (cv, &bv) in c[i * n..(i + 1) * n].iter_mut().zip(brow) {
                        *cv += s * bv;
                    }
                }
            }
        }
        // C[i, j] += alpha * sum_p A_stored[p, i] * B_stored[j, p]
        (true, true) => {
            for i in 0..m {
                for j in 0..n {
                    let dot: f32 = (0..k).map(|p| ad[p * m + i] * bd[j * k + p]).sum();
                    c[i * n + j] += alpha * dot;
                }
            }
        }
    }
}

impl Tensor {
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
