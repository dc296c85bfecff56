use crate::callback::{BatchLogs, Callback, CallbackContext, CallbackResult, NonFinite};

/// Stop training when a batch's loss (or a gradient) is NaN or infinite
/// (Keras's `TerminateOnNaN`).
///
/// Strata never applies such a batch's update, so the model keeps the
/// weights it had before it. Without this callback `fit` fails with
/// [`crate::TrainingError::NonFiniteLoss`]; with it, `fit` returns the
/// history (the partial epoch included) with the reason in
/// [`crate::History::stopped`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminateOnNaN;

impl Callback for TerminateOnNaN {
    fn name(&self) -> &str {
        "terminate_on_nan"
    }

    fn on_batch_end(&mut self, ctx: &mut CallbackContext<'_>, logs: &BatchLogs) -> CallbackResult {
        if let Some(what) = logs.non_finite {
            let what = match what {
                NonFinite::Loss => format!("the loss was {}", logs.loss),
                NonFinite::Gradient => "a gradient was not finite".to_string(),
            };
            ctx.stop_training(format!(
                "{what} at epoch {}, batch {}; that batch's update was not applied",
                logs.epoch, logs.batch
            ));
        }
        Ok(())
    }
}
