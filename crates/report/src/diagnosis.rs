//! [`diagnose`]: what went wrong in training, in plain words, from the
//! history and the [`Observations`] of a run. Every rule and threshold is in
//! [`Thresholds`] and documented in `docs/diagnosis.md`.

use crate::observe::Observations;
use serde::{Deserialize, Serialize};
use strata_training::{EpochRecord, History};

/// What a finding says is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The loss diverged, stopped being finite, or oscillates.
    LearningRateTooLarge,
    /// The loss barely moved from its value at initialisation.
    LearningRateTooSmall,
    /// The training loss ends above the loss of predicting without the inputs.
    WorseThanBaseline,
    /// Training stopped while the training loss was still falling clearly.
    StillImproving,
    /// The model fits its training data much better than unseen data.
    Overfitting,
    /// The model does not fit even its training data, and has stopped improving.
    Underfitting,
    /// The first layers receive orders of magnitude less gradient than the last.
    VanishingGradients,
    /// The first layers receive orders of magnitude more gradient than the last.
    ExplodingGradients,
    /// Many ReLU units are never active.
    DeadUnits,
    /// Many sigmoid or tanh outputs sit at their bounds.
    SaturatedUnits,
}

impl Verdict {
    /// The verdict in words, as a heading.
    pub const fn title(self) -> &'static str {
        match self {
            Verdict::LearningRateTooLarge => "learning rate too large",
            Verdict::LearningRateTooSmall => "learning rate too small",
            Verdict::WorseThanBaseline => "worse than predicting without the inputs",
            Verdict::StillImproving => "still improving when training stopped",
            Verdict::Overfitting => "overfitting",
            Verdict::Underfitting => "underfitting",
            Verdict::VanishingGradients => "vanishing gradients",
            Verdict::ExplodingGradients => "exploding gradients",
            Verdict::DeadUnits => "dead ReLU units",
            Verdict::SaturatedUnits => "saturated units",
        }
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something to fix.
    Warning,
    /// Worth knowing, already handled (early stopping restored the best weights).
    Note,
}

/// One thing the diagnosis saw: what, the numbers that led there, and what to try.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What is wrong.
    pub verdict: Verdict,
    /// Whether it needs fixing.
    pub severity: Severity,
    /// What was seen, with its numbers.
    pub evidence: String,
    /// What to try.
    pub suggestion: String,
}

/// The thresholds of the rules (`docs/diagnosis.md` explains each).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Overfitting: the final validation loss is this much above its minimum (0.2 = 20%).
    pub val_loss_rise: f32,
    /// Overfitting: training accuracy minus validation accuracy, at least (0.10 = 10 points).
    pub accuracy_gap: f32,
    /// Underfitting: the final training loss is at least this share of the baseline loss.
    pub underfit_loss_share: f32,
    /// Underfitting (classification): the training accuracy stays below this.
    pub underfit_accuracy: f32,
    /// Underfitting (regression): the training loss is at least this share of the baseline.
    pub underfit_regression_share: f32,
    /// Underfitting, when the validation loss is at or below the training loss (dropout raises the
    /// training figures): the validation loss is at least this share of the baseline too.
    pub underfit_validation_share: f32,
    /// "Flat": the training loss improves by less than this per epoch over the last third of the epochs;
    /// a high loss improving by at least this much is still improving.
    pub flat_improvement: f32,
    /// "Decayed": the last epoch's learning rate is below this share of the run's peak rate.
    pub decayed_rate: f32,
    /// Too small: the loss fell by less than this share of its initial value.
    pub min_progress: f32,
    /// Too large: the final training loss is this many times its best epoch's ...
    pub divergence: f32,
    /// ... and above it by at least this share of the baseline (of the initial loss without one).
    pub divergence_material: f32,
    /// Too large: the final training loss is this share above both the
    /// initial loss and the baseline (0.1 = 10%). Worse than the baseline:
    /// the final training loss is this share above the baseline.
    pub divergence_margin: f32,
    /// Too large: an epoch's training loss, or the last validation loss, is this many times the
    /// loss at the start, and the training loss ends no better than the baseline (within the margin).
    pub spike: f32,
    /// Worse than the baseline: the loss at the start is "far above" the baseline at this many times it.
    pub initial_excess: f32,
    /// Too large: the share of epochs whose training loss rose (with at least 5 epochs) ...
    pub oscillation_share: f32,
    /// ... each rise by at least this share of the loss.
    pub oscillation_amplitude: f32,
    /// Vanishing or exploding: the ratio of the last to the first weight's gradient norm.
    pub gradient_ratio: f32,
    /// Dead units: the share of a ReLU layer's units never active on the probe batch.
    pub dead_share: f32,
    /// Saturated units: the share of a sigmoid or tanh layer's outputs within 1% of a bound.
    pub saturated_share: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            val_loss_rise: 0.2,
            accuracy_gap: 0.10,
            underfit_loss_share: 0.05,
            underfit_accuracy: 0.97,
            underfit_regression_share: 0.8,
            underfit_validation_share: 0.2,
            flat_improvement: 0.05,
            decayed_rate: 0.01,
            min_progress: 0.10,
            divergence: 1.5,
            divergence_material: 0.1,
            divergence_margin: 0.1,
            spike: 10.0,
            initial_excess: 2.0,
            oscillation_share: 0.4,
            oscillation_amplitude: 0.05,
            gradient_ratio: 100.0,
            dead_share: 0.5,
            saturated_share: 0.5,
        }
    }
}

