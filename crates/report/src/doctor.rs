//! [`doctor`]: the checks of Karpathy's "A Recipe for Training Neural
//! Networks", automated, in seconds, before a long run: the data, the loss at
//! initialisation, gradient flow at initialisation, overfitting one small
//! batch, and an input-independent baseline. The model's weights are put back
//! after every check that trains. [`doctor_language_model`] runs the same
//! recipe with a language model's yardsticks.

use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use strata_data::InMemoryDataset;
use strata_layers::{Layer, counters, load_counters, load_state_dict, state_dict};
use strata_loss::{Loss, LossKind};
use strata_optimizer::OptimizerConfig;
use strata_tensor::{ParamVisitor, Tensor};
use strata_training::{FitConfig, Progress, Trainer, evaluate};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// As it should be.
    Pass,
    /// Worth a look before a long run.
    Warn,
    /// Something is broken: a long run would waste its time.
    Fail,
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// How it went.
    pub status: Status,
    /// The number behind it, in words.
    pub detail: String,
}

/// The checklist.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checklist {
    /// Every check, in the order run.
    pub checks: Vec<Check>,
}

impl Checklist {
    /// The check of this name.
    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }
}

impl std::fmt::Display for Checklist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in &self.checks {
            let tag = match c.status {
                Status::Pass => "pass",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            writeln!(f, "[{tag}] {}: {}", c.name, c.detail)?;
        }
        Ok(())
    }
}

/// How hard the checks that train work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoctorConfig {
    /// Samples of the one batch to overfit.
    pub overfit_samples: usize,
    /// Steps to overfit it.
    pub overfit_steps: usize,
    /// Steps of each input-independent baseline run.
    pub baseline_steps: usize,
    /// Batch size of the baseline runs and the gradient check.
    pub batch_size: usize,
    /// The optimizer of the checks that train (Adam, 1e-3: Karpathy's "safe" choice).
    pub optimizer: String,
    /// Its learning rate.
    pub learning_rate: f32,
    /// Seed of the checks' shuffling.
    pub seed: u64,
}

impl Default for DoctorConfig {
    fn default() -> Self {
        DoctorConfig {
            overfit_samples: 32,
            overfit_steps: 200,
            baseline_steps: 100,
            batch_size: 64,
            optimizer: "adam".into(),
            learning_rate: 1e-3,
            seed: 0,
        }
    }
}

/// The check names, as they appear in the checklist.
pub mod names {
    /// Rows per class.
    pub const CLASS_BALANCE: &str = "class balance";
    /// Test rows that are also training rows.
    pub const SHARED_ROWS: &str = "rows shared by training and test parts";
    /// Features with one value.
    pub const CONSTANT_FEATURES: &str = "constant features";
    /// Feature means and spreads.
    pub const FEATURE_SCALES: &str = "feature scales";
    /// The loss before training.
    pub const INITIAL_LOSS: &str = "loss at initialisation";
    /// Gradient norms before training.
    pub const GRADIENT_FLOW: &str = "gradient flow at initialisation";
    /// Memorising one batch.
    pub const OVERFIT_BATCH: &str = "overfit one batch";
    /// Real against zeroed inputs.
    pub const BASELINE: &str = "input-independent baseline";
    /// Validation items that are also training items (language models).
    pub const SHARED_ITEMS: &str = "items shared by training and validation parts";
}

