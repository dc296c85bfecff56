//! Softmax cross-entropy from logits.

use crate::{Loss, LossError, Result, shape_mismatch};
use strata_tensor::Tensor;

/// Softmax cross-entropy from logits, mean over the batch rows (PyTorch's
/// `CrossEntropyLoss()`).
///
/// The prediction holds logits of shape `[batch, classes]` (no softmax layer
/// before it). The target is either
///
/// * **class indices**: shape `[batch]` or `[batch, 1]`, each an integer in
///   `0..classes` stored as `f32` (anything else is
///   [`LossError::LabelOutOfRange`]); or
/// * **probabilities**: the prediction's shape, one-hot or soft labels, each
///   finite and non-negative (else [`LossError::InvalidTarget`]). A target of
///   the prediction's shape is always read this way, also when `classes == 1`.
///
/// With `lse_r = log Σ_j e^(p_rj)` (computed max-subtracted, so any finite
/// logits give a finite loss):
///
/// `L = (1/B) Σ_r Σ_j t_rj (lse_r - p_rj)`, `dL/dp_rj = (softmax(p_r)_j · Σ_k t_rk - t_rj) / B`,
///
/// which for one-hot or normalised targets is the familiar
/// `(softmax(p) - t) / B`. [`Loss::value_and_gradient`] computes the softmax
/// once and writes the gradient straight into `grad` without allocating.
///
/// Other shapes are [`LossError::ShapeMismatch`] (also a prediction with zero
/// classes); an empty batch is [`LossError::EmptyBatch`].
///
/// ```
/// use strata_loss::{CrossEntropy, Loss};
/// use strata_tensor::Tensor;
/// let logits = Tensor::from_vec(&[1, 2], vec![0.0, 0.0])?;
/// let label = Tensor::from_slice(&[1.0]);
/// let mut g = Tensor::default();
/// let loss = CrossEntropy.value_and_gradient(&logits, &label, &mut g)?;
/// assert!((loss - std::f32::consts::LN_2).abs() < 1e-6); // -ln(1/2)
/// assert_eq!(g.data(), &[0.5, -0.5]); // softmax - onehot
///
/// // The same with a one-hot target.
/// let onehot = Tensor::from_vec(&[1, 2], vec![0.0, 1.0])?;
/// assert_eq!(CrossEntropy.value(&logits, &onehot)?, loss);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrossEntropy;

const NAME: &str = "cross_entropy";

/// How the target is read.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// One class index per row.
    Labels(&'a [f32]),
    /// A distribution over the classes per row, `[batch, classes]` row-major.
    Probabilities(&'a [f32]),
}

/// Validate shapes and target values; returns `(batch, classes, target)`.
fn check<'a>(prediction: &Tensor, target: &'a Tensor) -> Result<(usize, usize, Target<'a>)> {
    let &[batch, classes] = prediction.shape() else {
        return Err(shape_mismatch(NAME, prediction, target));
    };
    let kind = if target.shape() == prediction.shape() {
        Target::Probabilities(target.data())
    } else if target.shape() == [batch] || target.shape() == [batch, 1] {
        Target::Labels(target.data())
    } else {
        return Err(shape_mismatch(NAME, prediction, target));
    };
    if batch == 0 {
        return Err(LossError::EmptyBatch { loss: NAME });
    }
    if classes == 0 {
        return Err(shape_mismatch(NAME, prediction, target));
    }
    match kind {
        Target::Labels(labels) => {
            for (row, &label) in labels.iter().enumerate() {
                if class_index(label, classes).is_none() {
                    return Err(LossError::LabelOutOfRange { loss: NAME, row, label, n_classes: classes });
                }
            }
        }
        Target::Probabilities(probs) => {
            if let Some((index, &value)) = probs.iter().enumerate().find(|&(_, &t)| !(t.is_finite() && t >= 0.0)) {
                return Err(LossError::InvalidTarget {
                    loss: NAME,
                    index,
                    value,
                    reason: "probability targets must be finite and non-negative",
                });
            }
        }
    }
    Ok((batch, classes, kind))
}