/// What the diagnosis looks at.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The run's epochs.
    pub history: &'a History,
    /// What an [`crate::Observer`] saw, if one watched the run.
    pub observations: Option<&'a Observations>,
    /// The loss of the best input-independent prediction: the entropy of the
    /// class prior for a classifier (`ln C` for balanced classes, see
    /// [`class_prior_loss`]), the target's variance for a regression (1 once
    /// standardised).
    pub baseline_loss: Option<f32>,
}

/// The findings of a diagnosis, most serious first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// What was found; empty for a healthy run.
    pub findings: Vec<Finding>,
}

impl Diagnosis {
    /// The verdicts of the warnings.
    pub fn warnings(&self) -> Vec<Verdict> {
        self.findings.iter().filter(|f| f.severity == Severity::Warning).map(|f| f.verdict).collect()
    }

    /// Whether a finding has this verdict (warning or note).
    pub fn has(&self, verdict: Verdict) -> bool {
        self.findings.iter().any(|f| f.verdict == verdict)
    }

    /// The same findings with suggestions for a model whose inputs are
    /// token ids (the language model): ids are not scaled, so the
    /// suggestion to scale the inputs becomes one to check the
    /// initialisation.
    pub fn for_token_ids(mut self) -> Self {
        for finding in &mut self.findings {
            finding.suggestion = finding.suggestion.replace(SCALE_INPUTS, CHECK_INIT);
        }
        self
    }
}

impl std::fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.findings.is_empty() {
            return writeln!(
                f,
                "diagnosis: no problem found (learning rate, fit, gradient flow and units all within the rules of \
                 docs/diagnosis.md)"
            );
        }
        for finding in &self.findings {
            let label = if finding.severity == Severity::Warning { "warning" } else { "note" };
            writeln!(f, "diagnosis, {label}: {}: {}", finding.verdict.title(), finding.evidence)?;
            writeln!(f, "  suggestion: {}", finding.suggestion)?;
        }
        Ok(())
    }
}

/// The cross-entropy of predicting the class frequencies of `counts` for
/// every sample: the loss a model reaches without looking at its inputs.
pub fn class_prior_loss(counts: &[usize]) -> Option<f32> {
    let n: usize = counts.iter().sum();
    (n > 0).then(|| {
        let h: f64 = counts.iter().filter(|&&c| c > 0).map(|&c| c as f64 / n as f64).map(|p| -p * p.ln()).sum();
        h as f32
    })
}

/// Apply every rule. Once the learning rate is judged too large, the rules
/// about fit and gradients are skipped (their figures then mean nothing); so
/// are they when dead units leave every weight without gradient.
pub fn diagnose(evidence: &Evidence<'_>, t: &Thresholds) -> Diagnosis {
    let silent = silent_weights(evidence.history);
    let mut findings: Vec<Finding> = learning_rate_too_large(evidence, t).into_iter().collect();
    // A silent network is said once: by the rate's finding when there is one, else by the dead units'.
    let unit_findings = evidence.observations.map(|o| units(o, t, silent && findings.is_empty())).unwrap_or_default();
    let dead_and_silent = silent && unit_findings.iter().any(|f| f.verdict == Verdict::DeadUnits);
    if findings.is_empty() && !dead_and_silent {
        findings.extend(flow_and_fit(evidence, t));
    }
    findings.extend(unit_findings);
    Diagnosis { findings }
}

