use crate::config::{check_eps, default_eps, default_momentum, sum_and_dot_f64, sum_f64, yes};
use serde::{Deserialize, Serialize};
use strata_layers::{Dim, Layer, LayerError, LayerSpec, Mode, Result, check_grad, dims};
use strata_tensor::{ParamVisitor, Tensor};

/// The registry kind of [`BatchNorm`].
const KIND: &str = "batch_norm";

/// Hyper-parameters of a [`BatchNorm`] layer. The defaults are PyTorch's.
///
/// In a model spec only `n_features` is required:
///
/// ```
/// use strata_normalization::BatchNormConfig;
/// let config: BatchNormConfig = serde_json::from_str(r#"{"n_features": 64}"#).unwrap();
/// assert_eq!(config, BatchNormConfig::new(64));
/// assert_eq!((config.eps, config.momentum, config.affine), (1e-5, 0.1, true));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchNormConfig {
    /// Channels `C`: the features of a `[N, C]` input, the channels of a
    /// `[N, C, H, W]` one.
    pub n_features: usize,
    /// Added to the variance before the square root; positive (default `1e-5`).
    #[serde(default = "default_eps")]
    pub eps: f32,
    /// Weight of the current batch in the running statistics, in `[0, 1]`
    /// (default `0.1`, PyTorch's convention):
    /// `running = (1 - momentum) * running + momentum * batch`.
    #[serde(default = "default_momentum")]
    pub momentum: f32,
    /// Whether the layer has a learnable per-channel scale (`weight`, γ,
    /// initially 1) and shift (`bias`, β, initially 0). Default `true`.
    #[serde(default = "yes")]
    pub affine: bool,
}

impl BatchNormConfig {
    /// `n_features` channels, `eps = 1e-5`, `momentum = 0.1`, affine.
    pub fn new(n_features: usize) -> Self {
        BatchNormConfig { n_features, eps: default_eps(), momentum: default_momentum(), affine: true }
    }

    /// Another `eps`.
    pub fn with_eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// Another `momentum`.
    pub fn with_momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }

    /// With or without the learnable scale and shift.
    pub fn with_affine(mut self, affine: bool) -> Self {
        self.affine = affine;
        self
    }

    /// Build the layer (the configuration is checked).
    pub fn init(&self) -> Result<BatchNorm> {
        BatchNorm::new(self.clone())
    }

    fn validate(&self) -> Result<()> {
        if self.n_features == 0 {
            return Err(LayerError::InvalidConfig {
                layer: KIND.into(),
                reason: "needs at least one feature (channel), got n_features = 0".into(),
            });
        }
        check_eps(KIND, self.eps)?;
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(LayerError::InvalidConfig {
                layer: KIND.into(),
                reason: format!("momentum must lie in [0, 1], got {}", self.momentum),
            });
        }
        Ok(())
    }
}

