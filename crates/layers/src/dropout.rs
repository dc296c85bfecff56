use crate::error::{LayerError, Result};
use crate::layer::{Layer, Mode, check_grad};
use crate::registry::LayerSpec;
use crate::shape::Dim;
use serde::{Deserialize, Serialize};
use strata_tensor::{ParamVisitor, Tensor, splitmix64};

/// Hyper-parameters of a [`Dropout`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DropoutConfig {
    /// Probability of zeroing an element, in `[0, 1)`.
    pub rate: f32,
    /// Seed of the mask stream. Models derive it from their seed.
    #[serde(default)]
    pub seed: u64,
}

/// Inverted dropout: in training, each element is zeroed with probability
/// `rate` and the survivors are scaled by `1 / (1 - rate)`, so inference is
/// the identity.
///
/// The mask is a pure function of `(seed, call number, element index)`
/// (SplitMix64 as a counter-based generator): the same seed gives the same
/// masks, independent of threads, and the layer's whole random state is one
/// counter, reported as `calls` to [`ParamVisitor::counter`] so that a
/// training snapshot resumes the mask stream exactly.
///
/// # Shapes
/// - input: `[batch, ...]`
/// - output: the input's shape
#[derive(Debug, Clone)]
pub struct Dropout {
    config: DropoutConfig,
    calls: u64,
    mask: Vec<f32>,
    mask_shape: Vec<usize>,
    train_mask: bool,
    output: Tensor,
    grad_input: Tensor,
}

impl Dropout {
    /// A dropout layer; `rate` must lie in `[0, 1)`.
    pub fn new(config: DropoutConfig) -> Result<Dropout> {
        if !(0.0..1.0).contains(&config.rate) {
            return Err(LayerError::InvalidConfig {
                layer: "dropout".into(),
                reason: format!("rate must be in [0, 1), got {}", config.rate),
            });
        }
        Ok(Dropout {
            config,
            calls: 0,
            mask: Vec::new(),
            mask_shape: Vec::new(),
            train_mask: false,
            output: Tensor::default(),
            grad_input: Tensor::default(),
        })
    }

    /// Number of training-mode forward calls so far (the mask stream's position).
    pub fn calls(&self) -> u64 {
        self.calls
    }
}

/// Dropout's factors for call number `call` of the mask stream `seed`:
/// each of `mask` becomes `1 / (1 - rate)` with probability `1 - rate`, else
/// 0, as a pure function of (seed, call, index). Shared by [`Dropout`] and
/// every layer with a dropout of its own (attention's weights), so that
/// their masks are reproducible the same way.
///
/// ```
/// let mut a = [0.0f32; 8];
/// let mut b = [0.0f32; 8];
/// strata_layers::dropout_mask(7, 3, 0.5, &mut a);
/// strata_layers::dropout_mask(7, 3, 0.5, &mut b);
/// assert_eq!(a, b);
/// assert!(a.iter().all(|&m| m == 0.0 || m == 2.0));
/// ```
pub fn dropout_mask(seed: u64, call: u64, rate: f32, mask: &mut [f32]) {
    let keep = 1.0 - rate;
    let scale = 1.0 / keep;
    let stream = splitmix64(seed ^ splitmix64(call));
    for (i, m) in mask.iter_mut().enumerate() {
        let u = (splitmix64(stream.wrapping_add(i as u64)) >> 40) as f32 * (1.0 / (1u64 << 24) as f32);
        *m = if u < keep { scale } else { 0.0 };
    }
}

impl Layer for Dropout {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        self.output.copy_from(input);
        self.mask_shape.clear();
        self.mask_shape.extend_from_slice(input.shape());
        self.train_mask = mode == Mode::Train && self.config.rate > 0.0;
        if self.train_mask {
            self.mask.resize(input.len(), 0.0);
            dropout_mask(self.config.seed, self.calls, self.config.rate, &mut self.mask);
            self.calls = self.calls.wrapping_add(1);
            for (y, m) in self.output.data_mut().iter_mut().zip(&self.mask) {
                *y *= m;
            }
        }
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if self.mask_shape.is_empty() {
            return Err(LayerError::BackwardBeforeForward { layer: "dropout".into() });
        }
        check_grad("dropout", grad_output, &self.mask_shape)?;
        self.grad_input.copy_from(grad_output);
        if self.train_mask {
            for (g, m) in self.grad_input.data_mut().iter_mut().zip(&self.mask) {
                *g *= m;
            }
        }
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        Ok(input_shape.to_vec())
    }

    fn kind(&self) -> &str {
        "dropout"
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        visitor.counter("calls", &mut self.calls);
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new("dropout", &self.config)
    }
}
