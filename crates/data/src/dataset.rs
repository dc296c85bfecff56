//! [`InMemoryDataset`]: features and targets held in two tensors.

use crate::Dataset;
use crate::error::{DataError, Result};
use strata_tensor::{Tensor, TensorError};

/// Largest class label accepted: labels are stored as `f32`, which holds
/// every integer up to 2^24 exactly.
pub(crate) const MAX_LABEL: usize = strata_tensor::MAX_EXACT_INT;

/// The class label an `f32` target encodes, if it is a non-negative integer
/// no larger than [`MAX_LABEL`].
pub(crate) fn label_of(value: f64) -> Option<usize> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= MAX_LABEL as f64 {
        Some(value as usize)
    } else {
        None
    }
}

/// A dataset held in memory: a features tensor `[n, ..feature_shape]` and a
/// targets tensor, either class indices `[n]` (stored as `f32`, with
/// [`InMemoryDataset::n_classes`] set) or target vectors `[n, ..]`.
///
/// Constructors check that both tensors have the same number of rows and
/// that there is at least one, so a dataset is never empty.
///
/// ```
/// use strata_data::{Dataset, InMemoryDataset};
/// use strata_tensor::Tensor;
///
/// let x = Tensor::from_vec(&[3, 2], vec![0., 1., 2., 3., 4., 5.])?;
/// let ds = InMemoryDataset::from_labels(x, &[0, 2, 1])?;
/// assert_eq!(ds.n_classes(), Some(3));
///
/// let (mut xb, mut yb) = (Tensor::default(), Tensor::default());
/// ds.fill_batch(&[2, 0], &mut xb, &mut yb)?;
/// assert_eq!(xb.data(), &[4., 5., 0., 1.]);
/// assert_eq!(yb.data(), &[1., 0.]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct InMemoryDataset {
    features: Tensor,
    targets: Tensor,
    n_classes: Option<usize>,
    /// The name of each class, when the file named them (`setosa`, ...).
    class_names: Option<Vec<String>>,
}

impl InMemoryDataset {
    /// A dataset from features `[n, ..]` and targets `[n]` or `[n, ..]`,
    /// without class information (see [`InMemoryDataset::with_n_classes`]
    /// and [`InMemoryDataset::from_labels`] for classification data).
    ///
    /// Errors: [`DataError::Empty`] when `n` is 0, [`DataError::ShapeMismatch`]
    /// when the row counts differ, [`DataError::Tensor`] for a rank-0 tensor.
    pub fn new(features: Tensor, targets: Tensor) -> Result<Self> {
        for t in [&features, &targets] {
            if t.rank() == 0 {
                return Err(
                    TensorError::Rank { op: "InMemoryDataset::new", expected: 1, shape: t.shape().to_vec() }.into()
                );
            }
        }
        if features.n_rows() != targets.n_rows() {
            return Err(DataError::ShapeMismatch {
                op: "InMemoryDataset::new",
                left: features.shape().to_vec(),
                right: targets.shape().to_vec(),
            });
        }
        if features.n_rows() == 0 {
            return Err(DataError::Empty { what: "the dataset".into() });
        }
        Ok(Self { features, targets, n_classes: None, class_names: None })
    }

    /// A classification dataset from features `[n, ..]` and one class label
    /// per row; the number of classes is the largest label + 1.
    pub fn from_labels(features: Tensor, labels: &[usize]) -> Result<Self> {
        if let Some(&bad) = labels.iter().find(|&&l| l > MAX_LABEL) {
            return Err(DataError::LabelOutOfRange { label: bad, n_classes: MAX_LABEL + 1 });
        }
        let n_classes = labels.iter().max().map(|&m| m + 1);
        let targets = Tensor::from_slice(&labels.iter().map(|&l| l as f32).collect::<Vec<_>>());
        let mut ds = Self::new(features, targets)?;
        ds.n_classes = n_classes;
        Ok(ds)
    }