/// A loss above the baseline first: the fit rules assume a model that beats
/// predicting without its inputs. Then gradient flow: vanishing gradients
/// also keep the loss from moving and spoil the fit, and explain both better
/// than the learning rate. Then a rate too small; then over- or underfitting,
/// or a loss still falling when training stopped.
fn flow_and_fit(e: &Evidence<'_>, t: &Thresholds) -> Vec<Finding> {
    if let Some(worse) = worse_than_baseline(e, t) {
        return vec![worse];
    }
    if let Some(flow) = gradient_flow(e.history, t) {
        return vec![flow];
    }
    if let Some(slow) = learning_rate_too_small(e, t) {
        return vec![slow];
    }
    let mut out: Vec<Finding> = overfitting(e, t).into_iter().collect();
    if !out.iter().any(|f| f.severity == Severity::Warning) {
        out.extend(still_improving(e, t).or_else(|| underfitting(e, t)));
    }
    out
}

fn warning(verdict: Verdict, evidence: String, suggestion: &str) -> Finding {
    Finding { verdict, severity: Severity::Warning, evidence, suggestion: suggestion.to_string() }
}

/// A loss as printed: four decimals, or scientific form from 10 000 up.
fn figure(v: f32) -> String {
    if v.abs() >= 1e4 { format!("{v:.3e}") } else { format!("{v:.4}") }
}

/// A ratio as printed: `156x`, or `5.4e12x` from 10 000 up.
fn times(ratio: f32) -> String {
    if ratio >= 1e4 { format!("{ratio:.1e}x") } else { format!("{ratio:.0}x") }
}

/// The last epoch's weight-gradient norms, input side first.
fn weight_norms(h: &History) -> Vec<&(String, f32)> {
    h.last().map(|r| r.grad_norms.iter().filter(|(name, _)| name.ends_with("weight")).collect()).unwrap_or_default()
}

/// Whether no gradient reached any weight in the last epoch: every weight's
/// gradient norm is 0 (the units before them are dead).
fn silent_weights(h: &History) -> bool {
    let norms = weight_norms(h);
    !norms.is_empty() && norms.iter().all(|(_, n)| *n == 0.0)
}

const NO_GRADIENT: &str = "no gradient reaches any weight (every weight's gradient norm is 0 in the last epoch)";

const LOWER_RATE: &str = "lower the learning rate 3-10x (--lr), or find one with `strata lr-find`; gradient \
                          clipping also guards against single large steps";

fn learning_rate_too_large(e: &Evidence<'_>, t: &Thresholds) -> Option<Finding> {
    if let Some(p) = e.observations.and_then(|o| o.non_finite) {
        let what = if p.loss.is_finite() {
            "a gradient stopped being finite".to_string()
        } else {
            format!("the loss became {}", p.loss)
        };
        let evidence =
            format!("{what} at epoch {}, batch {} (learning rate {:.3e})", p.epoch, p.batch, p.learning_rate);
        return Some(warning(Verdict::LearningRateTooLarge, evidence, LOWER_RATE));
    }
    let losses: Vec<f32> = e.history.epochs.iter().map(|r| r.train_loss).collect();
    let last = *losses.last()?;
    if !last.is_finite() {
        return Some(warning(
            Verdict::LearningRateTooLarge,
            format!("the last epoch's training loss is {last}"),
            LOWER_RATE,
        ));
    }
    let initial = initial_loss(e)?;
    let evidence = diverged(e, t, &losses, initial).or_else(|| oscillates(&losses, t))?;
    let evidence = if silent_weights(e.history) { format!("{evidence}; {NO_GRADIENT}") } else { evidence };
    Some(warning(Verdict::LearningRateTooLarge, evidence, LOWER_RATE))
}

