//! [`GradientHook`]: code between computing the gradients and applying the
//! update (a gradient all-reduce across processes lives here).

use crate::callback::BoxError;
use strata_layers::Layer;

/// Where a gradient hook is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepInfo {
    /// Epoch, counted from 1.
    pub epoch: usize,
    /// Batch within the epoch, counted from 1.
    pub batch: usize,
    /// Samples in this batch (the gradients are means over them).
    pub batch_size: usize,
    /// Optimizer steps taken before this one.
    pub step: usize,
}

/// One batch's figures as the epoch's record and the callbacks will see
/// them: what [`GradientHook::on_batch_figures`] may replace (with the sums
/// over every process of a distributed run).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchFigures {
    /// The batch's mean loss.
    pub loss: f32,
    /// The terms the loss is a mean over ([`strata_loss::Loss::n_terms`]).
    pub terms: usize,
    /// `(right, counted)` predictions, when the loss defines an accuracy.
    pub correct: Option<(usize, usize)>,
}

/// Runs after backward, before the non-finite check, gradient clipping and
/// the optimizer step: it may read and change every gradient (visit them
/// with [`Layer::visit_parameters`]). Data-parallel training sums the
/// gradients of every process here; all processes then check, clip and
/// update alike.
///
/// A closure `FnMut(&mut dyn Layer, &StepInfo) -> Result<(), BoxError>` is a hook:
///
/// ```
/// use strata_training::{BoxError, GradientHook, StepInfo};
/// use strata_layers::Layer;
/// // Halve every gradient.
/// let hook = |model: &mut dyn Layer, _: &StepInfo| -> Result<(), BoxError> {
///     let mut path = String::new();
///     let mut f = |p: strata_tensor::ParamRef<'_>| if let Some(g) = p.grad { g.scale_assign(0.5) };
///     model.visit_parameters(&mut strata_tensor::ParamVisitor::new(&mut path, &mut f));
///     Ok(())
/// };
/// fn takes(_: impl GradientHook) {}
/// takes(hook);
/// ```
pub trait GradientHook: Send {
    /// Called once per step with the model holding this batch's gradients.
    fn on_gradients(&mut self, model: &mut dyn Layer, info: &StepInfo) -> Result<(), BoxError>;

    /// Called once per step after the loss and before backward, with the
    /// batch's figures, which the hook may replace: a distributed hook
    /// turns this process's figures into the whole batch's, so that the
    /// non-finite check on the loss, the epoch's record and the callbacks
    /// see the same numbers in every process. Does nothing by default.
    fn on_batch_figures(&mut self, _figures: &mut BatchFigures, _info: &StepInfo) -> Result<(), BoxError> {
        Ok(())
    }

    /// A name for error messages. Defaults to the type's name.
    fn name(&self) -> &str {
        let full = std::any::type_name::<Self>();
        full.rsplit("::").next().unwrap_or(full)
    }
}

impl<F> GradientHook for F
where
    F: FnMut(&mut dyn Layer, &StepInfo) -> Result<(), BoxError> + Send,
{
    fn on_gradients(&mut self, model: &mut dyn Layer, info: &StepInfo) -> Result<(), BoxError> {
        self(model, info)
    }

    fn name(&self) -> &str {
        "closure"
    }
}
