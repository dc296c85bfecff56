//! The rectified linear unit.

use crate::util::{backward_into, map_into};
use crate::{Activation, Result};
use strata_tensor::Tensor;

/// `f(x) = max(0, x)`.
///
/// The backward reads the output: the gradient passes where `y > 0` and is
/// zero elsewhere (the subgradient at `x = 0` is taken as 0, like PyTorch).
/// NaN inputs stay NaN.
///
/// ```
/// use strata_activation::{Activation, Relu};
/// use strata_tensor::Tensor;
/// assert_eq!(Relu.apply(&Tensor::from_slice(&[-2.0, 0.0, 3.0]))?.data(), &[0.0, 0.0, 3.0]);
/// # Ok::<(), strata_activation::ActivationError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relu;

impl Activation for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }

    fn forward(&self, input: &Tensor, output: &mut Tensor) -> Result<()> {
        map_into(input, output, |x| if x < 0.0 { 0.0 } else { x });
        Ok(())
    }

    fn uses_input(&self) -> bool {
        false
    }

    fn backward(&self, input: &Tensor, output: &Tensor, grad_output: &Tensor, grad_input: &mut Tensor) -> Result<()> {
        backward_into(self.name(), input, output, grad_output, grad_input, |_, y| if y > 0.0 { 1.0 } else { 0.0 })
    }
}