/// The epoch (from 1) and value of the loss that `better` prefers to all others.
fn extreme(losses: &[f32], better: impl Fn(f32, f32) -> bool) -> (usize, f32) {
    let mut out = (1, losses[0]);
    for (i, &v) in losses.iter().enumerate() {
        if better(v, out.1) {
            out = (i + 1, v);
        }
    }
    out
}

/// Evidence that the training loss diverged: it rose far above its best
/// epoch, or ended above where it started, or ended no better than the
/// baseline after jumping far above its start (or with its validation loss
/// far above it).
fn diverged(e: &Evidence<'_>, t: &Thresholds, losses: &[f32], initial: f32) -> Option<String> {
    let last = *losses.last()?;
    let (best_epoch, best) = extreme(losses, |a, b| a < b);
    let (peak_epoch, peak) = extreme(losses, |a, b| a > b);
    // A rise matters when it is large against what predicting without the inputs costs, not only against the best.
    let scale = e.baseline_loss.unwrap_or(initial);
    if last > t.divergence * best && last - best > t.divergence_material * scale {
        return Some(format!(
            "the training loss diverged: {} in the last epoch, against {} in epoch {best_epoch} (its best) and {} at \
             the start",
            figure(last),
            figure(best),
            figure(initial)
        ));
    }
    let peaked =
        if peak > last { format!("; it peaked at {} in epoch {peak_epoch}", figure(peak)) } else { String::new() };
    let baseline_words = e
        .baseline_loss
        .map_or_else(String::new, |b| format!(" and the {} of predicting without the inputs", figure(b)));
    // Worse than at the start and than predicting without the inputs, by a margin the noise of one batch does not reach.
    let start = initial.max(e.baseline_loss.unwrap_or(initial));
    if last > (1.0 + t.divergence_margin) * start {
        return Some(format!(
            "the training loss diverged: {} in the last epoch, above the {} at the start{baseline_words}{peaked}",
            figure(last),
            figure(initial)
        ));
    }
    jumped_and_ended_at_the_baseline(e, t, (initial, start), (peak_epoch, peak), last)
}

/// A loss that jumped far above its start (in some training epoch, or in the
/// last validation) and ended no better than the baseline: the cosine
/// schedule can let a dead network's training loss sink back to the baseline.
fn jumped_and_ended_at_the_baseline(
    e: &Evidence<'_>,
    t: &Thresholds,
    (initial, start): (f32, f32),
    (peak_epoch, peak): (usize, f32),
    last: f32,
) -> Option<String> {
    let baseline = e.baseline_loss.filter(|b| *b > 0.0)?;
    if last < (1.0 - t.divergence_margin) * baseline {
        return None;
    }
    let val = e.history.last()?.validation.map(|v| v.loss).filter(|v| *v > t.spike * start);
    let val_words = |v: f32| format!("the validation loss ends at {}, {} the baseline", figure(v), times(v / baseline));
    let ending =
        format!("ends at {}, no better than the {} of predicting without the inputs", figure(last), figure(baseline));
    if peak > t.spike * start {
        let val_part = val.map_or_else(String::new, |v| format!("; {}", val_words(v)));
        return Some(format!(
            "the training loss diverged: it jumped from {} at the start to {} in epoch {peak_epoch} and {ending}{val_part}",
            figure(initial),
            figure(peak)
        ));
    }
    val.map(|v| format!("{}, while the training loss {ending}", val_words(v)))
}

fn oscillates(losses: &[f32], t: &Thresholds) -> Option<String> {
    let rises = losses.windows(2).filter(|w| w[1] > w[0] * (1.0 + t.oscillation_amplitude)).count();
    let transitions = losses.len().saturating_sub(1);
    (losses.len() >= 5 && rises as f32 >= t.oscillation_share * transitions as f32).then(|| {
        format!(
            "the training loss oscillates: it rose by more than {:.0}% in {rises} of {transitions} epochs",
            100.0 * t.oscillation_amplitude
        )
    })
}

/// The loss before the first update, or failing that the first epoch's.
fn initial_loss(e: &Evidence<'_>) -> Option<f32> {
    e.observations.and_then(|o| o.initial_loss).or_else(|| e.history.epochs.first().map(|r| r.train_loss))
}

