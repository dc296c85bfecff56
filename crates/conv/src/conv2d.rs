use crate::geometry::{Geometry, Window, add_into, col2im, im2col, image_geometry, image_output_dims, pair};
use rayon::iter::Either;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use strata_layers::{Dim, Layer, LayerError, LayerSpec, Mode, Result, check_grad};
use strata_tensor::{Init, MatMut, MatRef, ParamVisitor, StrataRng, Tensor, gemm};

/// Below this many multiply-adds per forward pass a batch runs on the calling
/// thread: handing work to rayon costs a few microseconds.
const PARALLEL_MIN_MACS: usize = 1 << 18;

/// Hyper-parameters of a [`Conv2d`] layer.
///
/// Spatial sizes are `[height, width]`; in a spec (JSON) each may also be one
/// number for a square, e.g. `"kernel_size": 3`.
///
/// ```
/// use strata_conv::Conv2dConfig;
/// let config: Conv2dConfig = serde_json::from_str(
///     r#"{"in_channels": 1, "out_channels": 8, "kernel_size": 3, "padding": 1}"#).unwrap();
/// assert_eq!(config, Conv2dConfig::new(1, 8, 3).with_padding(1));
/// assert_eq!((config.stride, config.dilation, config.bias), ([1, 1], [1, 1], true));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conv2dConfig {
    /// Channels of the input (`C` of `[N, C, H, W]`).
    pub in_channels: usize,
    /// Channels of the output: the number of filters.
    pub out_channels: usize,
    /// Kernel `[height, width]`.
    #[serde(deserialize_with = "pair")]
    pub kernel_size: [usize; 2],
    /// Step between windows, `[vertical, horizontal]` (default 1).
    #[serde(default = "ones", deserialize_with = "pair")]
    pub stride: [usize; 2],
    /// Zeros added on each side, `[top and bottom, left and right]` (default 0).
    #[serde(default, deserialize_with = "pair")]
    pub padding: [usize; 2],
    /// Spacing between kernel taps (default 1: a dense kernel).
    #[serde(default = "ones", deserialize_with = "pair")]
    pub dilation: [usize; 2],
    /// Whether the layer adds a bias per output channel (default true).
    #[serde(default = "yes")]
    pub bias: bool,
    /// Weight initialiser (He normal by default, for ReLU networks), with
    /// `fan_in = in_channels * kh * kw` and `fan_out = out_channels * kh * kw`.
    #[serde(default)]
    pub init: Init,
}

fn ones() -> [usize; 2] {
    [1, 1]
}

fn yes() -> bool {
    true
}

impl Conv2dConfig {
    /// `in_channels -> out_channels` with a square `kernel x kernel` kernel,
    /// stride 1, no padding, no dilation, a bias, He-normal weights.
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize) -> Self {
        Conv2dConfig {
            in_channels,
            out_channels,
            kernel_size: [kernel, kernel],
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            bias: true,
            init: Init::HeNormal,
        }
    }

    /// The same stride along both axes.
    pub fn with_stride(mut self, stride: usize) -> Self {
        self.stride = [stride, stride];
        self
    }

    /// The same zero padding on every side.
    pub fn with_padding(mut self, padding: usize) -> Self {
        self.padding = [padding, padding];
        self
    }

    /// The same dilation along both axes.
    pub fn with_dilation(mut self, dilation: usize) -> Self {
        self.dilation = [dilation, dilation];
        self
    }

    /// With or without a bias.
    pub fn with_bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// Another weight initialiser.
    pub fn with_init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    fn window(&self) -> Window {
        Window { kernel: self.kernel_size, stride: self.stride, padding: self.padding, dilation: self.dilation }
    }
}

/// Per-task scratch: one image's column matrix and its gradient.
#[derive(Debug, Clone, Default)]
struct Scratch {
    cols: Tensor,
    grad_cols: Tensor,
}

