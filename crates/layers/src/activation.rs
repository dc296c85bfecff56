use crate::error::{LayerError, Result};
use crate::layer::{Layer, Mode, check_grad};
use crate::registry::LayerSpec;
use crate::shape::Dim;
use strata_activation::{Activation, ActivationKind};
use strata_tensor::Tensor;

/// An activation function as a layer (`relu`, `softmax`, ...): no parameters,
/// any input shape.
///
/// # Shapes
/// - input: `[batch, ...]`
/// - output: the input's shape
#[derive(Debug, Clone)]
pub struct ActivationLayer {
    activation: ActivationKind,
    input: Tensor,
    has_input: bool,
    output: Tensor,
    grad_input: Tensor,
}

impl ActivationLayer {
    /// A layer applying `activation`.
    pub fn new(activation: ActivationKind) -> Self {
        ActivationLayer {
            activation,
            input: Tensor::default(),
            has_input: false,
            output: Tensor::default(),
            grad_input: Tensor::default(),
        }
    }

    /// The activation it applies.
    pub fn activation(&self) -> ActivationKind {
        self.activation
    }

    /// The output of the last forward pass (empty before any): what the
    /// diagnosis of dead and saturated units reads (`strata-report`).
    pub fn last_output(&self) -> &Tensor {
        &self.output
    }
}

impl Layer for ActivationLayer {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        if input.rank() == 0 {
            return Err(LayerError::ShapeMismatch {
                layer: self.activation.name().into(),
                expected: vec![Dim::Any],
                actual: vec![],
            });
        }
        self.activation.forward(input, &mut self.output)?;
        self.has_input = mode == Mode::Train;
        if self.has_input {
            if self.activation.uses_input() {
                self.input.copy_from(input);
            } else {
                // Backward reads the output (of the input's shape) instead.
                self.input.resize(&[0]);
            }
        }
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if !self.has_input {
            return Err(LayerError::BackwardBeforeForward { layer: self.activation.name().into() });
        }
        let input = if self.activation.uses_input() { &self.input } else { &self.output };
        check_grad(self.activation.name(), grad_output, input.shape())?;
        self.activation.backward(input, &self.output, grad_output, &mut self.grad_input)?;
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        Ok(input_shape.to_vec())
    }

    fn kind(&self) -> &str {
        self.activation.name()
    }

    fn spec(&self) -> Result<LayerSpec> {
        match self.activation {
            ActivationKind::LeakyRelu { slope } => LayerSpec::new("leaky_relu", &serde_json::json!({ "slope": slope })),
            other => Ok(LayerSpec { kind: other.name().to_string(), config: serde_json::Value::Null }),
        }
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
