//! Huber loss (smooth L1 with a scale).

use crate::{Loss, Result, check_same_shape};
use strata_tensor::Tensor;

/// Huber loss over all elements, like PyTorch's `HuberLoss(delta=1.0)`: for
/// `d = p - t`,
///
/// `ℓ(d) = d²/2` when `|d| <= δ`, else `δ (|d| - δ/2)`; `L = (1/N) Σ ℓ(d_i)`,
/// `dL/dp_i = clamp(d_i, -δ, δ) / N`.
///
/// Quadratic near the target, linear far from it: a regression loss that
/// outliers pull less than the squared error's.
///
/// ```
/// use strata_loss::{HuberLoss, Loss};
/// use strata_tensor::Tensor;
/// let p = Tensor::from_vec(&[2, 1], vec![0.5, 3.0])?;
/// let t = Tensor::from_vec(&[2, 1], vec![0.0, 0.0])?;
/// let mut g = Tensor::default();
/// // (0.5²/2 + 1 * (3 - 0.5)) / 2 = (0.125 + 2.5) / 2
/// assert_eq!(HuberLoss::default().value_and_gradient(&p, &t, &mut g)?, 1.3125);
/// assert_eq!(g.data(), &[0.25, 0.5]); // clamp(d, -1, 1) / 2
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HuberLoss {
    /// Where the loss turns from quadratic to linear (PyTorch's `delta`, 1 by default).
    pub delta: f32,
}

impl Default for HuberLoss {
    fn default() -> Self {
        HuberLoss { delta: 1.0 }
    }
}

const NAME: &str = "huber";

impl HuberLoss {
    /// `delta` is a public field: checked where it is used (PyTorch refuses
    /// a `delta` that is not positive too).
    fn check_delta(&self) -> Result<()> {
        if self.delta > 0.0 && self.delta.is_finite() {
            return Ok(());
        }
        let (loss, parameter, expected, value) = (NAME, "delta", "a finite number > 0", self.delta);
        Err(crate::LossError::InvalidParameter { loss, parameter, expected, value })
    }
}

impl Loss for HuberLoss {
    fn name(&self) -> &'static str {
        NAME
    }

    fn value(&self, prediction: &Tensor, target: &Tensor) -> Result<f32> {
        self.check_delta()?;
        let n = check_same_shape(NAME, prediction, target)?;
        let delta = f64::from(self.delta);
        let sum: f64 = prediction
            .data()
            .iter()
            .zip(target.data())
            .map(|(&p, &t)| {
                let d = (f64::from(p) - f64::from(t)).abs();
                if d <= delta { 0.5 * d * d } else { delta * (d - 0.5 * delta) }
            })
            .sum();
        Ok((sum / n as f64) as f32)
    }

    fn gradient(&self, prediction: &Tensor, target: &Tensor, grad: &mut Tensor) -> Result<()> {
        self.check_delta()?;
        let n = check_same_shape(NAME, prediction, target)?;
        let scale = 1.0 / n as f32;
        grad.resize(prediction.shape());
        for (g, (&p, &t)) in grad.data_mut().iter_mut().zip(prediction.data().iter().zip(target.data())) {
            *g = scale * (p - t).clamp(-self.delta, self.delta);
        }
        Ok(())
    }
}