/// Run every check on `model` (freshly initialised) with `train` and, when
/// given, `test` (both already preprocessed as for training).
///
/// ```
/// use strata_activation::ActivationKind;
/// use strata_data::InMemoryDataset;
/// use strata_layers::Registry;
/// use strata_loss::LossKind;
/// use strata_report::{doctor, DoctorConfig, Status};
/// use strata_tensor::{StrataRng, Tensor};
///
/// let x = Tensor::from_vec(&[4, 2], vec![0., 0., 0., 1., 1., 0., 1., 1.])?;
/// let data = InMemoryDataset::from_labels(x, &[0, 1, 1, 0])?;
/// let spec = strata_training::presets::mlp(&[2, 16, 2], ActivationKind::Tanh, 0.0)?;
/// let mut model = Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(0))?;
/// let checklist = doctor(model.as_mut(), &data, None, LossKind::CrossEntropy, &DoctorConfig::default())?;
/// assert_eq!(checklist.get("overfit one batch").map(|c| c.status), Some(Status::Pass));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn doctor(
    model: &mut dyn Layer,
    train: &InMemoryDataset,
    test: Option<&InMemoryDataset>,
    loss: LossKind,
    config: &DoctorConfig,
) -> Result<Checklist> {
    let mut checks = Vec::new();
    if let Some(counts) = train.class_counts() {
        checks.push(class_balance(&counts));
    }
    if let Some(test) = test {
        checks.push(shared_rows(train, test));
    }
    checks.extend(feature_checks(train.features()));
    let (weights, counts) = (state_dict(model), counters(model));
    let restore = |model: &mut dyn Layer| -> Result<()> {
        load_state_dict(model, &weights)?;
        load_counters(model, &counts)?;
        Ok(())
    };
    let classes = train.n_classes().filter(|_| loss == LossKind::CrossEntropy);
    checks.push(initial_loss(model, train, &loss, classes)?);
    checks.push(gradient_flow(model, train, loss, config)?);
    checks.push(overfit_batch(model, train, loss, config));
    restore(model)?;
    let hint = "the model learns no more from the inputs than without them: check that features and labels line up";
    let held_out = Baseline { test, fill: 0.0, blank: "zeroed inputs", pass_below: 0.8, hint };
    checks.push(baseline(model, train, held_out, loss, config, &restore));
    restore(model)?;
    Ok(Checklist { checks })
}

/// [`doctor`] for a language model trained on next ids
/// ([`strata_data::next_id_dataset`]: inputs and targets padded with `pad`,
/// which `loss` ignores), with `val` its validation part:
///
/// - the items of `val` that are also training items;
/// - the loss at initialisation against `ln(vocabulary)`;
/// - gradient flow at initialisation;
/// - overfitting one batch, judged against what the batch allows: a causal
///   model makes one prediction for every position whose inputs so far are
///   the same in several items (every item's first character follows the
///   same boundary), so only the most common of their targets can be right;
/// - the real inputs against inputs that are all `pad`, which still learn
///   the characters' frequencies at each position: the real ones must do
///   at least 5% better.
///
/// The feature checks of [`doctor`] are left out: ids are not measurements.
///
/// ```
/// use strata_data::{CharVocab, next_id_dataset};
/// use strata_layers::Registry;
/// use strata_loss::CrossEntropy;
/// use strata_report::{DoctorConfig, Status, checks, doctor_language_model};
/// use strata_tensor::StrataRng;
///
/// let lines: Vec<String> = ["ab", "abc", "ba"].iter().map(|s| s.to_string()).collect();
/// let vocab = CharVocab::from_lines(&lines)?;
/// let data = next_id_dataset(&vocab.encode_lines(&lines, "example", 1)?, vocab.len())?;
/// let spec = strata_attention::presets::language_model(vocab.len(), 4, 16, 2, 32, 1, 0.0)?;
/// let mut registry = Registry::with_builtins();
/// strata_normalization::register(&mut registry)?;
/// strata_attention::register(&mut registry)?;
/// let mut model = registry.build(&spec, &mut StrataRng::seed_from_u64(0))?;
/// let loss = CrossEntropy::new().with_ignore_index(CharVocab::PAD);
/// let list = doctor_language_model(model.as_mut(), &data, None, loss, CharVocab::PAD, &DoctorConfig::default())?;
/// assert_eq!(list.get(checks::OVERFIT_BATCH).map(|c| c.status), Some(Status::Pass));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn doctor_language_model<L: Loss + Copy + 'static>(
    model: &mut dyn Layer,
    train: &InMemoryDataset,
    val: Option<&InMemoryDataset>,
    loss: L,
    pad: usize,
    config: &DoctorConfig,
) -> Result<Checklist> {
    let mut checks = Vec::new();
    if let Some(val) = val {
        checks.push(shared_items(train, val));
    }
    let (weights, counts) = (state_dict(model), counters(model));
    let restore = |model: &mut dyn Layer| -> Result<()> {
        load_state_dict(model, &weights)?;
        load_counters(model, &counts)?;
        Ok(())
    };
    checks.push(initial_loss(model, train, &loss, train.n_classes())?);
    checks.push(gradient_flow(model, train, loss, config)?);
    checks.push(overfit_sequences(model, train, loss, pad, config));
    restore(model)?;
    let hint = "the model predicts no better from the characters before than from the positions alone: check that \
                the targets are the inputs shifted by one";
    let blank = "every input the padding id";
    let held_out = Baseline { test: val, fill: pad as f32, blank, pass_below: 0.95, hint };
    checks.push(baseline(model, train, held_out, loss, config, &restore));
    restore(model)?;
    Ok(Checklist { checks })
}

