//! The [`Tensor`] type: shape plus contiguous row-major `f32` storage.

use crate::error::{Result, TensorError};
use crate::rng::StrataRng;
use rand_distr::{Distribution, Normal, Uniform};
use serde::{Deserialize, Serialize};

/// An n-dimensional `f32` tensor: a shape and a contiguous, row-major buffer.
///
/// The last axis varies fastest. A rank-2 tensor `[rows, cols]` is a batch of
/// rows; most layers see their input that way (`[batch, features]`).
///
/// Tensors own their buffer. Operations that would allocate in a hot loop have
/// an in-place or `_into` form that reuses the destination's allocation
/// ([`Tensor::resize`], [`Tensor::copy_from`], [`Tensor::gather_rows_into`]).
///
/// **Serialized**, a tensor is its shape and its values: as `f32`s in binary
/// formats (model files), and as the `u32` bit patterns of its values in text
/// formats such as JSON (training snapshots, callback states), where a float
/// written as text could come back one bit off, and NaN not at all. Either
/// way it comes back bit for bit, and is checked on the way in, so a corrupt
/// file cannot produce a tensor whose buffer disagrees with its shape.
#[derive(Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// The binary form.
#[derive(Serialize, Deserialize)]
struct TensorRepr {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// The text form: every value's bits, or (inside [`crate::blob::write_blob`])
/// the offset of the values in a binary blob.
#[derive(Serialize, Deserialize)]
struct TensorBitsRepr {
    shape: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bits: Option<Vec<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<u64>,
}

impl Serialize for Tensor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            if let Some(at) = crate::blob::push(&self.data) {
                return TensorBitsRepr { shape: self.shape.clone(), bits: None, at: Some(at) }.serialize(serializer);
            }
            let bits = self.data.iter().map(|x| x.to_bits()).collect();
            TensorBitsRepr { shape: self.shape.clone(), bits: Some(bits), at: None }.serialize(serializer)
        } else {
            // Borrowed: a model file's tensors are not copied to be written.
            #[derive(Serialize)]
            struct Borrowed<'a> {
                shape: &'a [usize],
                data: &'a [f32],
            }
            Borrowed { shape: &self.shape, data: &self.data }.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Tensor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let (shape, data) = if deserializer.is_human_readable() {
            let r = TensorBitsRepr::deserialize(deserializer)?;
            let data = match (r.bits, r.at) {
                (Some(bits), None) => bits.into_iter().map(f32::from_bits).collect(),
                (None, Some(at)) => {
                    let n = checked_numel(&r.shape)
                        .ok_or_else(|| serde::de::Error::custom(format!("shape {:?} overflows", r.shape)))?;
                    crate::blob::take(at, n).map_err(serde::de::Error::custom)?
                }
                _ => return Err(serde::de::Error::custom("a tensor needs either `bits` or `at`")),
            };
            (r.shape, data)
        } else {
            let r = TensorRepr::deserialize(deserializer)?;
            (r.shape, r.data)
        };
        Tensor::from_vec(&shape, data).map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 8;
        write!(f, "Tensor{:?} ", self.shape)?;
        let head = &self.data[..self.data.len().min(SHOWN)];
        if self.data.len() > SHOWN {
            write!(f, "{head:?}..(+{})", self.data.len() - SHOWN)
        } else {
            write!(f, "{head:?}")
        }
    }
}

/// Number of elements a shape holds, or `None` on overflow.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

fn numel(op: &'static str, shape: &[usize]) -> Result<usize> {
    // A `Vec` holds at most `isize::MAX` bytes; and an empty tensor's other
    // axes must multiply too (its row length is computed from them).
    let non_zero = shape.iter().filter(|&&d| d > 0).try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let fits = non_zero.is_some_and(|n| n <= isize::MAX as usize / 4);
    checked_numel(shape).filter(|_| fits).ok_or_else(|| TensorError::InvalidArgument {
        op,
        reason: format!("shape {shape:?} holds more elements than fit in memory"),
    })
}