/// A 2-D convolution (strictly, a cross-correlation, as in every framework):
/// `out_channels` filters of shape `[in_channels, kh, kw]` slide over the
/// image, each giving one output channel.
///
/// `y[n, o, i, j] = b[o] + sum over c, u, v of
/// W[o, c, u, v] * x[n, c, i*sh + u*dh - ph, j*sw + v*dw - pw]`
/// (zero outside the image).
///
/// # Shapes
/// - input: `[batch, in_channels, H, W]` (NCHW)
/// - output: `[batch, out_channels, H_out, W_out]` with, per axis,
///   `out = floor((in + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1`
/// - parameters: `weight [out_channels, in_channels, kh, kw]` (PyTorch's
///   layout), `bias [out_channels]`
///
/// A 3x3 kernel with padding 1 and stride 1 keeps `H` and `W` (a "same"
/// convolution, e.g. inside a [`strata_layers::Residual`]). An input smaller
/// than the dilated kernel (after padding) is a
/// [`LayerError::ShapeMismatch`] whose `expected` holds the smallest size.
///
/// # Algorithm
/// im2col + GEMM, one GEMM per image: each image is unrolled into a column
/// matrix `cols [in_channels*kh*kw, H_out*W_out]`, and
/// `y_n = W [out, in*kh*kw] * cols`, through the tensor crate's one
/// [`gemm`] entry point. Backward per image: `dW_n^T = cols * dy_n^T`,
/// `dcols = W^T * dy_n`, `dx_n = col2im(dcols)`; the bias gradient sums `dy`.
/// The weight gradient is computed transposed because the `gemm` crate
/// repacks the left operand of such a product, and `dy_n` is smaller than
/// `cols` (W3's second convolution: 4.2 µs against 4.8 per image, the same
/// bits, in a probe).
///
/// Images are independent, so a batch is split into one contiguous group per
/// rayon thread (for batches of more than about 2^18 multiply-adds). The
/// per-image weight-gradient partials are added in image order afterwards, so
/// the result is bit-identical for any number of threads; so are the
/// per-image bias sums. Each group also copies its own images for backward:
/// a thread's images stay in its cache from forward to backward.
///
/// Per image rather than one GEMM over the whole batch's column matrix, by
/// measurement (`cargo bench -p strata-conv -- gemm_strategy`, forward of a
/// 3x3 padded convolution, 2 cores shared with other jobs, so ranges over
/// two runs):
///
/// | shape | one GEMM per image, in a loop | one GEMM over the batch | per image, images on rayon's threads |
/// |---|---|---|---|
/// | batch 64, 8 -> 16 channels, 14x14 (W3's second conv) | 0.74-0.76 ms | 0.94-0.95 ms | 0.55-0.82 ms |
/// | batch 32, 64 -> 64 channels, 32x32 | 23-28 ms | 40-41 ms | 14-16 ms |
///
/// The batch-wide GEMM never won: its longer `n` does not pay for a column
/// matrix the size of the whole batch (out of cache) and a transpose back to
/// NCHW. Splitting images over threads beats letting [`gemm`] split each
/// product on the large shape and is within the noise on the small one.
///
/// Buffers (output, input gradient, kept input, per-thread column matrices,
/// weight-gradient partials) are owned by the layer and reused: once warm, a
/// step allocates nothing.
///
/// ```
/// use strata_conv::{Conv2d, Conv2dConfig};
/// use strata_layers::{Layer, Mode};
/// use strata_tensor::{StrataRng, Tensor};
///
/// let mut conv = Conv2d::new(Conv2dConfig::new(3, 16, 3).with_padding(1), &mut StrataRng::seed_from_u64(0))?;
/// let y = conv.forward(&Tensor::zeros(&[2, 3, 32, 32]), Mode::Eval)?;
/// assert_eq!(y.shape(), &[2, 16, 32, 32]);
/// assert_eq!(conv.output_shape(&strata_layers::dims(&[3, 9, 9]))?, vec![16, 9, 9]);
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Conv2d {
    config: Conv2dConfig,
    weight: Tensor,
    bias: Tensor,
    grad_weight: Tensor,
    grad_bias: Tensor,
    input: Tensor,
    /// Geometry of the last training-mode forward (`None`: backward not allowed).
    trained: Option<Geometry>,
    output: Tensor,
    grad_input: Tensor,
    scratch: Vec<Scratch>,
    /// Per-image weight gradients, transposed: `[batch, in*kh*kw, out]`,
    /// summed in order into the first ([`add_parts_transposed`]).
    weight_parts: Tensor,
    /// Per-image bias gradients, `[batch, out]`, each channel's sum of one
    /// image's `dy` plane, added in image order into `grad_bias`.
    bias_parts: Tensor,
    /// Whether backward computes `dL/dinput` (see [`Layer::set_input_gradient`]).
    input_gradient: bool,
}

