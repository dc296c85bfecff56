//! Mini-batch index orders and a convenience batch iterator.

use crate::Dataset;
use crate::error::{DataError, Result};
use serde::{Deserialize, Serialize};
use std::slice::Chunks;
use strata_tensor::{StrataRng, Tensor};

fn check_batch_size(op: &'static str, batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        return Err(DataError::InvalidArgument { op, reason: "the batch size must be at least 1".into() });
    }
    Ok(())
}

/// Cuts `0..n` into mini-batches of indices, once per epoch: the epoch's
/// order comes from [`BatchSampler::epoch_order`] (shuffled with an rng or
/// in order), the batches from [`BatchSampler::batches`].
///
/// ```
/// use strata_data::BatchSampler;
/// use strata_tensor::StrataRng;
///
/// let sampler = BatchSampler::new(10, 4, true, false)?;
/// let mut rng = StrataRng::seed_from_u64(0);
/// let order = sampler.epoch_order(&mut rng);
/// let sizes: Vec<usize> = sampler.batches(&order).map(|b| b.len()).collect();
/// assert_eq!(sizes, [4, 4, 2]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSampler {
    n: usize,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
}

impl BatchSampler {
    /// Batches of `batch_size` indices out of `0..n`; `shuffle` draws a new
    /// order every epoch; `drop_last` skips a final, smaller batch.
    ///
    /// Errors: [`DataError::InvalidArgument`] for a batch size of 0.
    pub fn new(n: usize, batch_size: usize, shuffle: bool, drop_last: bool) -> Result<Self> {
        check_batch_size("BatchSampler::new", batch_size)?;
        Ok(Self { n, batch_size, shuffle, drop_last })
    }

    /// Number of samples.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Samples per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Whether every epoch has a new random order.
    pub fn shuffle(&self) -> bool {
        self.shuffle
    }

    /// Whether a final, smaller batch is skipped.
    pub fn drop_last(&self) -> bool {
        self.drop_last
    }

    /// Number of batches per epoch.
    pub fn n_batches(&self) -> usize {
        let bs = self.batch_size.max(1);
        if self.drop_last { self.n / bs } else { self.n.div_ceil(bs) }
    }

    /// The order of one epoch: every index of `0..n` once, shuffled with
    /// `rng` when shuffling (otherwise in order, and `rng` is not used).
    pub fn epoch_order(&self, rng: &mut StrataRng) -> Vec<usize> {
        let mut order = Vec::with_capacity(self.n);
        self.epoch_order_into(rng, &mut order);
        order
    }

    /// [`BatchSampler::epoch_order`] into a reused buffer.
    pub fn epoch_order_into(&self, rng: &mut StrataRng, order: &mut Vec<usize>) {
        order.clear();
        order.extend(0..self.n);
        if self.shuffle {
            rng.shuffle(order);
        }
    }

    /// The batches of an epoch's `order`: consecutive chunks of
    /// `batch_size` indices (the last one shorter unless `drop_last`).
    pub fn batches<'a>(&self, order: &'a [usize]) -> impl Iterator<Item = &'a [usize]> + 'a {
        let bs = self.batch_size.max(1);
        let keep = if self.drop_last { order.len() - order.len() % bs } else { order.len() };
        order[..keep].chunks(bs)
    }
}

/// An iterator over `(features, targets)` mini-batches of a dataset, one
/// fresh pair of tensors per batch; made by [`batches`]. Training loops that
/// must not allocate call [`Dataset::fill_batch`] with reused tensors instead.
pub struct Batches<'a> {
    dataset: &'a dyn Dataset,
    chunks: Chunks<'a, usize>,
}

impl std::fmt::Debug for Batches<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batches")
            .field("dataset_len", &self.dataset.len())
            .field("remaining", &self.chunks.len())
            .finish()
    }
}

impl Iterator for Batches<'_> {
    type Item = Result<(Tensor, Tensor)>;

    fn next(&mut self) -> Option<Self::Item> {
        let indices = self.chunks.next()?;
        let (mut x, mut y) = (Tensor::default(), Tensor::default());
        Some(self.dataset.fill_batch(indices, &mut x, &mut y).map(|()| (x, y)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for Batches<'_> {}

/// Mini-batches of `dataset` in the given `order`, `batch_size` samples each
/// (the last one may be smaller). Get the order from
/// [`BatchSampler::epoch_order`], [`crate::shuffled_indices`], or `0..n`.
///
/// Errors: [`DataError::InvalidArgument`] for a batch size of 0; each item is
/// an error when `order` holds an index out of range.
///
/// ```
/// use strata_data::{InMemoryDataset, batches, shuffled_indices};
/// use strata_tensor::{StrataRng, Tensor};
///
/// let ds = InMemoryDataset::from_labels(Tensor::zeros(&[5, 3]), &[0, 1, 0, 1, 0])?;
/// let order = shuffled_indices(5, &mut StrataRng::seed_from_u64(3));
/// for batch in batches(&ds, 2, &order)? {
///     let (x, y) = batch?;
///     assert_eq!(x.shape()[1], 3);
///     assert_eq!(x.shape()[0], y.shape()[0]);
/// }
/// # Ok::<(), strata_data::DataError>(())
/// ```
pub fn batches<'a>(dataset: &'a dyn Dataset, batch_size: usize, order: &'a [usize]) -> Result<Batches<'a>> {
    check_batch_size("batches", batch_size)?;
    Ok(Batches { dataset, chunks: order.chunks(batch_size) })
}