/// A buffer of `n` values, or [`TensorError::Alloc`] when the allocator
/// refuses it (instead of aborting the process).
fn try_buffer(op: &'static str, shape: &[usize], n: usize) -> Result<Vec<f32>> {
    let mut data = Vec::new();
    data.try_reserve_exact(n).map_err(|_| TensorError::Alloc { op, shape: shape.to_vec(), bytes: n as u64 * 4 })?;
    Ok(data)
}

impl Default for Tensor {
    /// An empty rank-1 tensor (shape `[0]`).
    fn default() -> Self {
        Tensor { shape: vec![0], data: Vec::new() }
    }
}

impl Tensor {
    // ----- creation -------------------------------------------------------

    /// A tensor of zeros. Panics only if the element count overflows `usize`.
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// A tensor of zeros, or an error when the shape overflows or the
    /// memory cannot be allocated: what a constructor sized by its caller
    /// (a layer's weights) uses.
    ///
    /// ```
    /// use strata_tensor::{Tensor, TensorError};
    /// assert_eq!(Tensor::try_zeros(&[2, 3])?.data(), [0.0; 6]);
    /// assert!(matches!(Tensor::try_zeros(&[1 << 40, 1 << 20]), Err(TensorError::Alloc { .. })));
    /// # Ok::<(), TensorError>(())
    /// ```
    pub fn try_zeros(shape: &[usize]) -> Result<Tensor> {
        Tensor::try_full(shape, 0.0)
    }

    /// [`Tensor::full`], or an error when the shape overflows or the memory
    /// cannot be allocated.
    pub fn try_full(shape: &[usize], value: f32) -> Result<Tensor> {
        let n = numel("full", shape)?;
        let mut data = try_buffer("full", shape, n)?;
        data.resize(n, value);
        Ok(Tensor { shape: shape.to_vec(), data })
    }