/// The loss at the start, when it is far above the baseline (unscaled inputs, a large initialisation).
fn initial_far_above(e: &Evidence<'_>, t: &Thresholds) -> Option<(f32, f32)> {
    let baseline = e.baseline_loss.filter(|b| *b > 0.0)?;
    initial_loss(e).filter(|i| *i >= t.initial_excess * baseline).map(|i| (i, baseline))
}

const RAISE_RATE: &str = "raise the learning rate 10-100x (--lr), or find one with `strata lr-find`; if it does \
                          not help, check that the inputs carry the signal (`strata doctor`)";

const MORE_EPOCHS: &str = "more epochs or a higher learning rate (find one with `strata lr-find`)";

const UNDERFIT_FIXES: &str = "more epochs (or a schedule that keeps the rate up longer) and a learning rate tuned \
                              with `strata lr-find`; then a larger model (wider or more layers) or less \
                              regularisation (dropout, weight decay); if the labels are noisy, this may be the \
                              data's limit";

const THEN_RATE: &str = "; then a learning rate found with `strata lr-find`";

const CHECK_LABELS: &str =
    "check that the labels match the inputs (`strata doctor` compares the loss with and without the inputs)";

const SCALE_INPUTS: &str = "scale the inputs (--normalize standard) and run `strata doctor` (it checks the feature \
                            scales and the loss at initialisation)";

/// [`SCALE_INPUTS`] for token ids ([`Diagnosis::for_token_ids`]).
const CHECK_INIT: &str = "run `strata doctor`: it checks the loss at initialisation against that of evenly spread \
                          predictions, and the gradients that reach each layer";

fn worse_than_baseline(e: &Evidence<'_>, t: &Thresholds) -> Option<Finding> {
    let baseline = e.baseline_loss.filter(|b| *b > 0.0)?;
    let last = e.history.last()?.train_loss;
    // Above the baseline by a margin; or above it at all and above where the run started by that margin (more
    // than the noise of an epoch's mean against the first batch's loss): nothing was learned.
    let rose_above = initial_loss(e).filter(|&i| last > baseline && last > (1.0 + t.divergence_margin) * i);
    if last <= (1.0 + t.divergence_margin) * baseline && rose_above.is_none() {
        return None;
    }
    let mut evidence = format!(
        "the training loss ends at {}, {:.1}x the {} of predicting without the inputs",
        figure(last),
        last / baseline,
        figure(baseline)
    );
    if let Some(initial) = rose_above {
        evidence.push_str(&format!(", and above the {} it started at", figure(initial)));
    }
    if let Some((initial, _)) = initial_far_above(e, t) {
        evidence.push_str(&format!(
            "; the loss at the start was {} ({} the baseline): the inputs are likely not scaled, or the \
             initialisation is too large",
            figure(initial),
            times(initial / baseline)
        ));
    }
    Some(warning(Verdict::WorseThanBaseline, evidence, &format!("{SCALE_INPUTS}{THEN_RATE}")))
}

fn learning_rate_too_small(e: &Evidence<'_>, t: &Thresholds) -> Option<Finding> {
    // One epoch's loss is its batches' mean, the first batches' included:
    // it says little of where the loss went, so one epoch is no evidence.
    if e.history.epochs.len() < 2 {
        return None;
    }
    let initial = initial_loss(e)?;
    let last = e.history.last()?.train_loss;
    let progress = (initial - last) / initial;
    // A model that starts far below the baseline was trained before (fine-tuning): slow progress is expected.
    let fresh = e.baseline_loss.is_none_or(|b| initial >= 0.5 * b);
    // A loss that rose by more than the noise of an epoch's mean did not "barely move": a rate too small keeps
    // it where it was, it does not raise it.
    let rose = progress < -t.divergence_margin;
    if initial.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || progress >= t.min_progress || !fresh || rose {
        return None;
    }
    let lr = e.history.epochs.iter().map(|r| r.learning_rate).fold(0.0, f32::max);
    let evidence = format!(
        "the training loss barely moved: from {initial:.4} at the start to {last:.4} after {} epochs ({:.1}% lower; \
         peak learning rate {lr:.3e})",
        e.history.epochs.len(),
        100.0 * progress
    );
    Some(warning(Verdict::LearningRateTooSmall, evidence, RAISE_RATE))
}

