use crate::config::{check_eps, default_eps, sum_and_dot_f64, sum_f64, yes};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use strata_layers::{Dim, Layer, LayerError, LayerSpec, Mode, Result, check_grad, dims};
use strata_tensor::par::{par_rows_mut, rows_per_piece};
use strata_tensor::{ParamVisitor, Tensor};

/// The registry kind of [`LayerNorm`].
const KIND: &str = "layer_norm";

/// Hyper-parameters of a [`LayerNorm`] layer. The defaults are PyTorch's.
///
/// In a model spec only `normalized_shape` is required:
///
/// ```
/// use strata_normalization::LayerNormConfig;
/// let config: LayerNormConfig = serde_json::from_str(r#"{"normalized_shape": [128]}"#).unwrap();
/// assert_eq!(config, LayerNormConfig::new(&[128]));
/// assert_eq!((config.eps, config.affine), (1e-5, true));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerNormConfig {
    /// The axes normalised together: the per-sample shape, e.g. `[128]`
    /// after a dense layer or `[C, H, W]` after a convolution.
    pub normalized_shape: Vec<usize>,
    /// Added to the variance before the square root; positive (default `1e-5`).
    #[serde(default = "default_eps")]
    pub eps: f32,
    /// Whether the layer has a learnable element-wise scale (`weight`,
    /// initially 1) and shift (`bias`, initially 0). Default `true`.
    #[serde(default = "yes")]
    pub affine: bool,
}

impl LayerNormConfig {
    /// Normalise over `normalized_shape`, `eps = 1e-5`, affine.
    pub fn new(normalized_shape: &[usize]) -> Self {
        LayerNormConfig { normalized_shape: normalized_shape.to_vec(), eps: default_eps(), affine: true }
    }

    /// Another `eps`.
    pub fn with_eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// With or without the learnable scale and shift.
    pub fn with_affine(mut self, affine: bool) -> Self {
        self.affine = affine;
        self
    }

    /// Build the layer (the configuration is checked).
    pub fn init(&self) -> Result<LayerNorm> {
        LayerNorm::new(self.clone())
    }

    fn validate(&self) -> Result<()> {
        if self.normalized_shape.is_empty() || self.normalized_shape.contains(&0) {
            return Err(LayerError::InvalidConfig {
                layer: KIND.into(),
                reason: format!(
                    "normalized_shape needs at least one axis and no axis of size 0, got {:?}",
                    self.normalized_shape
                ),
            });
        }
        check_eps(KIND, self.eps)
    }
}

/// Layer normalisation (Ba, Kiros and Hinton, 2016): each sample is
/// normalised with its own mean and variance over `normalized_shape`, then
/// scaled and shifted element-wise by learnable parameters.
///
/// For one sample `x` of `D` values (`D` = the product of
/// `normalized_shape`):
///
/// ```text
/// mean = Σ x / D          var = Σ (x - mean)² / D          (biased)
/// x̂ = (x - mean) / sqrt(var + eps)
/// y = weight ⊙ x̂ + bias
/// ```
///
/// No statistics are shared between samples, so training and inference
/// compute the same function and nothing is kept across batches.
///
/// # Shapes
/// - input: `[N, ..normalized_shape]`, or any leading axes before
///   `normalized_shape` (PyTorch's rule): `[batch, sequence, d_model]` with
///   `normalized_shape = [d_model]` normalises every position on its own
/// - output: the input's shape
/// - parameters (when `affine`): `weight` and `bias`, both of shape
///   `normalized_shape`
///
/// # Gradients
/// With `g = dL/dy` and `ĝ = weight ⊙ g`, per sample:
/// `dL/dbias += g`, `dL/dweight += g ⊙ x̂` (summed over the batch) and
/// `dL/dx = (ĝ - Σ ĝ / D - x̂ · Σ (ĝ ⊙ x̂) / D) / sqrt(var + eps)`.
///
/// ```
/// use strata_layers::{Layer, Mode};
/// use strata_normalization::{LayerNorm, LayerNormConfig};
/// use strata_tensor::Tensor;
///
/// let mut ln = LayerNorm::new(LayerNormConfig::new(&[2]))?;
/// // Each row is normalised on its own: [1, 3] and [10, 30] both become ∓1 / sqrt(1 + eps / var).
/// let y = ln.forward(&Tensor::from_vec(&[2, 2], vec![1.0, 3.0, 10.0, 30.0])?, Mode::Eval)?;
/// for (got, want) in y.data().iter().zip([-1.0, 1.0, -1.0, 1.0]) {
///     assert!((got - want).abs() < 1e-5);
/// }
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LayerNorm {
    config: LayerNormConfig,
    weight: Tensor,
    bias: Tensor,
    grad_weight: Tensor,
    grad_bias: Tensor,
    /// `1 / sqrt(var + eps)` per sample of the last forward.
    inv_std: Vec<f32>,
    /// `x̂` of the last forward (its shape is that forward's input shape).
    x_hat: Tensor,
    has_cache: bool,
    output: Tensor,
    grad_input: Tensor,
    input_gradient: bool,
}

