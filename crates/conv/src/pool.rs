use crate::geometry::{Geometry, Window, image_geometry, image_output_dims, opt_pair, pair};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use strata_layers::{Dim, Layer, LayerError, LayerSpec, Mode, Result, check_grad, dims};
use strata_tensor::{Tensor, TensorError};

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

/// The fewest planes a thread takes, near or far (planes share no operand:
/// see `Conv2d`'s groups of images for the measurement).
const MIN_PLANES: usize = 16;

/// The fewest planes a thread takes: all of them inside
/// [`strata_tensor::par::serial`].
fn min_planes() -> usize {
    if strata_tensor::par::threads() < 2 { usize::MAX } else { MIN_PLANES }
}

/// Max pooling keeps each maximum's index in its input plane as a `u32`:
/// a plane of more than `u32::MAX` values (a 65536x65536 image) is refused.
fn check_plane(h: usize, w: usize) -> Result<()> {
    if h.saturating_mul(w) <= u32::MAX as usize {
        return Ok(());
    }
    Err(LayerError::Tensor(TensorError::InvalidArgument {
        op: "max_pool2d",
        reason: format!("an input plane of {h}x{w} values is larger than the {} values max pooling indexes", u32::MAX),
    }))
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

/// Windows the 2x2 scan takes side by side: one 16-lane vector of `f32`
/// (two on AVX2), whatever the width of the plane.
const LANES: usize = 16;

/// 2x2 windows of stride 2 over one plane: the same scan order (row by row)
/// and the same tie rule as [`pool_general`], [`LANES`] windows of an output
/// row at a time ([`windows_2x2`]), so the compiler vectorises the scan also
/// for rows narrower than a vector (W3's are 14 and 7 windows wide, which a
/// loop over the row's windows left scalar). Returns whether the plane holds
/// a NaN (only the `NAN = false` scan, whose result is then wrong, looks).
///
/// A block reads its two input rows in place when `2 * LANES` values follow
/// its first window (the values past the row's end feed lanes that are
/// dropped), else from a copy. Its outputs go in place when `LANES` outputs
/// follow its first, else through a copy: the lanes past the row's end then
/// write later outputs of the plane, which their own block overwrites after.
#[inline(always)]
fn pool_2x2<const NAN: bool>(x: &[f32], y: &mut [f32], arg: &mut [u32], [w, ho, wo]: [usize; 3]) -> bool {
    let mut seen_nan = false;
    let (mut top, mut bottom) = ([0f32; 2 * LANES], [0f32; 2 * LANES]);
    let (mut ys, mut args) = ([0f32; LANES], [0u32; LANES]);
    for oy in 0..ho {
        for ox in (0..wo).step_by(LANES) {
            let valid = LANES.min(wo - ox);
            let first = 2 * oy * w + 2 * ox;
            let t = in_place_or_copy(x, first, 2 * valid, &mut top);
            let b = in_place_or_copy(x, first + w, 2 * valid, &mut bottom);
            let at = oy * wo + ox;
            // In-plane indices fit in `u32`: the caller checked the plane's size.
            let block = Block { w: w as u32, first: first as u32, valid };
            match (y.get_mut(at..at + LANES), arg.get_mut(at..at + LANES)) {
                (Some(y), Some(arg)) => seen_nan |= windows_2x2::<NAN>(t, b, block, y, arg),
                _ => {
                    seen_nan |= windows_2x2::<NAN>(t, b, block, &mut ys, &mut args);
                    y[at..at + valid].copy_from_slice(&ys[..valid]);
                    arg[at..at + valid].copy_from_slice(&args[..valid]);
                }
            }
        }
    }
    seen_nan
}

/// `x[from..from + 2 * LANES]` when the plane holds that much, else the
/// `len` values from `from` copied to the start of `copy`.
#[inline(always)]
fn in_place_or_copy<'a>(x: &'a [f32], from: usize, len: usize, copy: &'a mut [f32; 2 * LANES]) -> &'a [f32] {
    match x.get(from..from + 2 * LANES) {
        Some(run) => run,
        None => {
            copy[..len].copy_from_slice(&x[from..from + len]);
            &copy[..]
        }
    }
}

/// Where a block of [`windows_2x2`] lies: the plane's width `w`, the
/// in-plane index of its first window's first cell, and how many of its
/// lanes are windows of the row.
#[derive(Clone, Copy)]
struct Block {
    w: u32,
    first: u32,
    valid: usize,
}

/// [`LANES`] 2x2 windows side by side, from their two input rows `top` and
/// `bottom` (`2 * LANES` values each; `y` and `arg` hold `LANES`). Returns
/// whether a window of the row (lanes below `valid`) holds a NaN.
#[inline(always)]
fn windows_2x2<const NAN: bool>(top: &[f32], bottom: &[f32], block: Block, y: &mut [f32], arg: &mut [u32]) -> bool {
    let (top, bottom) = (&top[..2 * LANES], &bottom[..2 * LANES]);
    let (y, arg) = (&mut y[..LANES], &mut arg[..LANES]);
    let Block { w, first, valid } = block;
    let mut seen_nan = false;
    for i in 0..LANES {
        let (t0, t1, b0, b1) = (top[2 * i], top[2 * i + 1], bottom[2 * i], bottom[2 * i + 1]);
        // Offsets from the window's first cell, in scan order.
        let (mut best, mut best_v) = (0u32, t0);
        for (at, v) in [(1, t1), (w, b0), (w.wrapping_add(1), b1)] {
            let better = better::<NAN>(v, best_v);
            best = if better { at } else { best };
            best_v = if better { v } else { best_v };
        }
        if !NAN {
            seen_nan |= (i < valid) & (t0.is_nan() | t1.is_nan() | b0.is_nan() | b1.is_nan());
        }
        y[i] = best_v;
        // Lanes past the row's end may wrap; they are dropped.
        arg[i] = first.wrapping_add(2 * i as u32).wrapping_add(best);
    }
    seen_nan
}

strata_tensor::simd_kernel! {
    /// [`pool_2x2`] of a plane, compiled for each SIMD path. NaN is rare:
    /// the scan without the NaN test runs first and tells whether the plane
    /// holds one, and only then is the plane scanned again with the test
    /// (which alone measured 30% of W3 slower). This replaced a sum of the
    /// plane taken before the scan to find NaN, a second pass over it.
    fn pool_plane_2x2(x: &[f32], y: &mut [f32], arg: &mut [u32], shape: [usize; 3]) {
        if pool_2x2::<false>(x, y, arg, shape) {
            pool_2x2::<true>(x, y, arg, shape);
        }
    }
}

/// Any window over one plane. Two selects on one comparison: the first
/// maximum wins ties, and a NaN wins over any number (the last NaN, as
/// PyTorch's CPU kernel), when `nan` says the plane may hold one.
fn pool_general(x: &[f32], y: &mut [f32], arg: &mut [u32], [w, ho, wo]: [usize; 3], window: Window, nan: bool) {
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
            // In-plane indices fit in `u32`: the caller checked the plane's size.
            arg[oy * wo + ox] = best as u32;
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
    /// Index of every output's maximum in its input plane (`u32`: half the
    /// memory traffic of `usize`; [`check_plane`] bounds the plane).
    argmax: Vec<u32>,
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
        check_plane(h, w)?;
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
            .with_min_len(min_planes());
        let two_by_two = [kh, kw] == [2, 2] && [sh, sw] == [2, 2];
        let window = self.window;
        planes.for_each(|((x, y), arg)| {
            if two_by_two {
                pool_plane_2x2(x, y, arg, [w, ho, wo]);
            } else {
                // A plane whose sum is not NaN holds no NaN (its sum is NaN
                // also for +inf and -inf together, which only costs the
                // careful path), and takes the comparison without the test.
                let nan = strata_tensor::sum_lanes(x).is_nan();
                pool_general(x, y, arg, [w, ho, wo], window, nan);
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
            .with_min_len(min_planes())
            .for_each(|((dx, args), gs)| {
                dx.fill(0.0);
                for (&at, &g) in args.iter().zip(gs) {
                    dx[at as usize] += g;
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

#[cfg(test)]
mod tests {
    use super::check_plane;

    #[test]
    fn planes_larger_than_u32_indices_are_refused() {
        // 65536 * 65535 = 2^32 - 2^16 fits in u32; 65536 * 65536 = 2^32 does not.
        assert!(check_plane(65536, 65535).is_ok());
        let err = check_plane(65536, 65536).err().map(|e| e.to_string());
        let want = "max_pool2d: invalid argument: an input plane of 65536x65536 values is larger than the 4294967295 values max pooling indexes";
        assert_eq!(err.as_deref(), Some(want));
    }
}