/// `label` as a class index if it is an integer in `0..classes`.
#[inline]
fn class_index(label: f32, classes: usize) -> Option<usize> {
    // `label >= 0.0` is false for NaN; f32 integers up to 2^24 are exact, and
    // `as usize` saturates, so a huge label stays out of range.
    if label >= 0.0 && label.fract() == 0.0 && (label as usize) < classes { Some(label as usize) } else { None }
}

/// `Σ_j t_j (lse - x_j)` for one row, where `t` is the target (a label or a distribution).
#[inline]
fn row_loss(kind: Target<'_>, row: usize, x: &[f32], lse: f64) -> f64 {
    match kind {
        Target::Labels(labels) => {
            let label = class_index(labels[row], x.len()).unwrap_or(0);
            lse - f64::from(x[label])
        }
        Target::Probabilities(probs) => {
            let t = &probs[row * x.len()..(row + 1) * x.len()];
            t.iter().zip(x).filter(|&(&tj, _)| tj != 0.0).map(|(&tj, &xj)| f64::from(tj) * (lse - f64::from(xj))).sum()
        }
    }
}

impl CrossEntropy {
    /// The loss, and the gradient into `grad` if given. One pass over the logits per row.
    fn compute(prediction: &Tensor, target: &Tensor, grad: Option<&mut Tensor>) -> Result<f32> {
        let (batch, classes, kind) = check(prediction, target)?;
        let inv_b = 1.0 / batch as f64;
        let rows = prediction.data().chunks_exact(classes).enumerate();
        let mut total = 0.0f64;
        match grad {
            None => {
                for (r, x) in rows {
                    let m = f64::from(x.iter().copied().fold(f32::NEG_INFINITY, f32::max));
                    let s: f64 = x.iter().map(|&xj| (f64::from(xj) - m).exp()).sum();
                    total += row_loss(kind, r, x, m + s.ln());
                }
            }
            Some(grad) => {
                grad.resize(prediction.shape());
                for ((r, x), g) in rows.zip(grad.data_mut().chunks_exact_mut(classes)) {
                    let m = f64::from(x.iter().copied().fold(f32::NEG_INFINITY, f32::max));
                    // First pass: g_j = e^(x_j - m), s = Σ_j g_j.
                    let mut s = 0.0f64;
                    for (gj, &xj) in g.iter_mut().zip(x) {
                        let e = (f64::from(xj) - m).exp();
                        s += e;
                        *gj = e as f32;
                    }
                    total += row_loss(kind, r, x, m + s.ln());
                    // Second pass: g_j = (softmax_j · Σt - t_j) / B.
                    match kind {
                        Target::Labels(labels) => {
                            let scale = (inv_b / s) as f32;
                            for gj in g.iter_mut() {
                                *gj *= scale;
                            }
                            if let Some(label) = class_index(labels[r], classes) {
                                g[label] -= inv_b as f32;
                            }
                        }
                        Target::Probabilities(probs) => {
                            let t = &probs[r * classes..(r + 1) * classes];
                            let mass: f64 = t.iter().map(|&tj| f64::from(tj)).sum();
                            let scale = mass / s;
                            for (gj, &tj) in g.iter_mut().zip(t) {
                                *gj = ((f64::from(*gj) * scale - f64::from(tj)) * inv_b) as f32;
                            }
                        }
                    }
                }
            }
        }
        Ok((total * inv_b) as f32)
    }
}

impl Loss for CrossEntropy {
    fn name(&self) -> &'static str {
        NAME
    }

    fn value(&self, prediction: &Tensor, target: &Tensor) -> Result<f32> {
        Self::compute(prediction, target, None)
    }

    fn gradient(&self, prediction: &Tensor, target: &Tensor, grad: &mut Tensor) -> Result<()> {
        Self::compute(prediction, target, Some(grad)).map(|_| ())
    }

    fn value_and_gradient(&self, prediction: &Tensor, target: &Tensor, grad: &mut Tensor) -> Result<f32> {
        Self::compute(prediction, target, Some(grad))
    }
}
