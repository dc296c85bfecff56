//! IDX files, the format the MNIST database is distributed in
//! (<http://yann.lecun.com/exdb/mnist/>).
//!
//! Layout: two zero bytes, a type byte, the number of dimensions `d`, then
//! `d` big-endian `u32` sizes, then the values, big-endian, row-major.

use crate::dataset::{InMemoryDataset, label_of};
use crate::error::{DataError, Result};
use crate::gzip::maybe_gunzip;
use std::path::Path;
use strata_tensor::{Tensor, checked_numel};

/// Element type of an IDX file.
#[derive(Debug, Clone, Copy)]
enum IdxType {
    U8,
    I8,
    I16,
    I32,
    F32,
    F64,
}

impl IdxType {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => Self::U8,
            0x09 => Self::I8,
            0x0B => Self::I16,
            0x0C => Self::I32,
            0x0D => Self::F32,
            0x0E => Self::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Self::U8 | Self::I8 => 1,
            Self::I16 => 2,
            Self::I32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::U8 => "u8",
            Self::I8 => "i8",
            Self::I16 => "i16",
            Self::I32 => "i32",
            Self::F32 => "f32",
            Self::F64 => "f64",
        }
    }

    fn decode(self, b: &[u8]) -> f32 {
        match (self, b) {
            (Self::U8, [x]) => f32::from(*x),
            (Self::I8, [x]) => f32::from(i8::from_be_bytes([*x])),
            (Self::I16, [a, b]) => f32::from(i16::from_be_bytes([*a, *b])),
            (Self::I32, [a, b, c, d]) => i32::from_be_bytes([*a, *b, *c, *d]) as f32,
            (Self::F32, [a, b, c, d]) => f32::from_be_bytes([*a, *b, *c, *d]),
            (Self::F64, [a, b, c, d, e, f, g, h]) => f64::from_be_bytes([*a, *b, *c, *d, *e, *f, *g, *h]) as f32,
            _ => f32::NAN,
        }
    }
}

/// Parse IDX bytes (plain or gzipped, detected by the magic bytes) into a
/// tensor whose shape is the file's dimensions. Types: `0x08` u8, `0x09` i8,
/// `0x0B` i16, `0x0C` i32, `0x0D` f32, `0x0E` f64, all converted to `f32`.
///
/// Errors: [`DataError::Idx`] for a bad header, an unknown type, or a data
/// size that differs from the header's (naming expected and found byte
/// counts); [`DataError::Gzip`] for corrupt compressed data.
///
/// ```
/// // A 2 x 3 u8 matrix.
/// let bytes = [0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6];
/// let t = strata_data::read_idx(&bytes, "inline")?;
/// assert_eq!(t.shape(), &[2, 3]);
/// assert_eq!(t.data(), &[1., 2., 3., 4., 5., 6.]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
pub fn read_idx(bytes: &[u8], source: &str) -> Result<Tensor> {
    let bytes = maybe_gunzip(bytes, source)?;
    let bad = |reason: String| DataError::Idx { file: source.to_owned(), reason };
    let Some(&[z0, z1, code, ndims]) = bytes.first_chunk::<4>() else {
        return Err(bad(format!("{} bytes are too few for the 4-byte IDX header", bytes.len())));
    };
    if z0 != 0 || z1 != 0 {
        return Err(bad(format!("the file must start with two zero bytes, found {z0:#04x} {z1:#04x}")));
    }
    let ty = IdxType::from_code(code).ok_or_else(|| bad(format!("unknown element type {code:#04x}")))?;
    if ndims == 0 {
        return Err(bad("the header declares 0 dimensions".into()));
    }
    let header_len = 4 + 4 * usize::from(ndims);
    let Some(dim_bytes) = bytes.get(4..header_len) else {
        return Err(bad(format!(
            "truncated header: {ndims} dimensions need {header_len} header bytes, found {}",
            bytes.len()
        )));
    };
    let dims: Vec<usize> =
        dim_bytes.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    let expected = checked_numel(&dims)
        .and_then(|n| n.checked_mul(ty.size()))
        .ok_or_else(|| bad(format!("dimensions {dims:?} are too large")))?;
    let data = &bytes[header_len..];
    if data.len() != expected {
        let what = if data.len() < expected { "truncated data" } else { "trailing bytes" };
        return Err(bad(format!(
            "{what}: dimensions {dims:?} of {} need {expected} data bytes, found {}",
            ty.name(),
            data.len()
        )));
    }
    // A byte a value becomes four: memory the machine may refuse (a small
    // gzipped file can hold gigabytes).
    let n = expected / ty.size();
    let mut values: Vec<f32> = Vec::new();
    if values.try_reserve_exact(n).is_err() {
        let bytes = (n as u64).saturating_mul(4);
        return Err(bad(format!("{n} values need {bytes} bytes as f32, more than this machine can allocate")));
    }
    values.extend(data.chunks_exact(ty.size()).map(|c| ty.decode(c)));
    Ok(Tensor::from_vec(&dims, values)?)
}

