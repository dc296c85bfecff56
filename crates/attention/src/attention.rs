//! [`MultiHeadAttention`]: scaled dot-product self-attention with several heads.

use crate::shape::{batch_and_sequence, same_sequence_shape};
use serde::{Deserialize, Serialize};
use strata_layers::{DeferredZero, Dim, Layer, LayerError, LayerSpec, Mode, Result, check_grad, dropout_mask};
use strata_tensor::par::par_rows_mut;
use strata_tensor::{BatchMut, BatchRef, Init, MatMut, MatRef, ParamVisitor, StrataRng, Tensor, gemm, gemm_batched};

/// The registry kind of [`MultiHeadAttention`].
pub const MULTI_HEAD_ATTENTION: &str = "multi_head_attention";

fn yes() -> bool {
    true
}

/// Hyper-parameters of a [`MultiHeadAttention`] (PyTorch's
/// `nn.MultiheadAttention(d_model, n_heads, dropout, bias, batch_first=True)`
/// used as self-attention, with `is_causal` as `causal`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiHeadAttentionConfig {
    /// Features per token; a multiple of `n_heads`.
    pub d_model: usize,
    /// Heads, each of `d_model / n_heads` features.
    pub n_heads: usize,
    /// Each position attends only to itself and earlier ones (a language model).
    #[serde(default)]
    pub causal: bool,
    /// Dropout on the attention weights in training, in `[0, 1)`.
    #[serde(default)]
    pub dropout: f32,
    /// Biases on the four projections (default true).
    #[serde(default = "yes")]
    pub bias: bool,
    /// Seed of the dropout masks; 0 draws one from the generator the layer
    /// is built with (and the spec then records it).
    #[serde(default)]
    pub seed: u64,
}

impl MultiHeadAttentionConfig {
    /// `n_heads` heads over `d_model` features, no mask, no dropout, biases.
    pub fn new(d_model: usize, n_heads: usize) -> Self {
        MultiHeadAttentionConfig { d_model, n_heads, causal: false, dropout: 0.0, bias: true, seed: 0 }
    }

    /// With the causal mask.
    pub fn causal(mut self) -> Self {
        self.causal = true;
        self
    }

    /// With attention dropout `rate` (masks from `seed`).
    pub fn with_dropout(mut self, rate: f32, seed: u64) -> Self {
        self.dropout = rate;
        self.seed = seed;
        self
    }

    fn validate(&self) -> Result<()> {
        let (d, h) = (self.d_model, self.n_heads);
        if d == 0 || h == 0 || d % h != 0 || !(0.0..1.0).contains(&self.dropout) {
            return Err(LayerError::InvalidConfig {
                layer: MULTI_HEAD_ATTENTION.into(),
                reason: format!(
                    "d_model ({d}) must be a positive multiple of n_heads ({h}), and dropout ({}) in [0, 1)",
                    self.dropout
                ),
            });
        }
        // W_in holds d x 3d values.
        if d.checked_mul(3).and_then(|t| t.checked_mul(d)).is_none_or(|n| n > isize::MAX as usize / 4) {
            return Err(LayerError::InvalidConfig {
                layer: MULTI_HEAD_ATTENTION.into(),
                reason: format!("d_model {d}: its projections hold more values than memory can address"),
            });
        }
        Ok(())
    }
}

