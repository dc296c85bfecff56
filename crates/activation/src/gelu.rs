//! The Gaussian error linear unit, tanh approximation.

use crate::util::{backward_into, map_into};
use crate::{Activation, Result};
use strata_tensor::Tensor;

/// `sqrt(2 / pi)`.
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
/// The cubic coefficient of the approximation.
const COEFF: f32 = 0.044_715;

/// GELU, tanh approximation (Hendrycks & Gimpel 2016; PyTorch's
/// `approximate='tanh'`):
///
/// `f(x) = 0.5 x (1 + tanh(u))`, `u = sqrt(2/pi) (x + 0.044715 x³)`.
///
/// The backward reads the input:
/// `f'(x) = 0.5 (1 + tanh u) + 0.5 x (1 - tanh² u) sqrt(2/pi) (1 + 3 · 0.044715 x²)`.
/// For large `|x|` the second term is dropped once `1 - tanh² u` underflows
/// to zero, so the gradient is exactly 0 or 1 there instead of `0 · ∞ = NaN`.
///
/// ```
/// use strata_activation::{Activation, Gelu};
/// use strata_tensor::Tensor;
/// let y = Gelu.apply(&Tensor::from_slice(&[0.0, 1.0, -1e20]))?;
/// assert_eq!(y.data()[0], 0.0);
/// assert!((y.data()[1] - 0.841_192).abs() < 1e-5); // 0.5 (1 + tanh(0.797885 · 1.044715))
/// assert_eq!(y.data()[2], 0.0);
/// # Ok::<(), strata_activation::ActivationError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gelu;

#[inline]
fn gelu(x: f32) -> f32 {
    let t = (SQRT_2_OVER_PI * (x + COEFF * x * x * x)).tanh();
    // For x -> -inf, 1 + t is exactly 0; avoid 0 * -inf.
    let one_plus_t = 1.0 + t;
    if one_plus_t == 0.0 { 0.0 } else { 0.5 * x * one_plus_t }
}

#[inline]
fn gelu_derivative(x: f32) -> f32 {
    let t = (SQRT_2_OVER_PI * (x + COEFF * x * x * x)).tanh();
    let sech2 = 1.0 - t * t;
    let first = 0.5 * (1.0 + t);
    if sech2 == 0.0 { first } else { first + 0.5 * x * sech2 * SQRT_2_OVER_PI * (1.0 + 3.0 * COEFF * x * x) }
}

impl Activation for Gelu {
    fn name(&self) -> &'static str {
        "gelu"
    }

    fn forward(&self, input: &Tensor, output: &mut Tensor) -> Result<()> {
        map_into(input, output, gelu);
        Ok(())
    }

    fn backward(&self, input: &Tensor, output: &Tensor, grad_output: &Tensor, grad_input: &mut Tensor) -> Result<()> {
        backward_into(self.name(), input, output, grad_output, grad_input, |x, _| gelu_derivative(x))
    }
}
