//! [`SequencePool`]: one vector per sequence.

use serde::{Deserialize, Serialize};
use strata_layers::{Dim, Layer, LayerError, LayerSpec, Mode, Result, check_grad, dims};
use strata_tensor::Tensor;

/// The registry kind of [`SequencePool`].
pub const SEQUENCE_POOL: &str = "sequence_pool";

/// How a sequence becomes one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolMode {
    /// The mean over the (valid) positions.
    #[default]
    Mean,
    /// The first position's vector (a classification token).
    First,
}

/// Hyper-parameters of a [`SequencePool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SequencePoolConfig {
    /// Mean (the default) or first.
    #[serde(default)]
    pub mode: PoolMode,
}

/// Pools a sequence of vectors into one: the mean over its positions (only
/// the valid ones, when a padding mask is set with
/// [`SequencePool::set_padding_mask`]), or its first position.
///
/// # Shapes
/// - input: `[batch, .., sequence, d]`
/// - output: `[batch, .., d]`
///
/// ```
/// use strata_attention::{SequencePool, SequencePoolConfig};
/// use strata_layers::{Layer, Mode};
/// use strata_tensor::Tensor;
/// let mut pool = SequencePool::new(SequencePoolConfig::default());
/// let x = Tensor::from_vec(&[1, 3, 2], vec![1., 2., 3., 4., 5., 6.])?;
/// assert_eq!(pool.forward(&x, Mode::Eval)?.data(), &[3.0, 4.0]);
/// pool.set_padding_mask(Some(&[false, false, true])); // the last position is padding
/// assert_eq!(pool.forward(&x, Mode::Eval)?.data(), &[2.0, 3.0]);
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct SequencePool {
    config: SequencePoolConfig,
    mask: Option<Vec<bool>>,
    input_shape: Vec<usize>,
    /// `1 / valid positions` per sequence of the last forward (mean).
    inv_counts: Vec<f32>,
    trained: bool,
    output: Tensor,
    grad_input: Tensor,
}

impl SequencePool {
    /// A pooling layer.
    pub fn new(config: SequencePoolConfig) -> Self {
        SequencePool { config, ..SequencePool::default() }
    }

    /// Positions to leave out of the mean: `mask[b * s + p]` true for
    /// padding. `None` removes it. Its length must be the batch times the
    /// sequence of the next forward.
    pub fn set_padding_mask(&mut self, mask: Option<&[bool]>) {
        self.mask = mask.map(<[bool]>::to_vec);
    }

    fn shape_error(actual: Vec<Dim>, batched: bool) -> LayerError {
        let n = actual.len().max(2 + usize::from(batched));
        LayerError::ShapeMismatch { layer: SEQUENCE_POOL.into(), expected: vec![Dim::Any; n], actual }
    }

    fn valid(&self, b: usize, seq: usize, p: usize) -> bool {
        self.mask.as_ref().is_none_or(|m| !m[b * seq + p])
    }
}

impl Layer for SequencePool {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        let s = input.shape();
        if s.len() < 3 {
            return Err(Self::shape_error(dims(s), true));
        }
        let (seq, d) = (s[s.len() - 2], s[s.len() - 1]);
        let batch: usize = s[..s.len() - 2].iter().product();
        if self.mask.as_ref().is_some_and(|m| m.len() != batch * seq) {
            return Err(LayerError::InvalidConfig {
                layer: SEQUENCE_POOL.into(),
                reason: format!("the padding mask does not have {batch} x {seq} entries"),
            });
        }
        self.output.resize_with_last(&s[..s.len() - 2], d);
        self.output.fill(0.0);
        self.inv_counts.clear();
        for b in 0..batch {
            let x = &input.data()[b * seq * d..(b + 1) * seq * d];
            let y = &mut self.output.data_mut()[b * d..(b + 1) * d];
            match self.config.mode {
                PoolMode::First if seq > 0 => y.copy_from_slice(&x[..d]),
                PoolMode::First => {}
                PoolMode::Mean => {
                    let mask = self.mask.as_deref();
                    let mut count = 0usize;
                    for p in (0..seq).filter(|&p| mask.is_none_or(|m| !m[b * seq + p])) {
                        count += 1;
                        for (yj, &xj) in y.iter_mut().zip(&x[p * d..(p + 1) * d]) {
                            *yj += xj;
                        }
                    }
                    let inv = if count == 0 { 0.0 } else { 1.0 / count as f32 };
                    y.iter_mut().for_each(|v| *v *= inv);
                    self.inv_counts.push(inv);
                }
            }
        }
        self.input_shape.clear();
        self.input_shape.extend_from_slice(s);
        self.trained = mode == Mode::Train;
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if !self.trained {
            return Err(LayerError::BackwardBeforeForward { layer: SEQUENCE_POOL.into() });
        }
        check_grad(SEQUENCE_POOL, grad_output, self.output.shape())?;
        let n = self.input_shape.len();
        let (seq, d) = (self.input_shape[n - 2], self.input_shape[n - 1]);
        self.grad_input.resize(&self.input_shape);
        self.grad_input.fill(0.0);
        let batch = self.output.len() / d.max(1);
        for b in 0..batch {
            let g = &grad_output.data()[b * d..(b + 1) * d];
            for p in 0..seq {
                let scale = match self.config.mode {
                    PoolMode::First if p == 0 => 1.0,
                    PoolMode::First => continue,
                    PoolMode::Mean if self.valid(b, seq, p) => self.inv_counts[b],
                    PoolMode::Mean => continue,
                };
                let dx = &mut self.grad_input.data_mut()[(b * seq + p) * d..(b * seq + p + 1) * d];
                for (x, &gj) in dx.iter_mut().zip(g) {
                    *x = gj * scale;
                }
            }
        }
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        match input_shape {
            [lead @ .., _, d] => {
                let mut out = lead.to_vec();
                out.push(*d);
                Ok(out)
            }
            _ => Err(Self::shape_error(input_shape.to_vec(), false)),
        }
    }

    fn kind(&self) -> &str {
        SEQUENCE_POOL
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new(SEQUENCE_POOL, &self.config)
    }
}
