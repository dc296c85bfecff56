use crate::error::{LayerError, Result};
use crate::layer::{Layer, Mode, check_grad};
use crate::registry::LayerSpec;
use crate::shape::{Dim, fixed_shape};
use strata_tensor::Tensor;

/// Flattens every sample to one axis: `[batch, c, h, w] -> [batch, c*h*w]`.
///
/// # Shapes
/// - input: `[batch, d1, d2, ...]`
/// - output: `[batch, d1 * d2 * ...]`
#[derive(Debug, Clone, Default)]
pub struct Flatten {
    input_shape: Vec<usize>,
    output: Tensor,
    grad_input: Tensor,
}

impl Flatten {
    /// A flatten layer.
    pub fn new() -> Self {
        Flatten::default()
    }
}

impl Layer for Flatten {
    fn forward(&mut self, input: &Tensor, _mode: Mode) -> Result<&Tensor> {
        if input.rank() == 0 {
            return Err(LayerError::ShapeMismatch {
                layer: "flatten".into(),
                expected: vec![Dim::Any, Dim::Any],
                actual: vec![],
            });
        }
        self.input_shape.clear();
        self.input_shape.extend_from_slice(input.shape());
        self.output.copy_from(input);
        self.output.reshape_in_place(&[input.n_rows(), input.row_len()])?;
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if self.input_shape.is_empty() {
            return Err(LayerError::BackwardBeforeForward { layer: "flatten".into() });
        }
        let n: usize = self.input_shape[1..].iter().product();
        check_grad("flatten", grad_output, &[self.input_shape[0], n])?;
        self.grad_input.copy_from(grad_output);
        self.grad_input.reshape_in_place(&self.input_shape)?;
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        match fixed_shape(input_shape) {
            Some(s) => match strata_tensor::checked_numel(&s) {
                Some(n) => Ok(vec![Dim::Fixed(n)]),
                None => Err(LayerError::TooLarge { layer: "flatten".into(), shape: input_shape.to_vec() }),
            },
            None => Err(LayerError::VariableAxis { layer: "flatten".into(), shape: input_shape.to_vec() }),
        }
    }

    fn kind(&self) -> &str {
        "flatten"
    }

    fn spec(&self) -> Result<LayerSpec> {
        Ok(LayerSpec { kind: "flatten".into(), config: serde_json::Value::Null })
    }
}
