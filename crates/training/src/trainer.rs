//! [`Trainer`]: the fit loop, as a composition of the named steps of
//! [`crate::step`], with callbacks at its events.

use crate::callback::{Callback, CallbackContext, CallbackResult, Control};
use crate::config::FitConfig;
use crate::error::{Result, TrainingError};
use crate::evaluate::check_data;
use crate::history::{History, Metrics, StopRecord};
use crate::hook::{GradientHook, StepInfo};
use crate::progress::Reporter;
use crate::state::{Snapshot, TrainerState};
use crate::step::{Core, Scratch};
use strata_data::Dataset;
use strata_layers::{Layer, counters, load_counters, load_state_dict, state_dict};
use strata_loss::Loss;
use strata_optimizer::{AnyOptimizer, Optimizer, OptimizerConfig};
use strata_tensor::par;
use strata_tensor::{StrataRng, Tensor, splitmix64};

/// What one [`Trainer::train_step`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutcome {
    /// The batch's mean loss (before the update).
    pub loss: f32,
    /// `(right, counted)` predictions of the batch, when the loss defines an accuracy.
    pub correct: Option<(usize, usize)>,
    /// The learning rate the update used.
    pub learning_rate: f32,
}

/// What [`Trainer::compute_gradients`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradientOutcome {
    /// The batch's mean loss.
    pub loss: f32,
    /// `(right, counted)` predictions, when the loss defines an accuracy.
    pub correct: Option<(usize, usize)>,
}

/// The learning cycle: forward, loss, backward, a hook, update, over batches
/// and epochs, with callbacks at every event.
///
/// The trainer owns the loss, a serializable optimizer ([`AnyOptimizer`]),
/// its callbacks and gradient hooks, and the [`TrainerState`]; the model and
/// the data are lent to each call. One step is
/// [`Trainer::compute_gradients`] (zero, forward, loss, backward, hooks,
/// non-finite check) then [`Trainer::apply_update`] (clip, schedule,
/// optimizer); [`Trainer::fit`] runs them over epochs.
///
/// `fit` runs [`FitConfig::epochs`] epochs each time it is called, counting
/// on from the epochs before (Keras's semantics); a trainer restored from a
/// [`Snapshot`] taken inside a `fit` call finishes that call instead.
///
/// ```
/// use strata_data::InMemoryDataset;
/// use strata_layers::{Dense, DenseConfig};
/// use strata_loss::LossKind;
/// use strata_optimizer::OptimizerConfig;
/// use strata_tensor::{StrataRng, Tensor};
/// use strata_training::{FitConfig, Progress, Trainer};
///
/// let data = InMemoryDataset::from_labels(Tensor::from_vec(&[2, 2], vec![1., 0., 0., 1.])?, &[0, 1])?;
/// let mut model = Dense::new(DenseConfig::new(2, 2), &mut StrataRng::seed_from_u64(0))?;
/// let config = FitConfig { epochs: 5, batch_size: 2, progress: Progress::Silent, ..FitConfig::default() };
/// let mut trainer = Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name("sgd", 0.5)?)?;
/// trainer.fit(&mut model, &data, None)?;
/// trainer.fit(&mut model, &data, None)?; // five more
/// assert_eq!(trainer.state().epoch, 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Trainer {
    core: Core,
    callbacks: Vec<Box<dyn Callback>>,
    names: Vec<String>,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("config", &self.core.config)
            .field("loss", &self.core.loss)
            .field("optimizer", &self.core.optimizer)
            .field("state", &self.core.state)
            .field("callbacks", &self.names)
            .finish_non_exhaustive()
    }
}

impl Trainer {
    /// A trainer with the optimizer `optimizer` describes; its learning rate
    /// is the schedule's base.
    pub fn new(config: FitConfig, loss: impl Loss + 'static, optimizer: OptimizerConfig) -> Result<Trainer> {
        Trainer::with_optimizer(config, loss, optimizer.build_any()?)
    }

