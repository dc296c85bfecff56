//! What Strata tells its user about training: the diagnosis after `train`,
//! `train --report DIR`, `strata doctor` and `strata lr-find`
//! (`strata-report` does the work; this is the command line's side).

use crate::args::{LrFindArgs, TaskArg, TrainArgs};
use std::error::Error;
use std::path::Path;
use strata::data::InMemoryDataset;
use strata::layers::Registry;
use strata::loss::LossKind;
use strata::model::Model;
use strata::report::{
    Confusion, DoctorConfig, Evidence, LrFindConfig, ObservationsHandle, Observer, Report, TestFigures, Thresholds,
    class_prior_loss, diagnose,
};
use strata::training::{History, Trainer};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Probe batches are the first rows of the validation part (or the training part).
const PROBE_ROWS: usize = 256;

/// Add an [`Observer`] probing the first rows of `probe_from`; returns its observations.
pub(crate) fn observe(trainer: &mut Trainer, probe_from: &InMemoryDataset) -> Result<ObservationsHandle> {
    let rows: Vec<usize> = (0..probe_from.len().min(PROBE_ROWS)).collect();
    let probe = probe_from.subset(&rows)?.features().clone();
    let observer = Observer::new(Some(probe));
    let handle = observer.handle();
    trainer.add_callback(observer)?;
    Ok(handle)
}

/// What a finished (or failed) run leaves for its diagnosis and report.
pub(crate) struct After<'a> {
    pub args: &'a TrainArgs,
    /// The data's name, for the report's title.
    pub name: &'a str,
    /// Rows of the training part (for the speed).
    pub n_train: usize,
    pub history: &'a History,
    pub observations: &'a ObservationsHandle,
    /// The loss of predicting without the inputs (see `Evidence::baseline_loss`).
    pub baseline: Option<f32>,
}

/// The test figures of a report, computed only when a report is written.
pub(crate) type TestPart<'a> = Box<dyn FnOnce(&mut Model) -> Result<(Option<TestFigures>, Option<Confusion>)> + 'a>;

/// Print the diagnosis (unless --quiet) and write the report (with --report),
/// its test figures from `test`.
pub(crate) fn diagnose_and_report(after: After<'_>, model: &mut Model, test: TestPart<'_>) -> Result<()> {
    let observations = after.observations.get();
    if after.history.epochs.is_empty() && observations.non_finite.is_none() {
        return Ok(()); // Nothing trained: training failed before its first epoch ended.
    }
    let evidence =
        Evidence { history: after.history, observations: Some(&observations), baseline_loss: after.baseline };
    let mut diagnosis = diagnose(&evidence, &Thresholds::default());
    if language_model(after.args) {
        diagnosis = diagnosis.for_token_ids();
    }
    if !after.args.quiet {
        out!("{diagnosis}");
    }
    let Some(dir) = &after.args.report else { return Ok(()) };
    let (test, confusion) = test(model)?;
    let epochs_seconds: f64 = after.history.epochs.iter().map(|e| e.seconds).sum();
    let samples = after.n_train as f64 * after.history.epochs.len() as f64;
    let report = Report {
        title: format!("Training report: {}", after.name),
        model_summary: model.summary(),
        hyperparameters: hyperparameters(after.args),
        history: after.history.clone(),
        observations: Some(observations),
        diagnosis,
        test,
        confusion,
        samples_per_second: (epochs_seconds > 0.0).then(|| samples / epochs_seconds),
    };
    report.write(dir)?;
    outln!("wrote the report to {}", dir.display());
    Ok(())
}

/// The baseline of a classifier: the entropy of its training part's class frequencies.
pub(crate) fn class_baseline(train: &InMemoryDataset) -> Option<f32> {
    train.class_counts().and_then(|c| class_prior_loss(&c))
}

/// The test part of a classifier's report, when it has a test part.
pub(crate) fn classifier_test(test: Option<&InMemoryDataset>) -> TestPart<'_> {
    Box::new(move |model: &mut Model| match test {
        Some(t) => test_figures(model, t),
        None => Ok((None, None)),
    })
}

