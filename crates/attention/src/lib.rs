//! # strata-attention
//!
//! Layers for sequences: [`Embedding`] (token ids to vectors),
//! [`PositionalEncoding`] (sinusoidal or learned), [`MultiHeadAttention`]
//! (self-attention with causal and key-padding masks and attention dropout,
//! PyTorch's maths and shapes), [`TransformerBlock`] (pre-norm attention and
//! feed-forward around residual connections, encoder or causal decoder) and
//! [`SequencePool`] (mean or first position); [`register`] adds their kinds to
//! a [`Registry`]. [`presets`] builds the transformer of MNIST rows and a
//! character-level language model; [`generate`] samples from a language
//! model; [`heatmap_png`] draws attention weights.
//!
//! **The design decision:** a sequence is a leading axis like the batch.
//! Every layer here takes `[batch, .., sequence, d_model]` and everything
//! position-wise (the projections, the feed-forward block, layer norm)
//! treats `batch * sequence` as rows of one product; only attention mixes
//! positions, through the batched GEMM that reads each head of `[batch,
//! sequence, heads * d_head]` in place, with no copy per head and no
//! allocation once warm. Token ids are `f32` tensors of exact integers, so
//! data, batching and the trainer need nothing new.
//!
//! ```
//! use strata_layers::{Layer, LayerSpec, Mode, Registry};
//! use strata_tensor::{StrataRng, Tensor};
//!
//! let mut registry = Registry::with_builtins();
//! strata_normalization::register(&mut registry)?;
//! strata_attention::register(&mut registry)?;
//! // A causal language model: 12 ids, sequences of any length up to 16.
//! let spec = strata_attention::presets::language_model(12, 16, 32, 4, 64, 2, 0.0)?;
//! let mut model = registry.build(&spec, &mut StrataRng::seed_from_u64(0))?;
//! let ids = Tensor::from_vec(&[2, 5], vec![1., 5., 3., 0., 0., 1., 2., 2., 7., 11.])?;
//! let logits = model.forward(&ids, Mode::Eval)?;
//! assert_eq!(logits.shape(), &[2, 5, 12]); // next-id logits at every position
//! # Ok::<(), strata_layers::LayerError>(())
//! ```
#![warn(missing_docs)]

mod attention;
mod block;
mod embedding;
mod generate;
mod heatmap;
mod pooling;
mod positional;
pub mod presets;
mod shape;

pub use attention::{MULTI_HEAD_ATTENTION, MultiHeadAttention, MultiHeadAttentionConfig, attention_layers};
pub use block::{TRANSFORMER_DECODER_BLOCK, TRANSFORMER_ENCODER_BLOCK, TransformerBlock, TransformerBlockConfig};
pub use embedding::{EMBEDDING, Embedding, EmbeddingConfig};
pub use generate::{GENERATE_BATCH, Sampling, generate, generate_from};
pub use heatmap::{MAX_MAP_SIDE, heatmap_png};
pub use pooling::{PoolMode, SEQUENCE_POOL, SequencePool, SequencePoolConfig};
pub use positional::{POSITIONAL_ENCODING, PositionKind, PositionalEncoding, PositionalEncodingConfig};

use strata_layers::{Layer, Registry, Result};

/// The layer kinds this crate registers.
pub const KINDS: [&str; 6] = [
    EMBEDDING,
    POSITIONAL_ENCODING,
    MULTI_HEAD_ATTENTION,
    TRANSFORMER_ENCODER_BLOCK,
    TRANSFORMER_DECODER_BLOCK,
    SEQUENCE_POOL,
];

/// A seed drawn from the builder's generator when a config leaves it 0, so
/// that the dropout masks of a model follow its seed.
fn seed_or(seed: u64, rng: &mut strata_tensor::StrataRng) -> u64 {
    if seed == 0 { rng.next_u64() } else { seed }
}

/// Add this crate's kinds to `registry` ([`KINDS`]); a kind already there is
/// a [`strata_layers::LayerError::DuplicateKind`].
///
/// ```
/// let mut registry = strata_layers::Registry::with_builtins();
/// strata_attention::register(&mut registry)?;
/// assert_eq!(registry.provider("multi_head_attention"), Some("strata-attention"));
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
pub fn register(registry: &mut Registry) -> Result<()> {
    let provider = env!("CARGO_PKG_NAME");
    registry.register_from(provider, EMBEDDING, |spec, _, rng| Ok(Box::new(Embedding::new(spec.config()?, rng)?)))?;
    registry.register_from(provider, POSITIONAL_ENCODING, |spec, _, rng| {
        Ok(Box::new(PositionalEncoding::new(spec.config()?, rng)?))
    })?;
    registry.register_from(provider, MULTI_HEAD_ATTENTION, |spec, _, rng| {
        Ok(Box::new(MultiHeadAttention::new(spec.config()?, rng)?))
    })?;
    let block: strata_layers::LayerBuilder = |spec, _, rng| {
        let mut config: TransformerBlockConfig = spec.config()?;
        config.causal = spec.kind == TRANSFORMER_DECODER_BLOCK;
        Ok(Box::new(TransformerBlock::new(config, rng)?) as Box<dyn Layer>)
    };
    registry.register_from(provider, TRANSFORMER_ENCODER_BLOCK, block)?;
    registry.register_from(provider, TRANSFORMER_DECODER_BLOCK, block)?;
    registry.register_from(provider, SEQUENCE_POOL, |spec, _, _| Ok(Box::new(SequencePool::new(spec.config()?))))?;
    Ok(())
}
