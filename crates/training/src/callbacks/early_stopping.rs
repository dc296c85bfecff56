use super::{from_state, to_state};
use crate::callback::{Callback, CallbackContext, CallbackResult};
use crate::history::{EpochRecord, Monitor};
use serde::{Deserialize, Serialize};
use strata_layers::{load_state_dict, state_dict};
use strata_tensor::Tensor;

/// Stop training when a monitored quantity has stopped improving (Keras's
/// `EarlyStopping`, same fields and defaults).
///
/// After each epoch (from `start_from_epoch` on, counted from 0 within the
/// `fit` call), the monitored value counts as an improvement when it beats
/// the best so far by more than `min_delta`. `patience` epochs without one
/// stop training (never after the call's first epoch). With
/// `restore_best_weights`, the model gets the best epoch's weights back when
/// training ends, stopped or not. With a `baseline`, the wait only restarts
/// for values that also beat the baseline.
///
/// A monitor on validation figures with no validation data is an error at
/// the start of `fit`, not a silent no-op.
///
/// ```
/// use strata_training::{EarlyStopping, Monitor};
/// let es = EarlyStopping::new(3).with_monitor(Monitor::ValLoss).restore_best_weights(true);
/// assert_eq!((es.patience, es.min_delta, es.restore_best_weights), (3, 0.0, true));
/// ```
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    /// The quantity watched (default `val_loss`).
    pub monitor: Monitor,
    /// Smallest change that counts as an improvement (default 0).
    pub min_delta: f32,
    /// Epochs without improvement before stopping (Keras's default 0).
    pub patience: usize,
    /// A value the monitor must beat for the wait to restart.
    pub baseline: Option<f32>,
    /// Restore the best epoch's weights at the end of training (default false).
    pub restore_best_weights: bool,
    /// Epochs of each `fit` call to let pass before watching (default 0).
    pub start_from_epoch: usize,
    state: State,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    wait: usize,
    best: Option<f32>,
    best_epoch: usize,
    /// Epochs seen in this `fit` call.
    seen: usize,
    best_weights: Option<Vec<(String, Tensor)>>,
}

impl EarlyStopping {
    /// Watch `val_loss` with this patience; every other field at Keras's default.
    pub fn new(patience: usize) -> Self {
        EarlyStopping {
            monitor: Monitor::ValLoss,
            min_delta: 0.0,
            patience,
            baseline: None,
            restore_best_weights: false,
            start_from_epoch: 0,
            state: State::default(),
        }
    }

    /// Watch another quantity.
    pub fn with_monitor(mut self, monitor: Monitor) -> Self {
        self.monitor = monitor;
        self
    }

    /// Another `min_delta`.
    pub fn with_min_delta(mut self, min_delta: f32) -> Self {
        self.min_delta = min_delta;
        self
    }

    /// Restore the best weights at the end.
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best_weights = restore;
        self
    }

    /// A baseline to beat.
    pub fn with_baseline(mut self, baseline: f32) -> Self {
        self.baseline = Some(baseline);
        self
    }

    /// The epoch (from 1) with the best monitored value so far, if any.
    pub fn best_epoch(&self) -> Option<usize> {
        self.state.best.map(|_| self.state.best_epoch)
    }

    fn is_improvement(&self, value: f32, reference: Option<f32>) -> bool {
        reference.is_none_or(|r| self.monitor.improves(value, r, self.min_delta))
    }
}

impl Callback for EarlyStopping {
    fn name(&self) -> &str {
        "early_stopping"
    }

    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> CallbackResult {
        super::require_validation(self.monitor, ctx, "monitors")?;
        if !ctx.resuming() {
            self.state = State::default();
        } else if let Some(weights) = &self.state.best_weights {
            check_best_weights(ctx.model(), weights)?;
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, ctx: &mut CallbackContext<'_>, record: &EpochRecord) -> CallbackResult {
        self.state.seen = self.state.seen.saturating_add(1);
        let index = self.state.seen - 1;
        let Some(current) = record.monitored(self.monitor) else { return Ok(()) };
        if index < self.start_from_epoch {
            return Ok(());
        }
        self.state.wait = self.state.wait.saturating_add(1);
        if self.is_improvement(current, self.state.best) {
            self.state.best = Some(current);
            self.state.best_epoch = record.epoch;
            if self.restore_best_weights {
                self.state.best_weights = Some(state_dict(ctx.model()));
            }
            if self.is_improvement(current, self.baseline) {
                self.state.wait = 0;
            }
            return Ok(());
        }
        if self.state.wait >= self.patience && index > 0 {
            ctx.stop_training(format!(
                "{} has not improved for {} epochs (best {} at epoch {})",
                self.monitor.name(),
                self.state.wait,
                self.state.best.map_or_else(|| "none".to_string(), |b| format!("{b:.4}")),
                self.state.best_epoch
            ));
        }
        Ok(())
    }

    fn on_train_end(&mut self, ctx: &mut CallbackContext<'_>) -> CallbackResult {
        if let (true, Some(weights)) = (self.restore_best_weights, &self.state.best_weights) {
            load_state_dict(ctx.model(), weights)?;
            ctx.set_best_epoch(self.state.best_epoch);
        }
        Ok(())
    }

    fn state(&self) -> Option<serde_json::Value> {
        to_state(&self.state)
    }

    fn load_state(&mut self, state: serde_json::Value) -> CallbackResult {
        let state: State = from_state(state)?;
        if state.wait > state.seen {
            return Err(format!("it has waited {} epochs of the {} it has seen", state.wait, state.seen).into());
        }
        let non_finite = |(name, t): &(String, Tensor)| {
            strata_tensor::first_failing(t.data(), f32::is_finite).map(|(index, value)| (name.clone(), index, value))
        };
        if let Some((name, index, value)) = state.best_weights.iter().flatten().find_map(non_finite) {
            return Err(format!("its best weights hold {value} in '{name}' at index {index}").into());
        }
        self.state = state;
        Ok(())
    }
}

/// The saved best weights are the model's tensors, by name and shape
/// ([`strata_layers::check_state_dict`]): else restoring them at the end of
/// the resumed run would fail after all its epochs.
fn check_best_weights(model: &mut dyn strata_layers::Layer, weights: &[(String, Tensor)]) -> CallbackResult {
    use strata_layers::LayerError;
    let Err(e) = strata_layers::check_state_dict(model, weights) else { return Ok(()) };
    Err(match e {
        LayerError::WeightShape { name, expected, actual } => {
            format!("its best weights hold '{name}' of shape {actual:?}, the model's is {expected:?}")
        }
        LayerError::MissingWeight { name } => format!("its best weights lack the model's tensor '{name}'"),
        LayerError::UnexpectedWeight { name } => {
            format!("its best weights hold '{name}', which is not a tensor of the model")
        }
        other => format!("its best weights do not fit the model: {other}"),
    }
    .into())
}
