//! The trainer's core: one step split into computing the gradients and
//! applying the update, and the bookkeeping of epochs and runs.

use crate::callback::{BatchLogs, BoxError, NonFinite};
use crate::config::FitConfig;
use crate::error::{Result, TrainingError};
use crate::evaluate::evaluate_with;
use crate::history::{EpochRecord, Metrics};
use crate::hook::{BatchFigures, GradientHook, StepInfo};
use crate::state::{EpochPosition, RunState, TrainerState};
use std::time::Instant;
use strata_data::Dataset;
use strata_layers::{Layer, Mode};
use strata_loss::Loss;
use strata_optimizer::{AnyOptimizer, Optimizer};
use strata_tensor::par::ThreadChoice;
use strata_tensor::{ParamVisitor, StrataRng, Tensor};

/// Buffers reused from step to step (a step allocates nothing once warm).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub path: String,
    pub features: Tensor,
    pub targets: Tensor,
    pub grad: Tensor,
    /// The current epoch's sample order.
    pub order: Vec<usize>,
    /// The shuffling stream after the current epoch's shuffle.
    pub next_rng: Option<StrataRng>,
    /// When the current epoch (or its resumed part) started.
    pub epoch_started: Option<Instant>,
    /// Batches of standalone `train_step` calls, for error messages.
    pub standalone_batches: usize,
    /// Whether steps run on one thread or on all, as last measured.
    pub threads: ThreadChoice,
}

/// What computing the gradients of one batch found.
#[derive(Debug)]
pub(crate) struct Gradients {
    pub loss: f32,
    pub terms: usize,
    pub correct: Option<(usize, usize)>,
    /// A non-finite loss or gradient: the error `fit` returns unless a
    /// callback stops training.
    pub problem: Option<(NonFinite, TrainingError)>,
}

/// Everything of a trainer but its callbacks.
pub(crate) struct Core {
    pub config: FitConfig,
    pub loss: Box<dyn Loss>,
    pub optimizer: AnyOptimizer,
    pub state: TrainerState,
    pub hooks: Vec<Box<dyn GradientHook>>,
    pub scratch: Scratch,
}

impl Core {
    /// The learning rate of the next update.
    pub fn next_learning_rate(&self) -> f32 {
        self.config.schedule.lr_at(self.state.base_lr, self.state.step)
    }

    /// Zero the gradients, forward, loss, backward, the gradient hooks, the
    /// non-finite check (after the hooks, so every process of a distributed
    /// run decides alike) and the gradient-norm record. The model's input
    /// gradient is not computed (the input is data).
    pub fn gradients(&mut self, model: &mut dyn Layer, x: &Tensor, y: &Tensor, info: StepInfo) -> Result<Gradients> {
        model.zero_grad();
        model.set_input_gradient(false);
        let result = self.forward_backward(model, x, y, info);
        model.set_input_gradient(true);
        result
    }

    fn forward_backward(&mut self, model: &mut dyn Layer, x: &Tensor, y: &Tensor, info: StepInfo) -> Result<Gradients> {
        let out = model.forward(x, Mode::Train)?;
        let loss = self.loss.value_and_gradient(out, y, &mut self.scratch.grad)?;
        let correct = self.loss.correct(out, y);
        let terms = self.loss.n_terms(out, y);
        let BatchFigures { loss, terms, correct } = self.batch_figures(BatchFigures { loss, terms, correct }, &info)?;
        let (epoch, batch) = (info.epoch, info.batch);
        if !loss.is_finite() {
            let error = TrainingError::NonFiniteLoss { epoch, batch, loss };
            return Ok(Gradients { loss, terms, correct, problem: Some((NonFinite::Loss, error)) });
        }
        model.backward(&self.scratch.grad)?;
        for hook in &mut self.hooks {
            hook.on_gradients(model, &info).map_err(|source| hook_error(hook.as_ref(), &info, source))?;
        }
        let problem = self
            .check_gradients(model)
            .map(|parameter| (NonFinite::Gradient, TrainingError::NonFiniteGradient { epoch, batch, parameter }));
        Ok(Gradients { loss, terms, correct, problem })
    }

