//! The complete state of training: [`TrainerState`] (counters, streams, the
//! position inside an epoch, history, callback states) and [`Snapshot`]
//! (that, the model's weights and counters, and the optimizer).

use crate::history::History;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use strata_layers::{Layer, LayerError, LayerSpec, Registry, load_counters, load_state_dict};
use strata_optimizer::AnyOptimizer;
use strata_tensor::{StrataRng, Tensor};

/// Where training stands: with the model's tensors and counters and the
/// optimizer (a [`Snapshot`]), enough to resume bit-exactly, also from the
/// middle of an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Epochs completed, over every `fit` call.
    pub epoch: usize,
    /// Optimizer steps taken (the schedule's position).
    pub step: usize,
    /// The shuffling stream, positioned where the next epoch's shuffle
    /// starts (inside an epoch: where that epoch's shuffle started, so that
    /// a resumed epoch visits the same order).
    pub rng: StrataRng,
    /// The schedule's base learning rate (a plateau callback lowers it).
    pub base_lr: f32,
    /// Every epoch trained, over every `fit` call.
    pub history: History,
    /// The `fit` call in progress: present in a snapshot taken during
    /// training, so that `fit` on a restored trainer finishes that call.
    pub run: Option<RunState>,
}

/// A `fit` call in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// The call's first epoch (from 1).
    pub first_epoch: usize,
    /// The call's last epoch.
    pub last_epoch: usize,
    /// The position inside the current epoch, between two batches.
    pub position: Option<EpochPosition>,
}

/// The position inside an epoch, and the epoch's figures so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochPosition {
    /// Batches done in this epoch.
    pub batches: usize,
    /// Sum over the batches of the loss times its number of terms.
    pub loss_sum: f64,
    /// Sum of the terms (the denominator of the mean loss).
    pub terms: f64,
    /// Right predictions so far, and predictions counted (`None` once a
    /// batch had no accuracy).
    pub correct: Option<(usize, usize)>,
    /// Per-parameter sums of gradient norms over the steps.
    pub grad_norms: Vec<(String, f64)>,
    /// Learning rate of the last step.
    pub learning_rate: f32,
    /// Wall-clock seconds spent in this epoch so far.
    pub seconds: f64,
}

impl EpochPosition {
    /// A fresh epoch.
    pub(crate) fn start(learning_rate: f32) -> Self {
        EpochPosition { correct: Some((0, 0)), learning_rate, ..EpochPosition::default() }
    }
}

/// Everything needed to continue training exactly: the model's tensors and
/// counters, the optimizer with its state, and the trainer's state.
///
/// ```
/// use strata_training::Snapshot;
/// fn is_serializable<T: serde::Serialize + serde::de::DeserializeOwned>() {}
/// is_serializable::<Snapshot>();
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// The model's architecture with its configuration (dropout seeds
    /// included), when its layers can describe themselves: what a fresh
    /// model is built from ([`Snapshot::build_model`]).
    pub spec: Option<LayerSpec>,
    /// Every parameter and buffer of the model, by name.
    pub weights: Vec<(String, Tensor)>,
    /// Every counter of the model (dropout calls, batch-norm batches), by name.
    pub counters: Vec<(String, u64)>,
    /// The optimizer: hyper-parameters and per-parameter state.
    pub optimizer: AnyOptimizer,
    /// The trainer's state.
    pub state: TrainerState,
    /// Each callback's state ([`crate::Callback::state`]), by callback name.
    pub callbacks: BTreeMap<String, serde_json::Value>,
}

impl Snapshot {
    /// A fresh model as the snapshot holds it: built from its spec with
    /// `registry`, then given its weights and counters (hand it and the
    /// snapshot to [`crate::Trainer::restore`] to continue training).
    pub fn build_model(&self, registry: &Registry) -> strata_layers::Result<Box<dyn Layer>> {
        let spec = self.spec.as_ref().ok_or_else(|| LayerError::NotSerializable { layer: "snapshot".into() })?;
        let mut model = registry.build(spec, &mut StrataRng::seed_from_u64(0))?;
        strata_layers::check_named(model.as_mut(), &self.weights)?;
        load_state_dict(model.as_mut(), &self.weights)?;
        load_counters(model.as_mut(), &self.counters)?;
        Ok(model)
    }
}
