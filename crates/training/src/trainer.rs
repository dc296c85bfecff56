use crate::error::{Result, TrainingError};
use crate::history::{EpochRecord, History, Metrics};
use crate::progress::{Progress, Reporter};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use strata_data::Dataset;
use strata_layers::{Layer, Mode, load_state_dict, state_dict};
use strata_loss::Loss;
use strata_optimizer::{Optimizer, Schedule};
use strata_tensor::{ParamVisitor, StrataRng, Tensor, splitmix64};

/// The best monitored loss so far, its epoch, and (when restoring) its weights.
type Best = (f32, usize, Vec<(String, Tensor)>);

/// Stop when the validation loss has not improved for `patience` epochs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// Smallest decrease of the loss that counts as an improvement.
    pub min_delta: f32,
    /// Put the best epoch's weights back into the model at the end.
    pub restore_best: bool,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping { patience: 5, min_delta: 0.0, restore_best: true }
    }
}

/// How to train: everything but the model, the data, the loss and the optimizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Samples per batch (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Seed of the shuffling stream (models take theirs at construction).
    pub seed: u64,
    /// Shuffle the training data every epoch.
    pub shuffle: bool,
    /// Learning rate as a function of the step; the optimizer's rate at the
    /// start is the base rate.
    pub schedule: Schedule,
    /// Clip the global gradient norm to this value before each update.
    pub clip_grad_norm: Option<f32>,
    /// Early stopping on the validation loss (on the training loss without
    /// a validation set).
    pub early_stopping: Option<EarlyStopping>,
    /// Record per-parameter gradient norms every step.
    pub track_grad_norms: bool,
    /// How to report progress.
    pub progress: Progress,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            epochs: 10,
            batch_size: 64,
            seed: 0,
            shuffle: true,
            schedule: Schedule::Constant,
            clip_grad_norm: None,
            early_stopping: None,
            track_grad_norms: true,
            progress: Progress::Auto,
        }
    }
}

/// Where training stands: enough, with the model's and the optimizer's
/// state, to resume bit-exactly (checkpoints build on it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps taken.
    pub step: usize,
    /// The shuffling stream.
    pub rng: StrataRng,
    /// The optimizer's learning rate at the start (the schedule's base).
    pub base_lr: f32,
}

/// The fit loop: forward, loss, backward, update, over batches and epochs.
///
/// One [`Trainer`] owns the loss, the optimizer and the training state, and
/// reuses its batch buffers, so after the first batch a step allocates only
/// what the model allocates (nothing, for the built-in layers).
#[derive(Debug)]
pub struct Trainer {
    config: FitConfig,
    loss: Box<dyn Loss>,
    optimizer: Box<dyn Optimizer>,
    state: TrainerState,
    /// Batches run in the current epoch (for error messages).
    batch_in_epoch: usize,
    /// Per-parameter gradient-norm sums of the current epoch, and their names.
    norm_sums: Vec<f64>,
    norm_names: Vec<String>,
    path: String,
    features: Tensor,
    targets: Tensor,
    grad: Tensor,
}

/// What one [`Trainer::train_step`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutcome {
    /// The batch's mean loss (before the update).
    pub loss: f32,
    /// Correctly classified rows of the batch, for classification targets.
    pub correct: Option<usize>,
    /// The learning rate the update used.
    pub learning_rate: f32,
}

/// How many rows of `output` predict their target: argmax against a class
/// index (`[b]` targets) or against the argmax of a one-hot row (`[b, k]`);
/// the sign of a single logit against a 0/1 target. `None` for regression.
pub fn count_correct(output: &Tensor, targets: &Tensor) -> Option<usize> {
    let w = output.row_len();
    let b = output.n_rows();
    if output.rank() != 2 || b == 0 || w == 0 || targets.n_rows() != b {
        return None;
    }
    let argmax = |row: &[f32]| {
        let mut best = 0;
        for (i, &x) in row.iter().enumerate() {
            if x > row[best] {
                best = i;
            }
        }
        best
    };
    let out = output.data();
    let t = targets.data();
    let tw = targets.row_len();
    let mut correct = 0;
    if w == 1 && tw == 1 {
        // binary: a logit and a 0/1 target
        for (o, &y) in out.iter().zip(t) {
            correct += usize::from((*o > 0.0) == (y > 0.5));
        }
    } else if tw == 1 {
        for (i, &y) in t.iter().enumerate() {
            correct += usize::from(argmax(&out[i * w..(i + 1) * w]) as f32 == y);
        }
    } else if tw == w {
        for i in 0..b {
            correct += usize::from(argmax(&out[i * w..(i + 1) * w]) == argmax(&t[i * w..(i + 1) * w]));
        }
    } else {
        return None;
    }
    Some(correct)
}