impl LayerNorm {
    /// A layer with `weight = 1` and `bias = 0`. Errors:
    /// [`LayerError::InvalidConfig`] for an empty `normalized_shape`, an axis
    /// of size 0, or `eps <= 0` (or not finite).
    pub fn new(config: LayerNormConfig) -> Result<LayerNorm> {
        config.validate()?;
        let shape: &[usize] = if config.affine { &config.normalized_shape } else { &[0] };
        Ok(LayerNorm {
            weight: Tensor::try_full(shape, 1.0)?,
            bias: Tensor::try_zeros(shape)?,
            grad_weight: Tensor::try_zeros(shape)?,
            grad_bias: Tensor::try_zeros(shape)?,
            inv_std: Vec::new(),
            x_hat: Tensor::default(),
            has_cache: false,
            output: Tensor::default(),
            grad_input: Tensor::default(),
            input_gradient: true,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LayerNormConfig {
        &self.config
    }

    /// The scale, of shape `normalized_shape` (`[0]` without `affine`).
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The shift, of shape `normalized_shape` (`[0]` without `affine`).
    pub fn bias(&self) -> &Tensor {
        &self.bias
    }

    /// `D`, the values per sample (at least 1: no axis has size 0).
    fn sample_len(&self) -> usize {
        self.config.normalized_shape.iter().product()
    }

    /// The error for a shape that does not end in `normalized_shape` after
    /// `min_lead` or more leading axes.
    fn shape_error(&self, actual: Vec<Dim>, min_lead: usize) -> LayerError {
        let lead = actual.len().saturating_sub(self.config.normalized_shape.len()).max(min_lead);
        let mut expected = vec![Dim::Any; lead];
        expected.extend(dims(&self.config.normalized_shape));
        LayerError::ShapeMismatch { layer: KIND.into(), expected, actual }
    }

    /// Rows of a batch: the product of the axes before `normalized_shape`
    /// (at least one, the batch).
    fn rows(&self, shape: &[usize]) -> Result<usize> {
        let ns = &self.config.normalized_shape;
        match shape.len().checked_sub(ns.len()) {
            Some(lead) if lead >= 1 && shape[lead..] == ns[..] => Ok(shape[..lead].iter().product()),
            _ => Err(self.shape_error(dims(shape), 1)),
        }
    }
}

/// The forward pass of rows: statistics, `x_hat` and the affine output.
struct RowNorm<'a> {
    d: usize,
    eps: f64,
    weight: Option<(&'a [f32], &'a [f32])>,
}

impl RowNorm<'_> {
    /// Normalise the rows of `h` (as many as `inv_std` holds) from those of `x`.
    fn rows(&self, x: &[f32], h: &mut [f32], y: &mut [f32], inv_std: &mut [f32]) {
        let d = self.d;
        let rows = x.chunks_exact(d).zip(h.chunks_exact_mut(d)).zip(y.chunks_exact_mut(d));
        for (((x, h), y), inv_std) in rows.zip(inv_std) {
            let mean = sum_f64(x, |v| v) / d as f64;
            let var = sum_f64(x, |v| (v - mean).powi(2)) / d as f64;
            *inv_std = (1.0 / (var + self.eps).sqrt()) as f32;
            let mean = mean as f32;
            for (h, &x) in h.iter_mut().zip(x) {
                *h = (x - mean) * *inv_std;
            }
            match self.weight {
                Some((weight, bias)) => {
                    for ((y, &h), (&w, &b)) in y.iter_mut().zip(h.iter()).zip(weight.iter().zip(bias)) {
                        *y = w * h + b;
                    }
                }
                None => y.copy_from_slice(h),
            }
        }
    }
}

/// `gw += Σ_rows g ⊙ h`, `gb += Σ_rows g` for the columns `c0..c0 + gw.len()`.
fn affine_grads(g: &[f32], h: &[f32], d: usize, c0: usize, gw: &mut [f32], gb: &mut [f32]) {
    for (g, h) in g.chunks_exact(d).zip(h.chunks_exact(d)) {
        let cols = gw.iter_mut().zip(gb.iter_mut()).zip(&g[c0..]).zip(&h[c0..]);
        for (((gw, gb), &g), &h) in cols {
            *gw += g * h;
            *gb += g;
        }
    }
}

/// One row of the input gradient: `dx = inv_std (ĝ - mean(ĝ) - h mean(ĝ ⊙ h))`, `ĝ = weight ⊙ g`.
fn input_gradient_row(g: &[f32], h: &[f32], dx: &mut [f32], inv_std: f32, weight: Option<&[f32]>) {
    match weight {
        Some(w) => {
            for ((dx, &g), &w) in dx.iter_mut().zip(g).zip(w) {
                *dx = w * g;
            }
        }
        None => dx.copy_from_slice(g),
    }
    let d = dx.len();
    let (sum_g, sum_gh) = sum_and_dot_f64(dx, h);
    let mean_g = (sum_g / d as f64) as f32;
    let mean_gh = (sum_gh / d as f64) as f32;
    for (dx, &h) in dx.iter_mut().zip(h) {
        *dx = inv_std * (*dx - mean_g - h * mean_gh);
    }
}

impl Layer for LayerNorm {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        let n = self.rows(input.shape())?;
        let d = self.sample_len();
        let eps = f64::from(self.config.eps);
        self.output.resize(input.shape());
        self.x_hat.resize(input.shape());
        self.inv_std.resize(n, 0.0);
        let norm = RowNorm { d, eps, weight: self.config.affine.then(|| (self.weight.data(), self.bias.data())) };
        let (x, h, y, s) = (input.data(), self.x_hat.data_mut(), self.output.data_mut(), &mut self.inv_std[..]);
        // Rows are independent: split between threads when large (same results on any count).
        match rows_per_piece(n, d) {
            None => norm.rows(x, h, y, s),
            Some(per) => {
                let pieces = h.par_chunks_mut(per * d).zip(y.par_chunks_mut(per * d)).zip(s.par_chunks_mut(per));
                pieces.enumerate().for_each(|(i, ((h, y), s))| norm.rows(&x[i * per * d..], h, y, s));
            }
        }
        self.has_cache = mode == Mode::Train;
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if !self.has_cache {
            return Err(LayerError::BackwardBeforeForward { layer: KIND.into() });
        }
        check_grad(KIND, grad_output, self.x_hat.shape())?;
        let d = self.sample_len();
        if self.config.affine {
            // Column sums over the rows, each column in row order on whichever thread.
            let (g, h) = (grad_output.data(), self.x_hat.data());
            let (gw, gb) = (self.grad_weight.data_mut(), self.grad_bias.data_mut());
            match rows_per_piece(d, self.inv_std.len()) {
                Some(per) if d >= 32 => {
                    let per = per.max(16);
                    gw.par_chunks_mut(per)
                        .zip(gb.par_chunks_mut(per))
                        .enumerate()
                        .for_each(|(i, (gw, gb))| affine_grads(g, h, d, i * per, gw, gb));
                }
                _ => affine_grads(g, h, d, 0, gw, gb),
            }
        }
        if !self.input_gradient {
            self.grad_input.resize(&[self.x_hat.shape()[0], 0]);
            return Ok(&self.grad_input);
        }
        self.grad_input.resize(self.x_hat.shape());
        let (g, h, inv_std) = (grad_output.data(), self.x_hat.data(), &self.inv_std);
        let weight = self.config.affine.then(|| self.weight.data());
        par_rows_mut(self.grad_input.data_mut(), d, |first, dx| {
            let rows = g[first * d..].chunks_exact(d).zip(h[first * d..].chunks_exact(d));
            for (((g, h), dx), &inv_std) in rows.zip(dx.chunks_exact_mut(d)).zip(&inv_std[first..]) {
                input_gradient_row(g, h, dx, inv_std, weight);
            }
        });
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        let ns = &self.config.normalized_shape;
        let lead = input_shape.len().checked_sub(ns.len());
        match lead {
            Some(lead) if input_shape[lead..].iter().zip(ns).all(|(d, &n)| *d == n) => Ok(input_shape.to_vec()),
            _ => Err(self.shape_error(input_shape.to_vec(), 0)),
        }
    }

    fn kind(&self) -> &str {
        KIND
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        if self.config.affine {
            visitor.param("weight", &mut self.weight, &mut self.grad_weight);
            visitor.param("bias", &mut self.bias, &mut self.grad_bias);
        }
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new(KIND, &self.config)
    }

    fn set_input_gradient(&mut self, needed: bool) {
        self.input_gradient = needed;
    }
}