/// Self-attention: every position of a sequence takes a weighted mean of the
/// values of all positions (or, causal, of itself and the ones before), the
/// weights a softmax of query-key similarities, in `n_heads` heads side by
/// side.
///
/// With `x` of `[s, d]` per sample, `h` heads of `k = d / h` features:
///
/// ```text
/// [Q K V] = x W_in + b_in                    W_in [d, 3d]: queries, keys, values
/// A_j = softmax(Q_j K_j^T / sqrt(k) + M)     head j: its k columns of Q and K; M the masks (-inf)
/// C_j = dropout(A_j) V_j                     [s, k], the heads side by side: C [s, d]
/// y = C W_out + b_out                        W_out [d, d]
/// ```
///
/// the maths and shapes of PyTorch's `nn.MultiheadAttention(batch_first=True)`
/// with `query = key = value = x` (its `in_proj_weight` is `W_in^T`, its
/// `out_proj.weight` is `W_out^T`: Strata stores weights `[in, out]`).
/// Masks: `causal` (position `i` sees `j <= i`) and a key-padding mask set
/// with [`MultiHeadAttention::set_key_padding_mask`]; a row whose every key is
/// masked attends to nothing (zeros, where PyTorch gives NaN). The products go
/// through the batched GEMM, reading each head in place.
///
/// # Shapes
/// - input: `[batch, .., sequence, d_model]` (any sequence length)
/// - output: the input's shape
/// - parameters: `in_proj_weight [d, 3d]`, `in_proj_bias [3d]`,
///   `out_proj.weight [d, d]`, `out_proj.bias [d]` (Xavier-uniform weights,
///   zero biases)
/// - [`MultiHeadAttention::attention_weights`]: `[batch, heads, s, s]` of the
///   last forward
///
/// ```
/// use strata_attention::{MultiHeadAttention, MultiHeadAttentionConfig};
/// use strata_layers::{Layer, Mode};
/// use strata_tensor::{StrataRng, Tensor};
/// let mut rng = StrataRng::seed_from_u64(0);
/// let mut mha = MultiHeadAttention::new(MultiHeadAttentionConfig::new(8, 2).causal(), &mut rng)?;
/// let x = Tensor::random_normal(&[3, 5, 8], 0.0, 1.0, &mut rng)?;
/// assert_eq!(mha.forward(&x, Mode::Eval)?.shape(), &[3, 5, 8]);
/// let a = mha.attention_weights();               // [3, 2, 5, 5]
/// assert_eq!(a.data()[1], 0.0);                  // position 0 does not see position 1
/// assert!((a.data()[..5].iter().sum::<f32>() - 1.0).abs() < 1e-6);
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct MultiHeadAttention {
    config: MultiHeadAttentionConfig,
    w_in: Tensor,
    b_in: Tensor,
    w_out: Tensor,
    b_out: Tensor,
    g_w_in: Tensor,
    g_b_in: Tensor,
    g_w_out: Tensor,
    g_b_out: Tensor,
    /// Training-mode forwards so far: the dropout stream's position.
    calls: u64,
    key_padding_mask: Option<Vec<bool>>,
    // What the last forward kept.
    input_shape: Vec<usize>,
    x: Tensor,
    qkv: Tensor,
    probs: Tensor,
    dropped: Tensor,
    keep: Vec<f32>,
    ctx: Tensor,
    output: Tensor,
    trained: bool,
    // Backward buffers.
    d_ctx: Tensor,
    d_probs: Tensor,
    d_qkv: Tensor,
    grad_input: Tensor,
    input_gradient: bool,
    /// `zero_grad` declares the gradients zero; `backward` then writes them.
    zero: DeferredZero,
}

/// Batch, sequence and rows of an input `[.., s, d]`.
#[derive(Debug, Clone, Copy)]
struct Dims {
    batch: usize,
    seq: usize,
}

