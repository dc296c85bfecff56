//! [`TransformerBlock`]: pre-norm self-attention and feed-forward, each
//! around a residual connection.

use crate::attention::{MultiHeadAttention, MultiHeadAttentionConfig};
use crate::shape::{batch_and_sequence, same_sequence_shape};
use serde::{Deserialize, Serialize};
use strata_activation::ActivationKind;
use strata_layers::{
    ActivationLayer, Dense, DenseConfig, Dim, Dropout, DropoutConfig, Layer, LayerError, LayerSpec, Mode, Result,
};
use strata_normalization::{LayerNorm, LayerNormConfig};
use strata_tensor::{Init, ParamVisitor, StrataRng, Tensor, splitmix64};

/// The registry kind of an encoder block (no causal mask).
pub const TRANSFORMER_ENCODER_BLOCK: &str = "transformer_encoder_block";
/// The registry kind of a decoder block (causal self-attention, for language models).
pub const TRANSFORMER_DECODER_BLOCK: &str = "transformer_decoder_block";

fn relu() -> String {
    "relu".into()
}

fn default_eps() -> f32 {
    1e-5
}

/// Hyper-parameters of a [`TransformerBlock`] (PyTorch's
/// `nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout,
/// activation, batch_first=True, norm_first=True)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformerBlockConfig {
    /// Features per token.
    pub d_model: usize,
    /// Attention heads (a divisor of `d_model`).
    pub n_heads: usize,
    /// Width of the feed-forward block's hidden layer.
    pub d_ff: usize,
    /// Dropout after attention, inside and after the feed-forward block, and
    /// on the attention weights (PyTorch's one `dropout`), in `[0, 1)`.
    #[serde(default)]
    pub dropout: f32,
    /// The feed-forward activation: `relu` (the default, as PyTorch's),
    /// `gelu` (tanh form) or `gelu_erf`.
    #[serde(default = "relu")]
    pub activation: String,
    /// Causal self-attention (a decoder block of a language model).
    #[serde(default)]
    pub causal: bool,
    /// Layer norms' `eps` (default 1e-5).
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f32,
    /// Seed of the dropout masks; 0 draws one from the generator the block
    /// is built with (and the spec then records it).
    #[serde(default)]
    pub seed: u64,
}

impl TransformerBlockConfig {
    /// An encoder block: `n_heads` heads over `d_model`, a `d_ff` hidden
    /// layer, ReLU, no dropout.
    pub fn new(d_model: usize, n_heads: usize, d_ff: usize) -> Self {
        TransformerBlockConfig {
            d_model,
            n_heads,
            d_ff,
            dropout: 0.0,
            activation: relu(),
            causal: false,
            layer_norm_eps: default_eps(),
            seed: 0,
        }
    }

    /// With causal self-attention (a decoder block).
    pub fn causal(mut self) -> Self {
        self.causal = true;
        self
    }

    /// With dropout `rate`, masks from `seed`.
    pub fn with_dropout(mut self, rate: f32, seed: u64) -> Self {
        self.dropout = rate;
        self.seed = seed;
        self
    }

    /// With another feed-forward activation (`gelu`, `gelu_erf`).
    pub fn with_activation(mut self, activation: &str) -> Self {
        self.activation = activation.into();
        self
    }

    /// The registry kind: decoder when causal.
    pub fn kind(&self) -> &'static str {
        if self.causal { TRANSFORMER_DECODER_BLOCK } else { TRANSFORMER_ENCODER_BLOCK }
    }
}