    /// Give the tensor the shape `shape` as [`Tensor::resize`] does, or an
    /// error when the shape overflows or the memory cannot be allocated
    /// (the tensor is left as it was): for outputs whose size the input
    /// decides.
    pub fn try_resize(&mut self, shape: &[usize]) -> Result<()> {
        if self.shape != shape {
            let n = numel("resize", shape)?;
            if let Some(more) = n.checked_sub(self.data.len()) {
                self.data.try_reserve_exact(more).map_err(|_| TensorError::Alloc {
                    op: "resize",
                    shape: shape.to_vec(),
                    bytes: n as u64 * 4,
                })?;
            }
            self.data.resize(n, 0.0);
            self.shape.clear();
            self.shape.extend_from_slice(shape);
        }
        Ok(())
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 1.0)
    }

    /// A tensor with every element set to `value`.
    pub fn full(shape: &[usize], value: f32) -> Tensor {
        #[allow(clippy::expect_used)]
        let n = checked_numel(shape).expect("tensor shape overflows usize");
        Tensor { shape: shape.to_vec(), data: vec![value; n] }
    }

    /// A rank-0 tensor holding one value.
    pub fn scalar(value: f32) -> Tensor {
        Tensor { shape: Vec::new(), data: vec![value] }
    }

    /// Wrap a buffer; its length must equal the number of elements of `shape`.
    ///
    /// ```
    /// use strata_tensor::{Tensor, TensorError};
    /// let t = Tensor::from_vec(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    /// assert_eq!(t.shape(), &[2, 2]);
    /// assert!(matches!(Tensor::from_vec(&[2, 2], vec![1.0]), Err(TensorError::DataLength { .. })));
    /// ```
    pub fn from_vec(shape: &[usize], data: Vec<f32>) -> Result<Tensor> {
        let expected = numel("from_vec", shape)?;
        if expected != data.len() {
            return Err(TensorError::DataLength { op: "from_vec", shape: shape.to_vec(), expected, len: data.len() });
        }
        Ok(Tensor { shape: shape.to_vec(), data })
    }

    /// A rank-1 tensor from a slice.
    pub fn from_slice(data: &[f32]) -> Tensor {
        Tensor { shape: vec![data.len()], data: data.to_vec() }
    }

    /// A rank-2 tensor from equally long rows.
    pub fn from_rows(rows: &[Vec<f32>]) -> Result<Tensor> {
        let cols = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(rows.len() * cols);
        for (i, row) in rows.iter().enumerate() {
            if row.len() != cols {
                return Err(TensorError::ShapeMismatch {
                    op: "from_rows",
                    left: vec![cols],
                    right: vec![i, row.len()],
                });
            }
            data.extend_from_slice(row);
        }
        Ok(Tensor { shape: vec![rows.len(), cols], data })
    }

    /// Samples from a normal distribution `N(mean, std^2)`.
    pub fn random_normal(shape: &[usize], mean: f32, std: f32, rng: &mut StrataRng) -> Result<Tensor> {
        let n = numel("random_normal", shape)?;
        if !(std >= 0.0 && std.is_finite() && mean.is_finite()) {
            return Err(TensorError::InvalidArgument {
                op: "random_normal",
                reason: format!("mean {mean}, std {std}: the mean must be finite and the std finite and >= 0"),
            });
        }
        let dist = Normal::new(mean, std).map_err(|e| TensorError::InvalidArgument {
            op: "random_normal",
            reason: format!("mean {mean}, std {std}: {e}"),
        })?;
        let mut data = try_buffer("random_normal", shape, n)?;
        data.extend((0..n).map(|_| dist.sample(rng)));
        Ok(Tensor { shape: shape.to_vec(), data })
    }

    /// Samples from a uniform distribution on `[low, high)`.
    pub fn random_uniform(shape: &[usize], low: f32, high: f32, rng: &mut StrataRng) -> Result<Tensor> {
        let n = numel("random_uniform", shape)?;
        let dist = Uniform::new(low, high).map_err(|e| TensorError::InvalidArgument {
            op: "random_uniform",
            reason: format!("range [{low}, {high}): {e}"),
        })?;
        let mut data = try_buffer("random_uniform", shape, n)?;
        data.extend((0..n).map(|_| dist.sample(rng)));
        Ok(Tensor { shape: shape.to_vec(), data })
    }

    // ----- inspection -----------------------------------------------------

    /// The shape, outermost axis first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor holds no element.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The elements, row-major, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Give up the buffer.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Size of the first axis (the batch), 1 for a scalar.
    pub fn n_rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// Elements per row: the product of all axes but the first.
    pub fn row_len(&self) -> usize {
        if self.shape.is_empty() { 1 } else { self.shape[1..].iter().product() }
    }

    /// Row `i` (along the first axis) as a slice.
    pub fn row(&self, i: usize) -> Result<&[f32]> {
        if i >= self.n_rows() {
            return Err(TensorError::OutOfRange { op: "row", index: i, shape: self.shape.clone() });
        }
        let w = self.row_len();
        Ok(&self.data[i * w..(i + 1) * w])
    }

    /// The element at a multi-index.
    pub fn get(&self, index: &[usize]) -> Result<f32> {
        if index.len() != self.shape.len() {
            return Err(TensorError::Rank { op: "get", expected: self.shape.len(), shape: index.to_vec() });
        }
        let mut flat = 0;
        for (axis, (&i, &d)) in index.iter().zip(&self.shape).enumerate() {
            if i >= d {
                return Err(TensorError::OutOfRange { op: "get", index: axis, shape: self.shape.clone() });
            }
            flat = flat * d + i;
        }
        Ok(self.data[flat])
    }

    /// True when every element is finite (no NaN, no infinity).
    pub fn is_finite(&self) -> bool {
        self.data.iter().all(|x| x.is_finite())
    }

    /// Check that the tensor has `rank` axes.
    pub fn expect_rank(&self, op: &'static str, rank: usize) -> Result<()> {
        if self.rank() == rank {
            Ok(())
        } else {
            Err(TensorError::Rank { op, expected: rank, shape: self.shape.clone() })
        }
    }

    fn same_shape(&self, op: &'static str, other: &Tensor) -> Result<()> {
        if self.shape == other.shape {
            Ok(())
        } else {
            Err(TensorError::ShapeMismatch { op, left: self.shape.clone(), right: other.shape.clone() })
        }
    }

    // ----- buffer reuse ---------------------------------------------------

    /// Give the tensor a new shape, reusing its allocation. Existing values are
    /// kept where they fit; new elements are zero. Allocates only to grow.
    pub fn resize(&mut self, shape: &[usize]) {
        if self.shape != shape {
            #[allow(clippy::expect_used)]
            let n = checked_numel(shape).expect("tensor shape overflows usize");
            self.data.resize(n, 0.0);
            self.shape.clear();
            self.shape.extend_from_slice(shape);
        }
    }

    /// Give the tensor the shape `[..lead, last]`, reusing its allocation (as
    /// [`Tensor::resize`], without building the shape first).
    pub fn resize_with_last(&mut self, lead: &[usize], last: usize) {
        if self.shape.len() == lead.len() + 1 && self.shape[..lead.len()] == *lead && self.shape[lead.len()] == last {
            return;
        }
        #[allow(clippy::expect_used)]
        let n = checked_numel(lead).and_then(|n| n.checked_mul(last)).expect("tensor shape overflows usize");
        self.data.resize(n, 0.0);
        self.shape.clear();
        self.shape.extend_from_slice(lead);
        self.shape.push(last);
    }

    /// Become a copy of `other`, reusing this tensor's allocation. A large
    /// copy is split between the threads in halves of its rows, as the
    /// element-wise passes are (`crate::par`), so a layer's kept input
    /// stays with the thread that computed that half of it. While the
    /// threads are far apart and share data, the copy streams past the
    /// caches ([`crate::par::stream`]).
    pub fn copy_from(&mut self, other: &Tensor) {
        self.resize(&other.shape);
        let src = &other.data;
        crate::par::par_rows_mut(&mut self.data, 1, |start, out| {
            crate::par::stream::copy(out, &src[start..start + out.len()])
        });
    }

    /// Set every element to `value`. A large tensor (from
    /// [`crate::par::PAR_MIN_ELEMENTS`] values, times
    /// [`crate::par::split_scale`]) is filled by all threads, a piece each,
    /// when called on one of rayon's threads: the trainer zeroes the
    /// gradients this way before each step, which made W2's epoch at batch 64
    /// about 3.5% faster near (Zen 4, `docs/performance.md`). While the
    /// threads are far apart and share data, the values stream past the
    /// caches ([`crate::par::stream`]).
    pub fn fill(&mut self, value: f32) {
        if !crate::par::splits_shared_pass(self.data.len()) {
            crate::par::stream::fill(&mut self.data, value);
            return;
        }
        crate::par::par_rows_mut(&mut self.data, 1, |_, out| crate::par::stream::fill(out, value));
    }

    /// A tensor with the same data and a new shape of the same element count.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        self.clone().into_reshape(shape)
    }

    /// Change the shape in place (same element count; no copy).
    pub fn reshape_in_place(&mut self, shape: &[usize]) -> Result<()> {
        let n = numel("reshape", shape)?;
        if n != self.data.len() {
            return Err(TensorError::ShapeMismatch { op: "reshape", left: self.shape.clone(), right: shape.to_vec() });
        }
        self.shape.clear();
        self.shape.extend_from_slice(shape);
        Ok(())
    }

    /// [`Tensor::reshape`] without the copy.
    pub fn into_reshape(mut self, shape: &[usize]) -> Result<Tensor> {
        self.reshape_in_place(shape)?;
        Ok(self)
    }

    // ----- element-wise ---------------------------------------------------

    /// A new tensor with `f` applied to every element.
    pub fn map(&self, f: impl Fn(f32) -> f32) -> Tensor {
        Tensor { shape: self.shape.clone(), data: self.data.iter().map(|&x| f(x)).collect() }
    }

    /// Apply `f` to every element in place.
    pub fn map_inplace(&mut self, f: impl Fn(f32) -> f32) {
        for x in &mut self.data {
            *x = f(*x);
        }
    }

    /// Combine two tensors of the same shape element by element.
    pub fn zip_map(&self, other: &Tensor, f: impl Fn(f32, f32) -> f32) -> Result<Tensor> {
        self.same_shape("zip_map", other)?;
        let data = self.data.iter().zip(&other.data).map(|(&a, &b)| f(a, b)).collect();
        Ok(Tensor { shape: self.shape.clone(), data })
    }

    fn binary(&self, op: &'static str, other: &Tensor, f: impl Fn(f32, f32) -> f32) -> Result<Tensor> {
        self.same_shape(op, other)?;
        let data = self.data.iter().zip(&other.data).map(|(&a, &b)| f(a, b)).collect();
        Ok(Tensor { shape: self.shape.clone(), data })
    }

    fn binary_assign(
        &mut self,
        op: &'static str,
        other: &Tensor,
        f: impl Fn(&mut f32, f32) + Sync + Send,
    ) -> Result<()> {
        self.same_shape(op, other)?;
        let theirs = &other.data;
        crate::par::par_rows_mut(&mut self.data, 1, |start, mine| {
            for (a, &b) in mine.iter_mut().zip(&theirs[start..]) {
                f(a, b);
            }
        });
        Ok(())
    }

    /// `self = a + b` (same shapes), reusing `self`'s allocation: one pass
    /// where a copy and an addition take two (the residual connections).
    pub fn assign_sum(&mut self, a: &Tensor, b: &Tensor) -> Result<()> {
        a.same_shape("assign_sum", b)?;
        self.resize(a.shape());
        let (a, b) = (&a.data, &b.data);
        crate::par::par_rows_mut(&mut self.data, 1, |start, out| {
            for ((y, &x), &z) in out.iter_mut().zip(&a[start..]).zip(&b[start..]) {
                *y = x + z;
            }
        });
        Ok(())
    }

    /// `self + other`, same shapes.
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        self.binary("add", other, |a, b| a + b)
    }

    /// `self - other`, same shapes.
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        self.binary("sub", other, |a, b| a - b)
    }

    /// Element-wise product, same shapes.
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        self.binary("mul", other, |a, b| a * b)
    }

    /// Element-wise quotient, same shapes.
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        self.binary("div", other, |a, b| a / b)
    }

    /// `self += other`.
    pub fn add_assign(&mut self, other: &Tensor) -> Result<()> {
        self.binary_assign("add_assign", other, |a, b| *a += b)
    }

    /// `self -= other`.
    pub fn sub_assign(&mut self, other: &Tensor) -> Result<()> {
        self.binary_assign("sub_assign", other, |a, b| *a -= b)
    }

    /// `self *= other`, element-wise.
    pub fn mul_assign(&mut self, other: &Tensor) -> Result<()> {
        self.binary_assign("mul_assign", other, |a, b| *a *= b)
    }

    /// `self += alpha * other` (BLAS's axpy).
    pub fn axpy(&mut self, alpha: f32, other: &Tensor) -> Result<()> {
        self.binary_assign("axpy", other, |a, b| *a += alpha * b)
    }

    /// A new tensor `self * factor`.
    pub fn scale(&self, factor: f32) -> Tensor {
        self.map(|x| x * factor)
    }

    /// `self *= factor`.
    pub fn scale_assign(&mut self, factor: f32) {
        for x in &mut self.data {
            *x *= factor;
        }
    }

    /// A new tensor `self + value`.
    pub fn add_scalar(&self, value: f32) -> Tensor {
        self.map(|x| x + value)
    }

    /// Add `row` (shape `[last axis]`) to every row: the bias of a dense layer.
    ///
    /// ```
    /// use strata_tensor::Tensor;
    /// let mut x = Tensor::zeros(&[2, 3]);
    /// x.add_row_assign(&Tensor::from_slice(&[1.0, 2.0, 3.0])).unwrap();
    /// assert_eq!(x.data(), &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    /// ```
    pub fn add_row_assign(&mut self, row: &Tensor) -> Result<()> {
        let w = self.shape.last().copied().unwrap_or(1);
        if row.len() != w || row.rank() != 1 || self.rank() == 0 {
            return Err(TensorError::ShapeMismatch {
                op: "add_row",
                left: self.shape.clone(),
                right: row.shape.clone(),
            });
        }
        if w == 0 {
            return Ok(());
        }
        let bias = &row.data;
        crate::par::par_rows_mut(&mut self.data, w, |_, rows| {
            for chunk in rows.chunks_exact_mut(w) {
                for (x, &b) in chunk.iter_mut().zip(bias) {
                    *x += b;
                }
            }
        });
        Ok(())
    }

    /// A new tensor with `row` added to every row.
    pub fn add_row(&self, row: &Tensor) -> Result<Tensor> {
        let mut out = self.clone();
        out.add_row_assign(row)?;
        Ok(out)
    }

    // ----- reductions -----------------------------------------------------

    /// Sum of all elements, accumulated in `f64`.
    pub fn sum(&self) -> f32 {
        self.data.iter().map(|&x| f64::from(x)).sum::<f64>() as f32
    }

    /// Mean of all elements (NaN for an empty tensor).
    pub fn mean(&self) -> f32 {
        (self.data.iter().map(|&x| f64::from(x)).sum::<f64>() / self.data.len() as f64) as f32
    }

    /// Sum of squares of all elements: blocks of 256 accumulate in 16 `f32`
    /// lanes (vectorised), block sums accumulate in `f64`. The order is fixed,
    /// so the result is too; for a large tensor two threads compute the block
    /// sums, which are then added in the same order.
    pub fn sum_squares(&self) -> f64 {
        split_sum_squares(&self.data)
    }

    /// Euclidean norm of all elements.
    pub fn norm_l2(&self) -> f32 {
        self.sum_squares().sqrt() as f32
    }

    /// Largest element (NaN-propagating: NaN if any element is NaN).
    pub fn max(&self) -> f32 {
        self.data
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, |m, x| if x.is_nan() || m.is_nan() { f32::NAN } else { m.max(x) })
    }

    /// Sum along `axis`; the axis disappears from the shape.
    ///
    /// ```
    /// use strata_tensor::Tensor;
    /// let x = Tensor::from_vec(&[2, 3], vec![1., 2., 3., 4., 5., 6.]).unwrap();
    /// assert_eq!(x.sum_axis(0).unwrap().data(), &[5., 7., 9.]);
    /// assert_eq!(x.sum_axis(1).unwrap().data(), &[6., 15.]);
    /// ```
    pub fn sum_axis(&self, axis: usize) -> Result<Tensor> {
        if axis >= self.rank() {
            return Err(TensorError::OutOfRange { op: "sum_axis", index: axis, shape: self.shape.clone() });
        }
        let outer: usize = self.shape[..axis].iter().product();
        let n = self.shape[axis];
        let inner: usize = self.shape[axis + 1..].iter().product();
        let mut shape = self.shape.clone();
        shape.remove(axis);
        // Summed over an empty axis, an empty tensor's result can be large.
        let mut out = Tensor::try_zeros(&shape)?.data;
        for o in 0..outer {
            let dst = &mut out[o * inner..(o + 1) * inner];
            for k in 0..n {
                let src = &self.data[(o * n + k) * inner..(o * n + k + 1) * inner];
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d += s;
                }
            }
        }
        Ok(Tensor { shape, data: out })
    }

    /// Mean along `axis`; the axis disappears from the shape.
    pub fn mean_axis(&self, axis: usize) -> Result<Tensor> {
        let mut s = self.sum_axis(axis)?;
        let n = self.shape[axis];
        s.scale_assign(1.0 / n as f32);
        Ok(s)
    }

    /// `out (+)= sum over every leading axis of self`: the column sums of the
    /// `[rows, cols]` view with `cols` = the last axis (a `[batch, seq, n]`
    /// tensor is `batch * seq` rows of `n`), written into `out` of shape
    /// `[cols]` (added to it when `accumulate`). The bias gradient of a dense
    /// layer, without allocating.
    pub fn sum_rows_into(&self, out: &mut Tensor, accumulate: bool) -> Result<()> {
        let w = self.shape.last().copied().unwrap_or(1);
        if out.len() != w || self.rank() == 0 {
            return Err(TensorError::ShapeMismatch {
                op: "sum_rows_into",
                left: self.shape.clone(),
                right: out.shape.clone(),
            });
        }
        if !accumulate {
            out.fill(0.0);
        }
        if w == 0 {
            return Ok(());
        }
        // Each column sums its rows in order, whichever thread it is on.
        let data = &self.data;
        crate::par::par_columns_mut(&mut out.data, data.len() / w, |c0, cols| {
            for chunk in data.chunks_exact(w) {
                for (d, &s) in cols.iter_mut().zip(&chunk[c0..]) {
                    *d += s;
                }
            }
        });
        Ok(())
    }

    /// Index of the largest element of every row (ties: the first). For a
    /// classifier's `[batch, classes]` output, the predicted classes.
    pub fn argmax_rows(&self) -> Result<Vec<usize>> {
        let w = self.row_len();
        if w == 0 || self.rank() == 0 {
            return Err(TensorError::InvalidArgument {
                op: "argmax_rows",
                reason: format!("rows of shape {:?} are empty", self.shape),
            });
        }
        Ok(self.data.chunks_exact(w).map(argmax).collect())
    }

    // ----- rows and layout ------------------------------------------------

    /// Rows `start..end` along the first axis, copied.
    pub fn slice_rows(&self, start: usize, end: usize) -> Result<Tensor> {
        if start > end || end > self.n_rows() || self.rank() == 0 {
            return Err(TensorError::OutOfRange { op: "slice_rows", index: end, shape: self.shape.clone() });
        }
        let w = self.row_len();
        let mut shape = self.shape.clone();
        shape[0] = end - start;
        Ok(Tensor { shape, data: self.data[start * w..end * w].to_vec() })
    }

    /// The rows at `indices` (in that order) as a new tensor: a mini-batch.
    pub fn gather_rows(&self, indices: &[usize]) -> Result<Tensor> {
        let mut out = Tensor::default();
        self.gather_rows_into(indices, &mut out)?;
        Ok(out)
    }

    /// [`Tensor::gather_rows`] into a reused destination.
    pub fn gather_rows_into(&self, indices: &[usize], out: &mut Tensor) -> Result<()> {
        if self.rank() == 0 {
            return Err(TensorError::Rank { op: "gather_rows", expected: 1, shape: self.shape.clone() });
        }
        let n = self.n_rows();
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(TensorError::OutOfRange { op: "gather_rows", index: bad, shape: self.shape.clone() });
        }
        let w = self.row_len();
        let mut shape = std::mem::take(&mut out.shape);
        shape.clear();
        shape.extend_from_slice(&self.shape);
        shape[0] = indices.len();
        out.data.clear();
        out.data.reserve(indices.len() * w);
        for &i in indices {
            out.data.extend_from_slice(&self.data[i * w..(i + 1) * w]);
        }
        out.shape = shape;
        Ok(())
    }

    /// The transpose of a rank-2 tensor.
    pub fn transpose(&self) -> Result<Tensor> {
        self.expect_rank("transpose", 2)?;
        let (r, c) = (self.shape[0], self.shape[1]);
        if r * c == 0 {
            // Nothing to move (and no loop over the rows of an empty matrix).
            return Ok(Tensor { shape: vec![c, r], data: Vec::new() });
        }
        let mut data = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                data[j * r + i] = self.data[i * c + j];
            }
        }
        Ok(Tensor { shape: vec![c, r], data })
    }

    /// Largest absolute element-wise difference to `other` (same shape).
    pub fn max_abs_diff(&self, other: &Tensor) -> Result<f32> {
        self.same_shape("max_abs_diff", other)?;
        Ok(self.data.iter().zip(&other.data).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max))
    }
}

