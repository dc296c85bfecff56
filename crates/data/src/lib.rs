//! # strata-data
//!
//! Datasets for Strata: loading CSV (plain or gzipped) and IDX files (the
//! MNIST distribution format), seeded shuffling, stratified
//! train / validation / test splits, normalisation fitted on the training
//! part, one-hot encoding and mini-batches.
//!
//! **The design decisions:**
//!
//! - A [`Dataset`] *fills caller-owned batch buffers*
//!   ([`Dataset::fill_batch`]): the training loop keeps one features and one
//!   targets tensor and the dataset writes each mini-batch into them, so once
//!   the buffers have grown to the batch size a training step allocates
//!   nothing. ([`batches`] is a convenience iterator that does allocate.)
//! - *Errors say what and where*: a bad CSV cell is reported with the file,
//!   the 1-based line (counting the header) and column, and the cell's text;
//!   a ragged row with the expected and found cell counts; a truncated IDX
//!   file with the expected and found byte counts. Nothing panics on user
//!   input: every problem is a [`DataError`].
//! - Everything random takes a [`StrataRng`](strata_tensor::StrataRng), so a
//!   seed fixes every split and every epoch's order.
//!
//! ```
//! use strata_data::{CsvOptions, Dataset, StandardScaler, read_csv, train_test_split};
//! use strata_tensor::{StrataRng, Tensor};
//!
//! // Two features, then the class label; 4 rows of each class.
//! let csv = "\
//! 1.0,2.0,0\n1.5,1.8,0\n0.9,2.2,0\n1.2,2.1,0\n\
//! 5.0,8.0,1\n6.0,9.0,1\n5.5,8.5,1\n6.1,7.9,1\n";
//! let ds = read_csv(csv.as_bytes(), &CsvOptions::default(), "inline.csv")?;
//! assert_eq!(ds.features().shape(), &[8, 2]);
//! assert_eq!(ds.n_classes(), Some(2));
//!
//! // A seeded, stratified split: one of each class goes to the test part.
//! let mut rng = StrataRng::seed_from_u64(42);
//! let (mut train, mut test) = train_test_split(&ds, 0.25, true, &mut rng)?;
//! assert_eq!(test.class_counts(), Some(vec![1, 1]));
//!
//! // Normalise with statistics of the training part only.
//! let scaler = StandardScaler::fit_transform(train.features_mut())?;
//! scaler.transform(test.features_mut())?;
//!
//! // Fill reused buffers with a mini-batch.
//! let (mut x, mut y) = (Tensor::default(), Tensor::default());
//! train.fill_batch(&[0, 1, 2], &mut x, &mut y)?;
//! assert_eq!((x.shape(), y.shape()), (&[3, 2][..], &[3][..]));
//!
//! // Errors name the place.
//! let err = read_csv("1,2,0\n1,2\n".as_bytes(), &CsvOptions::default(), "bad.csv").unwrap_err();
//! assert_eq!(err.to_string(), "bad.csv: line 2: expected 3 cells (as on the first data row), found 2");
//! # Ok::<(), strata_data::DataError>(())
//! ```
#![warn(missing_docs)]

mod batch;
mod csv;
mod dataset;
mod error;
mod gzip;
mod idx;
mod labels;
mod memory;
mod normalize;
mod sequence;
mod split;
mod text;

pub use batch::{BatchSampler, Batches, batches};
pub use csv::{
    CsvOptions, LabelColumn, MAX_CLASS_INDEX, MAX_DATA_BYTES, MAX_LINE_BYTES, Missing, Task, csv_header, delimiter_for,
    fill_nan, load_csv, load_csv_bytes, nan_means, read_csv,
};
pub use dataset::InMemoryDataset;
pub use error::{DataError, Result};
pub use idx::{idx_dataset_from_bytes, load_idx, load_idx_dataset, load_idx_dataset_with, read_idx};
pub use labels::{check_labels, one_hot};
pub use memory::data_budget;
pub use normalize::{MinMaxScaler, Normalizer, StandardScaler};
pub use sequence::MAX_VOCAB;
pub use split::{Split, first_n_split, shuffled_indices, split_three, train_test_split};
pub use text::{BigramBaseline, CharVocab, MAX_TEXT_BYTES, next_id_dataset, read_lines, read_lines_bytes};

use strata_tensor::Tensor;

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

    /// Number of classes when the targets are class indices, `None` otherwise.
    fn n_classes(&self) -> Option<usize> {
        None
    }
}
