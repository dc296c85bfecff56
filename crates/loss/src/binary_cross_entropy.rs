//! Binary cross-entropy from logits.

use crate::{Loss, LossError, Result, check_same_shape};
use strata_tensor::Tensor;

/// Sigmoid binary cross-entropy from logits, mean over all elements (PyTorch's
/// `BCEWithLogitsLoss()`):
///
/// `L = (1/N) Σ_i max(x_i, 0) - x_i t_i + ln(1 + e^-|x_i|)`,
/// `dL/dx_i = (σ(x_i) - t_i) / N`.
///
/// This is `-t ln σ(x) - (1-t) ln(1-σ(x))` rewritten so that no exponent is
/// positive: finite for every finite logit. The prediction holds logits (no
/// sigmoid layer before it); the target has the prediction's shape and
/// values in `[0, 1]` (hard labels or soft probabilities), otherwise
/// [`LossError::InvalidTarget`].
///
/// ```
/// use strata_loss::{BinaryCrossEntropy, Loss};
/// use strata_tensor::Tensor;
/// let x = Tensor::from_slice(&[0.0, 0.0]);
/// let t = Tensor::from_slice(&[1.0, 0.0]);
/// let mut g = Tensor::default();
/// let loss = BinaryCrossEntropy.value_and_gradient(&x, &t, &mut g)?;
/// assert!((loss - std::f32::consts::LN_2).abs() < 1e-6); // -ln σ(0) = ln 2
/// assert_eq!(g.data(), &[-0.25, 0.25]); // (0.5 - t) / 2
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BinaryCrossEntropy;

const NAME: &str = "binary_cross_entropy";

/// Same shape, non-empty, every target in `[0, 1]`; returns the element count.
fn check(prediction: &Tensor, target: &Tensor) -> Result<usize> {
    let n = check_same_shape(NAME, prediction, target)?;
    if let Some((index, &value)) = target.data().iter().enumerate().find(|&(_, t)| !(0.0..=1.0).contains(t)) {
        return Err(LossError::InvalidTarget { loss: NAME, index, value, reason: "must lie in [0, 1]" });
    }
    Ok(n)
}

/// The logistic function without overflow.
#[inline]
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// One element's loss, `max(x, 0) - x t + ln(1 + e^-|x|)`.
#[inline]
fn term(x: f64, t: f64) -> f64 {
    x.max(0.0) - x * t + (-x.abs()).exp().ln_1p()
}

impl BinaryCrossEntropy {
    /// The loss, and the gradient into `grad` if given.
    fn compute(prediction: &Tensor, target: &Tensor, grad: Option<&mut Tensor>) -> Result<f32> {
        let n = check(prediction, target)?;
        let inv_n = 1.0 / n as f64;
        let pairs = prediction.data().iter().zip(target.data()).map(|(&x, &t)| (f64::from(x), f64::from(t)));
        let sum: f64 = match grad {
            None => pairs.map(|(x, t)| term(x, t)).sum(),
            Some(grad) => {
                grad.resize(prediction.shape());
                let mut sum = 0.0;
                for (g, (x, t)) in grad.data_mut().iter_mut().zip(pairs) {
                    sum += term(x, t);
                    *g = ((sigmoid(x) - t) * inv_n) as f32;
                }
                sum
            }
        };
        Ok((sum * inv_n) as f32)
    }
}

impl Loss for BinaryCrossEntropy {
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

    /// Every element: a positive logit predicts 1, against a target above 0.5.
    fn correct(&self, prediction: &Tensor, target: &Tensor) -> Option<(usize, usize)> {
        let n = check(prediction, target).ok()?;
        let hits = prediction.data().iter().zip(target.data()).filter(|&(&x, &t)| (x > 0.0) == (t > 0.5)).count();
        Some((hits, n))
    }
}
