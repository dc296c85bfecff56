//! The Gaussian error linear unit, exact form (with `erf`).

use crate::util::{backward_into, map_into};
use crate::{Activation, Result};
use strata_tensor::Tensor;

/// `1 / sqrt(2)`.
const FRAC_1_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// `1 / sqrt(2 pi)`.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// GELU in its exact form, PyTorch's default (`nn.GELU()`,
/// `approximate='none'`): `f(x) = x Φ(x) = 0.5 x (1 + erf(x / sqrt 2))`,
/// with `Φ` the standard normal distribution function.
///
/// The backward reads the input: `f'(x) = Φ(x) + x φ(x)`, `φ(x) = e^(-x²/2) /
/// sqrt(2 pi)`. Both are computed in `f64` (with `libm`'s `erf`) and rounded
/// once, so the result is the nearest `f32` to the exact value; PyTorch's
/// `erff` in `f32` agrees within an ulp or two. [`crate::Gelu`] is the tanh
/// approximation (`approximate='tanh'`); a model moves between Strata and
/// PyTorch with the form it was trained with.
///
/// ```
/// use strata_activation::{Activation, GeluErf};
/// use strata_tensor::Tensor;
/// let y = GeluErf.apply(&Tensor::from_slice(&[0.0, 1.0, -3.0]))?;
/// assert_eq!(y.data()[0], 0.0);
/// assert!((y.data()[1] - 0.841_344_7).abs() < 1e-6); // Φ(1) = 0.8413447
/// assert!((y.data()[2] + 0.004_049_7).abs() < 1e-6); // -3 Φ(-3) = -3 · 0.0013499
/// # Ok::<(), strata_activation::ActivationError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GeluErf;

#[inline]
fn phi_cdf(x: f64) -> f64 {
    0.5 * (1.0 + libm::erf(x * FRAC_1_SQRT_2))
}

#[inline]
fn gelu(x: f32) -> f32 {
    let x = f64::from(x);
    (x * phi_cdf(x)) as f32
}

#[inline]
fn gelu_derivative(x: f32) -> f32 {
    let x = f64::from(x);
    (phi_cdf(x) + x * (-0.5 * x * x).exp() * FRAC_1_SQRT_2PI) as f32
}

impl Activation for GeluErf {
    fn name(&self) -> &'static str {
        "gelu_erf"
    }

    fn forward(&self, input: &Tensor, output: &mut Tensor) -> Result<()> {
        map_into(input, output, gelu);
        Ok(())
    }

    fn backward(&self, input: &Tensor, output: &Tensor, grad_output: &Tensor, grad_input: &mut Tensor) -> Result<()> {
        backward_into(self.name(), input, output, grad_output, grad_input, |x, _| gelu_derivative(x))
    }
}
