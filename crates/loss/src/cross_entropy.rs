//! Softmax cross-entropy from logits.

use crate::{Loss, LossError, Result, shape_mismatch};
use serde::{Deserialize, Serialize};
use strata_tensor::{Tensor, argmax};

/// Softmax cross-entropy from logits, averaged over the rows that count
/// (PyTorch's `CrossEntropyLoss()`, with `ignore_index`).
///
/// The prediction holds logits of shape `[.., classes]`: the last axis holds
/// the classes and every axis before it is a batch axis, so `[batch, classes]`
/// and `[batch, sequence, classes]` (a language model's next-token logits)
/// both work. There is no softmax layer before it. The target is either
///
/// * **class indices**: the prediction's shape without its last axis (or
///   with a last axis of 1), each an integer in `0..classes` stored as `f32`,
///   or the [`CrossEntropy::ignore_index`] (padding): such a row adds nothing
///   to the loss or the gradient and is not counted in the mean. Anything
///   else is [`LossError::LabelOutOfRange`]; or
/// * **probabilities**: the prediction's shape, one-hot or soft labels, each
///   finite and non-negative (else [`LossError::InvalidTarget`]). A target of
///   the prediction's shape is always read this way, also when `classes == 1`.
///
/// With `lse_r = log Σ_j e^(p_rj)` (computed max-subtracted, so any finite
/// logits give a finite loss) and `B` the number of rows counted:
///
/// `L = (1/B) Σ_r Σ_j t_rj (lse_r - p_rj)`, `dL/dp_rj = (softmax(p_r)_j · Σ_k t_rk - t_rj) / B`,
///
/// which for one-hot or normalised targets is the familiar
/// `(softmax(p) - t) / B`. [`Loss::value_and_gradient`] computes the softmax
/// once and writes the gradient straight into `grad` without allocating.
///
/// **Masked logits.** A logit of `-inf` (a masked class) has probability 0
/// and gradient 0; the loss stays finite as long as the target gives it no
/// weight (a label on a `-inf` logit has loss `+inf`). A batch in which every
/// row is ignored has loss 0 and gradient 0 (PyTorch returns NaN, `0 / 0`).
///
/// Other shapes are [`LossError::ShapeMismatch`] (also a prediction with zero
/// classes or of rank below 2); an empty batch is [`LossError::EmptyBatch`].
///
/// ```
/// use strata_loss::{CrossEntropy, Loss};
/// use strata_tensor::Tensor;
/// let logits = Tensor::from_vec(&[1, 2], vec![0.0, 0.0])?;
/// let label = Tensor::from_slice(&[1.0]);
/// let mut g = Tensor::default();
/// let loss = CrossEntropy::new().value_and_gradient(&logits, &label, &mut g)?;
/// assert!((loss - std::f32::consts::LN_2).abs() < 1e-6); // -ln(1/2)
/// assert_eq!(g.data(), &[0.5, -0.5]); // softmax - onehot
///
/// // The same with a one-hot target.
/// let onehot = Tensor::from_vec(&[1, 2], vec![0.0, 1.0])?;
/// assert_eq!(CrossEntropy::new().value(&logits, &onehot)?, loss);
///
/// // A sequence of 3 positions, the last one padding (id 0 ignored).
/// let logits = Tensor::from_vec(&[1, 3, 2], vec![0.0, 0.0, 0.0, 0.0, 5.0, -5.0])?;
/// let ids = Tensor::from_vec(&[1, 3], vec![1.0, 1.0, 0.0])?;
/// let masked = CrossEntropy::new().with_ignore_index(0);
/// assert!((masked.value(&logits, &ids)? - std::f32::consts::LN_2).abs() < 1e-6); // mean of two ln 2
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossEntropy {
    /// A class index whose rows count for nothing (padding), like PyTorch's
    /// `ignore_index`. `None` (the default): every label must be a class.
    #[serde(default)]
    pub ignore_index: Option<usize>,
}

const NAME: &str = "cross_entropy";

/// How the target is read.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// One class index per row.
    Labels(&'a [f32]),
    /// A distribution over the classes per row, `[rows, classes]` row-major.
    Probabilities(&'a [f32]),
}

/// A checked prediction/target pair.
#[derive(Clone, Copy)]
struct Checked<'a> {
    classes: usize,
    target: Target<'a>,
    /// Rows that count (not ignored): the `B` of the mean.
    counted: usize,
}