fn overfitting(e: &Evidence<'_>, t: &Thresholds) -> Option<Finding> {
    let h = e.history;
    let last = h.last()?;
    let suggestion = "more training data, dropout (--dropout), weight decay (--optimizer adamw), a smaller model, \
                      or early stopping (--patience)";
    let finding = rising_validation_loss(h, t, suggestion).or_else(|| {
        let (train, val) = (last.train_accuracy?, last.validation?.accuracy?);
        (train - val >= t.accuracy_gap).then(|| {
            let evidence = format!(
                "training accuracy {:.1}% against validation accuracy {:.1}% in the last epoch: a gap of {:.1} points",
                100.0 * train,
                100.0 * val,
                100.0 * (train - val)
            );
            warning(Verdict::Overfitting, evidence, suggestion)
        })
    })?;
    Some(match validation_never_below_baseline(e) {
        Some(baseline) => memorised(finding, baseline),
        None => finding,
    })
}

/// The baseline, when no epoch's validation loss went below it: what the model learned does not carry over
/// to unseen rows at all.
fn validation_never_below_baseline(e: &Evidence<'_>) -> Option<f32> {
    let baseline = e.baseline_loss.filter(|b| *b > 0.0)?;
    let val: Vec<f32> = e.history.epochs.iter().filter_map(|r| r.validation.map(|v| v.loss)).collect();
    let min = val.iter().copied().fold(f32::INFINITY, f32::min);
    (!val.is_empty() && min >= baseline).then_some(baseline)
}

/// An overfitting finding of a model that memorised labels its inputs do not predict (shuffled labels).
fn memorised(finding: Finding, baseline: f32) -> Finding {
    let evidence = format!(
        "{}; the validation loss was never below the {} of predicting without the inputs: nothing learned carries \
         over, as when the labels do not match the inputs",
        finding.evidence,
        figure(baseline)
    );
    let suggestion = format!("{CHECK_LABELS}; then {}", finding.suggestion);
    Finding { evidence, suggestion, ..finding }
}

fn rising_validation_loss(h: &History, t: &Thresholds, suggestion: &str) -> Option<Finding> {
    let val: Vec<f32> = h.epochs.iter().map(|r| r.validation.map_or(f32::NAN, |v| v.loss)).collect();
    let n = val.len();
    if n < 3 || val.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let (best, min) =
        val.iter().copied().enumerate().fold((0, f32::INFINITY), |a, (i, v)| if v < a.1 { (i, v) } else { a });
    let rise = val[n - 1] / min - 1.0;
    let train_fell = h.epochs[n - 1].train_loss < h.epochs[best].train_loss;
    if best + 2 > n - 1 || rise < t.val_loss_rise || !train_fell {
        return None;
    }
    let evidence = format!(
        "the validation loss rose {:.0}% after epoch {} ({min:.4} to {:.4}) while the training loss kept falling \
         ({:.4} to {:.4})",
        100.0 * rise,
        best + 1,
        val[n - 1],
        h.epochs[best].train_loss,
        h.epochs[n - 1].train_loss
    );
    let restored = h.best_epoch == Some(best + 1);
    Some(if restored {
        let evidence = format!("{evidence}; early stopping restored the weights of epoch {}", best + 1);
        Finding { verdict: Verdict::Overfitting, severity: Severity::Note, evidence, suggestion: suggestion.into() }
    } else {
        warning(Verdict::Overfitting, evidence, suggestion)
    })
}

/// The epochs the recent improvement spans: the last third (at least one).
fn recent_span(n: usize) -> usize {
    (n / 3).max(1)
}

/// The mean relative fall of the training loss per epoch over the last
/// third of the epochs (at least the last two).
fn recent_improvement(h: &History) -> Option<f32> {
    let n = h.epochs.len();
    if n < 2 {
        return None;
    }
    let span = recent_span(n);
    let (from, to) = (h.epochs[n - 1 - span].train_loss, h.epochs[n - 1].train_loss);
    Some((from - to) / from / span as f32)
}

/// Whether the training figures are high: a loss that is a large share of
/// the baseline, with an accuracy short of a fit (the share it is, then).
fn training_fit_is_high(last: &EpochRecord, baseline: f32, t: &Thresholds) -> Option<f32> {
    let share = last.train_loss / baseline;
    let high = match last.train_accuracy {
        Some(acc) => share >= t.underfit_loss_share && acc < t.underfit_accuracy,
        None => share >= t.underfit_regression_share,
    };
    high.then_some(share)
}