/// A pre-norm transformer block (PyTorch's `norm_first=True`):
///
/// ```text
/// y1 = x  + dropout1(self_attn(norm1(x)))
/// y  = y1 + dropout2(linear2(dropout(activation(linear1(norm2(y1))))))
/// ```
///
/// The identity paths of both residual connections carry the gradient to the
/// input unchanged, which is what lets many blocks stack. Causal, it is the
/// block of a decoder-only language model.
///
/// # Shapes
/// - input: `[batch, .., sequence, d_model]`
/// - output: the input's shape
/// - parameters, named as PyTorch's: `norm1.{weight,bias}`,
///   `self_attn.{in_proj_weight,in_proj_bias,out_proj.weight,out_proj.bias}`,
///   `norm2.{weight,bias}`, `linear1.{weight [d, d_ff], bias}`,
///   `linear2.{weight [d_ff, d], bias}` (Strata's weights are `[in, out]`)
///
/// ```
/// use strata_attention::{TransformerBlock, TransformerBlockConfig};
/// use strata_layers::{Layer, Mode};
/// use strata_tensor::{StrataRng, Tensor};
/// let mut rng = StrataRng::seed_from_u64(0);
/// let mut block = TransformerBlock::new(TransformerBlockConfig::new(16, 4, 32).with_dropout(0.1, 7), &mut rng)?;
/// let x = Tensor::random_normal(&[2, 5, 16], 0.0, 1.0, &mut rng)?;
/// assert_eq!(block.forward(&x, Mode::Train)?.shape(), &[2, 5, 16]);
/// assert_eq!(block.n_parameters(), 2 * 32 + (16 * 48 + 48 + 16 * 16 + 16) + (16 * 32 + 32) + (32 * 16 + 16));
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
#[derive(Debug)]
pub struct TransformerBlock {
    config: TransformerBlockConfig,
    norm1: LayerNorm,
    self_attn: MultiHeadAttention,
    dropout1: Dropout,
    norm2: LayerNorm,
    linear1: Dense,
    activation: ActivationLayer,
    dropout: Dropout,
    linear2: Dense,
    dropout2: Dropout,
    /// Whether the last forward ran the dropout layers (training with a
    /// rate above 0); otherwise they are the identity and are skipped, with
    /// their copies.
    dropping: bool,
    y1: Tensor,
    output: Tensor,
    d_y1: Tensor,
    grad_input: Tensor,
    input_gradient: bool,
}

