use crate::geometry::{Geometry, Window, image_geometry, image_output_dims, opt_pair, pair};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use strata_layers::{Dim, Layer, LayerError, LayerSpec, Mode, Result, check_grad, dims};
use strata_tensor::Tensor;

/// Hyper-parameters of a [`MaxPool2d`] or an [`AvgPool2d`] layer.
///
/// In a spec (JSON) sizes may be one number (square) or `[height, width]`;
/// `stride` defaults to the kernel (non-overlapping windows).
///
/// ```
/// use strata_conv::Pool2dConfig;
/// let config: Pool2dConfig = serde_json::from_str(r#"{"kernel": 2}"#).unwrap();
/// assert_eq!(config, Pool2dConfig::new(2));
/// assert_eq!(config.effective_stride(), [2, 2]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool2dConfig {
    /// Window `[height, width]`.
    #[serde(deserialize_with = "pair")]
    pub kernel: [usize; 2],
    /// Step between windows; `None` means the kernel size.
    #[serde(default, deserialize_with = "opt_pair", skip_serializing_if = "Option::is_none")]
    pub stride: Option<[usize; 2]>,
}

impl Pool2dConfig {
    /// Square `kernel x kernel` windows with stride `kernel`.
    pub fn new(kernel: usize) -> Self {
        Pool2dConfig { kernel: [kernel, kernel], stride: None }
    }

    /// The same stride along both axes.
    pub fn with_stride(mut self, stride: usize) -> Self {
        self.stride = Some([stride, stride]);
        self
    }

    /// The stride in use: `stride`, or the kernel when it is `None`.
    pub fn effective_stride(&self) -> [usize; 2] {
        self.stride.unwrap_or(self.kernel)
    }

    fn window(&self, layer: &str) -> Result<Window> {
        let stride = self.effective_stride();
        for (name, v) in [("kernel", self.kernel), ("stride", stride)] {
            if v.contains(&0) {
                return Err(LayerError::InvalidConfig {
                    layer: layer.into(),
                    reason: format!("{name} must be at least 1 along both axes, got {v:?}"),
                });
            }
        }
        Ok(Window { kernel: self.kernel, stride, padding: [0, 0], dilation: [1, 1] })
    }
}

/// The fewest planes a thread takes: 16, or all of them while the threads
/// sit far apart (`strata_tensor::par::split_scale`; see `Conv2d`'s
/// groups of images for the measurement).
fn min_planes() -> usize {
    if strata_tensor::par::split_scale() > 1 { usize::MAX } else { 16 }
}

/// `[c, out_h, out_w]` of a pooling layer for a per-sample input shape.
fn pool_output_shape(layer: &str, window: Window, input_shape: &[Dim]) -> Result<Vec<Dim>> {
    image_output_dims(layer, input_shape, None, None, window)
}

/// Whether `v` replaces the window's maximum `best` in PyTorch's scan: a
/// larger value, or (when the plane may hold NaN) any NaN.
#[inline(always)]
fn better<const NAN: bool>(v: f32, best: f32) -> bool {
    if NAN { v > best || v.is_nan() } else { v > best }
}

/// 2x2 windows of stride 2 over one plane, without the window loops: the same
/// scan order (row by row) and the same tie rule as [`pool_general`]. Each
/// output row reads its two input rows as pairs, with no index arithmetic
/// per window, so the compiler vectorises it (W3 1.03x and 1.07x in two
/// rounds near, 1.009x far, against the scalar loop it replaced). Returns
/// whether the plane holds a NaN (only the `NAN = false` scan, whose result
/// is then wrong, looks).
#[inline(always)]
fn pool_2x2<const NAN: bool>(
    x: &[f32],
    y: &mut [f32],
    arg: &mut [usize],
    offset: usize,
    [w, ho, wo]: [usize; 3],
) -> bool {
    let mut seen_nan = false;
    for oy in 0..ho {
        let r0 = 2 * oy * w;
        let (top, bottom) = (&x[r0..r0 + 2 * wo], &x[r0 + w..r0 + w + 2 * wo]);
        let (ys, args) = (&mut y[oy * wo..(oy + 1) * wo], &mut arg[oy * wo..(oy + 1) * wo]);
        let pairs = top.chunks_exact(2).zip(bottom.chunks_exact(2));
        for (ox, ((yv, av), (t, b))) in ys.iter_mut().zip(args.iter_mut()).zip(pairs).enumerate() {
            // Offsets from the window's first cell, in scan order.
            let (mut best, mut best_v) = (0, t[0]);
            for (at, v) in [(1, t[1]), (w, b[0]), (w + 1, b[1])] {
                let better = better::<NAN>(v, best_v);
                best = if better { at } else { best };
                best_v = if better { v } else { best_v };
            }
            if !NAN {
                seen_nan |= t[0].is_nan() | t[1].is_nan() | b[0].is_nan() | b[1].is_nan();
            }
            *yv = best_v;
            *av = offset + r0 + 2 * ox + best;
        }
    }
    seen_nan
}