    /// The batch's figures after every hook's [`GradientHook::on_batch_figures`].
    fn batch_figures(&mut self, mut figures: BatchFigures, info: &StepInfo) -> Result<BatchFigures> {
        for hook in &mut self.hooks {
            hook.on_batch_figures(&mut figures, info).map_err(|source| hook_error(hook.as_ref(), info, source))?;
        }
        Ok(figures)
    }

    /// Add each parameter's gradient norm to the epoch's sums (when tracking,
    /// inside `fit`) and return the name of the first parameter whose
    /// gradient is not finite.
    fn check_gradients(&mut self, model: &mut dyn Layer) -> Option<String> {
        let track = self.config.track_grad_norms;
        let mut sums = self.state.run.as_mut().and_then(|r| r.position.as_mut()).map(|p| &mut p.grad_norms);
        let mut bad = None;
        let mut i = 0;
        let mut f = |p: strata_tensor::ParamRef<'_>| {
            let Some(g) = p.grad else { return };
            let sq = g.sum_squares();
            if !sq.is_finite() && bad.is_none() {
                bad = Some(p.name.to_string());
            }
            if let (true, Some(sums)) = (track, sums.as_deref_mut()) {
                if i == sums.len() {
                    sums.push((p.name.to_string(), 0.0));
                }
                sums[i].1 += sq.sqrt();
            }
            i += 1;
        };
        model.visit_parameters(&mut ParamVisitor::new(&mut self.scratch.path, &mut f));
        bad
    }

    /// Clip (if asked), set the scheduled learning rate, and let the
    /// optimizer update every parameter. Returns the learning rate used.
    pub fn update(&mut self, model: &mut dyn Layer) -> Result<f32> {
        if let Some(max_norm) = self.config.clip_grad_norm {
            strata_optimizer::clip_grad_norm(&mut |v| model.visit_parameters(v), &mut self.scratch.path, max_norm);
        }
        let learning_rate = self.next_learning_rate();
        self.optimizer.set_learning_rate(learning_rate);
        self.optimizer.step(&mut |v| model.visit_parameters(v), &mut self.scratch.path)?;
        self.state.step = self.state.step.saturating_add(1);
        Ok(learning_rate)
    }

    /// One batch of an epoch: its gradients, then (if they are finite) the
    /// update, recorded in the epoch's position. Returns the logs and the
    /// error a non-finite value would raise.
    pub fn batch(
        &mut self,
        model: &mut dyn Layer,
        x: &Tensor,
        y: &Tensor,
        info: StepInfo,
    ) -> Result<(BatchLogs, Option<TrainingError>)> {
        let g = self.gradients(model, x, y, info)?;
        let (non_finite, error) = match g.problem {
            Some((kind, error)) => (Some(kind), Some(error)),
            None => (None, None),
        };
        let learning_rate = if error.is_none() { self.update(model)? } else { self.next_learning_rate() };
        let logs = BatchLogs {
            epoch: info.epoch,
            batch: info.batch,
            size: info.batch_size,
            loss: g.loss,
            correct: g.correct,
            learning_rate,
            non_finite,
        };
        if let Some(p) = self.position_mut() {
            p.batches = info.batch;
            if error.is_none() {
                p.loss_sum += f64::from(g.loss) * g.terms as f64;
                p.terms += g.terms as f64;
                p.correct = p.correct.zip(g.correct).map(|((a, b), (c, d))| (a.saturating_add(c), b.saturating_add(d)));
                p.learning_rate = learning_rate;
            }
        }
        Ok((logs, error))
    }

    fn position_mut(&mut self) -> Option<&mut EpochPosition> {
        self.state.run.as_mut().and_then(|r| r.position.as_mut())
    }

    /// Continue the interrupted `fit` call of a restored snapshot, or start a
    /// new one of `config.epochs` epochs. Returns the run and whether it is
    /// resumed.
    pub fn begin_run(&mut self) -> (RunState, bool) {
        let resumable = self.state.run.as_ref().filter(|r| r.last_epoch > self.state.epoch || r.position.is_some());
        let resuming = resumable.is_some();
        let run = match resumable {
            Some(run) => run.clone(),
            None => {
                self.state.history.best_epoch = None;
                self.state.history.stopped = None;
                RunState {
                    first_epoch: self.state.epoch.saturating_add(1),
                    last_epoch: self.state.epoch.saturating_add(self.config.epochs),
                    position: None,
                }
            }
        };
        self.state.run = Some(run.clone());
        (run, resuming)
    }

    /// The next epoch of the run, if it has one.
    pub fn next_epoch(&self) -> Option<usize> {
        let run = self.state.run.as_ref()?;
        (self.state.epoch < run.last_epoch).then(|| self.state.epoch + 1)
    }

    /// This epoch's order (shuffled from the stream's saved position) and
    /// its position: restored when resuming inside it, fresh otherwise.
    /// Returns whether the epoch is resumed; an error when the order of
    /// `n_samples` (a user's `Dataset::len`) does not fit in memory.
    pub fn start_epoch(&mut self, n_samples: usize) -> Result<bool> {
        let order = &mut self.scratch.order;
        order.clear();
        if order.try_reserve_exact(n_samples).is_err() {
            let bytes = (n_samples as u64).saturating_mul(std::mem::size_of::<usize>() as u64);
            let op = "fit: the epoch's order of samples";
            let alloc = strata_tensor::TensorError::Alloc { op, shape: vec![n_samples], bytes };
            return Err(strata_data::DataError::from(alloc).into());
        }
        order.extend(0..n_samples);
        let mut rng = self.state.rng.clone();
        if self.config.shuffle {
            rng.shuffle(order);
        }
        self.scratch.next_rng = Some(rng);
        self.scratch.epoch_started = Some(Instant::now());
        let learning_rate = self.next_learning_rate();
        Ok(match self.state.run.as_mut() {
            Some(run) if run.position.is_some() => true,
            Some(run) => {
                run.position = Some(EpochPosition::start(learning_rate));
                false
            }
            None => false,
        })
    }

    /// Validate, turn the epoch's position into its record (added to the
    /// history), and move the counters and the stream past the epoch.
    pub fn finish_epoch(&mut self, model: &mut dyn Layer, validation: Option<&dyn Dataset>) -> Result<EpochRecord> {
        let validation = match validation {
            Some(v) => Some(self.evaluate(model, v)?),
            None => None,
        };
        let epoch = self.state.epoch + 1;
        let p = self.position_mut().map(std::mem::take).unwrap_or_default();
        let seconds = p.seconds + self.scratch.epoch_started.take().map_or(0.0, |t| t.elapsed().as_secs_f64());
        let n_steps = p.batches.max(1) as f64;
        let record = EpochRecord {
            epoch,
            batches: p.batches,
            train_loss: if p.terms > 0.0 { (p.loss_sum / p.terms) as f32 } else { f32::NAN },
            train_accuracy: p.correct.filter(|&(_, n)| n > 0).map(|(right, n)| right as f32 / n as f32),
            validation,
            learning_rate: p.learning_rate,
            seconds,
            grad_norms: p.grad_norms.into_iter().map(|(name, s)| (name, (s / n_steps) as f32)).collect(),
        };
        self.state.epoch = epoch;
        if let Some(rng) = self.scratch.next_rng.take() {
            self.state.rng = rng;
        }
        if let Some(run) = self.state.run.as_mut() {
            run.position = None;
        }
        self.state.history.epochs.push(record.clone());
        Ok(record)
    }

    /// Loss and accuracy on `data` with the trainer's loss and buffers.
    pub fn evaluate(&mut self, model: &mut dyn Layer, data: &dyn Dataset) -> Result<Metrics> {
        let (f, t) = (&mut self.scratch.features, &mut self.scratch.targets);
        evaluate_with(model, data, self.loss.as_ref(), f, t)
    }

    /// The wall-clock seconds of the epoch so far, kept in the position (for
    /// a snapshot taken inside the epoch).
    pub fn note_time(&mut self) {
        let elapsed = self.scratch.epoch_started.map(|t| t.elapsed().as_secs_f64());
        if let (Some(p), Some(elapsed)) = (self.state.run.as_mut().and_then(|r| r.position.as_mut()), elapsed) {
            p.seconds += elapsed;
            self.scratch.epoch_started = Some(Instant::now());
        }
    }
}

fn hook_error(hook: &dyn GradientHook, info: &StepInfo, source: BoxError) -> TrainingError {
    TrainingError::Hook { hook: hook.name().to_string(), epoch: info.epoch, batch: info.batch, source }
}