impl TransformerBlock {
    /// A block whose projections are drawn from `rng` (Xavier-uniform weights,
    /// zero biases, unit layer norms).
    pub fn new(mut config: TransformerBlockConfig, rng: &mut StrataRng) -> Result<TransformerBlock> {
        let invalid = |reason: String| LayerError::InvalidConfig { layer: config.kind().into(), reason };
        let activation: ActivationKind = config.activation.parse().map_err(|e| invalid(format!("{e}")))?;
        if !matches!(activation, ActivationKind::Relu | ActivationKind::Gelu | ActivationKind::GeluErf) {
            return Err(invalid(format!("activation {activation} is not relu, gelu or gelu_erf")));
        }
        if config.d_ff == 0 {
            return Err(invalid("d_ff must be at least 1".into()));
        }
        config.seed = crate::seed_or(config.seed, rng);
        let (d, rate) = (config.d_model, config.dropout);
        let seed = |i: u64| splitmix64(config.seed ^ i);
        let mut attn = MultiHeadAttentionConfig::new(d, config.n_heads).with_dropout(rate, seed(4));
        attn.causal = config.causal;
        let dense = |n_in, n_out, rng: &mut StrataRng| {
            Dense::new(DenseConfig::new(n_in, n_out).with_init(Init::XavierUniform), rng)
        };
        let norm = || LayerNorm::new(LayerNormConfig::new(&[d]).with_eps(config.layer_norm_eps));
        let dropout = |i| Dropout::new(DropoutConfig { rate, seed: seed(i) });
        Ok(TransformerBlock {
            norm1: norm().map_err(part("norm1", "layer_norm"))?,
            self_attn: MultiHeadAttention::new(attn, rng).map_err(part("self_attn", "multi_head_attention"))?,
            dropout1: dropout(1).map_err(part("dropout1", "dropout"))?,
            norm2: norm().map_err(part("norm2", "layer_norm"))?,
            linear1: dense(d, config.d_ff, rng).map_err(part("linear1", "dense"))?,
            activation: ActivationLayer::new(activation),
            dropout: dropout(2).map_err(part("dropout", "dropout"))?,
            linear2: dense(config.d_ff, d, rng).map_err(part("linear2", "dense"))?,
            dropout2: dropout(3).map_err(part("dropout2", "dropout"))?,
            config,
            dropping: false,
            y1: Tensor::default(),
            output: Tensor::default(),
            d_y1: Tensor::default(),
            grad_input: Tensor::default(),
            input_gradient: true,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TransformerBlockConfig {
        &self.config
    }

    /// The block's self-attention (its weights of the last forward, its key-padding mask).
    pub fn self_attention(&mut self) -> &mut MultiHeadAttention {
        &mut self.self_attn
    }

    fn kind_name(&self) -> &'static str {
        self.config.kind()
    }
}

/// Name errors of a part `name` (of `kind`) inside the block.
fn part(name: &'static str, kind: &'static str) -> impl Fn(LayerError) -> LayerError {
    move |e| e.within(name, kind)
}

impl Layer for TransformerBlock {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        batch_and_sequence(self.kind_name(), input.shape(), self.config.d_model)?;
        self.dropping = mode == Mode::Train && self.config.dropout > 0.0;
        let dropping = self.dropping;
        let h1 = self.norm1.forward(input, mode).map_err(part("norm1", "layer_norm"))?;
        let mut a = self.self_attn.forward(h1, mode).map_err(part("self_attn", "multi_head_attention"))?;
        if dropping {
            a = self.dropout1.forward(a, mode).map_err(part("dropout1", "dropout"))?;
        }
        self.y1.assign_sum(input, a)?;
        let h2 = self.norm2.forward(&self.y1, mode).map_err(part("norm2", "layer_norm"))?;
        let f = self.linear1.forward(h2, mode).map_err(part("linear1", "dense"))?;
        let mut f = self.activation.forward(f, mode)?;
        if dropping {
            f = self.dropout.forward(f, mode).map_err(part("dropout", "dropout"))?;
        }
        let mut f = self.linear2.forward(f, mode).map_err(part("linear2", "dense"))?;
        if dropping {
            f = self.dropout2.forward(f, mode).map_err(part("dropout2", "dropout"))?;
        }
        self.output.assign_sum(&self.y1, f)?;
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        strata_layers::check_grad(self.config.kind(), grad_output, self.output.shape())?;
        let dropping = self.dropping;
        let mut g = grad_output;
        if dropping {
            g = self.dropout2.backward(g).map_err(part("dropout2", "dropout"))?;
        }
        let mut g = self.linear2.backward(g).map_err(part("linear2", "dense"))?;
        if dropping {
            g = self.dropout.backward(g).map_err(part("dropout", "dropout"))?;
        }
        let g = self.activation.backward(g)?;
        let g = self.linear1.backward(g).map_err(part("linear1", "dense"))?;
        let g = self.norm2.backward(g).map_err(part("norm2", "layer_norm"))?;
        self.d_y1.assign_sum(grad_output, g)?;
        let mut g = &self.d_y1;
        if dropping {
            g = self.dropout1.backward(g).map_err(part("dropout1", "dropout"))?;
        }
        let g = self.self_attn.backward(g).map_err(part("self_attn", "multi_head_attention"))?;
        let g = self.norm1.backward(g).map_err(part("norm1", "layer_norm"))?;
        if !self.input_gradient {
            return Ok(g);
        }
        self.grad_input.assign_sum(&self.d_y1, g)?;
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        same_sequence_shape(self.kind_name(), input_shape, self.config.d_model)
    }

    fn kind(&self) -> &str {
        self.config.kind()
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        visitor.scope("norm1", |v| self.norm1.visit_parameters(v));
        visitor.scope("self_attn", |v| self.self_attn.visit_parameters(v));
        visitor.scope("dropout1", |v| self.dropout1.visit_parameters(v));
        visitor.scope("norm2", |v| self.norm2.visit_parameters(v));
        visitor.scope("linear1", |v| self.linear1.visit_parameters(v));
        visitor.scope("dropout", |v| self.dropout.visit_parameters(v));
        visitor.scope("linear2", |v| self.linear2.visit_parameters(v));
        visitor.scope("dropout2", |v| self.dropout2.visit_parameters(v));
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new(self.config.kind(), &self.config)
    }

    fn children(&self) -> Vec<(&str, &dyn Layer)> {
        vec![
            ("norm1", &self.norm1 as &dyn Layer),
            ("self_attn", &self.self_attn),
            ("dropout1", &self.dropout1),
            ("norm2", &self.norm2),
            ("linear1", &self.linear1),
            ("activation", &self.activation),
            ("dropout", &self.dropout),
            ("linear2", &self.linear2),
            ("dropout2", &self.dropout2),
        ]
    }

    /// The block's input feeds the first norm and the residual path: without
    /// an input gradient, the first norm skips its own.
    fn set_input_gradient(&mut self, needed: bool) {
        self.input_gradient = needed;
        self.norm1.set_input_gradient(needed);
    }

    fn zero_grad(&mut self) {
        self.norm1.zero_grad();
        self.self_attn.zero_grad();
        self.norm2.zero_grad();
        self.linear1.zero_grad();
        self.linear2.zero_grad();
    }
}
