//! [`Observer`]: the callback that watches a run for the diagnosis: the loss
//! at initialisation and of every batch, each parameter's update-to-weight
//! ratio, and the dead and saturated units of every activation layer on a
//! probe batch.

use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, PoisonError};
use strata_activation::ActivationKind;
use strata_layers::{ActivationLayer, Layer, Mode};
use strata_tensor::{ParamVisitor, Tensor};
use strata_training::{BatchLogs, Callback, CallbackContext, CallbackResult, EpochRecord};

/// A unit of a ReLU-like layer is dead when it is never above this on the
/// probe batch.
const ACTIVE_ABOVE: f32 = 0.0;
/// A sigmoid output closer than this to 0 or 1 (a tanh output to -1 or 1)
/// is saturated: its local gradient is below about 1%.
const SATURATION_MARGIN: f32 = 0.01;

/// What an activation layer's units did on the probe batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivationStats {
    /// The layer's dotted path in the model (`relu_1`, `residual_3.sigmoid_1`).
    pub layer: String,
    /// Its activation (`relu`, `sigmoid`, ...).
    pub activation: String,
    /// Units: features of the last axis, or channels of an image `[N, C, H, W]`.
    pub units: usize,
    /// ReLU-like layers: the share of units never active on the probe batch.
    pub dead_share: Option<f32>,
    /// Sigmoid and tanh: the share of outputs within 1% of the bounds.
    pub saturated_share: Option<f32>,
}

/// One batch: where, its loss and its learning rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BatchPoint {
    /// Epoch, from 1.
    pub epoch: usize,
    /// Batch in the epoch, from 1.
    pub batch: usize,
    /// The batch's loss (before its update; may be NaN).
    pub loss: f32,
    /// The learning rate of its update.
    pub learning_rate: f32,
}

/// Everything an [`Observer`] saw (serializable: it travels in snapshots).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observations {
    /// The loss of the first batch, before any update.
    pub initial_loss: Option<f32>,
    /// The first batch whose loss or gradient was not finite.
    pub non_finite: Option<BatchPoint>,
    /// Per epoch: each parameter's `|Δw| / |w|` over the epoch's first update.
    pub update_ratios: Vec<Vec<(String, f32)>>,
    /// Per epoch: the activation layers on the probe batch after the epoch.
    pub activations: Vec<Vec<ActivationStats>>,
}

/// A shared view of an [`Observer`]'s observations, readable after the
/// observer moved into a trainer.
#[derive(Debug, Clone, Default)]
pub struct ObservationsHandle(Arc<Mutex<Observations>>);

impl ObservationsHandle {
    /// A copy of what was observed so far.
    pub fn get(&self) -> Observations {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Observations) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The callback that gathers the [`Observations`] the diagnosis needs.
/// Training with it is bit-identical to training without it: it reads the
/// weights, and runs the probe batch in evaluation mode between epochs.
///
/// ```
/// use strata_report::Observer;
/// use strata_tensor::Tensor;
/// let observer = Observer::new(Some(Tensor::zeros(&[4, 2])));
/// let handle = observer.handle(); // read it after `fit`: handle.get()
/// # let _ = handle;
/// ```
#[derive(Debug)]
pub struct Observer {
    probe: Option<Tensor>,
    before: Vec<Tensor>,
    shared: ObservationsHandle,
}

impl Observer {
    /// An observer that measures activations on `probe` (a batch of inputs,
    /// preprocessed as the training data; a few hundred validation samples
    /// are plenty), or not at all when `None`.
    pub fn new(probe: Option<Tensor>) -> Observer {
        Observer { probe, before: Vec::new(), shared: ObservationsHandle::default() }
    }

    /// The observations, to read after the observer moved into a trainer.
    pub fn handle(&self) -> ObservationsHandle {
        self.shared.clone()
    }
}

impl Callback for Observer {
    fn on_batch_begin(&mut self, ctx: &mut CallbackContext<'_>, batch: usize) -> CallbackResult {
        if batch == 1 {
            copy_values(ctx.model(), &mut self.before);
        }
        Ok(())
    }

    fn on_batch_end(&mut self, ctx: &mut CallbackContext<'_>, logs: &BatchLogs) -> CallbackResult {
        let point =
            BatchPoint { epoch: logs.epoch, batch: logs.batch, loss: logs.loss, learning_rate: logs.learning_rate };
        let ratios = (logs.batch == 1 && logs.non_finite.is_none()).then(|| update_ratios(ctx.model(), &self.before));
        self.shared.with(|o| {
            if o.initial_loss.is_none() {
                o.initial_loss = Some(logs.loss);
            }
            if logs.non_finite.is_some() && o.non_finite.is_none() {
                o.non_finite = Some(point);
            }
            if let Some(ratios) = ratios {
                o.update_ratios.push(ratios);
            }
        });
        Ok(())
    }