/// `label` as a class index if it is an integer in `0..classes`.
#[inline]
fn class_index(label: f32, classes: usize) -> Option<usize> {
    // `label >= 0.0` is false for NaN; f32 integers up to 2^24 are exact, and
    // `as usize` saturates, so a huge label stays out of range.
    if label >= 0.0 && label.fract() == 0.0 && (label as usize) < classes { Some(label as usize) } else { None }
}

/// Largest logit of a row (`-inf` when every class is masked).
#[inline]
fn row_max(x: &[f32]) -> f64 {
    f64::from(x.iter().copied().fold(f32::NEG_INFINITY, f32::max))
}

impl CrossEntropy {
    /// Cross-entropy with every label a class.
    pub const fn new() -> Self {
        CrossEntropy { ignore_index: None }
    }

    /// Rows labelled `index` count for nothing (padding).
    pub const fn with_ignore_index(mut self, index: usize) -> Self {
        self.ignore_index = Some(index);
        self
    }

    fn ignored(&self, label: f32) -> bool {
        self.ignore_index.is_some_and(|i| label >= 0.0 && label.fract() == 0.0 && label as usize == i)
    }

    /// Validate shapes and target values.
    fn check<'a>(&self, prediction: &Tensor, target: &'a Tensor) -> Result<Checked<'a>> {
        let shape = prediction.shape();
        let Some((&classes, lead)) = shape.split_last().filter(|(_, lead)| !lead.is_empty()) else {
            return Err(shape_mismatch(NAME, prediction, target));
        };
        let t = target.shape();
        let kind = if t == shape {
            Target::Probabilities(target.data())
        } else if t == lead || (t.len() == shape.len() && t[..lead.len()] == *lead && t[lead.len()] == 1) {
            Target::Labels(target.data())
        } else {
            return Err(shape_mismatch(NAME, prediction, target));
        };
        let rows: usize = lead.iter().product();
        if rows == 0 {
            return Err(LossError::EmptyBatch { loss: NAME });
        }
        if classes == 0 {
            return Err(shape_mismatch(NAME, prediction, target));
        }
        let counted = match kind {
            Target::Labels(labels) => {
                let mut counted = 0;
                for (row, &label) in labels.iter().enumerate() {
                    if self.ignored(label) {
                        continue;
                    }
                    if class_index(label, classes).is_none() {
                        return Err(LossError::LabelOutOfRange { loss: NAME, row, label, n_classes: classes });
                    }
                    counted += 1;
                }
                counted
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
                rows
            }
        };
        Ok(Checked { classes, target: kind, counted })
    }

    /// The class of row `r`, or `None` for an ignored row (labels only).
    #[inline]
    fn label_of(&self, labels: &[f32], r: usize, classes: usize) -> Option<usize> {
        if self.ignored(labels[r]) { None } else { class_index(labels[r], classes) }
    }

    /// `Σ_j t_j (lse - x_j)` for one row (0 for an ignored row).
    #[inline]
    fn row_loss(&self, kind: Target<'_>, row: usize, x: &[f32], lse: f64) -> f64 {
        match kind {
            Target::Labels(labels) => match self.label_of(labels, row, x.len()) {
                Some(label) => lse - f64::from(x[label]),
                None => 0.0,
            },
            Target::Probabilities(probs) => {
                let t = &probs[row * x.len()..(row + 1) * x.len()];
                t.iter()
                    .zip(x)
                    .filter(|&(&tj, _)| tj != 0.0)
                    .map(|(&tj, &xj)| f64::from(tj) * (lse - f64::from(xj)))
                    .sum()
            }
        }
    }

    /// The loss, and the gradient into `grad` if given. One pass over the logits per row.
    fn compute(&self, prediction: &Tensor, target: &Tensor, grad: Option<&mut Tensor>) -> Result<f32> {
        let Checked { classes, target: kind, counted } = self.check(prediction, target)?;
        let inv_b = if counted == 0 { 0.0 } else { 1.0 / counted as f64 };
        let rows = prediction.data().chunks_exact(classes).enumerate();
        let mut total = 0.0f64;
        match grad {
            None => {
                for (r, x) in rows {
                    if matches!(kind, Target::Labels(l) if self.label_of(l, r, classes).is_none()) {
                        continue;
                    }
                    let m = row_max(x);
                    if m == f64::NEG_INFINITY {
                        total += f64::INFINITY; // every class masked: the target is impossible
                        continue;
                    }
                    let s: f64 = x.iter().map(|&xj| (f64::from(xj) - m).exp()).sum();
                    total += self.row_loss(kind, r, x, m + s.ln());
                }
            }
            Some(grad) => {
                grad.resize(prediction.shape());
                for ((r, x), g) in rows.zip(grad.data_mut().chunks_exact_mut(classes)) {
                    total += self.row_with_gradient(kind, r, x, g, inv_b);
                }
            }
        }
        Ok((total * inv_b) as f32)
    }

    /// One row's loss, writing `g = (softmax(x) · Σt - t) / B` (zeros for an ignored row).
    fn row_with_gradient(&self, kind: Target<'_>, r: usize, x: &[f32], g: &mut [f32], inv_b: f64) -> f64 {
        let classes = x.len();
        let label = match kind {
            Target::Labels(labels) => match self.label_of(labels, r, classes) {
                Some(label) => Some(label),
                None => {
                    g.fill(0.0);
                    return 0.0;
                }
            },
            Target::Probabilities(_) => None,
        };
        let m = row_max(x);
        if m == f64::NEG_INFINITY {
            // Every class masked: the target is impossible (loss +inf), and
            // no logit can move it (gradient 0).
            g.fill(0.0);
            return f64::INFINITY;
        }
        // First pass: g_j = e^(x_j - m), s = Σ_j g_j.
        let mut s = 0.0f64;
        for (gj, &xj) in g.iter_mut().zip(x) {
            let e = (f64::from(xj) - m).exp();
            s += e;
            *gj = e as f32;
        }
        let loss = self.row_loss(kind, r, x, m + s.ln());
        // Second pass: g_j = (softmax_j · Σt - t_j) / B.
        match (kind, label) {
            (Target::Probabilities(probs), _) => {
                let t = &probs[r * classes..(r + 1) * classes];
                let mass: f64 = t.iter().map(|&tj| f64::from(tj)).sum();
                let scale = mass / s;
                for (gj, &tj) in g.iter_mut().zip(t) {
                    *gj = ((f64::from(*gj) * scale - f64::from(tj)) * inv_b) as f32;
                }
            }
            (Target::Labels(_), label) => {
                let scale = (inv_b / s) as f32;
                for gj in g.iter_mut() {
                    *gj *= scale;
                }
                if let Some(label) = label {
                    g[label] -= inv_b as f32;
                }
            }
        }
        loss
    }
}