/// Values per block of [`sum_squares`] (the unit of its order of terms).
const SQUARES_BLOCK: usize = 256;
/// Blocks whose sums [`split_sum_squares`] computes at a time, split
/// between two threads: their sums wait on the stack (8 KB).
const SQUARES_BLOCKS_AT_ONCE: usize = 1024;

/// [`sum_squares`] with its block sums computed by two threads for a large
/// buffer, then added in order on this thread: the same terms in the same
/// order, so the same bits on any number of threads.
fn split_sum_squares(data: &[f32]) -> f64 {
    if !crate::par::splits_shared_pass(data.len()) {
        return sum_squares(data);
    }
    let mut total = 0f64;
    let mut sums = [0f64; SQUARES_BLOCKS_AT_ONCE];
    for part in data.chunks(SQUARES_BLOCK * SQUARES_BLOCKS_AT_ONCE) {
        let blocks = part.len().div_ceil(SQUARES_BLOCK);
        let half = blocks / 2;
        let (s0, s1) = sums[..blocks].split_at_mut(half);
        let (d0, d1) = part.split_at(half * SQUARES_BLOCK);
        rayon::join(|| block_squares(d0, s0), || block_squares(d1, s1));
        for s in &sums[..blocks] {
            total += s;
        }
    }
    total
}

