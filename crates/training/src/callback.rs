//! [`Callback`]: code that runs at the events of training (Keras's
//! callbacks), with a [`CallbackContext`] to read the state, touch the model,
//! change the learning rate, stop training or ask for a [`Snapshot`].

use crate::history::{EpochRecord, History};
use crate::state::{Snapshot, TrainerState};
use strata_layers::Layer;

/// The error a callback or a gradient hook returns: any error type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a callback method returns.
pub type CallbackResult = std::result::Result<(), BoxError>;

/// What one batch did, as callbacks see it at its end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchLogs {
    /// Epoch, counted from 1.
    pub epoch: usize,
    /// Batch within the epoch, counted from 1.
    pub batch: usize,
    /// Samples in the batch.
    pub size: usize,
    /// The batch's mean loss (before the update); NaN or infinite when
    /// `non_finite` says so.
    pub loss: f32,
    /// `(right, counted)` predictions, when the loss defines an accuracy.
    pub correct: Option<(usize, usize)>,
    /// The learning rate of the update.
    pub learning_rate: f32,
    /// Set when the loss or a gradient was not finite: the update was *not*
    /// applied. Unless a callback stops training (as [`crate::TerminateOnNaN`]
    /// does), `fit` then fails with the matching error.
    pub non_finite: Option<NonFinite>,
}

/// What was not finite in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonFinite {
    /// The loss.
    Loss,
    /// A gradient (after the gradient hooks).
    Gradient,
}

/// Code run at the events of training, in Keras's sense. Every method has a
/// default that does nothing; implement the events you need.
///
/// A callback with state that must survive a snapshot (a best value, a
/// counter) returns it from [`Callback::state`] and takes it back in
/// [`Callback::load_state`], keyed by [`Callback::name`], which must be
/// unique among a trainer's callbacks.
///
/// ```
/// use strata_training::{Callback, CallbackContext, CallbackResult, EpochRecord};
///
/// /// Stops as soon as the training loss is below a target.
/// struct StopBelow(f32);
///
/// impl Callback for StopBelow {
///     fn on_epoch_end(&mut self, ctx: &mut CallbackContext<'_>, record: &EpochRecord) -> CallbackResult {
///         if record.train_loss < self.0 {
///             ctx.stop_training(format!("the loss {} is below {}", record.train_loss, self.0));
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Callback: Send {
    /// The callback's name: its key in a snapshot's callback states, unique
    /// among a trainer's callbacks. Defaults to the type's name.
    fn name(&self) -> &str {
        let full = std::any::type_name::<Self>();
        full.rsplit("::").next().unwrap_or(full)
    }

    /// Before the first epoch of a `fit` call (also when it resumes one).
    fn on_train_begin(&mut self, _ctx: &mut CallbackContext<'_>) -> CallbackResult {
        Ok(())
    }

    /// Before an epoch's first batch.
    fn on_epoch_begin(&mut self, _ctx: &mut CallbackContext<'_>, _epoch: usize) -> CallbackResult {
        Ok(())
    }

    /// Before a batch (`batch` from 1).
    fn on_batch_begin(&mut self, _ctx: &mut CallbackContext<'_>, _batch: usize) -> CallbackResult {
        Ok(())
    }

    /// After a batch's update.
    fn on_batch_end(&mut self, _ctx: &mut CallbackContext<'_>, _logs: &BatchLogs) -> CallbackResult {
        Ok(())
    }

    /// After an epoch and its validation; the record is already in the history.
    fn on_epoch_end(&mut self, _ctx: &mut CallbackContext<'_>, _record: &EpochRecord) -> CallbackResult {
        Ok(())
    }

    /// After the last epoch of a `fit` call (also when a callback stopped it).
    fn on_train_end(&mut self, _ctx: &mut CallbackContext<'_>) -> CallbackResult {
        Ok(())
    }

    /// A snapshot this callback asked for with
    /// [`CallbackContext::request_snapshot`], taken once every callback has
    /// seen the event.
    fn on_snapshot(&mut self, _snapshot: &Snapshot) -> CallbackResult {
        Ok(())
    }

    /// The state to keep in a snapshot, as JSON (`None`: nothing to keep).
    fn state(&self) -> Option<serde_json::Value> {
        None
    }

    /// Take back what [`Callback::state`] returned.
    fn load_state(&mut self, _state: serde_json::Value) -> CallbackResult {
        Ok(())
    }
}

/// What the trainer asked of its callbacks during one event.
#[derive(Debug, Default)]
pub(crate) struct Control {
    /// A callback stopped training: its name and reason.
    pub stop: Option<(String, String)>,
    /// Callbacks (by index) that asked for a snapshot.
    pub snapshot_for: Vec<usize>,
    /// The callback being called.
    pub current: usize,
    pub has_validation: bool,
    /// The `fit` call continues one a snapshot was taken in.
    pub resuming: bool,
}

/// The trainer's side of a callback call: the model, the state, and the
/// requests a callback can make.
pub struct CallbackContext<'a> {
    pub(crate) model: &'a mut dyn Layer,
    pub(crate) state: &'a mut TrainerState,
    pub(crate) learning_rate: f32,
    pub(crate) control: &'a mut Control,
    pub(crate) name: &'a str,
}

impl std::fmt::Debug for CallbackContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackContext").field("epoch", &self.state.epoch).field("step", &self.state.step).finish()
    }
}

impl CallbackContext<'_> {
    /// The model being trained.
    pub fn model(&mut self) -> &mut dyn Layer {
        self.model
    }

    /// The trainer's state (callback states in it are those of the last snapshot).
    pub fn state(&self) -> &TrainerState {
        self.state
    }

    /// Every epoch trained so far.
    pub fn history(&self) -> &History {
        &self.state.history
    }

    /// The learning rate of the last update (or of the next, before any).
    pub fn learning_rate(&self) -> f32 {
        self.learning_rate
    }

    /// The schedule's base learning rate.
    pub fn base_learning_rate(&self) -> f32 {
        self.state.base_lr
    }

    /// Set the schedule's base learning rate (with a constant schedule, the
    /// learning rate itself) from the next update on.
    pub fn set_base_learning_rate(&mut self, lr: f32) {
        self.state.base_lr = lr;
    }

    /// Whether this `fit` call continues one that a restored [`Snapshot`] was
    /// taken in: a callback then keeps its restored state instead of
    /// starting afresh in [`Callback::on_train_begin`].
    pub fn resuming(&self) -> bool {
        self.control.resuming
    }

    /// Whether this `fit` call has validation data.
    pub fn has_validation(&self) -> bool {
        self.control.has_validation
    }

    /// Stop training after this event (Keras's `model.stop_training = True`):
    /// from a batch event, after that batch (the partial epoch is still
    /// validated and recorded); from an epoch event, after that epoch.
    pub fn stop_training(&mut self, reason: impl Into<String>) {
        if self.control.stop.is_none() {
            self.control.stop = Some((self.name.to_string(), reason.into()));
        }
    }

    /// Whether some callback asked to stop.
    pub fn stop_requested(&self) -> bool {
        self.control.stop.is_some()
    }

    /// Record the epoch whose weights the model now holds (after restoring
    /// the best weights).
    pub fn set_best_epoch(&mut self, epoch: usize) {
        self.state.history.best_epoch = Some(epoch);
    }

    /// Ask for a [`Snapshot`] of the whole training state as it is after this
    /// event; it arrives in [`Callback::on_snapshot`].
    pub fn request_snapshot(&mut self) {
        let i = self.control.current;
        if !self.control.snapshot_for.contains(&i) {
            self.control.snapshot_for.push(i);
        }
    }
}
