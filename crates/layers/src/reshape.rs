use crate::error::{LayerError, Result};
use crate::layer::{Layer, Mode, check_grad};
use crate::registry::LayerSpec;
use crate::shape::{Dim, dims, fixed_shape};
use serde::{Deserialize, Serialize};
use strata_tensor::Tensor;

/// Hyper-parameters of a [`Reshape`] (Keras' `Reshape`, PyTorch's `nn.Unflatten(1, shape)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReshapeConfig {
    /// The per-sample shape of the output.
    pub shape: Vec<usize>,
}

/// Gives every sample another shape with the same number of values, in the
/// same (row-major) order: `[batch, 80] -> [batch, 8, 10]` with `shape = [8, 10]`.
///
/// # Shapes
/// - input: `[batch, ..]` with as many values per sample as `shape` holds
/// - output: `[batch, ..shape]`
///
/// ```
/// use strata_layers::{Layer, Mode, Reshape, ReshapeConfig};
/// use strata_tensor::Tensor;
/// let mut r = Reshape::new(ReshapeConfig { shape: vec![2, 3] })?;
/// let y = r.forward(&Tensor::zeros(&[4, 6]), Mode::Eval)?;
/// assert_eq!(y.shape(), &[4, 2, 3]);
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reshape {
    config: ReshapeConfig,
    size: usize,
    input_shape: Vec<usize>,
    output: Tensor,
    grad_input: Tensor,
}

impl Reshape {
    /// A reshape to `config.shape`; an empty shape or an axis of 0 is an error.
    pub fn new(config: ReshapeConfig) -> Result<Reshape> {
        if config.shape.is_empty() || config.shape.contains(&0) {
            return Err(LayerError::InvalidConfig {
                layer: "reshape".into(),
                reason: format!("the shape needs at least one axis and none of size 0, got {:?}", config.shape),
            });
        }
        let size = config.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(|| {
            LayerError::InvalidConfig {
                layer: "reshape".into(),
                reason: format!("{:?} holds too many values", config.shape),
            }
        })?;
        Ok(Reshape { config, size, input_shape: Vec::new(), output: Tensor::default(), grad_input: Tensor::default() })
    }

    fn mismatch(&self, actual: Vec<Dim>) -> LayerError {
        LayerError::ShapeMismatch { layer: "reshape".into(), expected: vec![Dim::Fixed(self.size)], actual }
    }
}

impl Layer for Reshape {
    fn forward(&mut self, input: &Tensor, _mode: Mode) -> Result<&Tensor> {
        if input.rank() < 2 || input.row_len() != self.size {
            return Err(self.mismatch(dims(input.shape())));
        }
        self.input_shape.clear();
        self.input_shape.extend_from_slice(input.shape());
        let mut shape = vec![input.n_rows()];
        shape.extend_from_slice(&self.config.shape);
        self.output.copy_from(input);
        self.output.reshape_in_place(&shape)?;
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if self.input_shape.is_empty() {
            return Err(LayerError::BackwardBeforeForward { layer: "reshape".into() });
        }
        check_grad("reshape", grad_output, self.output.shape())?;
        self.grad_input.copy_from(grad_output);
        self.grad_input.reshape_in_place(&self.input_shape)?;
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        match fixed_shape(input_shape) {
            Some(s) if strata_tensor::checked_numel(&s) == Some(self.size) => Ok(dims(&self.config.shape)),
            _ => Err(self.mismatch(input_shape.to_vec())),
        }
    }

    fn kind(&self) -> &str {
        "reshape"
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new("reshape", &self.config)
    }
}