impl MultiHeadAttention {
    /// Xavier-uniform projections drawn from `rng`, zero biases.
    pub fn new(mut config: MultiHeadAttentionConfig, rng: &mut StrataRng) -> Result<MultiHeadAttention> {
        config.validate()?;
        config.seed = crate::seed_or(config.seed, rng);
        let d = config.d_model;
        let w_in = Init::XavierUniform.sample(&[d, 3 * d], d, 3 * d, rng)?;
        let w_out = Init::XavierUniform.sample(&[d, d], d, d, rng)?;
        let nb = |n: usize| if config.bias { n } else { 0 };
        Ok(MultiHeadAttention {
            g_w_in: Tensor::try_zeros(&[d, 3 * d])?,
            g_w_out: Tensor::try_zeros(&[d, d])?,
            b_in: Tensor::try_zeros(&[nb(3 * d)])?,
            b_out: Tensor::try_zeros(&[nb(d)])?,
            g_b_in: Tensor::try_zeros(&[nb(3 * d)])?,
            g_b_out: Tensor::try_zeros(&[nb(d)])?,
            w_in,
            w_out,
            config,
            calls: 0,
            key_padding_mask: None,
            input_shape: Vec::new(),
            x: Tensor::default(),
            qkv: Tensor::default(),
            probs: Tensor::default(),
            dropped: Tensor::default(),
            keep: Vec::new(),
            ctx: Tensor::default(),
            output: Tensor::default(),
            trained: false,
            d_ctx: Tensor::default(),
            d_probs: Tensor::default(),
            d_qkv: Tensor::default(),
            grad_input: Tensor::default(),
            input_gradient: true,
            zero: DeferredZero::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MultiHeadAttentionConfig {
        &self.config
    }

    /// The attention weights of the last forward, `[batch, heads, s, s]`:
    /// row `i` of head `j` is how much position `i` took from each position
    /// (before attention dropout).
    pub fn attention_weights(&self) -> &Tensor {
        &self.probs
    }

    /// Mask keys for the following forwards: `mask[b * s + j]` true means
    /// position `j` of sample `b` is padding, attended to by no one
    /// (PyTorch's `key_padding_mask`). `None` removes the mask. Its length
    /// must be the batch times the sequence of the next forward.
    pub fn set_key_padding_mask(&mut self, mask: Option<&[bool]>) {
        self.key_padding_mask = mask.map(<[bool]>::to_vec);
    }

    fn heads(&self) -> (usize, usize) {
        (self.config.n_heads, self.config.d_model / self.config.n_heads)
    }

    fn dims_of(&self, shape: &[usize]) -> Result<Dims> {
        let (batch, seq) = batch_and_sequence(MULTI_HEAD_ATTENTION, shape, self.config.d_model)?;
        Ok(Dims { batch, seq })
    }

    /// `qkv = x W_in + b_in`.
    fn project_in(&mut self, x: &Tensor, rows: usize) -> Result<()> {
        let d = self.config.d_model;
        self.qkv.resize(&[rows, 3 * d]);
        gemm(
            1.0,
            MatRef::new(x.data(), rows, d)?,
            MatRef::from_tensor(&self.w_in)?,
            0.0,
            MatMut::from_tensor(&mut self.qkv)?,
        )?;
        if self.config.bias {
            self.qkv.add_row_assign(&self.b_in)?;
        }
        Ok(())
    }

    /// Head `j` of Q (`part` 0), K (1) or V (2) in `qkv`, batched over samples.
    fn head_of(
        qkv: &[f32],
        part: usize,
        j: usize,
        (d, k, batch, seq): (usize, usize, usize, usize),
    ) -> Result<BatchRef<'_>> {
        Ok(BatchRef::new(&qkv[part * d + j * k..], batch, seq, k, 3 * d, seq * 3 * d)?)
    }

    /// `probs = softmax(Q K^T / sqrt(k) + masks)`, head by head.
    fn scores(&mut self, Dims { batch, seq }: Dims) -> Result<()> {
        let (h, k) = self.heads();
        let d = self.config.d_model;
        // s x s a head and sample: the one buffer a long sequence makes large.
        self.probs.try_resize(&[batch, h, seq, seq])?;
        let scale = 1.0 / (k as f32).sqrt();
        for j in 0..h {
            let q = Self::head_of(self.qkv.data(), 0, j, (d, k, batch, seq))?;
            let key = Self::head_of(self.qkv.data(), 1, j, (d, k, batch, seq))?;
            let out = BatchMut::new(&mut self.probs.data_mut()[j * seq * seq..], batch, seq, seq, seq, h * seq * seq)?;
            gemm_batched(scale, q, key.t(), 0.0, out)?;
        }
        self.mask_and_softmax(batch, seq)
    }

    /// Set masked scores to `-inf`, then a softmax over every row.
    fn mask_and_softmax(&mut self, batch: usize, seq: usize) -> Result<()> {
        let h = self.config.n_heads;
        if let Some(mask) = &self.key_padding_mask
            && mask.len() != batch * seq
        {
            return Err(LayerError::InvalidConfig {
                layer: MULTI_HEAD_ATTENTION.into(),
                reason: format!(
                    "the key-padding mask has {} entries for a batch of {batch} sequences of {seq}",
                    mask.len()
                ),
            });
        }
        let causal = self.config.causal;
        let padding = self.key_padding_mask.as_deref();
        if seq == 0 {
            return Ok(());
        }
        // Rows are independent: split between threads when large.
        par_rows_mut(self.probs.data_mut(), seq, |first, rows| {
            for (r, row) in rows.chunks_exact_mut(seq).enumerate() {
                let r = first + r;
                let (i, b) = (r % seq, r / (seq * h));
                for (jj, x) in row.iter_mut().enumerate() {
                    if (causal && jj > i) || padding.is_some_and(|m| m[b * seq + jj]) {
                        *x = f32::NEG_INFINITY;
                    }
                }
                softmax_row(row);
            }
        });
        Ok(())
    }

    /// Attention dropout in training: `dropped = probs ⊙ mask`.
    fn attention_dropout(&mut self, mode: Mode) {
        let rate = self.config.dropout;
        if mode != Mode::Train || rate == 0.0 {
            self.keep.clear();
            return;
        }
        self.keep.resize(self.probs.len(), 0.0);
        dropout_mask(self.config.seed, self.calls, rate, &mut self.keep);
        self.dropped.resize(self.probs.shape());
        for ((y, &p), &m) in self.dropped.data_mut().iter_mut().zip(self.probs.data()).zip(&self.keep) {
            *y = p * m;
        }
    }

    /// `ctx = A V`, head by head into its columns.
    fn weighted_values(&mut self, Dims { batch, seq }: Dims) -> Result<()> {
        let (h, k) = self.heads();
        let d = self.config.d_model;
        self.ctx.resize(&[batch * seq, d]);
        let a = if self.keep.is_empty() { &self.probs } else { &self.dropped };
        for j in 0..h {
            let aj = BatchRef::new(&a.data()[j * seq * seq..], batch, seq, seq, seq, h * seq * seq)?;
            let v = Self::head_of(self.qkv.data(), 2, j, (d, k, batch, seq))?;
            let out = BatchMut::new(&mut self.ctx.data_mut()[j * k..], batch, seq, k, d, seq * d)?;
            gemm_batched(1.0, aj, v, 0.0, out)?;
        }
        Ok(())
    }

    /// `y = ctx W_out + b_out`, shaped like the input.
    fn project_out(&mut self, rows: usize) -> Result<()> {
        let d = self.config.d_model;
        self.output.resize(&self.input_shape);
        gemm(
            1.0,
            MatRef::from_tensor(&self.ctx)?,
            MatRef::from_tensor(&self.w_out)?,
            0.0,
            MatMut::new(self.output.data_mut(), rows, d)?,
        )?;
        if self.config.bias {
            self.output.add_row_assign(&self.b_out)?;
        }
        Ok(())
    }

    /// `d_ctx = g W_out^T`, and the output projection's gradients.
    fn back_out(&mut self, g: &Tensor, rows: usize) -> Result<()> {
        let d = self.config.d_model;
        let gm = MatRef::new(g.data(), rows, d)?;
        let g_w_out = MatMut::from_tensor(&mut self.g_w_out)?;
        gemm(1.0, MatRef::from_tensor(&self.ctx)?.t(), gm, self.zero.beta(), g_w_out)?;
        if self.config.bias {
            g.sum_rows_into(&mut self.g_b_out, self.zero.accumulate())?;
        }
        self.d_ctx.resize(&[rows, d]);
        gemm(1.0, gm, MatRef::from_tensor(&self.w_out)?.t(), 0.0, MatMut::from_tensor(&mut self.d_ctx)?)?;
        Ok(())
    }

    /// `dA = d_ctx V^T` and `dV = A^T d_ctx`, head by head.
    fn back_values(&mut self, Dims { batch, seq }: Dims) -> Result<()> {
        let (h, k) = self.heads();
        let d = self.config.d_model;
        self.d_probs.try_resize(&[batch, h, seq, seq])?;
        self.d_qkv.resize(&[batch * seq, 3 * d]);
        for j in 0..h {
            let dc = BatchRef::new(&self.d_ctx.data()[j * k..], batch, seq, k, d, seq * d)?;
            let v = Self::head_of(self.qkv.data(), 2, j, (d, k, batch, seq))?;
            let out =
                BatchMut::new(&mut self.d_probs.data_mut()[j * seq * seq..], batch, seq, seq, seq, h * seq * seq)?;
            gemm_batched(1.0, dc, v.t(), 0.0, out)?;
            let a = if self.keep.is_empty() { &self.probs } else { &self.dropped };
            let aj = BatchRef::new(&a.data()[j * seq * seq..], batch, seq, seq, seq, h * seq * seq)?;
            let dv = BatchMut::new(&mut self.d_qkv.data_mut()[2 * d + j * k..], batch, seq, k, 3 * d, seq * 3 * d)?;
            gemm_batched(1.0, aj.t(), dc, 0.0, dv)?;
        }
        Ok(())
    }

    /// Through the dropout and the softmax: `dS = P ⊙ (dP - Σ_j dP_j P_j)` row by row.
    fn back_softmax(&mut self, seq: usize) {
        if seq == 0 {
            return;
        }
        let (probs, keep) = (self.probs.data(), &self.keep);
        par_rows_mut(self.d_probs.data_mut(), seq, |first, rows| {
            let at = first * seq;
            if !keep.is_empty() {
                for (g, &m) in rows.iter_mut().zip(&keep[at..]) {
                    *g *= m;
                }
            }
            for (g, p) in rows.chunks_exact_mut(seq).zip(probs[at..].chunks_exact(seq)) {
                let dot: f64 = g.iter().zip(p).map(|(&gj, &pj)| f64::from(gj) * f64::from(pj)).sum();
                let dot = dot as f32;
                for (gj, &pj) in g.iter_mut().zip(p) {
                    *gj = pj * (*gj - dot);
                }
            }
        });
    }

    /// `dQ = dS K / sqrt(k)` and `dK = dS^T Q / sqrt(k)`, head by head.
    fn back_scores(&mut self, Dims { batch, seq }: Dims) -> Result<()> {
        let (h, k) = self.heads();
        let d = self.config.d_model;
        let scale = 1.0 / (k as f32).sqrt();
        for j in 0..h {
            let ds = BatchRef::new(&self.d_probs.data()[j * seq * seq..], batch, seq, seq, seq, h * seq * seq)?;
            let key = Self::head_of(self.qkv.data(), 1, j, (d, k, batch, seq))?;
            let dq = BatchMut::new(&mut self.d_qkv.data_mut()[j * k..], batch, seq, k, 3 * d, seq * 3 * d)?;
            gemm_batched(scale, ds, key, 0.0, dq)?;
            let q = Self::head_of(self.qkv.data(), 0, j, (d, k, batch, seq))?;
            let dk = BatchMut::new(&mut self.d_qkv.data_mut()[d + j * k..], batch, seq, k, 3 * d, seq * 3 * d)?;
            gemm_batched(scale, ds.t(), q, 0.0, dk)?;
        }
        Ok(())
    }

    /// The input projection's gradients and `dx = d_qkv W_in^T`.
    fn back_in(&mut self, rows: usize) -> Result<()> {
        let d = self.config.d_model;
        let dq = MatRef::from_tensor(&self.d_qkv)?;
        let g_w_in = MatMut::from_tensor(&mut self.g_w_in)?;
        gemm(1.0, MatRef::new(self.x.data(), rows, d)?.t(), dq, self.zero.beta(), g_w_in)?;
        if self.config.bias {
            self.d_qkv.sum_rows_into(&mut self.g_b_in, self.zero.accumulate())?;
        }
        self.zero.written();
        if !self.input_gradient {
            self.grad_input.resize(&[self.input_shape[0], 0]);
            return Ok(());
        }
        self.grad_input.resize(&self.input_shape);
        gemm(1.0, dq, MatRef::from_tensor(&self.w_in)?.t(), 0.0, MatMut::new(self.grad_input.data_mut(), rows, d)?)?;
        Ok(())
    }
}

/// A softmax over one row in place: max-subtracted, the sum in `f64`; a row
/// of `-inf` only becomes zeros.
fn softmax_row(row: &mut [f32]) {
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if m == f32::NEG_INFINITY {
        row.fill(0.0);
        return;
    }
    let mut sum = 0.0f64;
    for x in row.iter_mut() {
        *x = (*x - m).exp();
        sum += f64::from(*x);
    }
    let inv = (1.0 / sum) as f32;
    for x in row.iter_mut() {
        *x *= inv;
    }
}

impl Layer for MultiHeadAttention {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        let dims = self.dims_of(input.shape())?;
        let rows = dims.batch * dims.seq;
        self.input_shape.clear();
        self.input_shape.extend_from_slice(input.shape());
        if rows == 0 {
            // No sample, or sequences of no position: an empty output, as PyTorch gives.
            self.output.resize(input.shape());
            self.trained = mode == Mode::Train;
            return Ok(&self.output);
        }
        self.project_in(input, rows)?;
        self.scores(dims)?;
        self.attention_dropout(mode);
        self.weighted_values(dims)?;
        self.project_out(rows)?;
        self.trained = mode == Mode::Train;
        if self.trained {
            self.x.copy_from(input);
            if self.config.dropout > 0.0 {
                self.calls = self.calls.wrapping_add(1);
            }
        }
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if !self.trained {
            return Err(LayerError::BackwardBeforeForward { layer: MULTI_HEAD_ATTENTION.into() });
        }
        check_grad(MULTI_HEAD_ATTENTION, grad_output, &self.input_shape)?;
        let dims = self.dims_of(&self.input_shape)?;
        let rows = dims.batch * dims.seq;
        if rows == 0 {
            // Nothing flows back, and the parameters' gradients gain nothing.
            let shape = if self.input_gradient { self.input_shape.clone() } else { vec![dims.batch, 0] };
            self.grad_input.resize(&shape);
            return Ok(&self.grad_input);
        }
        self.back_out(grad_output, rows)?;
        self.back_values(dims)?;
        self.back_softmax(dims.seq);
        self.back_scores(dims)?;
        self.back_in(rows)?;
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        same_sequence_shape(MULTI_HEAD_ATTENTION, input_shape, self.config.d_model)
    }

    fn kind(&self) -> &str {
        MULTI_HEAD_ATTENTION
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        self.zero.settle(&mut [&mut self.g_w_in, &mut self.g_b_in, &mut self.g_w_out, &mut self.g_b_out]);
        visitor.param("in_proj_weight", &mut self.w_in, &mut self.g_w_in);
        if self.config.bias {
            visitor.param("in_proj_bias", &mut self.b_in, &mut self.g_b_in);
        }
        visitor.param("out_proj.weight", &mut self.w_out, &mut self.g_w_out);
        if self.config.bias {
            visitor.param("out_proj.bias", &mut self.b_out, &mut self.g_b_out);
        }
        visitor.counter("calls", &mut self.calls);
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new(MULTI_HEAD_ATTENTION, &self.config)
    }

    fn set_input_gradient(&mut self, needed: bool) {
        self.input_gradient = needed;
    }

    fn zero_grad(&mut self) {
        self.zero.defer();
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// Every [`MultiHeadAttention`] inside `model` (itself included), in
/// forward order, with its path of child names (`sequential`'s children are
/// named by kind and position: `transformer_decoder_block_2.self_attn`).
/// After a forward, each one's [`MultiHeadAttention::attention_weights`]
/// is that pass's attention map.
pub fn attention_layers(model: &dyn Layer) -> Vec<(String, &MultiHeadAttention)> {
    fn walk<'a>(layer: &'a dyn Layer, path: String, out: &mut Vec<(String, &'a MultiHeadAttention)>) {
        if let Some(mha) = layer.as_any().and_then(|a| a.downcast_ref::<MultiHeadAttention>()) {
            out.push((path, mha));
            return;
        }
        for (name, child) in layer.children() {
            let child_path = if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
            walk(child, child_path, out);
        }
    }
    let mut out = Vec::new();
    walk(model, String::new(), &mut out);
    out
}
