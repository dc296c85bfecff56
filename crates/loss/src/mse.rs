//! Mean squared error.

use crate::{Loss, Result, check_same_shape};
use strata_tensor::Tensor;

/// Mean squared error over all elements, like PyTorch's `MSELoss()`:
///
/// `L = (1/N) Σ_i (p_i - t_i)²`, `dL/dp_i = 2 (p_i - t_i) / N`,
///
/// with `N` the number of elements (not rows). Prediction and target must have
/// one shape with at least one element.
///
/// ```
/// use strata_loss::{Loss, MeanSquaredError};
/// use strata_tensor::Tensor;
/// let p = Tensor::from_vec(&[2, 1], vec![1.0, 3.0])?;
/// let t = Tensor::from_vec(&[2, 1], vec![0.0, 1.0])?;
/// let mut g = Tensor::default();
/// assert_eq!(MeanSquaredError.value_and_gradient(&p, &t, &mut g)?, 2.5); // (1 + 4) / 2
/// assert_eq!(g.data(), &[1.0, 2.0]); // 2 (p - t) / 2
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MeanSquaredError;

const NAME: &str = "mse";

impl Loss for MeanSquaredError {
    fn name(&self) -> &'static str {
        NAME
    }

    fn value(&self, prediction: &Tensor, target: &Tensor) -> Result<f32> {
        let n = check_same_shape(NAME, prediction, target)?;
        let sum: f64 = prediction
            .data()
            .iter()
            .zip(target.data())
            .map(|(&p, &t)| {
                let d = f64::from(p) - f64::from(t);
                d * d
            })
            .sum();
        Ok((sum / n as f64) as f32)
    }

    fn gradient(&self, prediction: &Tensor, target: &Tensor, grad: &mut Tensor) -> Result<()> {
        let n = check_same_shape(NAME, prediction, target)?;
        let scale = 2.0 / n as f32;
        grad.resize(prediction.shape());
        for (g, (&p, &t)) in grad.data_mut().iter_mut().zip(prediction.data().iter().zip(target.data())) {
            *g = scale * (p - t);
        }
        Ok(())
    }
}
