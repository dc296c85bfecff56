use super::{from_state, to_state};
use crate::callback::{Callback, CallbackContext, CallbackResult};
use crate::history::{EpochRecord, Monitor};
use serde::{Deserialize, Serialize};

/// Lower the learning rate when a monitored quantity has stopped improving
/// (Keras's `ReduceLROnPlateau`, same fields and defaults).
///
/// After each epoch: outside a cooldown, an epoch that does not beat the
/// best by more than `min_delta` adds to the wait; after `patience` such
/// epochs the base learning rate is multiplied by `factor` (not below
/// `min_lr`), the wait restarts and a cooldown of `cooldown` epochs begins,
/// counted down at the start of each epoch's check (so, exactly as in Keras,
/// `cooldown - 1` epochs after a reduction do not count towards the wait). The schedule's base rate is what changes, so with a constant
/// schedule the learning rate itself.
///
/// ```
/// use strata_training::ReduceLrOnPlateau;
/// let r = ReduceLrOnPlateau::new();
/// assert_eq!((r.factor, r.patience, r.min_delta, r.cooldown, r.min_lr), (0.1, 10, 1e-4, 0, 0.0));
/// ```
#[derive(Debug, Clone)]
pub struct ReduceLrOnPlateau {
    /// The quantity watched (default `val_loss`).
    pub monitor: Monitor,
    /// Factor the learning rate is multiplied by, in `(0, 1)` (default 0.1).
    pub factor: f32,
    /// Epochs without improvement before lowering (default 10).
    pub patience: usize,
    /// Smallest change that counts as an improvement (default 1e-4).
    pub min_delta: f32,
    /// Epochs to wait after a reduction before counting again (default 0).
    pub cooldown: usize,
    /// Lower bound on the learning rate (default 0).
    pub min_lr: f32,
    state: State,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    wait: usize,
    cooldown_counter: usize,
    best: Option<f32>,
}

impl Default for ReduceLrOnPlateau {
    fn default() -> Self {
        ReduceLrOnPlateau::new()
    }
}

impl ReduceLrOnPlateau {
    /// Keras's defaults: `val_loss`, factor 0.1, patience 10, min_delta 1e-4.
    pub fn new() -> Self {
        ReduceLrOnPlateau {
            monitor: Monitor::ValLoss,
            factor: 0.1,
            patience: 10,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            state: State::default(),
        }
    }

    /// Watch another quantity.
    pub fn with_monitor(mut self, monitor: Monitor) -> Self {
        self.monitor = monitor;
        self
    }

    /// Another factor.
    pub fn with_factor(mut self, factor: f32) -> Self {
        self.factor = factor;
        self
    }

    /// Another patience.
    pub fn with_patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// Another cooldown.
    pub fn with_cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Another lower bound.
    pub fn with_min_lr(mut self, min_lr: f32) -> Self {
        self.min_lr = min_lr;
        self
    }
}

impl Callback for ReduceLrOnPlateau {
    fn name(&self) -> &str {
        "reduce_lr_on_plateau"
    }

    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> CallbackResult {
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return Err(format!("factor must lie in (0, 1), got {}", self.factor).into());
        }
        super::require_validation(self.monitor, ctx, "monitors")?;
        if !ctx.resuming() {
            self.state = State::default();
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, ctx: &mut CallbackContext<'_>, record: &EpochRecord) -> CallbackResult {
        let Some(current) = record.monitored(self.monitor) else { return Ok(()) };
        if self.state.cooldown_counter > 0 {
            self.state.cooldown_counter -= 1;
            self.state.wait = 0;
        }
        // As Keras: the cooldown is looked at again after the count-down, so
        // `cooldown` epochs after a reduction, `cooldown - 1` do not count.
        if self.state.best.is_none_or(|best| self.monitor.improves(current, best, self.min_delta)) {
            self.state.best = Some(current);
            self.state.wait = 0;
        } else if self.state.cooldown_counter == 0 {
            self.state.wait = self.state.wait.saturating_add(1);
            if self.state.wait >= self.patience {
                let old = ctx.base_learning_rate();
                if old > self.min_lr {
                    ctx.set_base_learning_rate((old * self.factor).max(self.min_lr));
                    self.state.cooldown_counter = self.cooldown;
                    self.state.wait = 0;
                }
            }
        }
        Ok(())
    }

    fn state(&self) -> Option<serde_json::Value> {
        to_state(&self.state)
    }

    fn load_state(&mut self, state: serde_json::Value) -> CallbackResult {
        self.state = from_state(state)?;
        Ok(())
    }
}
