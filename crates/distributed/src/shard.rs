//! Sharding: every rank holds the whole training set, shuffles it with the
//! same seed, and fills only its contiguous slice of each global batch.

use std::ops::Range;
use strata_data::{Dataset, Result};
use strata_tensor::Tensor;

/// The samples of a global batch of `n` that `rank` of `size` ranks
/// computes: contiguous, sizes differing by at most one, in rank order, so
/// the slices of all ranks are exactly the batch. Empty when `n < size` for
/// the last ranks.
///
/// ```
/// use strata_distributed::local_range;
/// assert_eq!(local_range(64, 1, 2), 32..64);
/// // A last batch of 5 over 2 ranks: 2 and 3 samples.
/// assert_eq!((local_range(5, 0, 2), local_range(5, 1, 2)), (0..2, 2..5));
/// ```
pub fn local_range(n: usize, rank: usize, size: usize) -> Range<usize> {
    let size = size.max(1);
    (n * rank / size)..(n * (rank + 1) / size)
}

/// The training set as one rank of `size` sees it: the trainer shuffles and
/// batches the *whole* set (its [`Dataset::len`]) with the same seed on
/// every rank, in batches of the global size, and `fill_batch` writes only
/// this rank's [`local_range`] of each batch. The union of the ranks' slices
/// is the batch, and over an epoch the epoch.
///
/// A rank whose slice of a (last, short) batch is empty is given the batch's
/// last sample instead, so that every rank runs the same step;
/// [`crate::DataParallel`] weighs its contribution by zero.
///
/// A view for [`strata_training::Trainer::fit`] only: unlike other
/// datasets, it does not write every sample it is asked for.
#[derive(Clone, Copy)]
pub struct Shard<'a> {
    inner: &'a dyn Dataset,
    rank: usize,
    size: usize,
}

impl<'a> Shard<'a> {
    /// Rank `rank`'s shard of `inner` among `size` ranks.
    pub fn new(inner: &'a dyn Dataset, rank: usize, size: usize) -> Shard<'a> {
        Shard { inner, rank, size: size.max(1) }
    }
}

impl std::fmt::Debug for Shard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("len", &self.inner.len())
            .field("rank", &self.rank)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Dataset for Shard<'_> {
    fn len(&self) -> usize {
        self.inner.len()
    }

    fn feature_shape(&self) -> &[usize] {
        self.inner.feature_shape()
    }

    fn fill_batch(&self, indices: &[usize], features: &mut Tensor, targets: &mut Tensor) -> Result<()> {
        let mine = &indices[local_range(indices.len(), self.rank, self.size)];
        match (mine.is_empty(), indices.last()) {
            (true, Some(last)) => self.inner.fill_batch(std::slice::from_ref(last), features, targets),
            _ => self.inner.fill_batch(mine, features, targets),
        }
    }

    fn n_classes(&self) -> Option<usize> {
        self.inner.n_classes()
    }
}