/// The largest padding along an axis (`u32::MAX` where `usize` is wider):
/// far more than any image needs, and small enough that the padded size of
/// an input is computed without overflow on 64-bit targets (a padding of
/// `usize::MAX / 2` was reported as a shape the layer expects of `[1, 1, 1]`).
const MAX_PADDING: usize = u32::MAX as usize;

impl Conv2d {
    /// A layer with weights drawn by `config.init` from `rng` and a zero bias.
    ///
    /// Zero channels, a zero kernel size, stride or dilation, a padding past
    /// `u32::MAX` or a dilated kernel whose span overflows are a
    /// [`LayerError::InvalidConfig`].
    pub fn new(config: Conv2dConfig, rng: &mut StrataRng) -> Result<Conv2d> {
        let invalid = |reason: String| Err(LayerError::InvalidConfig { layer: "conv2d".into(), reason });
        if config.in_channels == 0 || config.out_channels == 0 {
            return invalid(format!(
                "needs at least one input and one output channel, got {} -> {}",
                config.in_channels, config.out_channels
            ));
        }
        for (name, v) in [("kernel_size", config.kernel_size), ("stride", config.stride), ("dilation", config.dilation)]
        {
            if v.contains(&0) {
                return invalid(format!("{name} must be at least 1 along both axes, got {v:?}"));
            }
        }
        if config.padding.iter().any(|&p| p > MAX_PADDING) {
            return invalid(format!("padding must be at most {MAX_PADDING} along both axes, got {:?}", config.padding));
        }
        let spans = (0..2).all(|i| {
            config.dilation[i].checked_mul(config.kernel_size[i] - 1).and_then(|s| s.checked_add(1)).is_some()
        });
        if !spans {
            return invalid(format!(
                "kernel_size {:?} with dilation {:?} spans more positions than a size can hold",
                config.kernel_size, config.dilation
            ));
        }
        let [kh, kw] = config.kernel_size;
        let area = kh.checked_mul(kw);
        let (fan_in, fan_out) = match area.and_then(|a| Some((a.checked_mul(config.in_channels)?, a))) {
            Some((fan_in, a)) => (fan_in, a.saturating_mul(config.out_channels)),
            None => return invalid(format!("kernel {kh}x{kw} is too large")),
        };
        let shape = [config.out_channels, config.in_channels, kh, kw];
        let weight = config.init.sample(&shape, fan_in, fan_out, rng)?;
        let n_bias = if config.bias { config.out_channels } else { 0 };
        Ok(Conv2d {
            grad_weight: Tensor::try_zeros(&shape)?,
            weight,
            bias: Tensor::try_zeros(&[n_bias])?,
            grad_bias: Tensor::try_zeros(&[n_bias])?,
            config,
            input: Tensor::default(),
            trained: None,
            output: Tensor::default(),
            grad_input: Tensor::default(),
            scratch: Vec::new(),
            weight_parts: Tensor::default(),
            bias_parts: Tensor::default(),
            input_gradient: true,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Conv2dConfig {
        &self.config
    }

    /// The filters, `[out_channels, in_channels, kh, kw]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias, `[out_channels]` (empty without bias).
    pub fn bias(&self) -> &Tensor {
        &self.bias
    }

    /// How many groups to split a batch of `n` into, with a column buffer
    /// (and, for backward, a column-gradient buffer) ready for each.
    fn prepare_scratch(&mut self, n: usize, g: &Geometry, backward: bool) -> Result<usize> {
        let (rows, cols) = (g.col_rows(), g.n_positions());
        let macs = n.saturating_mul(self.config.out_channels).saturating_mul(rows).saturating_mul(cols);
        // Not scaled on far threads (`par::split_scale`): groups of images
        // share no operand, and the element-wise passes around them split at
        // their usual size too, so each thread keeps its half of the images
        // from layer to layer. (Split here while ReLU ran on one thread, W3
        // on far threads ran at 29k samples/s against 42k unsplit; with both
        // split, about 1.18x faster than with neither: docs/performance.md.)
        let groups = if macs < PARALLEL_MIN_MACS { 1 } else { strata_tensor::par::threads().clamp(1, n) };
        if self.scratch.len() < groups {
            self.scratch.resize_with(groups, Scratch::default);
        }
        for s in &mut self.scratch[..groups] {
            s.cols.try_resize(&[rows, cols])?;
            if backward {
                s.grad_cols.try_resize(&[rows, cols])?;
            }
        }
        Ok(groups)
    }
}

/// `data` in `count` pieces of `piece` values, one per group of images, when
/// the layer keeps or computes it (`used`); otherwise `count` empty slices
/// (no kept input in inference, no `dx` for a first layer, no bias).
fn group_pieces(
    data: &mut [f32],
    used: bool,
    piece: usize,
    count: usize,
) -> impl IndexedParallelIterator<Item = &mut [f32]> {
    if used {
        Either::Left(data.par_chunks_mut(piece))
    } else {
        Either::Right((0..count).into_par_iter().map(|_| <&mut [f32]>::default()))
    }
}

strata_tensor::simd_kernel! {
    /// `y[c, :] += bias[c]` over each channel's plane of `p` values, compiled
    /// for each SIMD path (on SSE it was 5.5% of W3's step on one thread):
    /// one addition per value, the same bits on every path.
    fn add_bias(y: &mut [f32], bias: &[f32], p: usize) {
        for (channel, &b) in y.chunks_exact_mut(p).zip(bias) {
            channel.iter_mut().for_each(|v| *v += b);
        }
    }
}

/// `gw += part^T` for each image's `part` (`[rows, o]`; `gw` is `[o, rows]`),
/// in image order: every entry is `((gw + p0) + p1) + ...`, the additions a
/// transposed add per image makes, with one transposition each way instead
/// (a scalar transposed add per image measured 2.7% of W3's step, Zen 5).
/// The first part holds the running sum.
fn add_parts_transposed(gw: &mut [f32], parts: &mut [f32], o: usize) {
    let rows = gw.len() / o;
    let Some((acc, rest)) = parts.split_at_mut_checked(rows * o) else { return };
    for (r, row) in acc.chunks_exact_mut(o).enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v += gw[j * rows + r];
        }
    }
    for part in rest.chunks_exact(rows * o) {
        add_into(acc, part);
    }
    for (r, row) in acc.chunks_exact(o).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            gw[j * rows + r] = v;
        }
    }
}