fn check(name: &str, status: Status, detail: String) -> Check {
    Check { name: name.to_string(), status, detail }
}

fn class_balance(counts: &[usize]) -> Check {
    let present: Vec<(usize, usize)> = counts.iter().copied().enumerate().filter(|(_, c)| *c > 0).collect();
    let (lo, hi) = (present.iter().min_by_key(|p| p.1), present.iter().max_by_key(|p| p.1));
    let (Some(&(lo_class, lo)), Some(&(hi_class, hi))) = (lo, hi) else {
        return check(names::CLASS_BALANCE, Status::Fail, "the training part has no labelled row".into());
    };
    let missing = counts.len() - present.len();
    let detail = format!(
        "{} classes; the rarest, class {lo_class}, has {lo} rows, the most common, class {hi_class}, {hi} ({:.2}x){}",
        present.len(),
        hi as f32 / lo as f32,
        if missing > 0 { format!("; {missing} classes have no training row") } else { String::new() }
    );
    let status = if missing > 0 || (lo as f32) < 0.2 * hi as f32 { Status::Warn } else { Status::Pass };
    check(names::CLASS_BALANCE, status, detail)
}

fn row_hash(row: &[f32]) -> u64 {
    let mut h = DefaultHasher::new();
    for v in row {
        v.to_bits().hash(&mut h);
    }
    h.finish()
}

/// How many rows of `held_out` have features equal to a training row's (by
/// hash of the exact bits).
fn count_shared(train: &InMemoryDataset, held_out: &InMemoryDataset) -> usize {
    let rows = |d: &InMemoryDataset| {
        let x = d.features();
        let width = x.len() / d.len().max(1);
        (0..d.len()).map(move |i| row_hash(&x.data()[i * width..(i + 1) * width])).collect::<Vec<u64>>()
    };
    let seen: HashSet<u64> = rows(train).into_iter().collect();
    rows(held_out).iter().filter(|h| seen.contains(h)).count()
}

/// Test rows whose features equal a training row's.
fn shared_rows(train: &InMemoryDataset, test: &InMemoryDataset) -> Check {
    let shared = count_shared(train, test);
    let detail = format!("{shared} of the {} test rows also appear in the training part", test.len());
    check(names::SHARED_ROWS, if shared > 0 { Status::Warn } else { Status::Pass }, detail)
}

/// Validation items whose inputs equal a training item's: a validation loss
/// that flatters.
fn shared_items(train: &InMemoryDataset, val: &InMemoryDataset) -> Check {
    let shared = count_shared(train, val);
    let detail = format!("{shared} of the {} validation items also appear in the training part", val.len());
    check(names::SHARED_ITEMS, if shared > 0 { Status::Warn } else { Status::Pass }, detail)
}

