//! Feature normalisation, fitted on the training part only and then applied
//! to every part.

use crate::error::{DataError, Result};
use serde::{Deserialize, Serialize};
use strata_tensor::{Tensor, TensorError};

/// Check that `features` is `[n, ..]` with `n_features` elements per row and
/// that the scaler's two vectors agree.
fn check(op: &'static str, features: &Tensor, a: &[f32], b: &[f32]) -> Result<()> {
    if a.len() != b.len() {
        return Err(DataError::ShapeMismatch { op, left: vec![a.len()], right: vec![b.len()] });
    }
    if features.rank() == 0 || features.row_len() != a.len() {
        return Err(DataError::ShapeMismatch { op, left: features.shape().to_vec(), right: vec![a.len()] });
    }
    Ok(())
}

/// The rows of a features tensor for fitting: at least one, rank >= 1.
fn rows_for_fit<'a>(op: &'static str, features: &'a Tensor) -> Result<(usize, std::slice::ChunksExact<'a, f32>)> {
    if features.rank() == 0 {
        return Err(TensorError::Rank { op, expected: 2, shape: Vec::new() }.into());
    }
    let w = features.row_len();
    if features.n_rows() == 0 || w == 0 {
        return Err(DataError::Empty { what: format!("{op}: the features {:?}", features.shape()) });
    }
    Ok((w, features.data().chunks_exact(w)))
}

/// Scales every feature (every element of a sample) to `[0, 1]` over the
/// data it was fitted on: `x' = (x - min) / (max - min)`. A constant feature
/// gets scale 1 (it becomes 0), never NaN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinMaxScaler {
    /// Per-feature minimum.
    pub min: Vec<f32>,
    /// Per-feature factor `1 / (max - min)` (1 for a constant feature).
    pub scale: Vec<f32>,
}

impl MinMaxScaler {
    /// Fit on features `[n, ..]` (per element of a sample, over the `n` rows).
    ///
    /// Errors: [`DataError::Empty`] without rows or features.
    pub fn fit(features: &Tensor) -> Result<Self> {
        let (w, rows) = rows_for_fit("MinMaxScaler::fit", features)?;
        let mut min = vec![f32::INFINITY; w];
        let mut max = vec![f32::NEG_INFINITY; w];
        for row in rows {
            for ((lo, hi), &x) in min.iter_mut().zip(max.iter_mut()).zip(row) {
                *lo = lo.min(x);
                *hi = hi.max(x);
            }
        }
        let scale = min
            .iter()
            .zip(&max)
            .map(|(&lo, &hi)| {
                let range = hi - lo;
                if range > 0.0 && range.is_finite() { 1.0 / range } else { 1.0 }
            })
            .collect();
        Ok(Self { min, scale })
    }

    /// Apply to features `[m, ..]` with the fitted per-sample shape, in place.
    /// Values outside the fitted range map outside `[0, 1]`.
    ///
    /// Errors: [`DataError::ShapeMismatch`] when the row length differs.
    pub fn transform(&self, features: &mut Tensor) -> Result<()> {
        check("MinMaxScaler::transform", features, &self.min, &self.scale)?;
        let w = self.min.len();
        if w == 0 {
            return Ok(());
        }
        for row in features.data_mut().chunks_exact_mut(w) {
            for ((x, &lo), &s) in row.iter_mut().zip(&self.min).zip(&self.scale) {
                *x = (*x - lo) * s;
            }
        }
        Ok(())
    }

    /// Fit on `features` and transform them.
    pub fn fit_transform(features: &mut Tensor) -> Result<Self> {
        let scaler = Self::fit(features)?;
        scaler.transform(features)?;
        Ok(scaler)
    }
}

/// Standardises every feature to mean 0 and standard deviation 1 over the
/// data it was fitted on: `x' = (x - mean) / std`, with the population
/// standard deviation; a feature with std 0 gets std 1 (it becomes 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    /// Per-feature mean.
    pub mean: Vec<f32>,
    /// Per-feature population standard deviation (1 where it was 0).
    pub std: Vec<f32>,
}