/// Dropout raises the training loss (the figures are measured with it
/// active): a validation loss at or below the training loss and low against
/// the baseline says the model fits.
fn validation_fits(last: &EpochRecord, baseline: f32, t: &Thresholds) -> bool {
    last.validation.is_some_and(|v| v.loss <= last.train_loss && v.loss < t.underfit_validation_share * baseline)
}

fn accuracy_words(last: &EpochRecord) -> String {
    last.train_accuracy.map_or_else(String::new, |a| format!(", training accuracy {:.1}%", 100.0 * a))
}

/// What the fit rules read: the last epoch, the baseline, the recent
/// improvement per epoch, and the training loss's share of the baseline
/// when it is high (`None` when any is missing or the fit is not high).
fn high_fit<'a>(e: &Evidence<'a>, t: &Thresholds) -> Option<(&'a EpochRecord, f32, f32, f32)> {
    let last = e.history.last()?;
    let baseline = e.baseline_loss.filter(|b| *b > 0.0)?;
    let improvement = recent_improvement(e.history)?;
    let share = training_fit_is_high(last, baseline, t)?;
    Some((last, baseline, improvement, share))
}

fn still_improving(e: &Evidence<'_>, t: &Thresholds) -> Option<Finding> {
    let h = e.history;
    let (last, baseline, improvement, share) = high_fit(e, t)?;
    // A callback stopped it (early stopping), or the validation loss rose in the last epoch: more epochs would not help.
    let n = h.epochs.len();
    let val_rose = matches!((h.epochs[n - 2].validation, last.validation), (Some(a), Some(b)) if b.loss > a.loss);
    if improvement < t.flat_improvement || h.stopped_early() || val_rose {
        return None;
    }
    let span = recent_span(n);
    let when =
        if span == 1 { "in the last epoch".to_string() } else { format!("per epoch over the last {span} epochs") };
    let evidence = format!(
        "the training loss was still falling {:.0}% {when} ({} to {}), ending at {:.0}% of the {} of predicting \
         without the inputs{}",
        100.0 * improvement,
        figure(h.epochs[n - 1 - span].train_loss),
        figure(last.train_loss),
        100.0 * share,
        figure(baseline),
        accuracy_words(last)
    );
    Some(warning(Verdict::StillImproving, evidence, MORE_EPOCHS))
}

/// The last epoch's learning rate and the run's peak, when a schedule had
/// brought the rate to about 0.
fn decayed_rate(h: &History, t: &Thresholds) -> Option<(f32, f32)> {
    let peak = h.epochs.iter().map(|r| r.learning_rate).fold(0.0, f32::max);
    let last = h.last()?.learning_rate;
    (peak > 0.0 && last < t.decayed_rate * peak).then_some((last, peak))
}

fn underfitting(e: &Evidence<'_>, t: &Thresholds) -> Option<Finding> {
    let h = e.history;
    let (last, baseline, improvement, share) = high_fit(e, t)?;
    if improvement >= t.flat_improvement || validation_fits(last, baseline, t) {
        return None;
    }
    let decayed = decayed_rate(h, t).map_or_else(String::new, |(last, peak)| {
        format!(
            "; the schedule had brought the learning rate to {last:.1e} (from {peak:.1e}), which flattens the curve \
             by itself"
        )
    });
    let evidence = format!(
        "the training loss levelled off high: {:.4} in the last epoch, {:.0}% of the {baseline:.4} of predicting \
         without the inputs{}, improving {:.1}% per epoch over the last epochs{decayed}",
        last.train_loss,
        100.0 * share,
        accuracy_words(last),
        100.0 * improvement
    );
    let suggestion = match initial_far_above(e, t) {
        Some(_) => format!("{SCALE_INPUTS}; {UNDERFIT_FIXES}"),
        None => UNDERFIT_FIXES.to_string(),
    };
    Some(warning(Verdict::Underfitting, evidence, &suggestion))
}