impl Layer for Conv2d {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        let c = &self.config;
        let g = image_geometry("conv2d", input.shape(), true, Some(c.in_channels), Some(c.out_channels), c.window())?;
        let n = input.shape()[0];
        let (o, rows, p, in_len) = (c.out_channels, g.col_rows(), g.n_positions(), g.in_len());
        // Padding can make the output far larger than the input.
        self.output.try_resize(&[n, o, g.out_hw[0], g.out_hw[1]])?;
        self.trained = (mode == Mode::Train).then_some(g);
        // Training keeps the input for backward: each group copies its own
        // images, so they stay in the cache of the thread that reads them
        // again in backward.
        self.input.resize(if mode == Mode::Train { input.shape() } else { &[0] });
        if n == 0 {
            return Ok(&self.output);
        }
        let groups = self.prepare_scratch(n, &g, false)?;
        let per = n.div_ceil(groups);
        let weight = MatRef::new(self.weight.data(), o, rows)?;
        let bias = self.config.bias.then_some(self.bias.data());
        let kept = group_pieces(self.input.data_mut(), mode == Mode::Train, per * in_len, n.div_ceil(per));
        self.output
            .data_mut()
            .par_chunks_mut(per * o * p)
            .zip(input.data().par_chunks(per * in_len))
            .zip(kept)
            .zip(self.scratch[..groups].par_iter_mut())
            .try_for_each(|(((out, x), kept), s)| -> strata_tensor::Result<()> {
                if !kept.is_empty() {
                    kept.copy_from_slice(x);
                }
                for (y, x) in out.chunks_exact_mut(o * p).zip(x.chunks_exact(in_len)) {
                    im2col(x, &g, s.cols.data_mut(), p, 0);
                    gemm(1.0, weight, MatRef::new(s.cols.data(), rows, p)?, 0.0, MatMut::new(y, o, p)?)?;
                    if let Some(bias) = bias {
                        add_bias(y, bias, p);
                    }
                }
                Ok(())
            })?;
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        let Some(g) = self.trained else {
            return Err(LayerError::BackwardBeforeForward { layer: "conv2d".into() });
        };
        let n = self.input.shape()[0];
        let (o, rows, p, in_len) = (self.config.out_channels, g.col_rows(), g.n_positions(), g.in_len());
        check_grad("conv2d", grad_output, &[n, o, g.out_hw[0], g.out_hw[1]])?;
        let input_gradient = self.input_gradient;
        if input_gradient {
            self.grad_input.resize(self.input.shape());
        } else {
            self.grad_input.resize(&[n, 0]);
        }
        if n == 0 {
            return Ok(&self.grad_input);
        }
        self.weight_parts.resize(&[n, rows, o]);
        let bias_len = if self.config.bias { o } else { 0 };
        self.bias_parts.resize(&[n, bias_len]);
        let groups = self.prepare_scratch(n, &g, input_gradient)?;
        let per = n.div_ceil(groups);
        let db_chunks = group_pieces(self.bias_parts.data_mut(), bias_len > 0, per * bias_len, n.div_ceil(per));
        let weight = MatRef::new(self.weight.data(), o, rows)?;
        let dx_chunks = group_pieces(self.grad_input.data_mut(), input_gradient, per * in_len, n.div_ceil(per));
        dx_chunks
            .zip(self.input.data().par_chunks(per * in_len))
            .zip(grad_output.data().par_chunks(per * o * p))
            .zip(self.weight_parts.data_mut().par_chunks_mut(per * o * rows))
            .zip(db_chunks)
            .zip(self.scratch[..groups].par_iter_mut())
            .try_for_each(|(((((dx, x), dy), dw), db), s)| -> strata_tensor::Result<()> {
                let images = x.chunks_exact(in_len).zip(dy.chunks_exact(o * p)).zip(dw.chunks_exact_mut(o * rows));
                for (i, ((x, dy), dw)) in images.enumerate() {
                    // This image's bias gradient: one sum per channel (none
                    // without a bias: `db` is empty).
                    let db = db.get_mut(i * bias_len..(i + 1) * bias_len).unwrap_or_default();
                    for (b, channel) in db.iter_mut().zip(dy.chunks_exact(p)) {
                        *b = strata_tensor::sum_lanes(channel);
                    }
                    im2col(x, &g, s.cols.data_mut(), p, 0);
                    let dy = MatRef::new(dy, o, p)?;
                    gemm(1.0, MatRef::new(s.cols.data(), rows, p)?, dy.t(), 0.0, MatMut::new(dw, rows, o)?)?;
                    if input_gradient {
                        gemm(1.0, weight.t(), dy, 0.0, MatMut::new(s.grad_cols.data_mut(), rows, p)?)?;
                        col2im(s.grad_cols.data_mut(), &g, &mut dx[i * in_len..(i + 1) * in_len]);
                    }
                }
                Ok(())
            })?;
        // Fixed order, whatever the number of threads: bit-identical results.
        add_parts_transposed(self.grad_weight.data_mut(), self.weight_parts.data_mut(), o);
        // In image order too: `((gb + b0) + b1) + ...`, the additions made
        // when the sums were taken here.
        if bias_len > 0 {
            for image in self.bias_parts.data().chunks_exact(bias_len) {
                for (gb, &b) in self.grad_bias.data_mut().iter_mut().zip(image) {
                    *gb += b;
                }
            }
        }
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        let c = &self.config;
        image_output_dims("conv2d", input_shape, Some(c.in_channels), Some(c.out_channels), c.window())
    }

    fn kind(&self) -> &str {
        "conv2d"
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        visitor.param("weight", &mut self.weight, &mut self.grad_weight);
        if self.config.bias {
            visitor.param("bias", &mut self.bias, &mut self.grad_bias);
        }
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new("conv2d", &self.config)
    }

    fn set_input_gradient(&mut self, needed: bool) {
        self.input_gradient = needed;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::add_parts_transposed;
    use strata_tensor::{StrataRng, Tensor};

    #[test]
    fn parts_add_up_as_one_transposed_add_per_image() {
        // The definition: for each image in order, gw[j, r] += part[r, j].
        let (n, rows, o) = (5, 7, 3);
        let mut rng = StrataRng::seed_from_u64(3);
        let gw0 = Tensor::random_normal(&[o * rows], 0.0, 1.0, &mut rng).unwrap().into_vec();
        let parts = Tensor::random_normal(&[n * rows * o], 0.0, 1.0, &mut rng).unwrap().into_vec();
        let mut want = gw0.clone();
        for part in parts.chunks_exact(rows * o) {
            for r in 0..rows {
                for j in 0..o {
                    want[j * rows + r] += part[r * o + j];
                }
            }
        }
        let mut got = gw0;
        add_parts_transposed(&mut got, &mut parts.clone(), o);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want));
    }
}