/// Read an IDX file (plain or gzipped); see [`read_idx`].
pub fn load_idx(path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    read_idx(&bytes, &path.display().to_string())
}

/// Load an image/label pair of IDX files (e.g. MNIST's
/// `train-images-idx3-ubyte.gz` and `train-labels-idx1-ubyte.gz`) as a
/// classification dataset. Images `[n, rows, cols]` are flattened to
/// `[n, rows * cols]` so a dense network takes them (see
/// [`InMemoryDataset::with_feature_shape`] to get `[1, rows, cols]` back);
/// pixel values are kept as stored (0-255 for MNIST). Labels must be a
/// one-dimensional file of `n` non-negative integers, none above
/// [`crate::MAX_CLASS_INDEX`] or twice `n` plus 1000 (as in a CSV file;
/// [`load_idx_dataset_with`] sets the first limit).
pub fn load_idx_dataset(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<InMemoryDataset> {
    load_idx_dataset_with(images, labels, crate::MAX_CLASS_INDEX)
}

/// [`load_idx_dataset`] accepting class indices up to `max_class_index`
/// (and twice the items plus 1000).
pub fn load_idx_dataset_with(
    images: impl AsRef<Path>,
    labels: impl AsRef<Path>,
    max_class_index: usize,
) -> Result<InMemoryDataset> {
    let (images, labels) = (images.as_ref(), labels.as_ref());
    let x = load_idx(images)?;
    let y = load_idx(labels)?;
    idx_dataset(x, y, &images.display().to_string(), &labels.display().to_string(), max_class_index)
}

/// [`load_idx_dataset`] for bytes in memory; the names are used in errors.
pub fn idx_dataset_from_bytes(
    images: &[u8],
    images_name: &str,
    labels: &[u8],
    labels_name: &str,
) -> Result<InMemoryDataset> {
    let x = read_idx(images, images_name)?;
    let y = read_idx(labels, labels_name)?;
    idx_dataset(x, y, images_name, labels_name, crate::MAX_CLASS_INDEX)
}

fn idx_dataset(
    x: Tensor,
    y: Tensor,
    images_name: &str,
    labels_name: &str,
    max_class_index: usize,
) -> Result<InMemoryDataset> {
    let labels_error = |reason: String| DataError::Idx { file: labels_name.to_owned(), reason };
    if y.rank() != 1 {
        return Err(labels_error(format!(
            "holds an array of shape {:?}; a labels file holds one dimension, a label an item",
            y.shape()
        )));
    }
    let images_error = |reason: String| DataError::Idx { file: images_name.to_owned(), reason };
    if x.shape().first() == Some(&0) {
        return Err(images_error("holds no item (its first dimension is 0)".into()));
    }
    if x.rank() > 1 && x.shape()[1..].contains(&0) {
        return Err(images_error(format!("holds items of shape {:?}: an item of no value", &x.shape()[1..])));
    }
    if x.rank() == 0 || x.n_rows() != y.n_rows() {
        return Err(labels_error(format!(
            "holds {} labels, but {} holds {} items: one label an item",
            y.n_rows(),
            images_name,
            x.shape().first().copied().unwrap_or(0)
        )));
    }
    let limit = max_class_index.min(y.n_rows().saturating_mul(2).saturating_add(1000));
    let labels = y
        .data()
        .iter()
        .enumerate()
        .map(|(i, &v)| match label_of(f64::from(v)) {
            Some(label) if label <= limit => Ok(label),
            _ if v >= 0.0 && v.fract() == 0.0 => Err(labels_error(format!(
                "label {v} of item {i} is above {limit}, the largest class index accepted for {} items \
                 (class indices count from 0)",
                y.n_rows()
            ))),
            _ => Err(labels_error(format!("label {v} of item {i} is not a non-negative integer"))),
        })
        .collect::<Result<Vec<usize>>>()?;
    let n = x.n_rows();
    let flat = x.row_len();
    let x = x.into_reshape(&[n, flat])?;
    InMemoryDataset::from_labels(x, &labels)
}
