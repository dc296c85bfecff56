//! The leaky rectified linear unit.

use crate::util::{backward_into, map_into};
use crate::{Activation, ActivationError, Result};
use strata_tensor::Tensor;

/// `f(x) = x` for `x > 0`, else `slope * x`.
///
/// The backward reads the input (the sign of the output is ambiguous for a
/// negative slope): the local derivative is 1 for `x > 0`, else `slope`.
/// A non-finite slope is rejected with [`ActivationError::Invalid`] by
/// [`LeakyRelu::new`], and by `forward`/`backward` if the field was set directly.
///
/// ```
/// use strata_activation::{Activation, LeakyRelu};
/// use strata_tensor::Tensor;
/// let act = LeakyRelu::new(0.1)?;
/// assert_eq!(act.apply(&Tensor::from_slice(&[-2.0, 3.0]))?.data(), &[-0.2, 3.0]);
/// assert_eq!(LeakyRelu::default().slope, 0.01);
/// # Ok::<(), strata_activation::ActivationError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyRelu {
    /// Slope for negative inputs.
    pub slope: f32,
}

impl LeakyRelu {
    /// The default slope, 0.01 (PyTorch's `negative_slope`).
    pub const DEFAULT_SLOPE: f32 = 0.01;

    /// A leaky ReLU with the given negative slope, which must be finite.
    pub fn new(slope: f32) -> Result<Self> {
        let act = LeakyRelu { slope };
        act.check()?;
        Ok(act)
    }

    fn check(&self) -> Result<()> {
        if self.slope.is_finite() {
            Ok(())
        } else {
            Err(ActivationError::Invalid(format!("leaky_relu slope must be finite, got {}", self.slope)))
        }
    }
}

impl Default for LeakyRelu {
    /// Slope [`LeakyRelu::DEFAULT_SLOPE`].
    fn default() -> Self {
        LeakyRelu { slope: Self::DEFAULT_SLOPE }
    }
}

impl Activation for LeakyRelu {
    fn name(&self) -> &'static str {
        "leaky_relu"
    }

    fn forward(&self, input: &Tensor, output: &mut Tensor) -> Result<()> {
        self.check()?;
        let slope = self.slope;
        map_into(input, output, |x| if x > 0.0 { x } else { slope * x });
        Ok(())
    }

    fn backward(&self, input: &Tensor, output: &Tensor, grad_output: &Tensor, grad_input: &mut Tensor) -> Result<()> {
        self.check()?;
        let slope = self.slope;
        backward_into(self.name(), input, output, grad_output, grad_input, |x, _| if x > 0.0 { 1.0 } else { slope })
    }
}
