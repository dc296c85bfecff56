//! [`lr_find`]: Leslie Smith's learning-rate range test, as fastai's
//! `lr_find`: train for a few hundred steps while the learning rate grows
//! exponentially, record the loss, suggest a rate from where it falls
//! fastest and longest; the model's weights are put back afterwards.

use crate::error::{ReportError, Result};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, PoisonError};
use strata_data::Dataset;
use strata_layers::{Layer, counters, load_counters, load_state_dict, state_dict};
use strata_loss::Loss;
use strata_optimizer::OptimizerConfig;
use strata_training::{BatchLogs, Callback, CallbackContext, CallbackResult, FitConfig, Progress, Trainer};

/// How to sweep (fastai's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrFindConfig {
    /// The first learning rate.
    pub start: f32,
    /// The last learning rate.
    pub end: f32,
    /// Steps of the sweep (one batch each).
    pub steps: usize,
    /// Samples per batch.
    pub batch_size: usize,
    /// Seed of the shuffling.
    pub seed: u64,
    /// The optimizer, by name (`adam`, `sgd`, ...).
    pub optimizer: String,
    /// Stop once the smoothed loss exceeds this many times its minimum.
    pub stop_factor: f32,
}

impl Default for LrFindConfig {
    fn default() -> Self {
        LrFindConfig {
            start: 1e-7,
            end: 10.0,
            steps: 200,
            batch_size: 64,
            seed: 0,
            optimizer: "adam".into(),
            stop_factor: 4.0,
        }
    }
}

/// What the sweep measured and suggests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LrSweep {
    /// The learning rate of each step.
    pub rates: Vec<f32>,
    /// Each step's batch loss.
    pub losses: Vec<f32>,
    /// The losses smoothed (exponential moving average, β = 0.98, debiased, as fastai).
    pub smoothed: Vec<f32>,
    /// fastai's `valley` suggestion: two thirds down the longest stretch of falling loss.
    pub suggestion: Option<f32>,
    /// The rate of the lowest smoothed loss, divided by 10 (fastai's `minimum`).
    pub minimum: Option<f32>,
    /// The rate where the smoothed loss falls fastest (fastai's `steep`).
    pub steepest: Option<f32>,
    /// Why the sweep ended before its last step, if it did.
    pub stopped: Option<String>,
}

const BETA: f32 = 0.98;

#[derive(Debug, Default)]
struct Sweep {
    rates: Vec<f32>,
    losses: Vec<f32>,
    smoothed: Vec<f32>,
    average: f32,
    best: f32,
    stopped: Option<String>,
}

struct Sweeper {
    config: LrFindConfig,
    shared: Arc<Mutex<Sweep>>,
}

impl Sweeper {
    fn rate(&self, step: usize) -> f32 {
        let c = &self.config;
        let t = step as f32 / (c.steps.max(2) - 1) as f32;
        // In f64: the ratio of a wide sweep (1e-7 to 1e38, say) overflows f32.
        (f64::from(c.start) * (f64::from(c.end) / f64::from(c.start)).powf(f64::from(t))) as f32
    }
}

impl Callback for Sweeper {
    fn on_batch_begin(&mut self, ctx: &mut CallbackContext<'_>, _batch: usize) -> CallbackResult {
        let step = self.shared.lock().unwrap_or_else(PoisonError::into_inner).losses.len();
        ctx.set_base_learning_rate(self.rate(step));
        Ok(())
    }

    fn on_batch_end(&mut self, ctx: &mut CallbackContext<'_>, logs: &BatchLogs) -> CallbackResult {
        let mut s = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        let step = s.losses.len();
        s.rates.push(logs.learning_rate);
        s.losses.push(logs.loss);
        if !logs.loss.is_finite() || logs.non_finite.is_some() {
            s.stopped = Some(format!("the loss stopped being finite at learning rate {:.2e}", logs.learning_rate));
            ctx.stop_training("non-finite loss");
            return Ok(());
        }
        s.average = BETA * s.average + (1.0 - BETA) * logs.loss;
        let smooth = s.average / (1.0 - BETA.powi(step as i32 + 1));
        s.smoothed.push(smooth);
        if step == 0 || smooth < s.best {
            s.best = smooth;
        }
        if smooth > self.config.stop_factor * s.best {
            s.stopped = Some(format!(
                "the smoothed loss passed {} times its minimum at learning rate {:.2e}",
                self.config.stop_factor, logs.learning_rate
            ));
            ctx.stop_training("diverged");
        } else if step + 1 >= self.config.steps {
            ctx.stop_training("the sweep is complete");
        }
        Ok(())
    }
}