strata_tensor::simd_kernel! {
    /// [`pool_2x2`] of a plane, compiled for each SIMD path. NaN is rare:
    /// the scan without the NaN test runs first and tells whether the plane
    /// holds one, and only then is the plane scanned again with the test
    /// (which alone measured 30% of W3 slower). This replaced a sum of the
    /// plane taken before the scan to find NaN, a second pass over it.
    fn pool_plane_2x2(x: &[f32], y: &mut [f32], arg: &mut [usize], offset: usize, shape: [usize; 3]) {
        if pool_2x2::<false>(x, y, arg, offset, shape) {
            pool_2x2::<true>(x, y, arg, offset, shape);
        }
    }
}

/// Any window over one plane. Two selects on one comparison: the first
/// maximum wins ties, and a NaN wins over any number (the last NaN, as
/// PyTorch's CPU kernel), when `nan` says the plane may hold one.
fn pool_general(
    x: &[f32],
    y: &mut [f32],
    arg: &mut [usize],
    offset: usize,
    [w, ho, wo]: [usize; 3],
    window: Window,
    nan: bool,
) {
    let ([kh, kw], [sh, sw]) = (window.kernel, window.stride);
    for oy in 0..ho {
        for ox in 0..wo {
            let start = (oy * sh) * w + ox * sw;
            let (mut best, mut best_v) = (start, x[start]);
            for i in 0..kh {
                let row = start + i * w;
                for (j, &v) in x[row..row + kw].iter().enumerate() {
                    let b = if nan { better::<true>(v, best_v) } else { better::<false>(v, best_v) };
                    best = if b { row + j } else { best };
                    best_v = if b { v } else { best_v };
                }
            }
            y[oy * wo + ox] = best_v;
            arg[oy * wo + ox] = offset + best;
        }
    }
}

/// Max pooling: each output is the largest input of its window, per channel.
///
/// # Shapes
/// - input: `[batch, C, H, W]`
/// - output: `[batch, C, H_out, W_out]`, per axis
///   `out = floor((in - kernel) / stride) + 1` (the convolution formula
///   without padding or dilation); the input must be at least as large as
///   the kernel.
///
/// # Gradients
/// The forward pass keeps the position of each window's maximum (the first
/// one, on ties; a NaN propagates: the window's last NaN, as in PyTorch's CPU
/// kernel); backward sends each output gradient there and nowhere else
/// (overlapping windows add up).
///
/// ```
/// use strata_conv::{MaxPool2d, Pool2dConfig};
/// use strata_layers::{Layer, Mode};
/// use strata_tensor::Tensor;
///
/// let mut pool = MaxPool2d::new(Pool2dConfig::new(2))?;
/// let x = Tensor::from_vec(&[1, 1, 2, 4], vec![1., 5., 2., 0., 3., 4., 8., 7.])?;
/// assert_eq!(pool.forward(&x, Mode::Eval)?.data(), &[5., 8.]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MaxPool2d {
    config: Pool2dConfig,
    window: Window,
    output: Tensor,
    grad_input: Tensor,
    /// Flat input index of every output's maximum.
    argmax: Vec<usize>,
    /// Input shape of the last forward.
    input_shape: Vec<usize>,
    /// Whether that forward was in training mode (backward allowed).
    trained: bool,
}

