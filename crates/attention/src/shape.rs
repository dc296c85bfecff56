//! The one shape this crate's sequence layers take: `[batch, .., sequence,
//! d_model]`, and the error that names it.

use strata_layers::{Dim, LayerError, Result, dims};

/// `[*, .., *, d_model]` with at least `min_any` axes of any size, as long as
/// `actual` where it can be.
fn mismatch(layer: &str, d_model: usize, actual: Vec<Dim>, min_any: usize) -> LayerError {
    let mut expected = vec![Dim::Any; actual.len().saturating_sub(1).max(min_any)];
    expected.push(Dim::Fixed(d_model));
    LayerError::ShapeMismatch { layer: layer.to_string(), expected, actual }
}

/// Batch (the product of the leading axes) and sequence length of a batch
/// `[batch, .., sequence, d_model]`, or the error naming `layer`.
pub(crate) fn batch_and_sequence(layer: &str, shape: &[usize], d_model: usize) -> Result<(usize, usize)> {
    match shape {
        [lead @ .., seq, d] if !lead.is_empty() && *d == d_model => Ok((lead.iter().product(), *seq)),
        _ => Err(mismatch(layer, d_model, dims(shape), 2)),
    }
}

/// `output_shape` of a layer that keeps the shape of a per-sample
/// `[.., sequence, d_model]`.
pub(crate) fn same_sequence_shape(layer: &str, input_shape: &[Dim], d_model: usize) -> Result<Vec<Dim>> {
    match input_shape {
        [.., _, d] if *d == d_model => Ok(input_shape.to_vec()),
        _ => Err(mismatch(layer, d_model, input_shape.to_vec(), 1)),
    }
}
