//! Datasets of token-id sequences (language models, sequence classifiers).
//!
//! **Token ids are `f32` values that hold exact integers**, not a tensor type
//! of their own: a batch of ids gathers, slices and moves through the same
//! code as every other batch, and `f32` holds every integer up to `2^24`
//! (16.7 million ids) exactly. Whatever reads ids (an embedding layer, a
//! loss) checks that each value is an integer in its range and reports the
//! position of the first that is not; the constructors here check too.

use crate::dataset::InMemoryDataset;
use crate::error::{DataError, Result};
use strata_tensor::Tensor;

/// The largest vocabulary ids stored as `f32` can address exactly.
pub const MAX_VOCAB: usize = strata_tensor::MAX_EXACT_INT;

/// Sequences of ids padded with `pad` to the longest, as a `[n, length]` tensor.
fn padded<S: AsRef<[usize]>>(op: &'static str, sequences: &[S], pad: usize, vocab: usize) -> Result<Tensor> {
    let length = sequences.iter().map(|s| s.as_ref().len()).max().unwrap_or(0);
    let n = sequences.len();
    let total = n.checked_mul(length).ok_or_else(|| DataError::InvalidArgument {
        op,
        reason: format!("{n} sequences of length {length} hold more ids than fit in memory"),
    })?;
    let mut data = Vec::with_capacity(total);
    for (i, s) in sequences.iter().map(AsRef::as_ref).enumerate() {
        if let Some((j, &id)) = s.iter().enumerate().find(|&(_, &id)| id >= vocab) {
            return Err(DataError::InvalidArgument {
                op,
                reason: format!("id {id} at position {j} of sequence {i} is not in the vocabulary 0..{vocab}"),
            });
        }
        data.extend(s.iter().map(|&id| id as f32));
        data.extend(std::iter::repeat_n(pad as f32, length - s.len()));
    }
    Ok(Tensor::from_vec(&[n, length], data)?)
}

impl InMemoryDataset {
    /// A dataset of id sequences: `inputs[i]` and `targets[i]` are the ids
    /// of sample `i` (equally long), padded with `pad` to the longest
    /// sample. Features `[n, length]` and targets `[n, length]` are ids
    /// stored as `f32`; [`InMemoryDataset::n_classes`] is `vocab`. Train with
    /// a cross-entropy whose ignore index is `pad`, so padding counts for
    /// nothing.
    ///
    /// Errors: [`DataError::Empty`] without samples, [`DataError::ShapeMismatch`]
    /// when an input and its target differ in length, and
    /// [`DataError::InvalidArgument`] for an id outside `0..vocab`, for
    /// `pad` outside it, or for a vocabulary larger than [`MAX_VOCAB`].
    ///
    /// ```
    /// use strata_data::{Dataset, InMemoryDataset};
    /// // Next-character prediction on "ab" and "abc": BOS = 0 (also padding), a = 1, b = 2, c = 3.
    /// let inputs = vec![vec![0, 1, 2], vec![0, 1, 2, 3]];
    /// let targets = vec![vec![1, 2, 0], vec![1, 2, 3, 0]];
    /// let ds = InMemoryDataset::from_sequences(&inputs, &targets, 0, 4)?;
    /// assert_eq!(ds.feature_shape(), &[4]);
    /// assert_eq!(ds.features().data()[..4], [0., 1., 2., 0.]); // padded with 0
    /// assert_eq!(ds.n_classes(), Some(4));
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn from_sequences<S: AsRef<[usize]>>(inputs: &[S], targets: &[S], pad: usize, vocab: usize) -> Result<Self> {
        const OP: &str = "InMemoryDataset::from_sequences";
        if vocab > MAX_VOCAB || pad >= vocab {
            return Err(DataError::InvalidArgument {
                op: OP,
                reason: format!(
                    "a vocabulary of {vocab} ids with padding id {pad} (at most {MAX_VOCAB} ids, pad inside)"
                ),
            });
        }
        if inputs.len() != targets.len() {
            return Err(DataError::ShapeMismatch { op: OP, left: vec![inputs.len()], right: vec![targets.len()] });
        }
        let lengths = inputs.iter().zip(targets).map(|(x, y)| (x.as_ref().len(), y.as_ref().len()));
        if let Some((i, (x, y))) = lengths.enumerate().find(|(_, (x, y))| x != y) {
            return Err(DataError::ShapeMismatch { op: OP, left: vec![i, x], right: vec![i, y] });
        }
        let features = padded(OP, inputs, pad, vocab)?;
        let targets = padded(OP, targets, pad, vocab)?;
        InMemoryDataset::new(features, targets)?.with_n_classes(vocab)
    }
}