impl Trainer {
    /// A trainer; the optimizer's current learning rate is the schedule's base.
    pub fn new(config: FitConfig, loss: Box<dyn Loss>, optimizer: Box<dyn Optimizer>) -> Result<Trainer> {
        if config.epochs == 0 {
            return Err(TrainingError::InvalidConfig("epochs must be at least 1".into()));
        }
        if config.batch_size == 0 {
            return Err(TrainingError::InvalidConfig("batch size must be at least 1".into()));
        }
        if let Some(c) = config.clip_grad_norm
            && !(c > 0.0 && c.is_finite())
        {
            return Err(TrainingError::InvalidConfig(format!("gradient clipping norm must be > 0, got {c}")));
        }
        let state = TrainerState {
            epoch: 0,
            step: 0,
            rng: StrataRng::seed_from_u64(splitmix64(config.seed ^ 0x5348_5546_464c_4521)),
            base_lr: optimizer.learning_rate(),
        };
        Ok(Trainer {
            config,
            loss,
            optimizer,
            state,
            batch_in_epoch: 0,
            norm_sums: Vec::new(),
            norm_names: Vec::new(),
            path: String::new(),
            features: Tensor::default(),
            targets: Tensor::default(),
            grad: Tensor::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FitConfig {
        &self.config
    }

    /// The training state (epoch, step, shuffling stream).
    pub fn state(&self) -> &TrainerState {
        &self.state
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &dyn Optimizer {
        self.optimizer.as_ref()
    }

    /// The loss.
    pub fn loss(&self) -> &dyn Loss {
        self.loss.as_ref()
    }

    fn check_data(model: &dyn Layer, data: &dyn Dataset, what: &'static str) -> Result<()> {
        if data.is_empty() {
            return Err(TrainingError::EmptyDataset { what });
        }
        let out = model.output_shape(data.feature_shape()).map_err(|_| TrainingError::InputShape {
            what,
            data: data.feature_shape().to_vec(),
            model: model_input_hint(model, data.feature_shape()),
        })?;
        if let (Some(n_classes), [width]) = (data.n_classes(), out.as_slice())
            && *width > 1
            && n_classes > *width
        {
            return Err(TrainingError::LabelOutOfRange { what, label: n_classes - 1, n_classes: *width });
        }
        Ok(())
    }

    /// Loss and accuracy of `model` on `data` (inference mode, batches of 512).
    pub fn evaluate(&mut self, model: &mut dyn Layer, data: &dyn Dataset) -> Result<Metrics> {
        on_pool(|| self.evaluate_here(model, data))
    }

    fn evaluate_here(&mut self, model: &mut dyn Layer, data: &dyn Dataset) -> Result<Metrics> {
        Self::check_data(model, data, "evaluation")?;
        let n = data.len();
        let indices: Vec<usize> = (0..n).collect();
        let (mut loss_sum, mut correct, mut has_acc) = (0f64, 0usize, true);
        for chunk in indices.chunks(512) {
            data.fill_batch(chunk, &mut self.features, &mut self.targets)?;
            let out = model.forward(&self.features, Mode::Eval)?;
            loss_sum += f64::from(self.loss.value(out, &self.targets)?) * chunk.len() as f64;
            match count_correct(out, &self.targets) {
                Some(c) => correct += c,
                None => has_acc = false,
            }
        }
        Ok(Metrics {
            loss: (loss_sum / n as f64) as f32,
            accuracy: has_acc.then(|| correct as f32 / n as f32),
            n_samples: n,
        })
    }

    /// Train `model` on `train`, validating on `validation` after each epoch.
    ///
    /// Runs the epochs the configuration asks for (counting those a previous
    /// call ran), returns the per-epoch history. On a non-finite loss it stops
    /// with [`TrainingError::NonFiniteLoss`] before that batch's update.
    pub fn fit(
        &mut self,
        model: &mut dyn Layer,
        train: &dyn Dataset,
        validation: Option<&dyn Dataset>,
    ) -> Result<History> {
        on_pool(|| self.fit_here(model, train, validation))
    }

    fn fit_here(
        &mut self,
        model: &mut dyn Layer,
        train: &dyn Dataset,
        validation: Option<&dyn Dataset>,
    ) -> Result<History> {
        Self::check_data(model, train, "training")?;
        if let Some(v) = validation {
            Self::check_data(model, v, "validation")?;
        }
        let n = train.len();
        let bs = self.config.batch_size;
        let n_batches = n.div_ceil(bs);
        let mut reporter = Reporter::new(self.config.progress, self.config.epochs, n_batches);
        let mut history = History::default();
        let mut order: Vec<usize> = (0..n).collect();
        let mut best: Option<Best> = None;
        let mut since_best = 0;

        while self.state.epoch < self.config.epochs {
            let epoch = self.state.epoch + 1;
            let started = Instant::now();
            for (i, o) in order.iter_mut().enumerate() {
                *o = i;
            }
            if self.config.shuffle {
                self.state.rng.shuffle(&mut order);
            }
            let (mut loss_sum, mut correct, mut has_acc, mut seen) = (0f64, 0usize, true, 0usize);
            self.norm_sums.iter_mut().for_each(|s| *s = 0.0);
            self.batch_in_epoch = 0;
            let mut lr = self.optimizer.learning_rate();
            reporter.start_epoch(epoch);

            let mut features = std::mem::take(&mut self.features);
            let mut targets = std::mem::take(&mut self.targets);
            for (b, chunk) in order.chunks(bs).enumerate() {
                train.fill_batch(chunk, &mut features, &mut targets)?;
                let step = match self.train_step(model, &features, &targets) {
                    Ok(step) => step,
                    Err(e) => {
                        reporter.finish();
                        return Err(e);
                    }
                };
                match step.correct {
                    Some(c) => correct += c,
                    None => has_acc = false,
                }
                loss_sum += f64::from(step.loss) * chunk.len() as f64;
                seen += chunk.len();
                lr = step.learning_rate;
                reporter.batch(b + 1, (loss_sum / seen as f64) as f32);
            }
            self.features = features;
            self.targets = targets;

            let validation_metrics = match validation {
                Some(v) => Some(self.evaluate_here(model, v)?),
                None => None,
            };
            self.state.epoch = epoch;
            let n_steps = n_batches.max(1) as f64;
            let record = EpochRecord {
                epoch,
                train_loss: (loss_sum / seen.max(1) as f64) as f32,
                train_accuracy: has_acc.then(|| correct as f32 / seen.max(1) as f32),
                validation: validation_metrics,
                learning_rate: lr,
                seconds: started.elapsed().as_secs_f64(),
                grad_norms: self
                    .norm_names
                    .iter()
                    .zip(&self.norm_sums)
                    .map(|(name, s)| (name.clone(), (s / n_steps) as f32))
                    .collect(),
            };
            reporter.end_epoch(&record);
            history.epochs.push(record);

            if let Some(es) = self.config.early_stopping {
                let monitored =
                    validation_metrics.map_or(history.epochs[history.epochs.len() - 1].train_loss, |m| m.loss);
                let improved = best.as_ref().is_none_or(|(b, _, _)| monitored < *b - es.min_delta);
                if improved {
                    let weights = if es.restore_best { state_dict(model) } else { Vec::new() };
                    best = Some((monitored, epoch, weights));
                    since_best = 0;
                } else {
                    since_best += 1;
                    if since_best >= es.patience {
                        history.stopped_early = self.state.epoch < self.config.epochs;
                        break;
                    }
                }
            }
        }
        reporter.finish();
        if let (Some(es), Some((_, epoch, weights))) = (self.config.early_stopping, best)
            && es.restore_best
        {
            load_state_dict(model, &weights)?;
            history.best_epoch = Some(epoch);
        }
        Ok(history)
    }

    /// One step of the learning cycle on one batch: zero the gradients,
    /// forward, loss, backward, (clip), update with the scheduled learning
    /// rate. `fit` calls it for every batch; call it yourself for a custom loop.
    ///
    /// A non-finite loss or gradient returns an error *before* the update, so
    /// the model keeps its weights.
    ///
    /// Called from outside rayon's pool, the step moves onto it (products
    /// split between threads are cheap from a pool thread); for a loop of
    /// steps, run the whole loop inside `rayon::scope` as `fit` does.
    pub fn train_step(&mut self, model: &mut dyn Layer, features: &Tensor, targets: &Tensor) -> Result<StepOutcome> {
        on_pool(|| self.train_step_here(model, features, targets))
    }

    fn train_step_here(&mut self, model: &mut dyn Layer, features: &Tensor, targets: &Tensor) -> Result<StepOutcome> {
        self.batch_in_epoch += 1;
        let (epoch, batch) = (self.state.epoch + 1, self.batch_in_epoch);
        self.zero_grad(model);
        // The input is data: nobody needs its gradient.
        model.set_input_gradient(false);
        let result = self.forward_backward_update(model, features, targets, epoch, batch);
        model.set_input_gradient(true);
        result
    }

    fn forward_backward_update(
        &mut self,
        model: &mut dyn Layer,
        features: &Tensor,
        targets: &Tensor,
        epoch: usize,
        batch: usize,
    ) -> Result<StepOutcome> {
        let out = model.forward(features, Mode::Train)?;
        let loss = self.loss.value_and_gradient(out, targets, &mut self.grad)?;
        if !loss.is_finite() {
            return Err(TrainingError::NonFiniteLoss { epoch, batch, loss });
        }
        let correct = count_correct(out, targets);
        model.backward(&self.grad)?;
        if let Some(parameter) = self.check_gradients(model) {
            return Err(TrainingError::NonFiniteGradient { epoch, batch, parameter });
        }
        if let Some(max_norm) = self.config.clip_grad_norm {
            strata_optimizer::clip_grad_norm(&mut |v| model.visit_parameters(v), &mut self.path, max_norm);
        }
        let learning_rate = self.config.schedule.lr_at(self.state.base_lr, self.state.step);
        self.optimizer.set_learning_rate(learning_rate);
        self.optimizer.step(&mut |v| model.visit_parameters(v), &mut self.path)?;
        self.state.step += 1;
        Ok(StepOutcome { loss, correct, learning_rate })
    }

    fn zero_grad(&mut self, model: &mut dyn Layer) {
        let mut f = |p: strata_tensor::ParamRef<'_>| {
            if let Some(g) = p.grad {
                g.fill(0.0);
            }
        };
        model.visit_parameters(&mut ParamVisitor::new(&mut self.path, &mut f));
    }

    /// Accumulate per-parameter gradient norms (when tracking) and return the
    /// name of the first parameter whose gradient is not finite.
    fn check_gradients(&mut self, model: &mut dyn Layer) -> Option<String> {
        let track = self.config.track_grad_norms;
        let (sums, names) = (&mut self.norm_sums, &mut self.norm_names);
        let mut bad = None;
        let mut i = 0;
        let mut f = |p: strata_tensor::ParamRef<'_>| {
            let Some(g) = p.grad else { return };
            let sq = g.sum_squares();
            if !sq.is_finite() && bad.is_none() {
                bad = Some(p.name.to_string());
            }
            if track {
                if i == sums.len() {
                    sums.push(0.0);
                    names.push(p.name.to_string());
                }
                sums[i] += sq.sqrt();
            }
            i += 1;
        };
        model.visit_parameters(&mut ParamVisitor::new(&mut self.path, &mut f));
        bad
    }
}

/// Run `f` on one of rayon's worker threads. A product split between threads
/// from a worker is a cheap in-pool join; from any other thread it is handed
/// to the pool while the caller sleeps, three threads taking turns on the
/// cores at every product. Measured on W2 (docs/performance.md).
fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() { f() } else { rayon::scope(|_| f()) }
}

/// The model's per-sample input shape as far as it can be told (for an error message).
fn model_input_hint(model: &dyn Layer, data_shape: &[usize]) -> Vec<usize> {
    match model.output_shape(data_shape) {
        Err(strata_layers::LayerError::ShapeMismatch { expected, .. }) => {
            expected.into_iter().skip_while(|&d| d == 0).collect()
        }
        Err(strata_layers::LayerError::IncompatibleLayers { next_expected, .. }) => next_expected,
        _ => Vec::new(),
    }
}
