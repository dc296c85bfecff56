//! One-hot encoding and label checks.

use crate::dataset::{InMemoryDataset, targets_as_labels};
use crate::error::{DataError, Result};
use strata_tensor::Tensor;

/// One-hot rows `[labels.len(), n_classes]` for class labels.
///
/// Errors: [`DataError::LabelOutOfRange`] for a label `>= n_classes`.
///
/// ```
/// let t = strata_data::one_hot(&[2, 0], 3)?;
/// assert_eq!(t.data(), &[0., 0., 1., 1., 0., 0.]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
pub fn one_hot(labels: &[usize], n_classes: usize) -> Result<Tensor> {
    if n_classes > crate::dataset::MAX_LABEL + 1 {
        return Err(DataError::InvalidArgument {
            op: "one_hot",
            reason: format!("{n_classes} classes: at most {}", crate::dataset::MAX_LABEL + 1),
        });
    }
    if let Some(&label) = labels.iter().find(|&&l| l >= n_classes) {
        return Err(DataError::LabelOutOfRange { label, n_classes });
    }
    let len = labels.len().checked_mul(n_classes).ok_or_else(|| DataError::InvalidArgument {
        op: "one_hot",
        reason: format!("{} x {n_classes} values do not fit in memory", labels.len()),
    })?;
    let mut data = vec![0.0; len];
    for (row, &l) in data.chunks_exact_mut(n_classes.max(1)).zip(labels) {
        row[l] = 1.0;
    }
    Ok(Tensor::from_vec(&[labels.len(), n_classes], data)?)
}

/// Check that a dataset fits a classifier with `n_classes` outputs: every
/// class label is below `n_classes` (else [`DataError::LabelOutOfRange`]
/// with the largest label), or target vectors `[n, k]` have `k ==
/// n_classes` (else [`DataError::ShapeMismatch`]).
pub fn check_labels(ds: &InMemoryDataset, n_classes: usize) -> Result<()> {
    let targets = ds.targets();
    if ds.n_classes().is_none() && targets.rank() >= 2 {
        if targets.row_len() != n_classes {
            return Err(DataError::ShapeMismatch {
                op: "check_labels",
                left: targets.shape().to_vec(),
                right: vec![n_classes],
            });
        }
        return Ok(());
    }
    let labels = targets_as_labels(targets, "check_labels")?;
    match labels.iter().max() {
        Some(&max) if max >= n_classes => Err(DataError::LabelOutOfRange { label: max, n_classes }),
        _ => Ok(()),
    }
}