/// Batch normalisation (Ioffe and Szegedy, 2015): each channel is
/// normalised with the mean and variance of the batch, then scaled and
/// shifted by learnable per-channel parameters.
///
/// For channel `c`, over the `m = N · H · W` values `x` of that channel in
/// the batch (`m = N` for a `[N, C]` input):
///
/// ```text
/// mean = Σ x / m          var = Σ (x - mean)² / m          (biased)
/// x̂ = (x - mean) / sqrt(var + eps)
/// y = weight[c] · x̂ + bias[c]
/// ```
///
/// **Training** ([`Mode::Train`]) normalises with the batch statistics and
/// updates the running statistics, PyTorch's way (the running variance
/// takes the *unbiased* batch variance):
///
/// ```text
/// running_mean = (1 - momentum) · running_mean + momentum · mean
/// running_var  = (1 - momentum) · running_var  + momentum · var · m / (m - 1)
/// ```
///
/// (a batch with one value per channel carries no variance and leaves
/// `running_var` alone; PyTorch refuses such a batch in training, which
/// would make an epoch whose last batch holds one sample fail.)
///
/// **Inference** ([`Mode::Eval`]) normalises with `running_mean` and
/// `running_var` (initially 0 and 1), so its output does not depend on the
/// rest of the batch. The running statistics are buffers: saved with the
/// model, never touched by an optimizer.
///
/// # Shapes
/// - input: `[N, C]` or `[N, C, H, W]` — in general `[N, C, ...]`, any
///   number of trailing axes, all of which share channel `c`'s statistics
/// - output: the input's shape
/// - parameters (when `affine`): `weight [C]`, `bias [C]`
/// - buffers: `running_mean [C]`, `running_var [C]`
///
/// # Gradients
/// Through the batch statistics: with `g = dL/dy`,
/// `dL/dbias += Σ g`, `dL/dweight += Σ g · x̂` and
/// `dL/dx = weight / sqrt(var + eps) · (g - Σ g / m - x̂ · Σ (g · x̂) / m)`,
/// sums over the channel's `m` values.
///
/// ```
/// use strata_layers::{Layer, Mode};
/// use strata_normalization::{BatchNorm, BatchNormConfig};
/// use strata_tensor::Tensor;
///
/// let mut bn = BatchNorm::new(BatchNormConfig::new(1))?;
/// // One channel holding 1 and 3: mean 2, biased variance 1, so x̂ = ∓1 / sqrt(1 + eps).
/// let y = bn.forward(&Tensor::from_vec(&[2, 1], vec![1.0, 3.0])?, Mode::Train)?;
/// assert!((y.data()[0] + 1.0).abs() < 1e-5 && (y.data()[1] - 1.0).abs() < 1e-5);
/// // running_mean = 0.9 · 0 + 0.1 · 2; running_var = 0.9 · 1 + 0.1 · 2 (unbiased: 2 / (2 - 1)).
/// assert!((bn.running_mean().data()[0] - 0.2).abs() < 1e-6);
/// assert!((bn.running_var().data()[0] - 1.1).abs() < 1e-6);
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct BatchNorm {
    config: BatchNormConfig,
    weight: Tensor,
    bias: Tensor,
    grad_weight: Tensor,
    grad_bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    /// Training batches seen (PyTorch's `num_batches_tracked`), a counter.
    num_batches_tracked: u64,
    /// Per-channel statistics of the last training batch.
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    /// Per-channel `f64` accumulators.
    sums: Vec<f64>,
    sums2: Vec<f64>,
    /// Per-channel coefficients of one pass: γ and β (training forward),
    /// scale and shift (inference), γ/σ and mean(g) (input gradient).
    scale: Vec<f32>,
    shift: Vec<f32>,
    /// Per-channel mean(g · x̂) of the input gradient.
    mean_g_xhat: Vec<f32>,
    /// `x̂` of the last training forward (its shape is that forward's input shape).
    x_hat: Tensor,
    has_cache: bool,
    output: Tensor,
    grad_input: Tensor,
    input_gradient: bool,
}