fn gradient_flow(h: &History, t: &Thresholds) -> Option<Finding> {
    let norms = weight_norms(h);
    let (first, last) = (norms.first()?, norms.last()?);
    let (f, l) = (first.1, last.1);
    // A zero or non-finite norm gives no ratio: a network whose weights get no gradient has dead units or
    // diverged (the rules of those say so), its gradients did not vanish layer by layer.
    let measurable = |v: f32| v > 0.0 && v.is_finite();
    if norms.len() < 2 || !measurable(f) || !measurable(l) {
        return None;
    }
    let describe = |ratio: f32| {
        format!(
            "the gradient of the first layer's weights ({}: {f:.2e}) is {} {} the last layer's ({}: {l:.2e})",
            first.0,
            times(ratio),
            if l >= f { "smaller than" } else { "larger than" },
            last.0
        )
    };
    if l >= t.gradient_ratio * f {
        let suggestion = "residual connections, ReLU or GELU instead of sigmoid or tanh, normalisation layers, \
                          or He/Xavier initialisation";
        return Some(warning(Verdict::VanishingGradients, describe(l / f), suggestion));
    }
    if f >= t.gradient_ratio * l {
        let suggestion =
            "gradient clipping, a smaller learning rate, normalisation layers, or a smaller initialisation";
        return Some(warning(Verdict::ExplodingGradients, describe(f / l), suggestion));
    }
    None
}

/// Dead and saturated units on the last probe; `silent`: no weight got a gradient in the last epoch.
fn units(o: &Observations, t: &Thresholds, silent: bool) -> Vec<Finding> {
    let Some(stats) = o.activations.last() else { return Vec::new() };
    let mut out = Vec::new();
    let dead: Vec<String> = stats
        .iter()
        .filter_map(|s| s.dead_share.filter(|d| *d >= t.dead_share).map(|d| (s, d)))
        .map(|(s, d)| format!("{}: {:.0}% of its {} units", s.layer, 100.0 * d, s.units))
        .collect();
    if !dead.is_empty() {
        let silent_words = if silent { format!("; {NO_GRADIENT}") } else { String::new() };
        let evidence = format!("units never active on the probe batch: {}{silent_words}", dead.join("; "));
        let suggestion = "a smaller learning rate, LeakyReLU or GELU, He initialisation, or check for a large \
                          negative bias";
        out.push(warning(Verdict::DeadUnits, evidence, suggestion));
    }
    let saturated: Vec<String> = stats
        .iter()
        .filter_map(|s| s.saturated_share.filter(|v| *v >= t.saturated_share).map(|v| (s, v)))
        .map(|(s, v)| format!("{} ({}): {:.0}% of its outputs", s.layer, s.activation, 100.0 * v))
        .collect();
    if !saturated.is_empty() {
        let evidence =
            format!("outputs within 1% of their bounds, where the gradient nearly vanishes: {}", saturated.join("; "));
        let suggestion = "standardise the inputs, Xavier initialisation, a smaller learning rate, or ReLU or GELU";
        out.push(warning(Verdict::SaturatedUnits, evidence, suggestion));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_id_suggestions_check_the_initialisation_instead_of_scaling() {
        let evidence = "the training loss ends at 9.0";
        let diagnosis = Diagnosis {
            findings: vec![
                warning(Verdict::WorseThanBaseline, evidence.into(), &format!("{SCALE_INPUTS}{THEN_RATE}")),
                warning(Verdict::Underfitting, evidence.into(), &format!("{SCALE_INPUTS}; {UNDERFIT_FIXES}")),
                warning(Verdict::Underfitting, evidence.into(), RAISE_RATE),
            ],
        };
        let ids = diagnosis.clone().for_token_ids();
        for (finding, before) in ids.findings.iter().zip(&diagnosis.findings) {
            assert!(!finding.suggestion.contains("--normalize"), "{}", finding.suggestion);
            let doctor = |s: &str| s.matches("`strata doctor`").count();
            assert_eq!(doctor(&finding.suggestion), doctor(&before.suggestion), "{}", finding.suggestion);
        }
        assert_eq!(ids.findings[0].suggestion, format!("{CHECK_INIT}{THEN_RATE}"));
        assert_eq!(ids.findings[2].suggestion, RAISE_RATE, "no scaling clause: unchanged");
    }
}