impl MaxPool2d {
    /// A max-pooling layer; a zero kernel or stride is a [`LayerError::InvalidConfig`].
    pub fn new(config: Pool2dConfig) -> Result<MaxPool2d> {
        let window = config.window("max_pool2d")?;
        Ok(MaxPool2d {
            config,
            window,
            output: Tensor::default(),
            grad_input: Tensor::default(),
            argmax: Vec::new(),
            input_shape: Vec::new(),
            trained: false,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Pool2dConfig {
        &self.config
    }
}

impl Layer for MaxPool2d {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        let g = image_geometry("max_pool2d", input.shape(), true, None, None, self.window)?;
        let Geometry { in_hw: [h, w], out_hw: [ho, wo], .. } = g;
        let [kh, kw] = self.window.kernel;
        let [sh, sw] = self.window.stride;
        let n = input.shape()[0];
        self.output.resize(&[n, g.channels, ho, wo]);
        self.argmax.resize(self.output.len(), 0);
        // Planes are independent: rayon's threads take them in chunks (the
        // result does not depend on how they are shared out).
        let planes = input
            .data()
            .par_chunks(h * w)
            .zip(self.output.data_mut().par_chunks_mut(ho * wo))
            .zip(self.argmax.par_chunks_mut(ho * wo))
            .enumerate()
            .with_min_len(min_planes());
        let two_by_two = [kh, kw] == [2, 2] && [sh, sw] == [2, 2];
        let window = self.window;
        planes.for_each(|(plane, ((x, y), arg))| {
            let offset = plane * h * w;
            if two_by_two {
                pool_plane_2x2(x, y, arg, offset, [w, ho, wo]);
            } else {
                // A plane whose sum is not NaN holds no NaN (its sum is NaN
                // also for +inf and -inf together, which only costs the
                // careful path), and takes the comparison without the test.
                let nan = strata_tensor::sum_lanes(x).is_nan();
                pool_general(x, y, arg, offset, [w, ho, wo], window, nan);
            }
        });
        self.input_shape.clear();
        self.input_shape.extend_from_slice(input.shape());
        self.trained = mode == Mode::Train;
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if !self.trained {
            return Err(LayerError::BackwardBeforeForward { layer: "max_pool2d".into() });
        }
        check_grad("max_pool2d", grad_output, self.output.shape())?;
        self.grad_input.resize(&self.input_shape);
        let out = self.output.shape();
        let (plane_in, plane_out) = (self.input_shape[2] * self.input_shape[3], out[2] * out[3]);
        self.grad_input
            .data_mut()
            .par_chunks_mut(plane_in)
            .zip(self.argmax.par_chunks(plane_out))
            .zip(grad_output.data().par_chunks(plane_out))
            .enumerate()
            .with_min_len(min_planes())
            .for_each(|(plane, ((dx, args), gs))| {
                dx.fill(0.0);
                for (&at, &g) in args.iter().zip(gs) {
                    dx[at - plane * plane_in] += g;
                }
            });
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        pool_output_shape("max_pool2d", self.window, input_shape)
    }

    fn kind(&self) -> &str {
        "max_pool2d"
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new("max_pool2d", &self.config)
    }
}

/// Average pooling: each output is the mean of its window, per channel.
///
/// # Shapes
/// - input: `[batch, C, H, W]`
/// - output: `[batch, C, H_out, W_out]`, per axis
///   `out = floor((in - kernel) / stride) + 1`; the input must be at least as
///   large as the kernel.
///
/// # Gradients
/// Each output gradient is shared equally, `1 / (kh * kw)` each, by the
/// inputs of its window.
///
/// ```
/// use strata_conv::{AvgPool2d, Pool2dConfig};
/// use strata_layers::{Layer, Mode};
/// use strata_tensor::Tensor;
///
/// let mut pool = AvgPool2d::new(Pool2dConfig::new(2))?;
/// let x = Tensor::from_vec(&[1, 1, 2, 4], vec![1., 5., 2., 0., 3., 4., 8., 7.])?;
/// assert_eq!(pool.forward(&x, Mode::Eval)?.data(), &[3.25, 4.25]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct AvgPool2d {
    config: Pool2dConfig,
    window: Window,
    output: Tensor,
    grad_input: Tensor,
    /// Geometry of the last training-mode forward (`None`: no backward).
    trained: Option<(usize, Geometry)>,
}

impl AvgPool2d {
    /// An average-pooling layer; a zero kernel or stride is a [`LayerError::InvalidConfig`].
    pub fn new(config: Pool2dConfig) -> Result<AvgPool2d> {
        let window = config.window("avg_pool2d")?;
        Ok(AvgPool2d { config, window, output: Tensor::default(), grad_input: Tensor::default(), trained: None })
    }

    /// The configuration.
    pub fn config(&self) -> &Pool2dConfig {
        &self.config
    }
}

impl Layer for AvgPool2d {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        let g = image_geometry("avg_pool2d", input.shape(), true, None, None, self.window)?;
        let Geometry { in_hw: [h, w], out_hw: [ho, wo], .. } = g;
        let [kh, kw] = self.window.kernel;
        let [sh, sw] = self.window.stride;
        let scale = 1.0 / (kh * kw) as f32;
        let n = input.shape()[0];
        self.output.resize(&[n, g.channels, ho, wo]);
        for (x, y) in input.data().chunks_exact(h * w).zip(self.output.data_mut().chunks_exact_mut(ho * wo)) {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut sum = 0.0;
                    for i in 0..kh {
                        let row = (oy * sh + i) * w + ox * sw;
                        sum += x[row..row + kw].iter().sum::<f32>();
                    }
                    y[oy * wo + ox] = sum * scale;
                }
            }
        }
        self.trained = (mode == Mode::Train).then_some((n, g));
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        let Some((n, g)) = self.trained else {
            return Err(LayerError::BackwardBeforeForward { layer: "avg_pool2d".into() });
        };
        let Geometry { channels, in_hw: [h, w], out_hw: [ho, wo], .. } = g;
        check_grad("avg_pool2d", grad_output, &[n, channels, ho, wo])?;
        let [kh, kw] = self.window.kernel;
        let [sh, sw] = self.window.stride;
        let scale = 1.0 / (kh * kw) as f32;
        self.grad_input.resize(&[n, channels, h, w]);
        self.grad_input.fill(0.0);
        for (dx, dy) in self.grad_input.data_mut().chunks_exact_mut(h * w).zip(grad_output.data().chunks_exact(ho * wo))
        {
            for oy in 0..ho {
                for ox in 0..wo {
                    let share = dy[oy * wo + ox] * scale;
                    for i in 0..kh {
                        let row = (oy * sh + i) * w + ox * sw;
                        dx[row..row + kw].iter_mut().for_each(|v| *v += share);
                    }
                }
            }
        }
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        pool_output_shape("avg_pool2d", self.window, input_shape)
    }

    fn kind(&self) -> &str {
        "avg_pool2d"
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new("avg_pool2d", &self.config)
    }
}