impl BatchNorm {
    /// A layer with `weight = 1`, `bias = 0`, `running_mean = 0`,
    /// `running_var = 1`. Errors: [`LayerError::InvalidConfig`] for zero
    /// features, `eps <= 0` (or not finite), or `momentum` outside `[0, 1]`.
    pub fn new(config: BatchNormConfig) -> Result<BatchNorm> {
        config.validate()?;
        let c = config.n_features;
        let n_affine = if config.affine { c } else { 0 };
        Ok(BatchNorm {
            weight: Tensor::try_full(&[n_affine], 1.0)?,
            bias: Tensor::try_zeros(&[n_affine])?,
            grad_weight: Tensor::try_zeros(&[n_affine])?,
            grad_bias: Tensor::try_zeros(&[n_affine])?,
            running_mean: Tensor::try_zeros(&[c])?,
            running_var: Tensor::try_full(&[c], 1.0)?,
            num_batches_tracked: 0,
            mean: vec![0.0; c],
            inv_std: vec![0.0; c],
            sums: vec![0.0; c],
            sums2: vec![0.0; c],
            scale: vec![0.0; c],
            shift: vec![0.0; c],
            mean_g_xhat: vec![0.0; c],
            x_hat: Tensor::default(),
            has_cache: false,
            output: Tensor::default(),
            grad_input: Tensor::default(),
            input_gradient: true,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &BatchNormConfig {
        &self.config
    }

    /// The scale γ, `[C]` (empty without `affine`).
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The shift β, `[C]` (empty without `affine`).
    pub fn bias(&self) -> &Tensor {
        &self.bias
    }

    /// The running mean, `[C]`, used in inference.
    pub fn running_mean(&self) -> &Tensor {
        &self.running_mean
    }

    /// The running (unbiased) variance, `[C]`, used in inference.
    pub fn running_var(&self) -> &Tensor {
        &self.running_var
    }

    /// A shape error: `expected` is `[*, C, *, ...]` with as many axes as
    /// `actual` has (at least `[*, C]`), or without the batch axis for a
    /// per-sample shape.
    fn shape_error(&self, actual: Vec<Dim>, batched: bool) -> LayerError {
        let lead = usize::from(batched);
        let mut expected = vec![Dim::Any; lead];
        expected.push(Dim::Fixed(self.config.n_features));
        expected.resize(actual.len().max(lead + 1), Dim::Any);
        LayerError::ShapeMismatch { layer: KIND.into(), expected, actual }
    }

    /// `(N, C, S)` of a batch `[N, C, ...]`, `S` the product of the trailing axes.
    fn dims(&self, shape: &[usize]) -> Result<(usize, usize, usize)> {
        match shape {
            [n, c, rest @ ..] if *c == self.config.n_features => Ok((*n, *c, rest.iter().product())),
            _ => Err(self.shape_error(dims(shape), true)),
        }
    }

    /// Batch statistics of `x` (`[N, C, S]` flattened, `N · S > 0`) into
    /// `mean` and `inv_std`; leaves the biased variances in `sums2`.
    ///
    /// `UNIT` means `S = 1` (a `[N, C]` batch): with the chunk length a
    /// constant, the compiler turns the per-channel loops into vector code
    /// over the channels (7x faster on `[64, 256]` than chunks of unknown
    /// length, measured with `benches/norm.rs`).
    fn batch_statistics<const UNIT: bool>(&mut self, x: &[f32], c: usize, s: usize) {
        let s = if UNIT { 1 } else { s };
        let m = (x.len() / c) as f64;
        self.sums.fill(0.0);
        for sample in x.chunks_exact(c * s) {
            for (sum, values) in self.sums.iter_mut().zip(sample.chunks_exact(s)) {
                *sum += channel_sum::<UNIT>(values, |v| v);
            }
        }
        for (mean, sum) in self.mean.iter_mut().zip(&mut self.sums) {
            *sum /= m;
            *mean = *sum as f32;
        }
        self.sums2.fill(0.0);
        for sample in x.chunks_exact(c * s) {
            for ((sq, &mu), values) in self.sums2.iter_mut().zip(&self.sums).zip(sample.chunks_exact(s)) {
                *sq += channel_sum::<UNIT>(values, |v| (v - mu).powi(2));
            }
        }
        let eps = f64::from(self.config.eps);
        for (inv_std, var) in self.inv_std.iter_mut().zip(&mut self.sums2) {
            *var /= m;
            *inv_std = (1.0 / (*var + eps).sqrt()) as f32;
        }
    }

    /// Training forward of a non-empty batch: statistics, running
    /// statistics, `x̂` and `y = γ x̂ + β`.
    fn train_forward<const UNIT: bool>(&mut self, x: &[f32], c: usize, s: usize) {
        let s = if UNIT { 1 } else { s };
        self.batch_statistics::<UNIT>(x, c, s);
        let momentum = self.config.momentum;
        for (running, &mean) in self.running_mean.data_mut().iter_mut().zip(&self.mean) {
            *running = (1.0 - momentum) * *running + momentum * mean;
        }
        let m = x.len() / c;
        if m > 1 {
            let unbiased = m as f64 / (m - 1) as f64;
            for (running, &var) in self.running_var.data_mut().iter_mut().zip(&self.sums2) {
                *running = (1.0 - momentum) * *running + momentum * (var * unbiased) as f32;
            }
        }
        for ch in 0..c {
            (self.scale[ch], self.shift[ch]) = gamma_beta(self.config.affine, &self.weight, &self.bias, ch);
        }
        let samples = x.chunks_exact(c * s).zip(self.x_hat.data_mut().chunks_exact_mut(c * s));
        for ((x, h), y) in samples.zip(self.output.data_mut().chunks_exact_mut(c * s)) {
            let values = x.chunks_exact(s).zip(h.chunks_exact_mut(s)).zip(y.chunks_exact_mut(s));
            let coefficients = self.mean.iter().zip(&self.inv_std).zip(self.scale.iter().zip(&self.shift));
            for (((x, h), y), ((&mu, &inv_std), (&gamma, &beta))) in values.zip(coefficients) {
                for ((h, y), &x) in h.iter_mut().zip(y.iter_mut()).zip(x) {
                    *h = (x - mu) * inv_std;
                    *y = gamma * *h + beta;
                }
            }
        }
    }

    /// Inference forward of a non-empty batch: `y = x · scale + shift` with
    /// `scale = γ / sqrt(running_var + eps)` and `shift = β - running_mean · scale`.
    fn eval_forward<const UNIT: bool>(&mut self, x: &[f32], c: usize, s: usize) {
        let s = if UNIT { 1 } else { s };
        let eps = self.config.eps;
        for ch in 0..c {
            let (gamma, beta) = gamma_beta(self.config.affine, &self.weight, &self.bias, ch);
            let scale = gamma / (self.running_var.data()[ch] + eps).sqrt();
            self.scale[ch] = scale;
            self.shift[ch] = beta - self.running_mean.data()[ch] * scale;
        }
        for (x, y) in x.chunks_exact(c * s).zip(self.output.data_mut().chunks_exact_mut(c * s)) {
            let values = x.chunks_exact(s).zip(y.chunks_exact_mut(s));
            for ((x, y), (&scale, &shift)) in values.zip(self.scale.iter().zip(&self.shift)) {
                for (y, &x) in y.iter_mut().zip(x) {
                    *y = x * scale + shift;
                }
            }
        }
    }

    /// `Σ g` into `sums` and `Σ g · x̂` into `sums2`, per channel.
    fn gradient_sums<const UNIT: bool>(&mut self, g: &[f32], c: usize, s: usize) {
        let s = if UNIT { 1 } else { s };
        self.sums.fill(0.0);
        self.sums2.fill(0.0);
        for (g, h) in g.chunks_exact(c * s).zip(self.x_hat.data().chunks_exact(c * s)) {
            let values = g.chunks_exact(s).zip(h.chunks_exact(s));
            for ((sum_g, sum_gh), (g, h)) in self.sums.iter_mut().zip(&mut self.sums2).zip(values) {
                if UNIT {
                    // One value each: a plain product keeps the loop over channels vectorisable.
                    for (&g, &h) in g.iter().zip(h) {
                        *sum_g += f64::from(g);
                        *sum_gh += f64::from(g) * f64::from(h);
                    }
                } else {
                    let (sg, sgh) = sum_and_dot_f64(g, h);
                    *sum_g += sg;
                    *sum_gh += sgh;
                }
            }
        }
    }

    /// `dx = γ / σ · (g - mean(g) - x̂ · mean(g · x̂))` per channel, from the
    /// sums of [`BatchNorm::gradient_sums`].
    fn input_gradient<const UNIT: bool>(&mut self, g: &[f32], c: usize, s: usize) {
        let s = if UNIT { 1 } else { s };
        let m = (g.len() / c) as f64;
        for ch in 0..c {
            let (gamma, _) = gamma_beta(self.config.affine, &self.weight, &self.bias, ch);
            self.scale[ch] = gamma * self.inv_std[ch];
            self.shift[ch] = (self.sums[ch] / m) as f32; // mean(g)
            self.mean_g_xhat[ch] = (self.sums2[ch] / m) as f32;
        }
        let samples = g.chunks_exact(c * s).zip(self.x_hat.data().chunks_exact(c * s));
        for ((g, h), dx) in samples.zip(self.grad_input.data_mut().chunks_exact_mut(c * s)) {
            let values = g.chunks_exact(s).zip(h.chunks_exact(s)).zip(dx.chunks_exact_mut(s));
            let coefficients = self.scale.iter().zip(self.shift.iter().zip(&self.mean_g_xhat));
            for (((g, h), dx), (&scale, (&mean_g, &mean_gh))) in values.zip(coefficients) {
                for ((dx, &g), &h) in dx.iter_mut().zip(g).zip(h) {
                    *dx = scale * (g - mean_g - h * mean_gh);
                }
            }
        }
    }
}

/// `Σ f(v)` over one channel's values of one sample: a plain sum of the one
/// value when `UNIT`, which keeps the loop over channels vectorisable, else
/// [`sum_f64`].
fn channel_sum<const UNIT: bool>(values: &[f32], f: impl Fn(f64) -> f64) -> f64 {
    if UNIT { values.iter().map(|&v| f(f64::from(v))).sum() } else { sum_f64(values, f) }
}

/// γ and β of channel `c`: 1 and 0 without `affine`.
fn gamma_beta(affine: bool, weight: &Tensor, bias: &Tensor, c: usize) -> (f32, f32) {
    if affine { (weight.data()[c], bias.data()[c]) } else { (1.0, 0.0) }
}

impl Layer for BatchNorm {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        let (n, c, s) = self.dims(input.shape())?;
        self.output.resize(input.shape());
        self.has_cache = mode == Mode::Train;
        if self.has_cache {
            self.x_hat.resize(input.shape());
        }
        match (mode, s) {
            // An empty batch: nothing to normalise, no statistics to update.
            _ if n * s == 0 => {}
            (Mode::Train, 1) => {
                self.num_batches_tracked = self.num_batches_tracked.saturating_add(1);
                self.train_forward::<true>(input.data(), c, s)
            }
            (Mode::Train, _) => {
                self.num_batches_tracked = self.num_batches_tracked.saturating_add(1);
                self.train_forward::<false>(input.data(), c, s)
            }
            (Mode::Eval, 1) => self.eval_forward::<true>(input.data(), c, s),
            (Mode::Eval, _) => self.eval_forward::<false>(input.data(), c, s),
        }
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if !self.has_cache {
            return Err(LayerError::BackwardBeforeForward { layer: KIND.into() });
        }
        check_grad(KIND, grad_output, self.x_hat.shape())?;
        let (n, c, s) = self.dims(self.x_hat.shape())?;
        if self.input_gradient {
            self.grad_input.resize(self.x_hat.shape());
        } else {
            self.grad_input.resize(&[n, 0]);
        }
        if n * s == 0 {
            return Ok(&self.grad_input);
        }
        let g = grad_output.data();
        if s == 1 {
            self.gradient_sums::<true>(g, c, s)
        } else {
            self.gradient_sums::<false>(g, c, s)
        }
        if self.config.affine {
            let grads = self.grad_weight.data_mut().iter_mut().zip(self.grad_bias.data_mut());
            for ((gw, gb), (&sum_g, &sum_gh)) in grads.zip(self.sums.iter().zip(&self.sums2)) {
                *gb += sum_g as f32;
                *gw += sum_gh as f32;
            }
        }
        if self.input_gradient {
            if s == 1 { self.input_gradient::<true>(g, c, s) } else { self.input_gradient::<false>(g, c, s) }
        }
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        match input_shape.first() {
            Some(&c) if c == self.config.n_features => Ok(input_shape.to_vec()),
            _ => Err(self.shape_error(input_shape.to_vec(), false)),
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
        visitor.buffer("running_mean", &mut self.running_mean);
        visitor.variance("running_var", &mut self.running_var);
        visitor.counter("num_batches_tracked", &mut self.num_batches_tracked);
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new(KIND, &self.config)
    }

    fn set_input_gradient(&mut self, needed: bool) {
        self.input_gradient = needed;
    }
}
