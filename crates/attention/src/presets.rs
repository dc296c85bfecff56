//! Ready-made sequence models, as specs a [`strata_layers::Registry`] with
//! this crate's kinds (and layer norm's) builds.

use crate::{
    EMBEDDING, POSITIONAL_ENCODING, PositionKind, SEQUENCE_POOL, TRANSFORMER_DECODER_BLOCK, TRANSFORMER_ENCODER_BLOCK,
};
use serde_json::json;
use strata_layers::{Dim, LayerSpec, Result, SequentialConfig};

fn layer(kind: &str, config: serde_json::Value) -> LayerSpec {
    LayerSpec { kind: kind.to_string(), config }
}

/// `n_blocks` transformer blocks.
fn blocks(kind: &str, n: usize, d_model: usize, n_heads: usize, d_ff: usize, dropout: f32) -> Vec<LayerSpec> {
    let config = json!({ "d_model": d_model, "n_heads": n_heads, "d_ff": d_ff, "dropout": dropout });
    (0..n).map(|_| layer(kind, config.clone())).collect()
}

fn sequential(input_shape: Vec<Dim>, layers: Vec<LayerSpec>) -> Result<LayerSpec> {
    LayerSpec::new("sequential", &SequentialConfig { input_shape, layers })
}

/// A sequence classifier: `[seq, features]` samples (MNIST's 28 rows of 28
/// pixels, say) projected to `d_model`, sinusoidal positions, `n_blocks`
/// pre-norm encoder blocks, a final layer norm, the mean over positions, and
/// a dense layer to `n_classes` logits.
///
/// ```
/// let spec = strata_attention::presets::sequence_classifier(28, 28, 64, 4, 128, 2, 0.1, 10)?;
/// assert_eq!(spec.kind, "sequential");
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn sequence_classifier(
    seq: usize,
    features: usize,
    d_model: usize,
    n_heads: usize,
    d_ff: usize,
    n_blocks: usize,
    dropout: f32,
    n_classes: usize,
) -> Result<LayerSpec> {
    let mut layers = vec![
        layer("dense", json!({ "n_inputs": features, "n_outputs": d_model, "init": "xavier_uniform" })),
        layer(POSITIONAL_ENCODING, json!({ "max_len": seq, "d_model": d_model, "kind": PositionKind::Sinusoidal })),
    ];
    layers.extend(blocks(TRANSFORMER_ENCODER_BLOCK, n_blocks, d_model, n_heads, d_ff, dropout));
    layers.push(layer("layer_norm", json!({ "normalized_shape": [d_model] })));
    layers.push(layer(SEQUENCE_POOL, json!({ "mode": "mean" })));
    layers.push(layer("dense", json!({ "n_inputs": d_model, "n_outputs": n_classes, "init": "xavier_uniform" })));
    sequential(vec![Dim::Fixed(seq), Dim::Fixed(features)], layers)
}

/// `strata train --preset transformer`: MNIST's rows as a sequence of 28
/// tokens of 28 pixels; 2 blocks, d_model 64, 4 heads, feed-forward 128,
/// dropout 0.1, mean pooling, 10 classes.
pub fn mnist_rows() -> Result<LayerSpec> {
    sequence_classifier(28, 28, 64, 4, 128, 2, 0.1, 10)
}

/// A token tagger: ids `[len]` embedded to `d_model`, learned positions,
/// `n_blocks` encoder blocks, a final layer norm, and logits over the
/// `vocab` ids at every position (sorting or reversing a sequence).
pub fn sequence_tagger(
    vocab: usize,
    len: usize,
    d_model: usize,
    n_heads: usize,
    d_ff: usize,
    n_blocks: usize,
) -> Result<LayerSpec> {
    let mut layers = vec![
        layer(EMBEDDING, json!({ "vocab_size": vocab, "d_model": d_model })),
        layer(POSITIONAL_ENCODING, json!({ "max_len": len, "d_model": d_model, "kind": PositionKind::Learned })),
    ];
    layers.extend(blocks(TRANSFORMER_ENCODER_BLOCK, n_blocks, d_model, n_heads, d_ff, 0.0));
    layers.push(layer("layer_norm", json!({ "normalized_shape": [d_model] })));
    layers.push(layer("dense", json!({ "n_inputs": d_model, "n_outputs": vocab, "init": "xavier_uniform" })));
    sequential(vec![Dim::Fixed(len)], layers)
}

/// A decoder-only (causal) language model: ids of any length up to
/// `max_len` embedded to `d_model`, learned positions, `n_blocks` decoder
/// blocks, a final layer norm, and next-id logits over the `vocab` at every
/// position.
pub fn language_model(
    vocab: usize,
    max_len: usize,
    d_model: usize,
    n_heads: usize,
    d_ff: usize,
    n_blocks: usize,
    dropout: f32,
) -> Result<LayerSpec> {
    let mut layers = vec![
        layer(EMBEDDING, json!({ "vocab_size": vocab, "d_model": d_model })),
        layer(POSITIONAL_ENCODING, json!({ "max_len": max_len, "d_model": d_model, "kind": PositionKind::Learned })),
    ];
    layers.extend(blocks(TRANSFORMER_DECODER_BLOCK, n_blocks, d_model, n_heads, d_ff, dropout));
    layers.push(layer("layer_norm", json!({ "normalized_shape": [d_model] })));
    layers.push(layer("dense", json!({ "n_inputs": d_model, "n_outputs": vocab, "init": "xavier_uniform" })));
    sequential(vec![Dim::Any], layers)
}