/// Per-feature mean and standard deviation over the rows of `x`.
fn column_stats(x: &Tensor) -> Vec<(f64, f64)> {
    let n = x.shape().first().copied().unwrap_or(0);
    let width = x.len().checked_div(n).unwrap_or(0);
    let mut sums = vec![(0f64, 0f64); width];
    for row in x.data().chunks(width.max(1)) {
        for (s, &v) in sums.iter_mut().zip(row) {
            s.0 += f64::from(v);
            s.1 += f64::from(v) * f64::from(v);
        }
    }
    let n = n.max(1) as f64;
    sums.into_iter().map(|(s, sq)| (s / n, (sq / n - (s / n).powi(2)).max(0.0).sqrt())).collect()
}

fn feature_checks(x: &Tensor) -> Vec<Check> {
    let stats = column_stats(x);
    let constant: Vec<usize> = stats.iter().enumerate().filter(|(_, s)| s.1 == 0.0).map(|(i, _)| i).collect();
    let constant_check = match constant.first() {
        None => {
            check(names::CONSTANT_FEATURES, Status::Pass, format!("none of the {} features is constant", stats.len()))
        }
        Some(first) => {
            let share = constant.len() as f32 / stats.len() as f32;
            let detail = format!(
                "{} of the {} features are constant in the training part (the first: column {first}); they carry no \
                 information",
                constant.len(),
                stats.len()
            );
            check(names::CONSTANT_FEATURES, if share >= 0.5 { Status::Warn } else { Status::Pass }, detail)
        }
    };
    let mut sds: Vec<f64> = stats.iter().map(|s| s.1).filter(|s| *s > 0.0).collect();
    sds.sort_by(f64::total_cmp);
    let max_mean = stats.iter().map(|s| s.0.abs()).fold(0.0, f64::max);
    let quantile = |q: f64| sds.get(((sds.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0.0);
    let (p10, p90) = (quantile(0.1), quantile(0.9));
    let spread = if p10 > 0.0 { p90 / p10 } else { 1.0 };
    let detail = format!(
        "standard deviations from {p10:.3} to {p90:.3} (10th to 90th percentile, {spread:.1}x), largest |mean| {max_mean:.3}"
    );
    let off = spread > 100.0 || max_mean > 10.0 || p90 > 100.0;
    let detail = if off { format!("{detail}: standardise the features (--normalize standard)") } else { detail };
    vec![constant_check, check(names::FEATURE_SCALES, if off { Status::Warn } else { Status::Pass }, detail)]
}

/// The first rows of `data`, at most `n`.
fn head(data: &InMemoryDataset, n: usize) -> Result<InMemoryDataset> {
    let indices: Vec<usize> = (0..data.len().min(n)).collect();
    Ok(data.subset(&indices)?)
}

/// The loss of the first 512 rows, against `ln(classes)` when `classes` is
/// given (a cross-entropy over that many classes).
fn initial_loss(
    model: &mut dyn Layer,
    train: &InMemoryDataset,
    loss: &dyn Loss,
    classes: Option<usize>,
) -> Result<Check> {
    let m = evaluate(model, &head(train, 512)?, loss)?;
    let Some(classes) = classes else {
        return Ok(check(names::INITIAL_LOSS, Status::Pass, format!("{:.4} on {} rows", m.loss, m.n_samples)));
    };
    let expected = (classes as f32).ln();
    let off = (m.loss - expected).abs() / expected;
    let detail = format!(
        "{:.4} on {} rows, against ln({classes}) = {expected:.4} for evenly spread predictions ({:.0}% off)",
        m.loss,
        m.n_samples,
        100.0 * off
    );
    let status = if !m.loss.is_finite() {
        Status::Fail
    } else if off > 0.25 {
        Status::Warn
    } else {
        Status::Pass
    };
    let detail = if status == Status::Pass {
        detail
    } else {
        format!("{detail}: the last layer's initialisation is too large, or its bias is not zero")
    };
    Ok(check(names::INITIAL_LOSS, status, detail))
}

fn trainer(config: &DoctorConfig, loss: impl Loss + 'static, batch_size: usize, epochs: usize) -> Result<Trainer> {
    let fit = FitConfig {
        epochs,
        batch_size,
        seed: config.seed,
        progress: Progress::Silent,
        track_grad_norms: false,
        ..FitConfig::default()
    };
    Ok(Trainer::new(fit, loss, OptimizerConfig::from_name(&config.optimizer, config.learning_rate)?)?)
}

fn gradient_flow(
    model: &mut dyn Layer,
    train: &InMemoryDataset,
    loss: impl Loss + 'static,
    config: &DoctorConfig,
) -> Result<Check> {
    let batch = head(train, config.batch_size)?;
    let mut t = trainer(config, loss, config.batch_size, 1)?;
    t.compute_gradients(model, batch.features(), batch.targets())?;
    let mut norms = Vec::new();
    let mut path = String::new();
    let mut f = |p: strata_tensor::ParamRef<'_>| {
        if let Some(g) = p.grad
            && p.name.ends_with("weight")
        {
            norms.push((p.name.to_string(), g.norm_l2()));
        }
    };
    model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    model.zero_grad();
    if let Some((name, _)) = norms.iter().find(|(_, n)| !(*n > 0.0 && n.is_finite())) {
        return Ok(check(names::GRADIENT_FLOW, Status::Fail, format!("no usable gradient reaches {name}")));
    }
    let (Some(lo), Some(hi)) =
        (norms.iter().min_by(|a, b| a.1.total_cmp(&b.1)), norms.iter().max_by(|a, b| a.1.total_cmp(&b.1)))
    else {
        return Ok(check(names::GRADIENT_FLOW, Status::Warn, "the model has no weight to check".into()));
    };
    let ratio = hi.1 / lo.1;
    let detail = format!(
        "weight gradient norms from {:.2e} ({}) to {:.2e} ({}), {ratio:.1}x apart over {} weights",
        lo.1,
        lo.0,
        hi.1,
        hi.0,
        norms.len()
    );
    Ok(check(names::GRADIENT_FLOW, if ratio >= 100.0 { Status::Warn } else { Status::Pass }, detail))
}

/// The first `config.overfit_samples` rows of `train`, and the loss and
/// accuracy on them before and after `config.overfit_steps` steps on them
/// alone (both measured in evaluation mode: no dropout).
struct Overfit {
    batch: InMemoryDataset,
    before: f32,
    after: f32,
    accuracy: Option<f32>,
}

fn overfit<L: Loss + Copy + 'static>(
    model: &mut dyn Layer,
    train: &InMemoryDataset,
    loss: L,
    config: &DoctorConfig,
) -> Result<Overfit> {
    let batch = head(train, config.overfit_samples)?;
    let before = evaluate(model, &batch, &loss)?.loss;
    let mut t = trainer(config, loss, batch.len(), config.overfit_steps)?;
    t.fit(model, &batch, None)?;
    let after = evaluate(model, &batch, &loss)?;
    Ok(Overfit { batch, before, after: after.loss, accuracy: after.accuracy })
}

