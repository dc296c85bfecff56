//! The built-in callbacks, each with the behaviour Keras documents for its
//! namesake.

mod csv_logger;
mod early_stopping;
mod model_checkpoint;
mod reduce_lr;
mod terminate_on_nan;

pub use csv_logger::CsvLogger;
pub use early_stopping::EarlyStopping;
pub use model_checkpoint::{CheckpointSink, Every, ModelCheckpoint};
pub use reduce_lr::ReduceLrOnPlateau;
pub use terminate_on_nan::TerminateOnNaN;

use crate::callback::BoxError;
use serde::Serialize;

/// The error of a callback that `watches` (e.g. "monitors val_loss") a
/// validation figure when `fit` has no validation data.
pub(crate) fn require_validation(
    monitor: crate::Monitor,
    ctx: &crate::CallbackContext<'_>,
    watches: &str,
) -> crate::CallbackResult {
    if monitor.needs_validation() && !ctx.has_validation() {
        return Err(format!("it {watches} {} but fit has no validation data", monitor.name()).into());
    }
    Ok(())
}

/// A state for a callback's [`crate::Callback::state`].
pub(crate) fn to_state(value: &impl Serialize) -> Option<serde_json::Value> {
    serde_json::to_value(value).ok()
}

/// Parse a callback's state.
pub(crate) fn from_state<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, BoxError> {
    Ok(serde_json::from_value(value)?)
}