/// Test loss and accuracy, and the confusion matrix with the model's class names.
fn test_figures(model: &mut Model, test: &InMemoryDataset) -> Result<(Option<TestFigures>, Option<Confusion>)> {
    let m = strata::training::evaluate(model.network_mut(), test, &LossKind::CrossEntropy)?;
    let figures = TestFigures { n_samples: m.n_samples, loss: m.loss, accuracy: m.accuracy, extra: Vec::new() };
    let (Some(labels), Some(n)) = (test.labels(), model.n_classes()) else { return Ok((Some(figures), None)) };
    let output = model.network_mut().predict(test.features())?;
    let predicted = output.argmax_rows()?;
    let classes = model.class_names().map_or_else(|| (0..n).map(|c| c.to_string()).collect(), <[String]>::to_vec);
    Ok((Some(figures), Some(Confusion::new(classes, &labels, &predicted)?)))
}

fn hyperparameters(a: &TrainArgs) -> Vec<(String, String)> {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let architecture = match (&a.model, &a.layers) {
        (Some(path), _) => format!("spec {}", path.display()),
        (None, Some(widths)) => format!("mlp {}", widths.iter().map(usize::to_string).collect::<Vec<_>>().join("-")),
        (None, None) => format!("preset {:?}", a.preset).to_lowercase(),
    };
    // The language model reads characters through its fixed blocks: no hidden activation or feature scaling.
    let charlm = language_model(a);
    let task = if charlm { "character-level language model".into() } else { format!("{:?}", a.task).to_lowercase() };
    [
        ("task", task),
        ("architecture", architecture),
        ("activation", a.activation.clone()),
        ("optimizer", a.optimizer.clone()),
        ("loss", if a.task == TaskArg::Regression { a.loss.clone() } else { "cross_entropy".into() }),
        ("learning rate", opt(a.lr.map(|v| v.to_string()))),
        ("schedule", opt(a.schedule.clone())),
        ("batch size", a.batch_size.to_string()),
        ("epochs", opt(a.epochs.map(|v| v.to_string()))),
        ("dropout", opt(a.dropout.map(|v| v.to_string()))),
        ("validation fraction", opt(a.val_fraction.map(|v| v.to_string()))),
        ("early-stopping patience", a.patience.to_string()),
        ("feature scaling", a.normalize.clone()),
        ("seed", a.seed.to_string()),
    ]
    .into_iter()
    .filter(|(k, _)| !(charlm && matches!(*k, "activation" | "feature scaling")))
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Whether the run trains the character-level language model preset.
fn language_model(a: &TrainArgs) -> bool {
    a.preset == crate::args::Preset::Charlm && a.model.is_none()
}

/// Doctor and lr-find check classifiers (the MLP, CNN and transformer
/// presets or a spec), regressions and the language model: refuse the flags
/// of `train` they would ignore.
fn check_supported(a: &TrainArgs, command: &str) -> Result<()> {
    // The flags of `train` that these commands would silently ignore.
    let ignored = [
        ("--out", a.out.is_some()),
        ("--report", a.report.is_some()),
        ("--checkpoint-every", a.checkpoint_every.is_some()),
        ("--checkpoint-dir", a.checkpoint_dir.is_some()),
        ("--keep-last", a.keep_last != crate::args::KEEP_LAST),
        ("--resume", a.resume.is_some()),
        ("--distributed", a.distributed),
        ("--epochs", a.epochs.is_some()),
        ("--patience", a.patience > 0),
    ];
    if let Some((flag, _)) = ignored.iter().find(|(_, given)| *given) {
        return Err(format!(
            "{command} does not take {flag}, a flag of strata train: it saves no model, checkpoint or report and \
             trains for no epochs"
        )
        .into());
    }
    crate::checks::flags(a)?;
    crate::checks::architecture_flags(a)
}

/// What doctor and lr-find check: a classifier's or a regression's model as
/// `train` would build it, its training and test parts as the network sees
/// them, and its loss.
struct Subject {
    model: Model,
    train: InMemoryDataset,
    test: Option<InMemoryDataset>,
    loss: LossKind,
}

fn subject(a: &mut TrainArgs, registry: &Registry) -> Result<Subject> {
    if a.task == TaskArg::Regression {
        crate::regression::resolve_defaults(a);
        let p = crate::regression::prepare(a, registry)?;
        let test = p.scaled_test()?;
        return Ok(Subject { model: p.model, train: p.train, test, loss: p.loss });
    }
    a.resolve_defaults();
    let setup = crate::run::setup(a, registry)?;
    Ok(Subject { model: setup.model, train: setup.parts.train, test: setup.parts.test, loss: LossKind::CrossEntropy })
}

/// `strata doctor`: the checklist, and a failure exit code when a check failed.
pub fn doctor(mut a: TrainArgs, registry: &Registry) -> Result<()> {
    check_supported(&a, "doctor")?;
    let checklist = if language_model(&a) {
        a.resolve_defaults();
        let config = DoctorConfig { batch_size: a.batch_size, seed: a.seed, ..DoctorConfig::default() };
        let (mut model, train, val) = crate::charlm::doctor_subject(&a, registry)?;
        let (loss, pad) = (crate::charlm::loss(), strata::data::CharVocab::PAD);
        strata::report::doctor_language_model(model.network_mut(), &train, Some(&val), loss, pad, &config)?
    } else {
        let Subject { mut model, train, test, loss } = subject(&mut a, registry)?;
        let config = DoctorConfig { batch_size: a.batch_size, seed: a.seed, ..DoctorConfig::default() };
        strata::report::doctor(model.network_mut(), &train, test.as_ref(), loss, &config)?
    };
    out!("{checklist}");
    let failed = checklist.checks.iter().filter(|c| c.status == strata::report::Status::Fail).count();
    if failed > 0 {
        return Err(format!("doctor: {failed} of {} checks failed", checklist.checks.len()).into());
    }
    Ok(())
}

/// `strata lr-find`: the sweep, its suggestion, and the plot.
pub fn lr_find(mut a: LrFindArgs, registry: &Registry) -> Result<()> {
    check_supported(&a.train, "lr-find")?;
    if !(a.start_lr > 0.0 && a.end_lr > a.start_lr && a.end_lr.is_finite()) {
        return Err(format!(
            "--start-lr {} and --end-lr {}: the sweep needs 0 < --start-lr < --end-lr, both finite",
            a.start_lr, a.end_lr
        )
        .into());
    }
    if !(10..=100_000).contains(&a.steps) {
        return Err(format!("--steps must be 10 to 100000, got {}", a.steps).into());
    }
    if let Some(plot) = &a.plot {
        let t = &a.train;
        let inputs = [
            ("--data", t.data.data.as_deref()),
            ("--labels", t.data.labels.as_deref()),
            ("--model", t.model.as_deref()),
        ];
        crate::checks::output("--plot", plot, &inputs)?;
    }
    let sweep = if language_model(&a.train) {
        a.train.resolve_defaults();
        let (mut model, train) = crate::charlm::sweep_subject(&a.train, registry)?;
        strata::report::lr_find(model.network_mut(), &train, crate::charlm::loss(), &sweep_config(&a))?
    } else {
        let Subject { mut model, train, loss, .. } = subject(&mut a.train, registry)?;
        strata::report::lr_find(model.network_mut(), &train, loss, &sweep_config(&a))?
    };
    let t = &a.train;
    let (first, last) = (sweep.rates.first().copied().unwrap_or(0.0), sweep.rates.last().copied().unwrap_or(0.0));
    outln!("swept {} steps of {} from learning rate {first:.1e} to {last:.1e}", sweep.rates.len(), t.optimizer);
    if let Some(why) = &sweep.stopped {
        outln!("stopped early: {why}");
    }
    let e = |v: Option<f32>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1e}"));
    outln!("lowest loss at 10x: {}; steepest fall: {}", e(sweep.minimum), e(sweep.steepest));
    if let Some(plot) = &a.plot {
        write_plot(plot, &sweep)?;
        outln!("wrote the plot to {}", plot.display());
    }
    let Some(lr) = sweep.suggestion else {
        return Err("lr-find: the sweep was too short to suggest a rate (more --steps, or a lower --start-lr)".into());
    };
    outln!("suggested learning rate: {lr:.1e} (fastai's valley: two thirds down the longest fall of the loss)");
    Ok(())
}

/// The sweep `strata lr-find` asks for, with `train`'s batch size, seed and optimizer.
fn sweep_config(a: &LrFindArgs) -> LrFindConfig {
    LrFindConfig {
        start: a.start_lr,
        end: a.end_lr,
        steps: a.steps,
        batch_size: a.train.batch_size,
        seed: a.train.seed,
        optimizer: a.train.optimizer.clone(),
        ..LrFindConfig::default()
    }
}

fn write_plot(path: &Path, sweep: &strata::report::LrSweep) -> Result<()> {
    let rates = &sweep.rates[..sweep.smoothed.len()];
    let bytes = strata::report::plot::png("lr-find plot", (900, 560), |area| {
        strata::report::plot::draw_lr_sweep(area, rates, &sweep.smoothed, sweep.suggestion)
    })?;
    strata::io::atomic_write(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}