/// The sum of squares of one block of at most [`SQUARES_BLOCK`] values: 16
/// `f32` lanes, then the tail, added in `f64`.
#[inline(always)]
fn block_sum(block: &[f32]) -> f64 {
    let mut lanes = [0f32; 16];
    let mut chunks = block.chunks_exact(16);
    for c in &mut chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l += x * x;
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|&x| x * x).sum();
    f64::from(lanes.iter().sum::<f32>()) + f64::from(tail)
}

simd_kernel! {
    /// Sum of squares: blocks of 256 in 16 `f32` lanes, block sums in `f64`.
    fn sum_squares(data: &[f32]) -> f64 {
        let mut total = 0f64;
        for block in data.chunks(SQUARES_BLOCK) {
            total += block_sum(block);
        }
        total
    }
}

simd_kernel! {
    /// Each block's sum of squares ([`block_sum`]) into `sums`, in order.
    fn block_squares(data: &[f32], sums: &mut [f64]) {
        for (block, s) in data.chunks(SQUARES_BLOCK).zip(sums) {
            *s = block_sum(block);
        }
    }
}

/// The first value of `data` that `ok` refuses, with its index. One pass
/// without an early exit first (it vectorises: a file's tensors are checked
/// at the speed they are read), then the index only when a value failed.
///
/// ```
/// let finite = |x: f32| x.is_finite();
/// assert_eq!(strata_tensor::first_failing(&[1.0, f32::NAN, f32::INFINITY], finite).map(|(i, _)| i), Some(1));
/// assert_eq!(strata_tensor::first_failing(&[1.0, 2.0], finite), None);
/// ```
pub fn first_failing(data: &[f32], ok: impl Fn(f32) -> bool) -> Option<(usize, f32)> {
    if data.iter().fold(true, |all, &x| all & ok(x)) {
        return None;
    }
    data.iter().copied().enumerate().find(|&(_, x)| !ok(x))
}

/// Index of the largest value of `row` (the first, on ties; 0 for an
/// empty row): a classifier's predicted class.
///
/// ```
/// assert_eq!(strata_tensor::argmax(&[0.1, 3.0, -1.0, 3.0]), 1);
/// ```
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    best
}

simd_kernel! {
    /// The sum of `x` in a fixed order: 16 `f32` lanes, then the lanes in
    /// order. Vectorised, unlike `iter().sum()`, whose strict left-to-right
    /// order is one long chain of dependent additions.
    pub fn sum_lanes(x: &[f32]) -> f32 {
        let mut lanes = [0f32; 16];
        let mut chunks = x.chunks_exact(16);
        for c in &mut chunks {
            for (l, &v) in lanes.iter_mut().zip(c) {
                *l += v;
            }
        }
        lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
    }
}