    /// Declare the number of classes (e.g. 10 for MNIST even if a subset
    /// misses a digit). The targets must be class indices, `[n]` (one a
    /// sample) or `[n, ..]` (one a position: token ids), each below
    /// `n_classes`: otherwise [`DataError::LabelOutOfRange`] (with the largest
    /// label) or [`DataError::InvalidArgument`] (targets that are not labels).
    pub fn with_n_classes(mut self, n_classes: usize) -> Result<Self> {
        if n_classes > MAX_LABEL + 1 {
            return Err(DataError::InvalidArgument {
                op: "InMemoryDataset::with_n_classes",
                reason: format!("{n_classes} classes: at most {} (class indices are exact in f32)", MAX_LABEL + 1),
            });
        }
        let labels = class_indices(&self.targets, "InMemoryDataset::with_n_classes")?;
        if let Some(&max) = labels.iter().max()
            && max >= n_classes
        {
            return Err(DataError::LabelOutOfRange { label: max, n_classes });
        }
        self.n_classes = Some(n_classes);
        Ok(self)
    }

    /// Name the classes: `names[i]` is class `i`'s. There must be one name a
    /// class ([`DataError::InvalidArgument`] otherwise).
    pub fn with_class_names(mut self, names: Vec<String>) -> Result<Self> {
        if self.n_classes != Some(names.len()) {
            return Err(DataError::InvalidArgument {
                op: "InMemoryDataset::with_class_names",
                reason: format!("{} names for {:?} classes", names.len(), self.n_classes),
            });
        }
        self.class_names = Some(names);
        Ok(self)
    }

    /// The classes' names, when the data named them.
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// Reshape every sample's features, e.g. `[784]` to `[1, 28, 28]` for a
    /// convolutional layer. The element count per sample must not change.
    pub fn with_feature_shape(mut self, shape: &[usize]) -> Result<Self> {
        let per_sample = strata_tensor::checked_numel(shape);
        if per_sample != Some(self.features.row_len()) {
            return Err(DataError::ShapeMismatch {
                op: "with_feature_shape",
                left: self.features.shape().to_vec(),
                right: shape.to_vec(),
            });
        }
        let mut full = Vec::with_capacity(shape.len() + 1);
        full.push(self.features.n_rows());
        full.extend_from_slice(shape);
        self.features.reshape_in_place(&full)?;
        Ok(self)
    }

    /// The features, `[n, ..feature_shape]`.
    pub fn features(&self) -> &Tensor {
        &self.features
    }

    /// The features, mutable (to normalise them in place). Keep the shape:
    /// the dataset assumes `[n, ..feature_shape]`.
    pub fn features_mut(&mut self) -> &mut Tensor {
        &mut self.features
    }

    /// The targets: class indices `[n]` as `f32`, or target vectors `[n, ..]`.
    pub fn targets(&self) -> &Tensor {
        &self.targets
    }

    /// The class label of every sample, when this is a classification
    /// dataset with one label a sample (`None` for target vectors, and for
    /// sequences of class ids, one a position).
    pub fn labels(&self) -> Option<Vec<usize>> {
        self.n_classes?;
        (self.targets.rank() == 1).then(|| self.targets.data().iter().map(|&v| v as usize).collect())
    }

    /// Number of samples of each class (`None` without one class label a
    /// sample).
    pub fn class_counts(&self) -> Option<Vec<usize>> {
        if self.targets.rank() != 1 {
            return None;
        }
        let mut counts = vec![0; self.n_classes?];
        for &v in self.targets.data() {
            if let Some(c) = counts.get_mut(v as usize) {
                *c += 1;
            }
        }
        Some(counts)
    }

    /// Number of classes of a classification dataset.
    pub fn n_classes(&self) -> Option<usize> {
        self.n_classes
    }

    /// Number of samples (never 0).
    pub fn len(&self) -> usize {
        self.features.n_rows()
    }

    /// A CRC-32 of the features' and targets' shapes and bits: equal for the
    /// same samples in the same order, and almost surely different after any
    /// change (a resumed run checks that its data is the data it started on).
    ///
    /// ```
    /// use strata_data::InMemoryDataset;
    /// use strata_tensor::Tensor;
    /// let a = InMemoryDataset::from_labels(Tensor::from_vec(&[2, 1], vec![0.5, 1.5])?, &[0, 1])?;
    /// let b = InMemoryDataset::from_labels(Tensor::from_vec(&[2, 1], vec![0.5, 1.5])?, &[1, 0])?;
    /// assert_eq!(a.fingerprint(), a.clone().fingerprint());
    /// assert_ne!(a.fingerprint(), b.fingerprint());
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn fingerprint(&self) -> u32 {
        let mut h = crc32fast::Hasher::new();
        for t in [&self.features, &self.targets] {
            for &d in t.shape() {
                h.update(&(d as u64).to_le_bytes());
            }
            let mut buf = [0u8; 4 * 1024];
            for chunk in t.data().chunks(1024) {
                for (b, x) in buf.chunks_exact_mut(4).zip(chunk) {
                    b.copy_from_slice(&x.to_bits().to_le_bytes());
                }
                h.update(&buf[..4 * chunk.len()]);
            }
        }
        h.finalize()
    }