/// Train on one small batch until it is memorised.
fn overfit_batch<L: Loss + Copy + 'static>(
    model: &mut dyn Layer,
    train: &InMemoryDataset,
    loss: L,
    config: &DoctorConfig,
) -> Check {
    let run = overfit(model, train, loss, config);
    match run.map(|o| (o.before, o.after, o.accuracy, o.batch.len())) {
        Ok((before, after, accuracy, n)) => {
            let acc = accuracy.map_or_else(String::new, |a| format!(", accuracy {:.1}%", 100.0 * a));
            let detail = format!("{n} rows, {} steps: loss {before:.4} -> {after:.4}{acc}", config.overfit_steps);
            let memorised = match accuracy {
                Some(acc) => acc >= 1.0,
                None => after <= 0.05 * before.max(1e-6),
            };
            if memorised {
                check(names::OVERFIT_BATCH, Status::Pass, detail)
            } else if after <= 0.25 * before {
                let hint = "learning but not memorised yet: unscaled features or a low learning rate slow it down";
                check(names::OVERFIT_BATCH, Status::Warn, format!("{detail}: {hint}"))
            } else {
                let hint = "the model cannot memorise a few rows: look for a bug (labels, loss, a frozen layer) or too \
                            little capacity";
                check(names::OVERFIT_BATCH, Status::Fail, format!("{detail}: {hint}"))
            }
        }
        Err(e) => check(names::OVERFIT_BATCH, Status::Fail, format!("training failed: {e}")),
    }
}