/// Global average pooling: the mean of every channel over the whole image,
/// `[N, C, H, W] -> [N, C]`. The usual bridge from convolutions to a
/// classifier head, independent of the image size.
///
/// # Shapes
/// - input: `[batch, C, H, W]` (`H`, `W` at least 1)
/// - output: `[batch, C]`
///
/// # Gradients
/// `dx[n, c, i, j] = dy[n, c] / (H * W)`.
///
/// ```
/// use strata_conv::GlobalAvgPool;
/// use strata_layers::{Layer, Mode};
/// use strata_tensor::Tensor;
///
/// let mut pool = GlobalAvgPool::new();
/// let x = Tensor::from_vec(&[1, 2, 1, 2], vec![1., 3., 10., 20.])?;
/// assert_eq!(pool.forward(&x, Mode::Eval)?.data(), &[2., 15.]);
/// assert_eq!(pool.output_shape(&strata_layers::dims(&[2, 7, 7]))?, vec![2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct GlobalAvgPool {
    output: Tensor,
    grad_input: Tensor,
    /// Input shape of the last forward.
    input_shape: Vec<usize>,
    /// Whether that forward was in training mode (backward allowed).
    trained: bool,
}

impl GlobalAvgPool {
    /// A global average-pooling layer.
    pub fn new() -> Self {
        GlobalAvgPool::default()
    }

    /// `shape` is a batch `[n, c, h, w]` (`batched`) or a sample `[c, h, w]`
    /// with `h, w >= 1` (an axis of any size counts as non-empty).
    fn check(shape: &[Dim], batched: bool) -> Result<()> {
        let lead = usize::from(batched);
        let empty = |d: Dim| d == Dim::Fixed(0);
        if shape.len() != lead + 3 || empty(shape[lead + 1]) || empty(shape[lead + 2]) {
            let one = if shape.len() == lead + 3 { Dim::Fixed(1) } else { Dim::Any };
            let mut expected = vec![Dim::Any; lead + 1];
            expected.extend([one, one]);
            return Err(LayerError::ShapeMismatch {
                layer: "global_avg_pool".into(),
                expected,
                actual: shape.to_vec(),
            });
        }
        Ok(())
    }
}

impl Layer for GlobalAvgPool {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        GlobalAvgPool::check(&dims(input.shape()), true)?;
        let s = input.shape();
        let (n, c, area) = (s[0], s[1], s[2] * s[3]);
        self.output.resize(&[n, c]);
        let scale = 1.0 / area as f32;
        for (y, plane) in self.output.data_mut().iter_mut().zip(input.data().chunks_exact(area)) {
            *y = plane.iter().sum::<f32>() * scale;
        }
        self.input_shape.clear();
        self.input_shape.extend_from_slice(s);
        self.trained = mode == Mode::Train;
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if !self.trained {
            return Err(LayerError::BackwardBeforeForward { layer: "global_avg_pool".into() });
        }
        let shape = &self.input_shape;
        check_grad("global_avg_pool", grad_output, &shape[..2])?;
        let area = shape[2] * shape[3];
        let scale = 1.0 / area as f32;
        self.grad_input.resize(shape);
        for (dx, &dy) in self.grad_input.data_mut().chunks_exact_mut(area).zip(grad_output.data()) {
            dx.fill(dy * scale);
        }
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        GlobalAvgPool::check(input_shape, false)?;
        Ok(vec![input_shape[0]])
    }

    fn kind(&self) -> &str {
        "global_avg_pool"
    }

    fn spec(&self) -> Result<LayerSpec> {
        Ok(LayerSpec { kind: "global_avg_pool".into(), config: serde_json::Value::Null })
    }
}
