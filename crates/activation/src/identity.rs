//! The identity activation.

use crate::util::check_backward;
use crate::{Activation, Result};
use strata_tensor::Tensor;

/// `f(x) = x` (a linear layer's "no activation"); the gradient passes through unchanged.
///
/// ```
/// use strata_activation::{Activation, Identity};
/// use strata_tensor::Tensor;
/// assert_eq!(Identity.apply(&Tensor::from_slice(&[-1.5, 2.0]))?.data(), &[-1.5, 2.0]);
/// # Ok::<(), strata_activation::ActivationError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Identity;

impl Activation for Identity {
    fn name(&self) -> &'static str {
        "identity"
    }

    fn forward(&self, input: &Tensor, output: &mut Tensor) -> Result<()> {
        output.copy_from(input);
        Ok(())
    }

    fn uses_input(&self) -> bool {
        false
    }

    fn backward(&self, input: &Tensor, output: &Tensor, grad_output: &Tensor, grad_input: &mut Tensor) -> Result<()> {
        check_backward(self.name(), input, output, grad_output)?;
        grad_input.copy_from(grad_output);
        Ok(())
    }
}