    fn on_epoch_end(&mut self, ctx: &mut CallbackContext<'_>, _record: &EpochRecord) -> CallbackResult {
        if let Some(probe) = &self.probe {
            let stats = activation_stats(ctx.model(), probe)?;
            self.shared.with(|o| o.activations.push(stats));
        }
        Ok(())
    }

    fn state(&self) -> Option<serde_json::Value> {
        serde_json::to_value(self.shared.get()).ok()
    }

    fn load_state(&mut self, state: serde_json::Value) -> CallbackResult {
        let restored: Observations = serde_json::from_value(state)?;
        self.shared.with(|o| *o = restored);
        Ok(())
    }
}

/// Copy every trainable parameter's value into `into`, in visiting order,
/// reusing its tensors (no allocation after the first epoch).
fn copy_values(model: &mut dyn Layer, into: &mut Vec<Tensor>) {
    let mut path = String::new();
    let mut i = 0;
    let mut f = |p: strata_tensor::ParamRef<'_>| {
        if p.grad.is_some() {
            if i == into.len() {
                into.push(Tensor::default());
            }
            into[i].copy_from(p.value);
            i += 1;
        }
    };
    model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    into.truncate(i);
}

/// `|w - before| / |w|` of every trainable parameter (0 for a zero weight).
fn update_ratios(model: &mut dyn Layer, before: &[Tensor]) -> Vec<(String, f32)> {
    let mut out = Vec::new();
    let mut path = String::new();
    let mut i = 0;
    let mut f = |p: strata_tensor::ParamRef<'_>| {
        if p.grad.is_none() {
            return;
        }
        if let Some(old) = before.get(i).filter(|old| old.len() == p.value.len()) {
            let (mut diff, mut norm) = (0f64, 0f64);
            for (&new, &old) in p.value.data().iter().zip(old.data()) {
                diff += f64::from(new - old).powi(2);
                norm += f64::from(new).powi(2);
            }
            let ratio = if norm > 0.0 { (diff / norm).sqrt() } else { 0.0 };
            out.push((p.name.to_string(), ratio as f32));
        }
        i += 1;
    };
    model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    out
}

/// Run `probe` through the model (evaluation mode) and measure every
/// activation layer found through [`Layer::children`].
pub fn activation_stats(
    model: &mut dyn Layer,
    probe: &Tensor,
) -> Result<Vec<ActivationStats>, strata_layers::LayerError> {
    model.forward(probe, Mode::Eval)?;
    let mut out = Vec::new();
    collect(model, "", &mut out);
    Ok(out)
}

fn collect(layer: &dyn Layer, path: &str, out: &mut Vec<ActivationStats>) {
    if let Some(act) = layer.as_any().and_then(|a| a.downcast_ref::<ActivationLayer>()) {
        if let Some(stats) = measure(path, act.activation(), act.last_output()) {
            out.push(stats);
        }
        return;
    }
    for (name, child) in layer.children() {
        let child_path = if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
        collect(child, &child_path, out);
    }
}

/// The statistics of one activation's output, when it has a unit axis.
fn measure(path: &str, activation: ActivationKind, output: &Tensor) -> Option<ActivationStats> {
    let shape = output.shape();
    if shape.len() < 2 || output.is_empty() {
        return None;
    }
    // Units: channels of [N, C, H, W], else the last axis.
    let (units, stride) =
        if shape.len() >= 4 { (shape[1], shape[2..].iter().product()) } else { (shape[shape.len() - 1], 1) };
    let unit_of = |i: usize| (i / stride) % units;
    let data = output.data();
    let (dead_share, saturated_share) = match activation {
        ActivationKind::Relu | ActivationKind::LeakyRelu { .. } | ActivationKind::Gelu | ActivationKind::GeluErf => {
            let mut active = vec![false; units];
            for (i, &v) in data.iter().enumerate() {
                if v > ACTIVE_ABOVE {
                    active[unit_of(i)] = true;
                }
            }
            let dead = active.iter().filter(|a| !**a).count();
            (Some(dead as f32 / units as f32), None)
        }
        ActivationKind::Sigmoid | ActivationKind::Tanh => {
            let low = if activation == ActivationKind::Sigmoid { 0.0 } else { -1.0 };
            let near = |v: f32| v - low < SATURATION_MARGIN || 1.0 - v < SATURATION_MARGIN;
            let saturated = data.iter().filter(|&&v| near(v)).count();
            (None, Some(saturated as f32 / data.len() as f32))
        }
        _ => return None,
    };
    Some(ActivationStats {
        layer: path.to_string(),
        activation: activation.name().to_string(),
        units,
        dead_share,
        saturated_share,
    })
}
