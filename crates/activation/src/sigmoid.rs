//! The logistic sigmoid.

use crate::util::{backward_into, map_into};
use crate::{Activation, Result};
use strata_tensor::Tensor;

/// The logistic function `1 / (1 + e^-x)`, evaluated without overflow: for
/// `x < 0` it uses the equivalent `e^x / (1 + e^x)`, so `exp` never sees a
/// positive argument. `sigmoid(-1000) == 0`, `sigmoid(1000) == 1`.
///
/// ```
/// assert_eq!(strata_activation::sigmoid(0.0), 0.5);
/// assert_eq!(strata_activation::sigmoid(-1000.0), 0.0);
/// ```
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `f(x) = 1 / (1 + e^-x)`, see [`sigmoid`]. The backward reads the output:
/// `f'(x) = y (1 - y)`.
///
/// ```
/// use strata_activation::{Activation, Sigmoid};
/// use strata_tensor::Tensor;
/// assert_eq!(Sigmoid.apply(&Tensor::from_slice(&[0.0]))?.data(), &[0.5]);
/// # Ok::<(), strata_activation::ActivationError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sigmoid;

impl Activation for Sigmoid {
    fn name(&self) -> &'static str {
        "sigmoid"
    }

    fn forward(&self, input: &Tensor, output: &mut Tensor) -> Result<()> {
        map_into(input, output, sigmoid);
        Ok(())
    }

    fn uses_input(&self) -> bool {
        false
    }

    fn backward(&self, input: &Tensor, output: &Tensor, grad_output: &Tensor, grad_input: &mut Tensor) -> Result<()> {
        backward_into(self.name(), input, output, grad_output, grad_input, |_, y| y * (1.0 - y))
    }
}