/// Overfit one batch of a language model, judged against the batch's own
/// limits ([`prefix_limits`]).
fn overfit_sequences<L: Loss + Copy + 'static>(
    model: &mut dyn Layer,
    train: &InMemoryDataset,
    loss: L,
    pad: usize,
    config: &DoctorConfig,
) -> Check {
    let o = match overfit(model, train, loss, config) {
        Ok(o) => o,
        Err(e) => return check(names::OVERFIT_BATCH, Status::Fail, format!("training failed: {e}")),
    };
    let (reachable, floor) = prefix_limits(&o.batch, pad);
    let accuracy = o.accuracy.unwrap_or(0.0);
    let detail = format!(
        "{} items, {} steps: loss {:.4} -> {:.4} (the batch's floor {floor:.4}), accuracy {:.1}% of the {:.1}% its \
         repeated prefixes leave reachable",
        o.batch.len(),
        config.overfit_steps,
        o.before,
        o.after,
        100.0 * accuracy,
        100.0 * reachable
    );
    if accuracy >= reachable - 0.02 {
        check(names::OVERFIT_BATCH, Status::Pass, detail)
    } else if o.after - floor <= 0.25 * (o.before - floor) {
        let hint = "learning but not memorised yet: a low learning rate or too few steps";
        check(names::OVERFIT_BATCH, Status::Warn, format!("{detail}: {hint}"))
    } else {
        let hint = "the model cannot memorise a few items: look for a bug (targets not shifted by one, a mask that \
                    lets a position see its target, a frozen layer) or too little capacity";
        check(names::OVERFIT_BATCH, Status::Fail, format!("{detail}: {hint}"))
    }
}

/// The best accuracy and the lowest mean cross-entropy (nats) any causal
/// model can reach on `batch` (inputs and targets of next ids, `pad` not
/// counted). Positions whose inputs up to them are equal get one prediction:
/// of their targets only the most common can be right, and the lowest loss
/// is the entropy of those targets.
fn prefix_limits(batch: &InMemoryDataset, pad: usize) -> (f32, f32) {
    let (x, y) = (batch.features(), batch.targets());
    let width = x.len() / batch.len().max(1);
    let mut groups: HashMap<Vec<u32>, HashMap<u32, usize>> = HashMap::new();
    for (inputs, targets) in x.data().chunks(width.max(1)).zip(y.data().chunks(width.max(1))) {
        for (t, &target) in targets.iter().enumerate().filter(|(_, v)| **v != pad as f32) {
            let prefix = inputs[..=t].iter().map(|v| v.to_bits()).collect();
            *groups.entry(prefix).or_default().entry(target.to_bits()).or_default() += 1;
        }
    }
    let (mut total, mut right, mut nats) = (0usize, 0usize, 0f64);
    for counts in groups.values() {
        let n: usize = counts.values().sum();
        total += n;
        right += counts.values().max().copied().unwrap_or(0);
        nats += counts.values().map(|&c| c as f64 * (n as f64 / c as f64).ln()).sum::<f64>();
    }
    if total == 0 {
        return (1.0, 0.0);
    }
    (right as f32 / total as f32, (nats / total as f64) as f32)
}

