use crate::error::{LayerError, Result};
use crate::layer::{Layer, Mode, check_features, check_grad, features_output_shape};
use crate::registry::LayerSpec;
use crate::shape::Dim;
use crate::zero::DeferredZero;
use serde::{Deserialize, Serialize};
use strata_tensor::{Init, MatMut, MatRef, ParamVisitor, StrataRng, Tensor, gemm};

/// Hyper-parameters of a [`Dense`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseConfig {
    /// Features per input sample.
    pub n_inputs: usize,
    /// Neurons (features per output sample).
    pub n_outputs: usize,
    /// Weight initialiser (He normal by default, for ReLU networks).
    #[serde(default)]
    pub init: Init,
    /// Whether the layer has a bias.
    #[serde(default = "yes")]
    pub bias: bool,
}

fn yes() -> bool {
    true
}

impl DenseConfig {
    /// `n_inputs -> n_outputs`, He-normal weights, zero bias.
    pub fn new(n_inputs: usize, n_outputs: usize) -> Self {
        DenseConfig { n_inputs, n_outputs, init: Init::HeNormal, bias: true }
    }

    /// Use another weight initialiser.
    pub fn with_init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Build the layer, drawing weights from `rng`.
    pub fn init(&self, rng: &mut StrataRng) -> Result<Dense> {
        Dense::new(self.clone(), rng)
    }
}

/// A fully connected layer: every output neuron sees every input feature.
///
/// `y = x W + b`, with `W` of shape `[n_inputs, n_outputs]` (Keras's
/// layout; PyTorch's `nn.Linear` stores the transpose) and `b` of shape
/// `[n_outputs]`.
///
/// The layout is chosen by measurement: with both operands row-major the
/// forward product runs at full speed on two threads, where `x W^T` ran at
/// less than half (`docs/performance.md`).
///
/// # Shapes
/// - input: `[batch, n_inputs]`, or `[batch, .., n_inputs]` with any leading
///   axes (`[batch, sequence, d_model]`): all rows go through one product,
///   without a copy
/// - output: the input's leading axes, then `n_outputs`
/// - parameters: `weight [n_inputs, n_outputs]`, `bias [n_outputs]`
///
/// # Gradients
/// `dW += x^T dy`, `db += sum over the batch of dy`, `dx = dy W^T`.
#[derive(Debug, Clone)]
pub struct Dense {
    config: DenseConfig,
    weight: Tensor,
    bias: Tensor,
    grad_weight: Tensor,
    grad_bias: Tensor,
    input: Tensor,
    has_input: bool,
    output: Tensor,
    grad_input: Tensor,
    input_gradient: bool,
    /// `zero_grad` declares the gradients zero; `backward` then writes them.
    zero: DeferredZero,
}

impl Dense {
    /// A layer with weights drawn by `config.init` from `rng` and a zero bias.
    pub fn new(config: DenseConfig, rng: &mut StrataRng) -> Result<Dense> {
        if config.n_inputs == 0 || config.n_outputs == 0 {
            return Err(LayerError::InvalidConfig {
                layer: "dense".into(),
                reason: format!(
                    "needs at least one input and one output, got {} -> {}",
                    config.n_inputs, config.n_outputs
                ),
            });
        }
        let weight =
            config.init.sample(&[config.n_inputs, config.n_outputs], config.n_inputs, config.n_outputs, rng)?;
        let n_bias = if config.bias { config.n_outputs } else { 0 };
        Ok(Dense {
            grad_weight: Tensor::try_zeros(weight.shape())?,
            weight,
            bias: Tensor::try_zeros(&[n_bias])?,
            grad_bias: Tensor::try_zeros(&[n_bias])?,
            config,
            input: Tensor::default(),
            has_input: false,
            output: Tensor::default(),
            grad_input: Tensor::default(),
            input_gradient: true,
            zero: DeferredZero::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DenseConfig {
        &self.config
    }

    /// The weights, `[n_inputs, n_outputs]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias, `[n_outputs]` (empty without bias).
    pub fn bias(&self) -> &Tensor {
        &self.bias
    }
}

impl Layer for Dense {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        let rows = check_features("dense", input, self.config.n_inputs)?;
        let shape = input.shape();
        self.output.resize_with_last(&shape[..shape.len() - 1], self.config.n_outputs);
        gemm(
            1.0,
            MatRef::new(input.data(), rows, self.config.n_inputs)?,
            MatRef::from_tensor(&self.weight)?,
            0.0,
            MatMut::new(self.output.data_mut(), rows, self.config.n_outputs)?,
        )?;
        if self.config.bias {
            self.output.add_row_assign(&self.bias)?;
        }
        self.has_input = mode == Mode::Train;
        if self.has_input {
            self.input.copy_from(input);
        }
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if !self.has_input {
            return Err(LayerError::BackwardBeforeForward { layer: "dense".into() });
        }
        let shape = self.input.shape();
        let lead = &shape[..shape.len() - 1];
        let rows: usize = lead.iter().product();
        if grad_output.shape().split_last() != Some((&self.config.n_outputs, lead)) {
            let mut expected = lead.to_vec();
            expected.push(self.config.n_outputs);
            check_grad("dense", grad_output, &expected)?;
        }
        let (n_in, n_out) = (self.config.n_inputs, self.config.n_outputs);
        let g = MatRef::new(grad_output.data(), rows, n_out)?;
        let x = MatRef::new(self.input.data(), rows, n_in)?;
        gemm(1.0, x.t(), g, self.zero.beta(), MatMut::from_tensor(&mut self.grad_weight)?)?;
        if self.config.bias {
            grad_output.sum_rows_into(&mut self.grad_bias, self.zero.accumulate())?;
        }
        self.zero.written();
        if !self.input_gradient {
            self.grad_input.resize(&[shape[0], 0]);
            return Ok(&self.grad_input);
        }
        self.grad_input.resize(shape);
        gemm(
            1.0,
            g,
            MatRef::from_tensor(&self.weight)?.t(),
            0.0,
            MatMut::new(self.grad_input.data_mut(), rows, n_in)?,
        )?;
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        features_output_shape("dense", input_shape, self.config.n_inputs, self.config.n_outputs)
    }

    fn kind(&self) -> &str {
        "dense"
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        self.zero.settle(&mut [&mut self.grad_weight, &mut self.grad_bias]);
        visitor.param("weight", &mut self.weight, &mut self.grad_weight);
        if self.config.bias {
            visitor.param("bias", &mut self.bias, &mut self.grad_bias);
        }
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new("dense", &self.config)
    }

    fn set_input_gradient(&mut self, needed: bool) {
        self.input_gradient = needed;
    }

    fn zero_grad(&mut self) {
        self.zero.defer();
    }
}