/// Sweep the learning rate on `model` over `data` with `loss` (a
/// [`strata_loss::LossKind`], or any [`Loss`]: a cross-entropy that ignores
/// padding for a language model); the model's weights and counters are
/// restored afterwards, whatever happened.
///
/// ```
/// use strata_activation::ActivationKind;
/// use strata_data::InMemoryDataset;
/// use strata_layers::Registry;
/// use strata_loss::LossKind;
/// use strata_report::{lr_find, LrFindConfig};
/// use strata_tensor::{StrataRng, Tensor};
///
/// let x = Tensor::from_vec(&[4, 2], vec![0., 0., 0., 1., 1., 0., 1., 1.])?;
/// let data = InMemoryDataset::from_labels(x, &[0, 1, 1, 0])?;
/// let spec = strata_training::presets::mlp(&[2, 8, 2], ActivationKind::Tanh, 0.0)?;
/// let mut model = Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(0))?;
/// let config = LrFindConfig { steps: 50, batch_size: 4, ..LrFindConfig::default() };
/// let sweep = lr_find(model.as_mut(), &data, LossKind::CrossEntropy, &config)?;
/// assert!(sweep.rates.len() <= 50 && sweep.rates[0] == 1e-7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn lr_find(
    model: &mut dyn Layer,
    data: &dyn Dataset,
    loss: impl Loss + 'static,
    config: &LrFindConfig,
) -> Result<LrSweep> {
    check(config, data)?;
    let (weights, counts) = (state_dict(model), counters(model));
    let result = sweep(model, data, loss, config);
    load_state_dict(model, &weights)?;
    load_counters(model, &counts)?;
    result
}

/// The longest sweep (a sweep of 200 steps is the default; past this one
/// the run is a training run, not a sweep).
const MAX_STEPS: usize = 100_000;

fn check(config: &LrFindConfig, data: &dyn Dataset) -> Result<()> {
    let bad = |expected: &str, actual: String| {
        Err(ReportError::Mismatch { operation: "lr-find", expected: expected.to_string(), actual })
    };
    if !(config.start > 0.0 && config.end > config.start && config.end.is_finite()) {
        return bad("0 < start < end", format!("start {} and end {}", config.start, config.end));
    }
    if !(10..=MAX_STEPS).contains(&config.steps) {
        return bad("10 to 100000 steps", format!("{}", config.steps));
    }
    if data.is_empty() || config.batch_size == 0 {
        return bad(
            "a batch size of at least 1 and some data",
            format!("batch {} over {} samples", config.batch_size, data.len()),
        );
    }
    Ok(())
}

fn sweep(
    model: &mut dyn Layer,
    data: &dyn Dataset,
    loss: impl Loss + 'static,
    config: &LrFindConfig,
) -> Result<LrSweep> {
    let batches_per_epoch = data.len().div_ceil(config.batch_size);
    let fit = FitConfig {
        epochs: config.steps.div_ceil(batches_per_epoch),
        batch_size: config.batch_size,
        seed: config.seed,
        track_grad_norms: false,
        progress: Progress::Silent,
        ..FitConfig::default()
    };
    let mut trainer = Trainer::new(fit, loss, OptimizerConfig::from_name(&config.optimizer, config.start)?)?;
    let shared = Arc::new(Mutex::new(Sweep::default()));
    trainer.add_callback(Sweeper { config: config.clone(), shared: shared.clone() })?;
    trainer.fit(model, data, None)?;
    let s = std::mem::take(&mut *shared.lock().unwrap_or_else(PoisonError::into_inner));
    let n = s.smoothed.len();
    let suggestion = valley(&s.smoothed, config.steps).map(|i| s.rates[i]);
    let minimum = (0..n).min_by(|&a, &b| s.smoothed[a].total_cmp(&s.smoothed[b])).map(|i| s.rates[i] / 10.0);
    // As fastai: the first tenth and the last five points are left out.
    let (from, to) = (config.steps / 10, n.saturating_sub(5));
    let steepest = (to > from + 1).then(|| steepest(&s.rates[from..to], &s.smoothed[from..to])).flatten();
    Ok(LrSweep {
        rates: s.rates,
        losses: s.losses,
        smoothed: s.smoothed,
        suggestion,
        minimum,
        steepest,
        stopped: s.stopped,
    })
}

/// fastai's `valley`: skip the first tenth and the last five points; find
/// the longest run of decreasing loss (longest decreasing subsequence) and
/// return the index two thirds of the way down it.
fn valley(losses: &[f32], steps: usize) -> Option<usize> {
    let skip = steps / 10;
    let end = losses.len().checked_sub(5)?;
    if end <= skip + 2 {
        return None;
    }
    let l = &losses[skip..end];
    let n = l.len();
    let mut lds = vec![1usize; n];
    let (mut max_start, mut max_end) = (0, 0);
    for i in 1..n {
        for j in 0..i {
            if l[i] < l[j] && lds[i] < lds[j] + 1 {
                lds[i] = lds[j] + 1;
            }
            if lds[max_end] < lds[i] {
                max_end = i;
                max_start = (max_end + 1).saturating_sub(lds[max_end]);
            }
        }
    }
    let sections = (max_end - max_start) as f32 / 3.0;
    let idx = max_start + sections as usize + (sections / 2.0) as usize;
    Some(skip + idx)
}

/// The rate where the smoothed loss falls fastest per unit of log rate.
fn steepest(rates: &[f32], losses: &[f32]) -> Option<f32> {
    (1..losses.len())
        .map(|i| (i, (losses[i] - losses[i - 1]) / (rates[i].ln() - rates[i - 1].ln())))
        .filter(|(_, slope)| slope.is_finite())
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| rates[i])
}