impl Loss for CrossEntropy {
    fn name(&self) -> &'static str {
        NAME
    }

    fn value(&self, prediction: &Tensor, target: &Tensor) -> Result<f32> {
        self.compute(prediction, target, None)
    }

    fn gradient(&self, prediction: &Tensor, target: &Tensor, grad: &mut Tensor) -> Result<()> {
        self.compute(prediction, target, Some(grad)).map(|_| ())
    }

    fn value_and_gradient(&self, prediction: &Tensor, target: &Tensor, grad: &mut Tensor) -> Result<f32> {
        self.compute(prediction, target, Some(grad))
    }

    /// Rows not ignored.
    fn n_terms(&self, prediction: &Tensor, target: &Tensor) -> usize {
        self.check(prediction, target).map_or(0, |c| c.counted)
    }

    /// Top-1: the row's largest logit (the first, on ties) against its label
    /// (ignored rows are not counted) or against the largest target
    /// probability.
    fn correct(&self, prediction: &Tensor, target: &Tensor) -> Option<(usize, usize)> {
        let Checked { classes, target: kind, counted } = self.check(prediction, target).ok()?;
        let rows = prediction.data().chunks_exact(classes).enumerate();
        let hits = match kind {
            Target::Labels(labels) => {
                rows.filter(|&(r, x)| self.label_of(labels, r, classes) == Some(argmax(x))).count()
            }
            Target::Probabilities(probs) => {
                rows.filter(|&(r, x)| argmax(x) == argmax(&probs[r * classes..(r + 1) * classes])).count()
            }
        };
        Some((hits, counted))
    }
}
