//! # strata
//!
//! The facade of Strata, a neural-network library for small and medium
//! networks on CPUs. It only re-exports: depend on a single crate
//! (`strata-tensor`, `strata-layers`, ...) when that is all you need, or on
//! this one for everything, and `use strata::prelude::*`.
//!
//! | module | crate | what |
//! |---|---|---|
//! | [`tensor`] | `strata-tensor` | n-dimensional `f32` tensor, the GEMM entry point, seeded RNG, initialisers |
//! | [`activation`] | `strata-activation` | ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, Identity |
//! | [`loss`] | `strata-loss` | MSE, cross-entropy (with an ignore index) and binary cross-entropy from logits |
//! | [`optimizer`] | `strata-optimizer` | SGD, Adam, AdamW, RMSprop, schedules, clipping |
//! | [`layers`] | `strata-layers` | the `Layer` trait, Dense, Dropout, Flatten, Sequential, Residual, registry, state dicts |
//! | [`conv`] | `strata-conv` | Conv2d, MaxPool2d, AvgPool2d, GlobalAvgPool |
//! | [`normalization`] | `strata-normalization` | BatchNorm, LayerNorm |
//! | [`attention`] | `strata-attention` | Embedding, positional encodings, MultiHeadAttention, transformer blocks, sequence pooling, generation |
//! | [`data`] | `strata-data` | datasets, CSV/IDX loading, splits, normalisation, batches |
//! | [`training`] | `strata-training` | the fit loop, callbacks, gradient hooks, snapshots, evaluation |
//! | [`io`] | `strata-io` | model files and checkpoints (versioned, checksummed, atomic), safetensors in PyTorch's layout |
//! | [`model`] | `strata-model` | the `Model` users save and load (network, preprocessing, class names), the default registry |
//! | [`report`] | `strata-report` | learning curves and gradient figures, the diagnosis in plain words, `doctor`, `lr_find` |
//! | `distributed` (feature `distributed`) | `strata-distributed` | data-parallel training over MPI: sharding, bucketed gradient all-reduce, rank 0's weights broadcast |
//!
//! [`registry()`] knows every layer kind of every crate above; a third-party
//! layer crate adds its own with its `register` function.
//!
//! ```
//! use strata::prelude::*;
//!
//! let x = Tensor::from_vec(&[4, 2], vec![0., 0., 0., 1., 1., 0., 1., 1.])?;
//! let data = InMemoryDataset::from_labels(x, &[0, 1, 1, 0])?;
//! let spec = presets::mlp(&[2, 16, 2], ActivationKind::Tanh, 0.0)?;
//! let mut model = Model::from_spec(&spec, 3)?;
//! let config = FitConfig { epochs: 300, batch_size: 4, progress: Progress::Silent, ..FitConfig::default() };
//! let mut trainer = Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name("adam", 0.05)?)?;
//! trainer.fit(model.network_mut(), &data, None)?;
//! assert_eq!(model.predict(data.features())?, [0, 1, 1, 0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub use strata_activation as activation;
pub use strata_attention as attention;
pub use strata_conv as conv;
pub use strata_data as data;
#[cfg(feature = "distributed")]
pub use strata_distributed as distributed;
pub use strata_io as io;
pub use strata_layers as layers;
pub use strata_loss as loss;
pub use strata_model as model;
pub use strata_normalization as normalization;
pub use strata_optimizer as optimizer;
pub use strata_report as report;
pub use strata_tensor as tensor;
pub use strata_training as training;

pub use strata_model::registry;

/// The names most programs use: tensors and layers, every layer crate's
/// layers, losses, optimizers, loading CSV and IDX data, splits and scalers,
/// the trainer with its callbacks, and the model type.
pub mod prelude {
    pub use strata_activation::{Activation, ActivationKind};
    pub use strata_attention::{
        Embedding, EmbeddingConfig, MultiHeadAttention, MultiHeadAttentionConfig, PositionalEncoding,
        PositionalEncodingConfig, SequencePool, SequencePoolConfig, TransformerBlock, TransformerBlockConfig,
    };
    pub use strata_conv::{AvgPool2d, Conv2d, Conv2dConfig, GlobalAvgPool, MaxPool2d, Pool2dConfig};
    pub use strata_data::{
        BigramBaseline, CharVocab, CsvOptions, Dataset, InMemoryDataset, LabelColumn, MinMaxScaler, Normalizer, Split,
        StandardScaler, load_csv, load_idx_dataset, read_csv, split_three, train_test_split,
    };
    pub use strata_io::SavedModel;
    pub use strata_layers::{
        ActivationLayer, Dense, DenseConfig, Dim, Dropout, DropoutConfig, Flatten, Layer, LayerSpec, Mode, Registry,
        Residual, Sequential,
    };
    pub use strata_loss::{BinaryCrossEntropy, CrossEntropy, Loss, LossKind, MeanSquaredError};
    pub use strata_model::{Model, registry};
    pub use strata_normalization::{BatchNorm, BatchNormConfig, LayerNorm, LayerNormConfig};
    pub use strata_optimizer::{AnyOptimizer, Optimizer, OptimizerConfig, Schedule};
    pub use strata_tensor::{Init, StrataRng, Tensor};
    pub use strata_training::{
        Callback, CallbackContext, CsvLogger, EarlyStopping, FitConfig, History, ModelCheckpoint, Monitor, Progress,
        ReduceLrOnPlateau, Snapshot, TerminateOnNaN, Trainer, evaluate, presets,
    };
}

/// The README's example runs as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