/// Copies of `data` whose every feature is `fill`, same targets.
fn zeroed(data: &InMemoryDataset, fill: f32) -> Result<InMemoryDataset> {
    let x = Tensor::full(data.features().shape(), fill);
    let mut out = InMemoryDataset::new(x, data.targets().clone())?;
    if let Some(n) = data.n_classes() {
        out = out.with_n_classes(n)?;
    }
    Ok(out)
}

/// How [`baseline`] runs: on which held-out part (else the part it trains
/// on), with which value in place of every input (described as `blank`),
/// under which share of that run's loss the real inputs' loss passes, and
/// the hint of a warning.
struct Baseline<'a> {
    test: Option<&'a InMemoryDataset>,
    fill: f32,
    blank: &'static str,
    pass_below: f32,
    hint: &'static str,
}

/// Train from the same start on real and on blanked inputs; the real inputs
/// must give a clearly lower held-out loss.
fn baseline<L: Loss + Copy + 'static>(
    model: &mut dyn Layer,
    train: &InMemoryDataset,
    Baseline { test, fill, blank, pass_below, hint }: Baseline<'_>,
    loss: L,
    config: &DoctorConfig,
    restore: &dyn Fn(&mut dyn Layer) -> Result<()>,
) -> Check {
    let mut run = || -> Result<(f32, f32)> {
        let n_fit = (config.baseline_steps * config.batch_size).min(train.len());
        let fit_part = head(train, n_fit)?;
        let held_out = match test {
            Some(t) => head(t, 1000)?,
            None => fit_part.clone(),
        };
        let epochs = (config.baseline_steps * config.batch_size).div_ceil(n_fit.max(1)).max(1);
        let mut t = trainer(config, loss, config.batch_size, epochs)?;
        t.fit(model, &fit_part, None)?;
        let real = evaluate(model, &held_out, &loss)?.loss;
        restore(model)?;
        let mut t = trainer(config, loss, config.batch_size, epochs)?;
        t.fit(model, &zeroed(&fit_part, fill)?, None)?;
        let zero = evaluate(model, &zeroed(&held_out, fill)?, &loss)?.loss;
        Ok((real, zero))
    };
    match run() {
        Ok((real, zero)) => {
            let detail = format!(
                "held-out loss {real:.4} with the real inputs against {zero:.4} with {blank}, after {} steps each",
                config.baseline_steps
            );
            if real < pass_below * zero {
                check(names::BASELINE, Status::Pass, detail)
            } else {
                check(names::BASELINE, Status::Warn, format!("{detail}: {hint}"))
            }
        }
        Err(e) => check(names::BASELINE, Status::Fail, format!("training failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_of_a_batch_come_from_its_repeated_prefixes() {
        // Ids: 0 padding, 1 boundary, 2 a, 3 b, 4 c. Items "ab", "ac", "b" as next-id pairs.
        let inputs = [vec![1, 2, 3], vec![1, 2, 4], vec![1, 3]];
        let targets = [vec![2, 3, 1], vec![2, 4, 1], vec![3, 1]];
        let batch = InMemoryDataset::from_sequences(&inputs, &targets, 0, 5).expect("a batch");
        let (reachable, floor) = prefix_limits(&batch, 0);
        // Worked by hand over the 8 targets: after [1] come a, a, b (one prediction: 2 right); after [1, 2] come
        // b, c (1 right); the three other prefixes have one target each. 6 of 8 right. The floor is the
        // entropy of those groups: (2 ln(3/2) + ln 3 + 2 ln 2) / 8 = 0.411980 nats.
        assert_eq!(reachable, 0.75);
        let want = (2.0 * 1.5f64.ln() + 3f64.ln() + 2.0 * 2f64.ln()) / 8.0;
        assert!((f64::from(floor) - want).abs() < 1e-6, "{floor} against {want}");
        assert!((want - 0.411980).abs() < 1e-6);
    }
}