    /// A trainer with an optimizer built (and maybe restored) already.
    pub fn with_optimizer(config: FitConfig, loss: impl Loss + 'static, optimizer: AnyOptimizer) -> Result<Trainer> {
        config.validate().map_err(TrainingError::InvalidConfig)?;
        let state = TrainerState {
            epoch: 0,
            step: 0,
            rng: StrataRng::seed_from_u64(splitmix64(config.seed ^ 0x5348_5546_464c_4521)),
            base_lr: optimizer.learning_rate(),
            history: History::default(),
            run: None,
        };
        let core =
            Core { config, loss: Box::new(loss), optimizer, state, hooks: Vec::new(), scratch: Scratch::default() };
        Ok(Trainer { core, callbacks: Vec::new(), names: Vec::new() })
    }

    /// Add a callback; its [`Callback::name`] must be new to this trainer.
    pub fn add_callback(&mut self, callback: impl Callback + 'static) -> Result<&mut Self> {
        let name = callback.name().to_string();
        if self.names.contains(&name) {
            return Err(TrainingError::InvalidConfig(format!(
                "a callback named '{name}' is already added (callback names key their state and must be unique)"
            )));
        }
        self.callbacks.push(Box::new(callback));
        self.names.push(name);
        Ok(self)
    }

    /// Add a gradient hook, run after backward and before the update (hooks
    /// run in the order they were added).
    pub fn add_gradient_hook(&mut self, hook: impl GradientHook + 'static) -> &mut Self {
        self.core.hooks.push(Box::new(hook));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &FitConfig {
        &self.core.config
    }

    /// The configuration, to change between `fit` calls (another number of
    /// epochs, say). Checked again by the next `fit`.
    pub fn config_mut(&mut self) -> &mut FitConfig {
        &mut self.core.config
    }

    /// The training state: epoch, step, shuffling stream, history, the `fit`
    /// call in progress (the callbacks hold their own; a [`Snapshot`] has
    /// both).
    pub fn state(&self) -> &TrainerState {
        &self.core.state
    }

    /// The optimizer, with its state.
    pub fn optimizer(&self) -> &AnyOptimizer {
        &self.core.optimizer
    }

    /// The loss.
    pub fn loss(&self) -> &dyn Loss {
        self.core.loss.as_ref()
    }

    /// The names of the callbacks, in the order they run.
    pub fn callback_names(&self) -> &[String] {
        &self.names
    }

    /// Everything needed to continue exactly where training stands: the
    /// model's tensors and counters, the optimizer, and the trainer's state
    /// with every callback's state.
    pub fn snapshot(&self, model: &mut dyn Layer) -> Result<Snapshot> {
        let spec = model.spec().ok();
        if let Some(spec) = &spec {
            spec.check_depth()?;
        }
        Ok(Snapshot {
            spec,
            weights: state_dict(model),
            counters: counters(model),
            optimizer: self.core.optimizer.clone(),
            state: self.core.state.clone(),
            callbacks: self
                .names
                .iter()
                .zip(&self.callbacks)
                .filter_map(|(n, cb)| Some((n.clone(), cb.state()?)))
                .collect(),
        })
    }

    /// Put a model and this trainer back where a [`Snapshot`] was taken:
    /// weights, counters, optimizer, state and callback states. Nothing
    /// changes when the snapshot does not fit (a tensor or counter the model
    /// lacks, state of a callback this trainer does not have).
    pub fn restore(&mut self, model: &mut dyn Layer, snapshot: &Snapshot) -> Result<()> {
        crate::restore::check_snapshot(model, snapshot, self.core.config.epochs)?;
        let mut parsed = Vec::new();
        for (name, value) in &snapshot.callbacks {
            let Some(i) = self.names.iter().position(|n| n == name) else {
                return Err(TrainingError::Restore(format!(
                    "it holds the state of callback '{name}', which this trainer does not have (callbacks: {})",
                    self.names.join(", ")
                )));
            };
            parsed.push((i, value.clone()));
        }
        let (before, counters_before) = (state_dict(model), counters(model));
        load_state_dict(model, &snapshot.weights)?;
        if let Err(e) = load_counters(model, &snapshot.counters) {
            load_state_dict(model, &before)?;
            return Err(e.into());
        }
        // A callback state that does not load puts back what changed: the
        // model's tensors and counters, and the callbacks loaded before it.
        let states_before: Vec<Option<serde_json::Value>> = self.callbacks.iter().map(|cb| cb.state()).collect();
        for (done, &(i, ref value)) in parsed.iter().enumerate() {
            if let Err(source) = self.callbacks[i].load_state(value.clone()) {
                for &(j, _) in &parsed[..done] {
                    if let Some(state) = states_before[j].clone() {
                        let _ = self.callbacks[j].load_state(state);
                    }
                }
                load_state_dict(model, &before)?;
                load_counters(model, &counters_before)?;
                return Err(TrainingError::Callback { callback: self.names[i].clone(), source });
            }
        }
        self.core.optimizer = snapshot.optimizer.clone();
        self.core.state = snapshot.state.clone();
        Ok(())
    }

    /// Loss and accuracy of `model` on `data` with this trainer's loss
    /// (inference mode, batches of 512); see also [`crate::evaluate`], which
    /// needs no trainer.
    pub fn evaluate(&mut self, model: &mut dyn Layer, data: &dyn Dataset) -> Result<Metrics> {
        on_pool(|| self.core.evaluate(model, data))
    }

    /// Train `model` on `train`, validating on `validation` after each epoch:
    /// [`FitConfig::epochs`] more epochs, or the rest of the `fit` call a
    /// restored snapshot was taken in. Returns this call's history.
    ///
    /// On a non-finite loss or gradient, the batch's update is not applied
    /// and `fit` fails with [`TrainingError::NonFiniteLoss`] or
    /// [`TrainingError::NonFiniteGradient`], unless a callback stops
    /// training on it (then `fit` returns the history, with the reason).
    pub fn fit(
        &mut self,
        model: &mut dyn Layer,
        train: &dyn Dataset,
        validation: Option<&dyn Dataset>,
    ) -> Result<History> {
        self.core.config.validate().map_err(TrainingError::InvalidConfig)?;
        check_data(model, train, "training", self.core.config.batch_size)?;
        if let Some(v) = validation {
            check_data(model, v, "validation", crate::evaluate::EVAL_BATCH)?;
        }
        if let Some(position) = self.core.state.run.as_ref().and_then(|r| r.position.as_ref()) {
            let n_batches = train.len().div_ceil(self.core.config.batch_size);
            if position.batches > n_batches {
                return Err(TrainingError::Restore(format!(
                    "it was taken after batch {} of an epoch; this data makes {n_batches} batches an epoch",
                    position.batches
                )));
            }
        }
        crate::progress::warn_if_unoptimized(self.core.config.progress);
        // Each batch's step runs on the threads chosen for it (`on_chosen_threads`).
        let result = in_pool(|| self.fit_here(model, train, validation));
        self.core.state.run = None;
        result
    }

    fn fit_here(
        &mut self,
        model: &mut dyn Layer,
        train: &dyn Dataset,
        validation: Option<&dyn Dataset>,
    ) -> Result<History> {
        let (run, resuming) = self.core.begin_run();
        let n_batches = train.len().div_ceil(self.core.config.batch_size);
        let mut reporter = Reporter::new(self.core.config.progress, run.last_epoch, n_batches);
        let mut control = Control { has_validation: validation.is_some(), resuming, ..Control::default() };
        let result = self
            .emit(model, &mut control, |cb, ctx| cb.on_train_begin(ctx))
            .and_then(|()| self.run_epochs(model, train, validation, &mut control, &mut reporter))
            .and_then(|()| {
                reporter.finish();
                self.emit(model, &mut control, |cb, ctx| cb.on_train_end(ctx))
            });
        reporter.finish();
        result?;
        let h = &self.core.state.history;
        Ok(History {
            epochs: h.epochs.iter().filter(|r| r.epoch >= run.first_epoch).cloned().collect(),
            best_epoch: h.best_epoch,
            stopped: h.stopped.clone(),
        })
    }

    /// Epochs until the run's last or a callback's stop.
    fn run_epochs(
        &mut self,
        model: &mut dyn Layer,
        train: &dyn Dataset,
        validation: Option<&dyn Dataset>,
        control: &mut Control,
        reporter: &mut Reporter,
    ) -> Result<()> {
        while let Some(epoch) = self.core.next_epoch() {
            let resumed = self.core.start_epoch(train.len())?;
            reporter.start_epoch(epoch);
            if !resumed {
                self.emit(model, control, |cb, ctx| cb.on_epoch_begin(ctx, epoch))?;
            }
            let stopped_at = self.run_batches(model, train, epoch, control, reporter)?;
            let record = par::hot(|| self.core.finish_epoch(model, validation))?;
            reporter.end_epoch(&record);
            self.emit(model, control, |cb, ctx| cb.on_epoch_end(ctx, &record))?;
            if let Some((callback, reason)) = control.stop.take() {
                self.core.state.history.stopped = Some(StopRecord { epoch, batch: stopped_at, callback, reason });
                self.core.state.run = None;
                break;
            }
        }
        Ok(())
    }

    /// The epoch's batches from its position on; returns the batch after
    /// which a callback stopped training, if one did.
    fn run_batches(
        &mut self,
        model: &mut dyn Layer,
        train: &dyn Dataset,
        epoch: usize,
        control: &mut Control,
        reporter: &mut Reporter,
    ) -> Result<Option<usize>> {
        let order = std::mem::take(&mut self.core.scratch.order);
        let mut features = std::mem::take(&mut self.core.scratch.features);
        let mut targets = std::mem::take(&mut self.core.scratch.targets);
        let result = self.batches_of(model, train, epoch, &order, (&mut features, &mut targets), control, reporter);
        self.core.scratch.order = order;
        self.core.scratch.features = features;
        self.core.scratch.targets = targets;
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn batches_of(
        &mut self,
        model: &mut dyn Layer,
        train: &dyn Dataset,
        epoch: usize,
        order: &[usize],
        (features, targets): (&mut Tensor, &mut Tensor),
        control: &mut Control,
        reporter: &mut Reporter,
    ) -> Result<Option<usize>> {
        let bs = self.core.config.batch_size;
        let done = self.core.state.run.as_ref().and_then(|r| r.position.as_ref()).map_or(0, |p| p.batches);
        for (b, chunk) in order.chunks(bs).enumerate().skip(done) {
            let batch = b + 1;
            self.emit(model, control, |cb, ctx| cb.on_batch_begin(ctx, batch))?;
            train.fill_batch(chunk, features, targets)?;
            let info = StepInfo { epoch, batch, batch_size: chunk.len(), step: self.core.state.step };
            let (logs, error) =
                self.on_chosen_threads(chunk.len(), |t| t.core.batch(model, features, targets, info))?;
            reporter.batch(batch, self.running_loss());
            self.emit(model, control, |cb, ctx| cb.on_batch_end(ctx, &logs))?;
            if let (Some(e), None) = (error, &control.stop) {
                return Err(e);
            }
            if control.stop.is_some() {
                return Ok(Some(batch));
            }
        }
        Ok(None)
    }

    fn running_loss(&self) -> f32 {
        let p = self.core.state.run.as_ref().and_then(|r| r.position.as_ref());
        p.map_or(f32::NAN, |p| if p.terms > 0.0 { (p.loss_sum / p.terms) as f32 } else { f32::NAN })
    }

    /// Call `event` on every callback, then hand out the snapshots they asked for.
    fn emit(
        &mut self,
        model: &mut dyn Layer,
        control: &mut Control,
        event: impl Fn(&mut dyn Callback, &mut CallbackContext<'_>) -> CallbackResult,
    ) -> Result<()> {
        if self.callbacks.is_empty() {
            return Ok(());
        }
        let learning_rate = self.core.next_learning_rate();
        for (i, (cb, name)) in self.callbacks.iter_mut().zip(&self.names).enumerate() {
            control.current = i;
            let mut ctx =
                CallbackContext { model: &mut *model, state: &mut self.core.state, learning_rate, control, name };
            event(cb.as_mut(), &mut ctx)
                .map_err(|source| TrainingError::Callback { callback: name.clone(), source })?;
        }
        self.deliver_snapshots(model, control)
    }

    fn deliver_snapshots(&mut self, model: &mut dyn Layer, control: &mut Control) -> Result<()> {
        if control.snapshot_for.is_empty() {
            return Ok(());
        }
        self.core.note_time();
        let snapshot = self.snapshot(model)?;
        for i in std::mem::take(&mut control.snapshot_for) {
            self.callbacks[i]
                .on_snapshot(&snapshot)
                .map_err(|source| TrainingError::Callback { callback: self.names[i].clone(), source })?;
        }
        Ok(())
    }

    /// One step of the learning cycle on one batch: [`Trainer::compute_gradients`]
    /// then [`Trainer::apply_update`]. `fit` runs the same steps for every
    /// batch; call it yourself for a custom loop.
    ///
    /// A non-finite loss or gradient returns an error *before* the update, so
    /// the model keeps its weights.
    ///
    /// Called from outside rayon's pool, the step moves onto it (products
    /// split between threads are cheap from a pool thread); for a loop of
    /// steps, run the whole loop inside `rayon::scope` as `fit` does.
    pub fn train_step(&mut self, model: &mut dyn Layer, features: &Tensor, targets: &Tensor) -> Result<StepOutcome> {
        let work = features.shape().first().copied().unwrap_or(0);
        in_pool(|| {
            self.on_chosen_threads(work, |t| {
                let g = t.compute_gradients_here(model, features, targets)?;
                let learning_rate = t.core.update(model)?;
                Ok(StepOutcome { loss: g.loss, correct: g.correct, learning_rate })
            })
        })
    }

    /// The first half of a step: zero the gradients, forward, loss, backward,
    /// the gradient hooks, and the check that loss and gradients are finite
    /// (an error otherwise). The model then holds the batch's gradients.
    pub fn compute_gradients(
        &mut self,
        model: &mut dyn Layer,
        features: &Tensor,
        targets: &Tensor,
    ) -> Result<GradientOutcome> {
        on_pool(|| self.compute_gradients_here(model, features, targets))
    }

    fn compute_gradients_here(
        &mut self,
        model: &mut dyn Layer,
        features: &Tensor,
        targets: &Tensor,
    ) -> Result<GradientOutcome> {
        self.core.scratch.standalone_batches += 1;
        let info = StepInfo {
            epoch: self.core.state.epoch + 1,
            batch: self.core.scratch.standalone_batches,
            batch_size: features.shape().first().copied().unwrap_or(0),
            step: self.core.state.step,
        };
        let g = self.core.gradients(model, features, targets, info)?;
        match g.problem {
            Some((_, error)) => Err(error),
            None => Ok(GradientOutcome { loss: g.loss, correct: g.correct }),
        }
    }

    /// The second half of a step: clip the gradients (if configured), set
    /// the scheduled learning rate and let the optimizer update the model.
    /// Returns the learning rate used.
    pub fn apply_update(&mut self, model: &mut dyn Layer) -> Result<f32> {
        on_pool(|| self.core.update(model))
    }

    /// Whether the last trial of [`par::ThreadChoice`] chose one thread for
    /// the steps of `fit` and [`Trainer::train_step`] (they run on all of
    /// rayon's threads otherwise), and how many trials were decided. The
    /// choice changes the schedule only, never a result.
    pub fn step_threads(&self) -> (bool, u64) {
        let choice = &self.core.scratch.threads;
        (choice.one_thread(), choice.trials())
    }

    /// `step` (one batch's work of `work` samples) on one thread or on all,
    /// as this trainer's [`par::ThreadChoice`] measured faster.
    fn on_chosen_threads<R>(&mut self, work: usize, step: impl FnOnce(&mut Self) -> R) -> R {
        let mut choice = std::mem::take(&mut self.core.scratch.threads);
        let result = choice.run(work, || step(self));
        self.core.scratch.threads = choice;
        result
    }
}

/// Run `f` on one of rayon's worker threads, with the other workers kept
/// awake ([`strata_tensor::par::hot`]). A product split between threads
/// from a worker is a cheap in-pool join; from any other thread it is handed
/// to the pool while the caller sleeps, three threads taking turns on the
/// cores at every product. Measured on W2 (docs/performance.md).
pub(crate) fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    in_pool(|| par::hot(f))
}

/// Run `f` on one of rayon's worker threads (see [`on_pool`]), without
/// keeping the others awake. The pool's workers flush denormals first
/// ([`par::denormal`]): every thread of the step computes in one mode.
fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let f = || {
        par::denormal::apply_to_pool();
        f()
    };
    if rayon::current_thread_index().is_some() { f() } else { rayon::scope(|_| f()) }
}
