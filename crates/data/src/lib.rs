//! # strata-data
//!
//! (crate doc: to be completed by the implementer)
#![warn(missing_docs)]

use strata_tensor::{Tensor, TensorError};

/// A collection of samples that can fill a mini-batch.
///
/// Features of sample `i` have shape [`Dataset::feature_shape`]; a batch of
/// `b` samples has shape `[b, ..feature_shape]`. Targets are either class
/// indices (shape `[b]`, stored as `f32`) or target vectors (shape
/// `[b, ..target_shape]`).
pub trait Dataset: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    /// Shape of one sample's features (e.g. `[784]` or `[1, 28, 28]`).
    fn feature_shape(&self) -> &[usize];

    /// Write the samples at `indices`, in that order, into `features` and
    /// `targets` (both resized; their allocations are reused).
    fn fill_batch(&self, indices: &[usize], features: &mut Tensor, targets: &mut Tensor) -> Result<()>;

    /// True when there is no sample.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
