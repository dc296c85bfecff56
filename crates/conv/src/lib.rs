//! # strata-conv
//!
//! Convolutional layers for Strata: [`Conv2d`] (2-D convolution with stride,
//! zero padding and dilation), [`MaxPool2d`], [`AvgPool2d`] and
//! [`GlobalAvgPool`]; [`register`] adds their kinds (`conv2d`, `max_pool2d`,
//! `avg_pool2d`, `global_avg_pool`) to a [`Registry`], so model specs and
//! model files can name them; [`cnn_spec`] is the small CNN of workload W3;
//! [`filters_png`] draws a convolution's kernels as an image.
//!
//! **The design decisions:**
//!
//! - *NCHW*: images travel as `[batch, channels, height, width]`, the layout
//!   of PyTorch, and weights are `[out, in, kh, kw]`, so weights and shapes
//!   carry over from it unchanged. [`strata_layers::Flatten`] turns
//!   `[N, C, H, W]` into the `[N, C*H*W]` a [`strata_layers::Dense`] takes.
//! - *im2col + the one GEMM entry point*: a convolution unrolls each image
//!   into a column matrix and multiplies it with the weights through
//!   [`strata_tensor::gemm`], the workspace's single matrix-multiply entry
//!   point, so a faster GEMM speeds up convolutions too; no convolution
//!   kernel of its own to maintain. Images of a batch run in parallel on
//!   rayon's threads, with results bit-identical for any thread count (see
//!   [`Conv2d`]).
//!
//! Every layer follows the [`Layer`] contract of `strata-layers`: it owns
//! and reuses its buffers, `backward` accumulates parameter gradients, shape
//! errors are [`strata_layers::LayerError::ShapeMismatch`] values naming the layer, and
//! impossible configurations (a zero stride or kernel) are
//! [`strata_layers::LayerError::InvalidConfig`] at construction.
//!
//! ```
//! use strata_conv::{cnn_spec, register};
//! use strata_io::SavedModel;
//! use strata_layers::{Layer, Mode, Registry};
//! use strata_tensor::{StrataRng, Tensor};
//!
//! let mut registry = Registry::with_builtins();
//! register(&mut registry)?;
//!
//! // The W3 network: two conv-relu-maxpool stages and a dense head.
//! let mut model = registry.build(&cnn_spec(), &mut StrataRng::seed_from_u64(0))?;
//! assert_eq!(model.output_shape(&strata_layers::dims(&[1, 28, 28]))?, vec![10]);
//! assert_eq!(model.n_parameters(), (8 * 9 + 8) + (16 * 8 * 9 + 16) + (784 * 10 + 10));
//!
//! let images = Tensor::random_uniform(&[4, 1, 28, 28], 0.0, 1.0, &mut StrataRng::seed_from_u64(1))?;
//! let logits = model.forward(&images, Mode::Train)?.clone();
//! assert_eq!(logits.shape(), &[4, 10]);
//! model.zero_grad();
//! let grad_images = model.backward(&Tensor::ones(&[4, 10]))?;
//! assert_eq!(grad_images.shape(), &[4, 1, 28, 28]);
//!
//! // Specs and weights round-trip through a registry that knows the kinds.
//! let saved = SavedModel::capture(model.as_mut(), Default::default())?;
//! let mut copy = saved.instantiate(&registry)?;
//! assert_eq!(copy.predict(&images)?, model.predict(&images)?);
//! # Ok::<(), strata_layers::LayerError>(())
//! ```
#![warn(missing_docs)]

mod conv2d;
mod filters;
mod geometry;
mod pool;

pub use conv2d::{Conv2d, Conv2dConfig};
pub use filters::filters_png;
pub use pool::{AvgPool2d, GlobalAvgPool, MaxPool2d, Pool2dConfig};

use serde_json::json;
use strata_layers::{Layer, LayerSpec, Registry};

