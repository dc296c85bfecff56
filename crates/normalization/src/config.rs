//! Defaults and checks shared by the configurations.

use strata_layers::{LayerError, Result};

/// PyTorch's default `eps`.
pub(crate) fn default_eps() -> f32 {
    1e-5
}

/// PyTorch's default batch-norm `momentum`.
pub(crate) fn default_momentum() -> f32 {
    0.1
}

pub(crate) fn yes() -> bool {
    true
}

/// `eps` must be positive and finite: it keeps `1 / sqrt(var + eps)` finite
/// for a constant channel.
pub(crate) fn check_eps(layer: &str, eps: f32) -> Result<()> {
    if eps > 0.0 && eps.is_finite() {
        Ok(())
    } else {
        Err(LayerError::InvalidConfig {
            layer: layer.into(),
            reason: format!("eps must be positive and finite, got {eps}"),
        })
    }
}

/// `Σ f(v)` over `values` in `f64`, in eight interleaved partial sums: a
/// fixed order (the same result every run, whatever the batch) that the
/// compiler can turn into vector code, unlike one running sum.
pub(crate) fn sum_f64(values: &[f32], f: impl Fn(f64) -> f64) -> f64 {
    let mut lanes = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f(f64::from(v));
        }
    }
    tail.iter().fold(lanes.iter().sum(), |total, &v| total + f(f64::from(v)))
}

/// `(Σ a, Σ a · b)` in `f64`, in eight interleaved partial sums (see [`sum_f64`]).
pub(crate) fn sum_and_dot_f64(a: &[f32], b: &[f32]) -> (f64, f64) {
    let (mut sums, mut dots) = ([0.0f64; 8], [0.0f64; 8]);
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let (tail_a, tail_b) = (chunks_a.remainder(), chunks_b.remainder());
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for (((s, d), &x), &y) in sums.iter_mut().zip(&mut dots).zip(ca).zip(cb) {
            *s += f64::from(x);
            *d += f64::from(x) * f64::from(y);
        }
    }
    let (mut sum, mut dot) = (sums.iter().sum::<f64>(), dots.iter().sum::<f64>());
    for (&x, &y) in tail_a.iter().zip(tail_b) {
        sum += f64::from(x);
        dot += f64::from(x) * f64::from(y);
    }
    (sum, dot)
}
