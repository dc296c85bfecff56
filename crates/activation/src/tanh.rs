//! The hyperbolic tangent.

use crate::util::{backward_into, map_into};
use crate::{Activation, Result};
use strata_tensor::Tensor;

/// `f(x) = tanh(x)`. The backward reads the output: `f'(x) = 1 - y²`.
///
/// ```
/// use strata_activation::{Activation, Tanh};
/// use strata_tensor::Tensor;
/// let y = Tanh.apply(&Tensor::from_slice(&[0.0, 1000.0]))?;
/// assert_eq!(y.data(), &[0.0, 1.0]);
/// # Ok::<(), strata_activation::ActivationError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tanh;

impl Activation for Tanh {
    fn name(&self) -> &'static str {
        "tanh"
    }

    fn forward(&self, input: &Tensor, output: &mut Tensor) -> Result<()> {
        map_into(input, output, f32::tanh);
        Ok(())
    }

    fn uses_input(&self) -> bool {
        false
    }

    fn backward(&self, input: &Tensor, output: &Tensor, grad_output: &Tensor, grad_input: &mut Tensor) -> Result<()> {
        backward_into(self.name(), input, output, grad_output, grad_input, |_, y| 1.0 - y * y)
    }
}
