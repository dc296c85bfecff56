//! What a snapshot must satisfy before [`crate::Trainer::restore`] takes
//! it: a file that passes its checksum can still contradict itself (edited,
//! or written by other code), and each contradiction would train on from a
//! state no run reaches: for ever, from moments reset in silence, or with
//! figures that cannot be (an accuracy above 100%).

use crate::error::{Result, TrainingError};
use crate::state::{EpochPosition, Snapshot, TrainerState};
use std::collections::BTreeMap;
use strata_layers::Layer;
use strata_optimizer::AnyOptimizer;
use strata_tensor::ParamVisitor;

/// Every check, in the order a reader would make them.
pub(crate) fn check_snapshot(model: &mut dyn Layer, snapshot: &Snapshot, epochs: usize) -> Result<()> {
    let state = &snapshot.state;
    check_run(state, epochs)?;
    check_history(state)?;
    check_weights(model, snapshot)?;
    check_counters(state)?;
    let trainable = trainable_names(model);
    if let Some(position) = state.run.as_ref().and_then(|r| r.position.as_ref()) {
        check_position(position, &trainable)?;
    }
    check_optimizer(&snapshot.optimizer, state.step, &trainable)
}

fn refuse(why: String) -> Result<()> {
    Err(TrainingError::Restore(why))
}

/// A snapshot taken inside a `fit` call holds that call's epochs: they must
/// be this trainer's [`crate::FitConfig::epochs`], and the snapshot's epoch one of
/// them (a file that says otherwise would train on for ever, or from
/// nowhere).
fn check_run(state: &TrainerState, epochs: usize) -> Result<()> {
    let Some(run) = &state.run else { return Ok(()) };
    let length = run.last_epoch.checked_sub(run.first_epoch).and_then(|n| n.checked_add(1));
    let inside =
        run.first_epoch >= 1 && state.epoch.saturating_add(1) >= run.first_epoch && state.epoch <= run.last_epoch;
    if length != Some(epochs) || !inside {
        return refuse(format!(
            "it was taken in a fit call of epochs {} to {} at epoch {}; this trainer runs {epochs} epochs a call",
            run.first_epoch, run.last_epoch, state.epoch
        ));
    }
    Ok(())
}

/// The history holds a record for each epoch trained, numbered one after the
/// other up to the trainer's epoch count (it may start later: a window of a
/// long run, never a gap or an emptied list): a report, early stopping and
/// `History::best_epoch` read it.
fn check_history(state: &TrainerState) -> Result<()> {
    let records = &state.history.epochs;
    if let Some(pair) = records.windows(2).find(|w| w[0].epoch.checked_add(1) != Some(w[1].epoch)) {
        return refuse(format!("its history records epoch {} after epoch {}", pair[1].epoch, pair[0].epoch));
    }
    match records.last() {
        None if state.epoch > 0 => {
            refuse(format!("its history holds no epoch, but it counts {} epochs trained", state.epoch))
        }
        Some(last) if last.epoch != state.epoch => {
            refuse(format!("its history ends at epoch {}, but it counts {} epochs trained", last.epoch, state.epoch))
        }
        _ => Ok(()),
    }
}

/// Finite weights (a training that met a non-finite loss stopped before it
/// wrote one), running variances at least 0.
fn check_weights(model: &mut dyn Layer, snapshot: &Snapshot) -> Result<()> {
    strata_layers::check_named(model, &snapshot.weights).or_else(|e| refuse(format!("its {e}")))
}

/// The base learning rate, the epoch early stopping restored, the stream.
fn check_counters(state: &TrainerState) -> Result<()> {
    if !(state.base_lr.is_finite() && state.base_lr >= 0.0) {
        return refuse(format!("its base learning rate is {}, not a finite number of at least 0", state.base_lr));
    }
    let records = &state.history.epochs;
    if let Some(best) = state.history.best_epoch.filter(|&b| !records.iter().any(|r| r.epoch == b)) {
        let held = match (records.first(), records.last()) {
            (Some(first), Some(last)) => format!("holds epochs {} to {}", first.epoch, last.epoch),
            _ => "holds no epoch".to_string(),
        };
        return refuse(format!("its history names epoch {best} the best, but {held}"));
    }
    if state.rng.is_degenerate() {
        return refuse("its random stream's state is all zeros, from which the generator gives only zeros".into());
    }
    Ok(())
}

/// The figures of the epoch in progress.
fn check_position(p: &EpochPosition, trainable: &Trainable) -> Result<()> {
    if let Some((correct, counted)) = p.correct.filter(|(c, n)| c > n) {
        return refuse(format!("its epoch in progress counts {correct} right predictions of {counted}"));
    }
    let sums = [("loss sum", p.loss_sum), ("number of loss terms", p.terms), ("seconds", p.seconds)];
    if let Some((what, v)) = sums.iter().find(|(_, v)| !v.is_finite() || *v < 0.0) {
        return refuse(format!("its epoch in progress has a {what} of {v}, not a finite number of at least 0"));
    }
    if let Some((name, v)) = p.grad_norms.iter().find(|(n, v)| !trainable.contains_key(n) || !v.is_finite() || *v < 0.0)
    {
        return refuse(format!(
            "its epoch in progress sums a gradient norm of {v} for '{name}', which is not a trainable parameter of \
             the model or not a finite number of at least 0"
        ));
    }
    Ok(())
}

/// The optimizer's state is for the model's parameters, and for all of them
/// once a step was taken (a missing one would restart its moments in
/// silence, and the run would no longer be the one that was saved).
fn check_optimizer(optimizer: &AnyOptimizer, steps: usize, trainable: &Trainable) -> Result<()> {
    let held = optimizer.state_names();
    if let Some(unknown) = held.iter().find(|n| !trainable.contains_key(**n)) {
        return refuse(format!("its optimizer holds state for '{unknown}', which is not a parameter of the model"));
    }
    for (name, shape) in trainable {
        if let Some(state) = optimizer.state_mismatch(name, shape) {
            return refuse(format!(
                "its optimizer ({}) holds state of shape {state:?} for '{name}', a parameter of shape {shape:?}",
                optimizer.name()
            ));
        }
    }
    if steps > 0
        && optimizer.keeps_state()
        && let Some(missing) = trainable.keys().find(|n| !held.contains(&n.as_str()))
    {
        return refuse(format!(
            "its optimizer ({}) has no state for '{missing}' after {steps} steps",
            optimizer.name()
        ));
    }
    Ok(())
}

/// The model's trainable parameters: name and shape.
type Trainable = BTreeMap<String, Vec<usize>>;

/// The names and shapes of the model's trainable parameters.
fn trainable_names(model: &mut dyn Layer) -> Trainable {
    let mut names = Trainable::new();
    let mut path = String::new();
    let mut f = |p: strata_tensor::ParamRef<'_>| {
        if p.grad.is_some() {
            names.insert(p.name.to_string(), p.value.shape().to_vec());
        }
    };
    model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    names
}