    /// Always false: a dataset holds at least one sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples at `indices` (in that order; repeats allowed) as a new
    /// dataset with the same number of classes.
    ///
    /// Errors: [`DataError::Empty`] for no index, [`DataError::Tensor`] for an
    /// index out of range.
    pub fn subset(&self, indices: &[usize]) -> Result<Self> {
        if indices.is_empty() {
            return Err(DataError::Empty { what: "the subset's index list".into() });
        }
        let features = self.features.gather_rows(indices)?;
        let targets = self.targets.gather_rows(indices)?;
        Ok(Self { features, targets, n_classes: self.n_classes, class_names: self.class_names.clone() })
    }

    /// Split into the first `n` samples and the rest, without copying the
    /// first part (its buffers are reused; only the rest is copied). Both
    /// parts must be non-empty.
    ///
    /// ```
    /// use strata_data::InMemoryDataset;
    /// use strata_tensor::Tensor;
    /// let ds = InMemoryDataset::from_labels(Tensor::from_vec(&[3, 1], vec![1., 2., 3.])?, &[0, 1, 0])?;
    /// let (head, tail) = ds.split_at(2)?;
    /// assert_eq!((head.len(), tail.features().data()), (2, &[3.0][..]));
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn split_at(self, n: usize) -> Result<(Self, Self)> {
        let total = self.len();
        if n == 0 || n >= total {
            return Err(DataError::InvalidArgument {
                op: "split_at",
                reason: format!("{n} must leave both parts non-empty (the dataset has {total} samples)"),
            });
        }
        let (n_classes, class_names) = (self.n_classes, self.class_names.clone());
        let split = |t: Tensor| -> Result<(Tensor, Tensor)> {
            let (shape, w) = (t.shape().to_vec(), t.row_len());
            let mut head = t.into_vec();
            let tail = head.split_off(n * w);
            let (mut head_shape, mut tail_shape) = (shape.clone(), shape);
            head_shape[0] = n;
            tail_shape[0] = total - n;
            Ok((Tensor::from_vec(&head_shape, head)?, Tensor::from_vec(&tail_shape, tail)?))
        };
        let (f0, f1) = split(self.features)?;
        let (t0, t1) = split(self.targets)?;
        let head = Self { features: f0, targets: t0, n_classes, class_names: class_names.clone() };
        Ok((head, Self { features: f1, targets: t1, n_classes, class_names }))
    }

    /// Give up the tensors: `(features, targets, n_classes)`.
    pub fn into_parts(self) -> (Tensor, Tensor, Option<usize>) {
        (self.features, self.targets, self.n_classes)
    }
}

/// The targets as class labels: a rank-1 tensor of non-negative integers.
pub(crate) fn targets_as_labels(targets: &Tensor, op: &'static str) -> Result<Vec<usize>> {
    if targets.rank() != 1 {
        return Err(DataError::InvalidArgument {
            op,
            reason: format!("targets of shape {:?} are not class indices [n]", targets.shape()),
        });
    }
    class_indices(targets, op)
}

/// Every target value as a class index (targets of any shape: one label a
/// sample, or one a position of a sequence).
fn class_indices(targets: &Tensor, op: &'static str) -> Result<Vec<usize>> {
    targets
        .data()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            label_of(f64::from(v)).ok_or_else(|| DataError::InvalidArgument {
                op,
                reason: format!("target {v} of sample {i} is not a class index (a non-negative integer)"),
            })
        })
        .collect()
}

impl Dataset for InMemoryDataset {
    fn len(&self) -> usize {
        self.features.n_rows()
    }

    fn feature_shape(&self) -> &[usize] {
        self.features.shape().get(1..).unwrap_or(&[])
    }

    fn fill_batch(&self, indices: &[usize], features: &mut Tensor, targets: &mut Tensor) -> Result<()> {
        self.features.gather_rows_into(indices, features)?;
        self.targets.gather_rows_into(indices, targets)?;
        Ok(())
    }

    fn n_classes(&self) -> Option<usize> {
        self.n_classes
    }
}
