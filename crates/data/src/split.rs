//! Seeded shuffling and train / validation / test splits.

use crate::dataset::InMemoryDataset;
use crate::error::{DataError, Result};
use strata_tensor::StrataRng;

/// `0..n` in a random order fixed by the generator's state.
pub fn shuffled_indices(n: usize, rng: &mut StrataRng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    order
}

/// The three parts of [`split_three`]. A part whose fraction was 0 is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The training part (never empty).
    pub train: InMemoryDataset,
    /// The validation part, `None` when its fraction was 0.
    pub validation: Option<InMemoryDataset>,
    /// The test part, `None` when its fraction was 0.
    pub test: Option<InMemoryDataset>,
}

/// Split into a training and a test part, `test_fraction` of the samples
/// (rounded, at least one) going to the test part, chosen with `rng`.
///
/// With `stratify`, every class is split on its own, so both parts keep the
/// class proportions (the dataset needs class labels). `test_fraction` must
/// lie in `(0, 1)`, otherwise [`DataError::InvalidFraction`].
///
/// ```
/// use strata_data::{InMemoryDataset, train_test_split};
/// use strata_tensor::{StrataRng, Tensor};
///
/// let x = Tensor::from_vec(&[10, 1], (0..10).map(|i| i as f32).collect())?;
/// let ds = InMemoryDataset::from_labels(x, &[0, 0, 0, 0, 0, 1, 1, 1, 1, 1])?;
/// let mut rng = StrataRng::seed_from_u64(1);
/// let (train, test) = train_test_split(&ds, 0.4, true, &mut rng)?;
/// assert_eq!((train.len(), test.len()), (6, 4));
/// assert_eq!(test.class_counts(), Some(vec![2, 2]));
/// # Ok::<(), strata_data::DataError>(())
/// ```
pub fn train_test_split(
    ds: &InMemoryDataset,
    test_fraction: f32,
    stratify: bool,
    rng: &mut StrataRng,
) -> Result<(InMemoryDataset, InMemoryDataset)> {
    if test_fraction <= 0.0 || test_fraction.is_nan() {
        return Err(DataError::InvalidFraction { name: "test_fraction", value: test_fraction });
    }
    let split = split_three(ds, 0.0, test_fraction, stratify, rng)?;
    match split.test {
        Some(test) => Ok((split.train, test)),
        None => Err(DataError::Empty { what: "the test part of the split".into() }),
    }
}

/// Split into training, validation and test parts: `val_fraction` and
/// `test_fraction` of the samples (each rounded, at least one when the
/// fraction is positive) go to validation and test, the rest to training.
///
/// With `stratify`, each class's indices are shuffled with `rng` and split on
/// their own (a class of one sample stays in training), then each part's
/// order is shuffled. Without, one shuffled order is cut in three.
///
/// Errors: [`DataError::InvalidFraction`] when a fraction is outside `[0, 1)`
/// or they sum to 1 or more; [`DataError::Empty`] when a part with a positive
/// fraction (or training) would be empty because the dataset is too small;
/// [`DataError::InvalidArgument`] for a stratified split without labels.
pub fn split_three(
    ds: &InMemoryDataset,
    val_fraction: f32,
    test_fraction: f32,
    stratify: bool,
    rng: &mut StrataRng,
) -> Result<Split> {
    for (name, value) in [("val_fraction", val_fraction), ("test_fraction", test_fraction)] {
        if !(0.0..1.0).contains(&value) {
            return Err(DataError::InvalidFraction { name, value });
        }
    }
    let sum = val_fraction + test_fraction;
    if sum >= 1.0 {
        return Err(DataError::InvalidFraction { name: "val_fraction + test_fraction", value: sum });
    }
    let (val_f, test_f) = (f64::from(val_fraction), f64::from(test_fraction));
    let (mut train, mut val, mut test) = (Vec::new(), Vec::new(), Vec::new());
    if stratify {
        let labels = ds.labels().ok_or_else(|| DataError::InvalidArgument {
            op: "split",
            reason: "a stratified split needs one class label a sample".into(),
        })?;
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); ds.n_classes().unwrap_or(0)];
        for (i, &l) in labels.iter().enumerate() {
            if let Some(class) = by_class.get_mut(l) {
                class.push(i);
            }
        }
        for mut class in by_class {
            rng.shuffle(&mut class);
            let (n_val, n_test) = part_sizes(class.len(), val_f, test_f);
            test.extend_from_slice(&class[..n_test]);
            val.extend_from_slice(&class[n_test..n_test + n_val]);
            train.extend_from_slice(&class[n_test + n_val..]);
        }
        rng.shuffle(&mut train);
        rng.shuffle(&mut val);
        rng.shuffle(&mut test);
    } else {
        let order = shuffled_indices(ds.len(), rng);
        let (n_val, n_test) = part_sizes(order.len(), val_f, test_f);
        test.extend_from_slice(&order[..n_test]);
        val.extend_from_slice(&order[n_test..n_test + n_val]);
        train.extend_from_slice(&order[n_test + n_val..]);
    }
    let part = |indices: &[usize], fraction: f64, name: &str| -> Result<Option<InMemoryDataset>> {
        if fraction == 0.0 {
            return Ok(None);
        }
        if indices.is_empty() {
            return Err(DataError::Empty { what: format!("the {name} part of a split of {} samples", ds.len()) });
        }
        ds.subset(indices).map(Some)
    };
    let validation = part(&val, val_f, "validation")?;
    let test = part(&test, test_f, "test")?;
    let train = part(&train, 1.0, "training")?.ok_or_else(|| DataError::Empty { what: "the training part".into() })?;
    Ok(Split { train, validation, test })
}

/// Validation and test sizes for `n` samples: rounded, at least one for a
/// positive fraction when `n >= 2`, and at least one sample left for training
/// (taken back from validation first).
fn part_sizes(n: usize, val_f: f64, test_f: f64) -> (usize, usize) {
    if n < 2 {
        return (0, 0);
    }
    let size = |f: f64| if f > 0.0 { ((f * n as f64).round() as usize).max(1) } else { 0 };
    let (mut n_val, mut n_test) = (size(val_f), size(test_f));
    while n_val + n_test > n - 1 {
        if n_val > 0 {
            n_val -= 1;
        } else {
            n_test -= 1;
        }
    }
    (n_val, n_test)
}

/// The first `n_train` samples for training, the rest for testing, in file
/// order: the standard split of `mnist_5k.csv.gz` is `first_n_split(&ds, 4000)`.
///
/// Errors: [`DataError::InvalidArgument`] unless `0 < n_train < ds.len()`.
pub fn first_n_split(ds: &InMemoryDataset, n_train: usize) -> Result<(InMemoryDataset, InMemoryDataset)> {
    let n = ds.len();
    if n_train == 0 || n_train >= n {
        return Err(DataError::InvalidArgument {
            op: "first_n_split",
            reason: format!("n_train = {n_train} must leave both parts non-empty (the dataset has {n} samples)"),
        });
    }
    let train: Vec<usize> = (0..n_train).collect();
    let test: Vec<usize> = (n_train..n).collect();
    Ok((ds.subset(&train)?, ds.subset(&test)?))
}
