//! [`PositionalEncoding`]: where each token is, added to its vector.

use crate::shape::{batch_and_sequence, same_sequence_shape};
use serde::{Deserialize, Serialize};
use strata_layers::{Dim, Layer, LayerError, LayerSpec, Mode, Result, check_grad};
use strata_tensor::{ParamVisitor, StrataRng, Tensor};

/// The registry kind of [`PositionalEncoding`].
pub const POSITIONAL_ENCODING: &str = "positional_encoding";

/// How positions are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionKind {
    /// Fixed sines and cosines of geometrically spaced frequencies (Vaswani et
    /// al. 2017): `P[p, 2i] = sin(p / 10000^(2i/d))`, `P[p, 2i+1] = cos(..)`.
    #[default]
    Sinusoidal,
    /// A learned vector per position (GPT-2), drawn from `N(0, 0.02²)`.
    Learned,
}

/// Hyper-parameters of a [`PositionalEncoding`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionalEncodingConfig {
    /// The longest sequence it encodes.
    pub max_len: usize,
    /// Length of each vector.
    pub d_model: usize,
    /// Sinusoidal (the default) or learned.
    #[serde(default)]
    pub kind: PositionKind,
}

impl PositionalEncodingConfig {
    /// Sinusoidal positions up to `max_len`.
    pub fn new(max_len: usize, d_model: usize) -> Self {
        PositionalEncodingConfig { max_len, d_model, kind: PositionKind::Sinusoidal }
    }

    /// Learned positions instead.
    pub fn learned(mut self) -> Self {
        self.kind = PositionKind::Learned;
        self
    }
}

/// Adds a vector that depends on the position to every token:
/// `y[.., p, :] = x[.., p, :] + P[p, :]`. Attention is blind to order
/// without it.
///
/// # Shapes
/// - input: `[batch, .., sequence, d_model]`, a sequence of at most `max_len`
/// - output: the input's shape
/// - parameters: `weight [max_len, d_model]` when learned; none when
///   sinusoidal (the table is computed, not saved)
///
/// ```
/// use strata_attention::{PositionalEncoding, PositionalEncodingConfig};
/// use strata_layers::{Layer, Mode};
/// use strata_tensor::{StrataRng, Tensor};
/// let mut pe = PositionalEncoding::new(PositionalEncodingConfig::new(8, 4), &mut StrataRng::seed_from_u64(0))?;
/// let y = pe.forward(&Tensor::zeros(&[1, 2, 4]), Mode::Eval)?;
/// // Position 0: sin 0 = 0, cos 0 = 1; position 1: sin 1, cos 1, sin 0.01, cos 0.01.
/// assert_eq!(&y.data()[..4], &[0.0, 1.0, 0.0, 1.0]);
/// assert!((y.data()[4] - 1f32.sin()).abs() < 1e-6 && (y.data()[6] - 0.01f32.sin()).abs() < 1e-6);
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PositionalEncoding {
    config: PositionalEncodingConfig,
    table: Tensor,
    grad_table: Tensor,
    seq: usize,
    trained: bool,
    output: Tensor,
    grad_input: Tensor,
}

/// The sinusoidal table `[max_len, d]`, computed in `f64`.
fn sinusoids(max_len: usize, d: usize) -> Result<Tensor> {
    let mut t = Tensor::try_zeros(&[max_len, d])?;
    for (p, row) in t.data_mut().chunks_exact_mut(d).enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            let i = (j / 2) as f64;
            let angle = p as f64 / 10000f64.powf(2.0 * i / d as f64);
            *x = if j % 2 == 0 { angle.sin() } else { angle.cos() } as f32;
        }
    }
    Ok(t)
}

impl PositionalEncoding {
    /// A sinusoidal table, or a learned one drawn with `rng`.
    pub fn new(config: PositionalEncodingConfig, rng: &mut StrataRng) -> Result<PositionalEncoding> {
        let (l, d) = (config.max_len, config.d_model);
        if l == 0 || d == 0 {
            return Err(LayerError::InvalidConfig {
                layer: POSITIONAL_ENCODING.into(),
                reason: format!("needs max_len and d_model of at least 1, got {l} and {d}"),
            });
        }
        let table = match config.kind {
            PositionKind::Sinusoidal => sinusoids(l, d)?,
            PositionKind::Learned => Tensor::random_normal(&[l, d], 0.0, 0.02, rng)?,
        };
        Ok(PositionalEncoding {
            grad_table: Tensor::try_zeros(table.shape())?,
            table,
            config,
            seq: 0,
            trained: false,
            output: Tensor::default(),
            grad_input: Tensor::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PositionalEncodingConfig {
        &self.config
    }

    fn too_long(&self, seq: usize) -> LayerError {
        LayerError::SequenceTooLong { layer: POSITIONAL_ENCODING.into(), length: seq, max_len: self.config.max_len }
    }
}

impl Layer for PositionalEncoding {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        let d = self.config.d_model;
        let (_, seq) = batch_and_sequence(POSITIONAL_ENCODING, input.shape(), d)?;
        if seq > self.config.max_len {
            return Err(self.too_long(seq));
        }
        self.output.copy_from(input);
        let table = &self.table.data()[..seq * d];
        if seq > 0 {
            for sample in self.output.data_mut().chunks_exact_mut(seq * d) {
                for (y, &p) in sample.iter_mut().zip(table) {
                    *y += p;
                }
            }
        }
        self.seq = seq;
        self.trained = mode == Mode::Train;
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if !self.trained {
            return Err(LayerError::BackwardBeforeForward { layer: POSITIONAL_ENCODING.into() });
        }
        check_grad(POSITIONAL_ENCODING, grad_output, self.output.shape())?;
        let n = self.seq * self.config.d_model;
        if self.config.kind == PositionKind::Learned && n > 0 {
            let grads = &mut self.grad_table.data_mut()[..n];
            for sample in grad_output.data().chunks_exact(n) {
                for (g, &x) in grads.iter_mut().zip(sample) {
                    *g += x;
                }
            }
        }
        self.grad_input.copy_from(grad_output);
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        let out = same_sequence_shape(POSITIONAL_ENCODING, input_shape, self.config.d_model)?;
        match out[out.len() - 2] {
            Dim::Fixed(n) if n > self.config.max_len => Err(self.too_long(n)),
            _ => Ok(out),
        }
    }

    fn kind(&self) -> &str {
        POSITIONAL_ENCODING
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        if self.config.kind == PositionKind::Learned {
            visitor.param("weight", &mut self.table, &mut self.grad_table);
        }
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new(POSITIONAL_ENCODING, &self.config)
    }
}