impl StandardScaler {
    /// Fit on features `[n, ..]` (two passes, accumulated in `f64`).
    ///
    /// Errors: [`DataError::Empty`] without rows or features.
    pub fn fit(features: &Tensor) -> Result<Self> {
        let (w, rows) = rows_for_fit("StandardScaler::fit", features)?;
        let n = features.n_rows() as f64;
        let mut sum = vec![0.0f64; w];
        for row in rows.clone() {
            for (s, &x) in sum.iter_mut().zip(row) {
                *s += f64::from(x);
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let mut sq = vec![0.0f64; w];
        for row in rows {
            for ((s, &m), &x) in sq.iter_mut().zip(&mean).zip(row) {
                let d = f64::from(x) - m;
                *s += d * d;
            }
        }
        let std = sq
            .iter()
            .map(|s| {
                let sd = (s / n).sqrt() as f32;
                if sd > 0.0 && sd.is_finite() { sd } else { 1.0 }
            })
            .collect();
        Ok(Self { mean: mean.iter().map(|&m| m as f32).collect(), std })
    }

    /// Apply to features `[m, ..]` with the fitted per-sample shape, in place.
    ///
    /// Errors: [`DataError::ShapeMismatch`] when the row length differs.
    pub fn transform(&self, features: &mut Tensor) -> Result<()> {
        check("StandardScaler::transform", features, &self.mean, &self.std)?;
        let w = self.mean.len();
        if w == 0 {
            return Ok(());
        }
        for row in features.data_mut().chunks_exact_mut(w) {
            for ((x, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = (*x - m) / s;
            }
        }
        Ok(())
    }

    /// Fit on `features` and transform them.
    pub fn fit_transform(features: &mut Tensor) -> Result<Self> {
        let scaler = Self::fit(features)?;
        scaler.transform(features)?;
        Ok(scaler)
    }
}

/// A fitted normalisation, serialisable with a model so that inference
/// preprocesses inputs exactly like training did.
///
/// ```
/// use strata_data::Normalizer;
/// use strata_tensor::{Tensor, TensorError};
///
/// let mut pixels = Tensor::from_slice(&[0.0, 51.0, 255.0]).reshape(&[1, 3])?;
/// Normalizer::Scale { factor: 1.0 / 255.0 }.transform(&mut pixels)?;
/// assert_eq!(pixels.data()[0], 0.0);
/// assert!((pixels.data()[1] - 0.2).abs() < 1e-6 && (pixels.data()[2] - 1.0).abs() < 1e-6);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum Normalizer {
    /// Leave the features as they are.
    #[default]
    None,
    /// Per-feature min-max scaling to `[0, 1]`.
    MinMax(MinMaxScaler),
    /// Per-feature standardisation.
    Standard(StandardScaler),
    /// Multiply every value by a constant (e.g. `1 / 255` for 8-bit pixels).
    Scale {
        /// The factor.
        factor: f32,
    },
}

impl Normalizer {
    /// The number of features a sample it was fitted on has, for the
    /// scalers fitted per feature (`None` for `None` and `Scale`).
    pub fn width(&self) -> Option<usize> {
        match self {
            Self::None | Self::Scale { .. } => None,
            Self::MinMax(s) => Some(s.min.len()),
            Self::Standard(s) => Some(s.mean.len()),
        }
    }

    /// Why it cannot transform anything, if so: vectors of two lengths, a
    /// value that is not finite, a deviation or a factor that is not
    /// positive (a negative one would flip the features; no fit gives one).
    pub fn check(&self) -> std::result::Result<(), String> {
        let positive = |what: &str, v: &[f32]| match v.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
            Some(x) => Err(format!("a {what} of {x}, where a finite number above 0 belongs")),
            None => Ok(()),
        };
        let finite = |what: &str, v: &[f32]| match v.iter().find(|x| !x.is_finite()) {
            Some(x) => Err(format!("a {what} of {x}, where a finite number belongs")),
            None => Ok(()),
        };
        let lengths = |a: (&str, usize), b: (&str, usize)| match a.1 == b.1 {
            true => Ok(()),
            false => Err(format!("{} {}s but {} {}s", a.1, a.0, b.1, b.0)),
        };
        match self {
            Self::None => Ok(()),
            Self::Scale { factor } => positive("factor", &[*factor]),
            Self::MinMax(s) => {
                lengths(("minimum", s.min.len()), ("scale", s.scale.len()))?;
                finite("minimum", &s.min)?;
                positive("scale", &s.scale)
            }
            Self::Standard(s) => {
                lengths(("mean", s.mean.len()), ("standard deviation", s.std.len()))?;
                finite("mean", &s.mean)?;
                positive("standard deviation", &s.std)
            }
        }
    }

    /// Apply to features in place (see the scalers' `transform`).
    pub fn transform(&self, features: &mut Tensor) -> Result<()> {
        match self {
            Self::None => Ok(()),
            Self::MinMax(s) => s.transform(features),
            Self::Standard(s) => s.transform(features),
            Self::Scale { factor } => {
                features.scale_assign(*factor);
                Ok(())
            }
        }
    }
}