/// Add this crate's kinds to `registry`: `conv2d` ([`Conv2dConfig`]),
/// `max_pool2d` and `avg_pool2d` ([`Pool2dConfig`]) and `global_avg_pool`
/// (no configuration). Fails with [`strata_layers::LayerError::DuplicateKind`] if one of
/// them is already registered.
///
/// ```
/// let mut registry = strata_layers::Registry::with_builtins();
/// strata_conv::register(&mut registry)?;
/// assert!(registry.kinds().any(|k| k == "conv2d"));
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
pub fn register(registry: &mut Registry) -> strata_layers::Result<()> {
    registry.register_from(env!("CARGO_PKG_NAME"), "conv2d", |spec, _, rng| {
        Ok(Box::new(Conv2d::new(spec.config()?, rng)?))
    })?;
    registry.register_from(env!("CARGO_PKG_NAME"), "max_pool2d", |spec, _, _| {
        Ok(Box::new(MaxPool2d::new(spec.config()?)?))
    })?;
    registry.register_from(env!("CARGO_PKG_NAME"), "avg_pool2d", |spec, _, _| {
        Ok(Box::new(AvgPool2d::new(spec.config()?)?))
    })?;
    registry.register_from(env!("CARGO_PKG_NAME"), "global_avg_pool", |spec, _, _| {
        spec.no_config()?;
        Ok(Box::new(GlobalAvgPool::new()) as Box<dyn Layer>)
    })?;
    Ok(())
}

/// The small CNN of workload W3, for `[1, 28, 28]` images (MNIST) and 10
/// classes, as a `sequential` spec:
///
/// | layer | output shape | parameters |
/// |---|---|---|
/// | conv 3x3, 1 -> 8, padding 1 | `[8, 28, 28]` | 80 |
/// | relu | `[8, 28, 28]` | |
/// | max pool 2 | `[8, 14, 14]` | |
/// | conv 3x3, 8 -> 16, padding 1 | `[16, 14, 14]` | 1168 |
/// | relu | `[16, 14, 14]` | |
/// | max pool 2 | `[16, 7, 7]` | |
/// | flatten | `[784]` | |
/// | dense 784 -> 10 | `[10]` | 7850 |
///
/// He-normal weights, zero biases; the output is logits.
pub fn cnn_spec() -> LayerSpec {
    let layer = |kind: &str, config: serde_json::Value| LayerSpec { kind: kind.to_string(), config };
    let conv = |i: usize, o: usize| {
        layer("conv2d", json!({ "in_channels": i, "out_channels": o, "kernel_size": 3, "padding": 1 }))
    };
    let layers = vec![
        conv(1, 8),
        layer("relu", serde_json::Value::Null),
        layer("max_pool2d", json!({ "kernel": 2 })),
        conv(8, 16),
        layer("relu", serde_json::Value::Null),
        layer("max_pool2d", json!({ "kernel": 2 })),
        layer("flatten", serde_json::Value::Null),
        layer("dense", json!({ "n_inputs": 16 * 7 * 7, "n_outputs": 10 })),
    ];
    layer("sequential", json!({ "input_shape": [1, 28, 28], "layers": layers }))
}

/// The im2col transform, for the `gemm_strategy` benchmark only: not part of
/// the API, may change without notice.
#[doc(hidden)]
pub mod bench_support {
    /// Fill `cols` (row stride `ld`, starting at column `col0`) with the
    /// column matrix of one `[channels, hw, hw]` image under a `k x k` kernel
    /// with stride 1 and padding `pad`; returns `(rows, positions)`.
    pub fn im2col_square(
        x: &[f32],
        [channels, hw, k, pad]: [usize; 4],
        cols: &mut [f32],
        ld: usize,
        col0: usize,
    ) -> Option<(usize, usize)> {
        let window = crate::geometry::Window { kernel: [k, k], stride: [1, 1], padding: [pad, pad], dilation: [1, 1] };
        let g = crate::geometry::Geometry::new(channels, hw, hw, window)?;
        if cols.len() < (g.col_rows() - 1) * ld + col0 + g.n_positions() {
            return None;
        }
        crate::geometry::im2col(x, &g, cols, ld, col0);
        Some((g.col_rows(), g.n_positions()))
    }
}
