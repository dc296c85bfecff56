//! The subcommands.

use crate::args::{EvaluateArgs, ExportFiltersArgs, PredictArgs, Preset, SummaryArgs, TrainArgs};
use crate::checkpoint::Run;
use crate::dataset::{self, EMBEDDED_TRAIN_ROWS};
use std::error::Error;
use std::time::Instant;
use strata::activation::ActivationKind;
use strata::data::{
    Dataset, InMemoryDataset, LabelColumn, MinMaxScaler, Normalizer, StandardScaler, Task, split_three,
    train_test_split,
};
use strata::io::SavedModel;
use strata::layers::{Dim, LayerSpec, Registry, dims};
use strata::loss::LossKind;
use strata::model::Model;
use strata::optimizer::{OptimizerConfig, Schedule};
use strata::tensor::StrataRng;
use strata::training::{EarlyStopping, FitConfig, History, Monitor, Progress, Trainer};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn pct(x: Option<f32>) -> String {
    x.map_or_else(|| "n/a".into(), |a| format!("{:.2}%", a * 100.0))
}

pub(crate) fn normalizer_for(name: &str, embedded: bool, train: &InMemoryDataset) -> Result<Normalizer> {
    Ok(match name {
        "auto" if embedded => Normalizer::Scale { factor: 1.0 / 255.0 },
        "auto" | "standard" => Normalizer::Standard(StandardScaler::fit(train.features())?),
        "minmax" => Normalizer::MinMax(MinMaxScaler::fit(train.features())?),
        "none" => Normalizer::None,
        other => return Err(format!("--normalize must be auto, standard, minmax or none, got '{other}'").into()),
    })
}

pub(crate) fn schedule_for(name: &str, epochs: usize, n_batches: usize) -> Result<Schedule> {
    Ok(match name {
        "constant" => Schedule::Constant,
        "cosine" => Schedule::LinearWarmup {
            warmup_steps: n_batches,
            then: Box::new(Schedule::Cosine { total_steps: epochs.saturating_sub(1).max(1) * n_batches, min_lr: 0.0 }),
        },
        other => return Err(format!("--schedule must be cosine or constant, got '{other}'").into()),
    })
}

/// The data of a training run, split, with the normaliser fitted on the
/// training part and applied to every part.
pub(crate) struct Parts {
    pub name: String,
    pub n_samples: usize,
    pub n_classes: usize,
    pub label_column: LabelColumn,
    pub train: InMemoryDataset,
    pub val: Option<InMemoryDataset>,
    pub test: Option<InMemoryDataset>,
    pub normalizer: Normalizer,
}

impl Parts {
    fn every(&mut self) -> impl Iterator<Item = &mut InMemoryDataset> {
        [Some(&mut self.train), self.val.as_mut(), self.test.as_mut()].into_iter().flatten()
    }

    /// Give every part the model's per-sample shape (flat rows as images).
    fn reshape_to(mut self, input: &[Dim]) -> Result<Parts> {
        let Some(shape) = input.iter().map(|d| d.fixed()).collect::<Option<Vec<usize>>>() else { return Ok(self) };
        let n_features: usize = self.train.feature_shape().iter().product();
        if shape.iter().product::<usize>() != n_features || shape == self.train.feature_shape() {
            return Ok(self);
        }
        self.train = self.train.with_feature_shape(&shape)?;
        self.val = self.val.map(|v| v.with_feature_shape(&shape)).transpose()?;
        self.test = self.test.map(|t| t.with_feature_shape(&shape)).transpose()?;
        Ok(self)
    }
}

/// Load the data and split it: the embedded sample keeps its standard split
/// (first 4000 rows train, last 1000 test) unless a test fraction is asked
/// for. Parts are moved or copied once, and what is no longer needed is
/// dropped at once: peak memory is a figure of merit (W6).
fn load_parts(a: &TrainArgs, split_rng: &mut StrataRng) -> Result<Parts> {
    let label_column = dataset::label_column(&a.data)?;
    if label_column == LabelColumn::None {
        return Err("training needs labels: --label-column cannot be none".into());
    }
    let loaded = dataset::load(&a.data, label_column)?;
    let ds = loaded.dataset;
    let n_classes = ds.n_classes().ok_or("the data has no class labels")?;
    let present = ds.class_counts().unwrap_or_default().iter().filter(|&&c| c > 0).count();
    if present < 2 {
        // The labels' own file, when they have one (IDX).
        let labels = a.data.labels.as_ref().map_or(loaded.name.clone(), |l| l.display().to_string());
        return Err(format!(
            "{labels}: every row has the same class: a classifier needs at least two (for a real-valued target, \
             use --task regression)"
        )
        .into());
    }
    if present * 2 < n_classes && !a.quiet {
        // Labels 0 and 999 make a 1000-class model: were they meant as indices?
        errln!(
            "warning: {}: {} of the {n_classes} classes (0 to {}) have no row: the model gets an output for each; \
             class labels are indices from 0 (or names)",
            loaded.name,
            n_classes - present,
            n_classes - 1
        );
    }
    let n_samples = ds.len();
    let (train_val, test) = match (loaded.embedded, a.test_fraction) {
        (true, None) => {
            let (tv, te) = ds.split_at(EMBEDDED_TRAIN_ROWS)?;
            (tv, Some(te))
        }
        (_, fraction) => {
            let f = fraction.unwrap_or(0.2);
            let split = split_three(&ds, 0.0, f, true, split_rng).map_err(|e| match e {
                strata::data::DataError::Empty { .. } => format!(
                    "{}: --test-fraction {f}: {} rows are too few for a test part and a training part; give more \
                     rows, or --test-fraction 0",
                    loaded.name,
                    ds.len()
                )
                .into(),
                other => Box::<dyn Error>::from(other),
            })?;
            drop(ds);
            (split.train, split.test)
        }
    };
    let (train, val) = match a.val_fraction.unwrap_or(0.0) {
        f if f > 0.0 => {
            let (t, v) = train_test_split(&train_val, f, true, split_rng).map_err(|e| match e {
                strata::data::DataError::Empty { .. } => format!(
                    "{}: --val-fraction {f}: the {} rows left for training (after the test part) are too few to \
                     hold out a validation row of each class; give more rows, or --val-fraction 0",
                    loaded.name,
                    train_val.len()
                )
                .into(),
                other => Box::<dyn Error>::from(other),
            })?;
            (t, Some(v))
        }
        _ => (train_val, None),
    };
    let (mut train, mut val, mut test) = (train, val, test);
    dataset::fill_missing(&a.data, (&loaded.name, "the training part"), &mut train, [val.as_mut(), test.as_mut()])?;
    let normalizer = normalizer_for(&a.normalize, loaded.embedded, &train)?;
    let mut parts = Parts { name: loaded.name, n_samples, n_classes, label_column, train, val, test, normalizer };
    let norm = parts.normalizer.clone();
    for part in parts.every() {
        norm.transform(part.features_mut())?;
    }
    let every = [("training", Some(&parts.train)), ("validation", parts.val.as_ref()), ("test", parts.test.as_ref())];
    crate::checks::finite_after_scaling(&parts.name, &a.normalize, &every)?;
    Ok(parts)
}

/// The architecture: a spec file, the CNN preset, or an MLP.
fn model_spec(a: &TrainArgs, n_features: usize, n_classes: usize) -> Result<LayerSpec> {
    Ok(match &a.model {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            LayerSpec::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None if a.preset == Preset::Cnn => strata::conv::cnn_spec(),
        None if a.preset == Preset::Transformer => {
            let side = square_side(n_features).ok_or_else(|| {
                format!(
                    "--preset transformer reads each sample as a square image, its rows the tokens: {n_features} \
                     features are not a square"
                )
            })?;
            strata::attention::presets::sequence_classifier(
                side,
                side,
                64,
                4,
                128,
                2,
                a.dropout.unwrap_or(0.1),
                n_classes,
            )?
        }
        None => {
            let widths = a.layers.clone().unwrap_or_else(|| vec![n_features, 256, 128, n_classes]);
            let activation: ActivationKind = a.activation.parse()?;
            strata::training::presets::mlp(&widths, activation, a.dropout.unwrap_or(0.0))?
        }
    })
}

/// `s` with `s * s == n`.
fn square_side(n: usize) -> Option<usize> {
    let s = (n as f64).sqrt().round() as usize;
    (s > 0 && s * s == n).then_some(s)
}

/// The trainer the flags ask for, with `loss`; early stopping with `--patience`.
pub(crate) fn make_trainer(a: &TrainArgs, loss: LossKind, n_train: usize, has_validation: bool) -> Result<Trainer> {
    let epochs = a.epochs.unwrap_or(1);
    let n_batches = n_train.div_ceil(a.batch_size.max(1));
    let config = FitConfig {
        epochs,
        batch_size: a.batch_size,
        seed: a.seed,
        schedule: schedule_for(a.schedule.as_deref().unwrap_or("constant"), epochs, n_batches)?,
        progress: if a.quiet { Progress::Silent } else { Progress::Auto },
        ..FitConfig::default()
    };
    let mut trainer = Trainer::new(config, loss, OptimizerConfig::from_name(&a.optimizer, a.lr.unwrap_or(1e-3))?)?;
    if a.patience > 0 {
        let monitor = if has_validation { Monitor::ValLoss } else { Monitor::Loss };
        if !has_validation && !a.quiet {
            errln!(
                "warning: --patience {} without a validation part (--val-fraction 0) watches the training loss, \
                 which does not show overfitting",
                a.patience
            );
        }
        trainer.add_callback(EarlyStopping::new(a.patience).with_monitor(monitor).restore_best_weights(true))?;
    }
    Ok(trainer)
}

pub(crate) fn train(mut a: TrainArgs, registry: &Registry, mut run: Run) -> Result<()> {
    crate::checks::flags(&a)?;
    if run.snapshot.is_none() {
        crate::checks::architecture_flags(&a)?;
    }
    let is_root = run.session.as_ref().is_none_or(|s| s.is_root());
    a.quiet |= !is_root;
    if run.session.is_some() && (a.task == crate::args::TaskArg::Regression || a.preset == Preset::Charlm) {
        return Err("--distributed trains classifiers (--preset mlp, cnn or transformer, or --model); not yet \
                    --task regression or --preset charlm"
            .into());
    }
    let inputs =
        [("--data", a.data.data.as_deref()), ("--labels", a.data.labels.as_deref()), ("--model", a.model.as_deref())];
    if let Some(out) = &a.out {
        crate::checks::output("--out", out, &inputs)?;
    }
    if let Some(dir) = &a.report {
        crate::checks::report_dir(dir, a.out.as_deref(), &inputs)?;
    }
    if a.task == crate::args::TaskArg::Regression {
        crate::regression::resolve_defaults(&mut a);
        return crate::regression::train(a, registry, run);
    }
    a.resolve_defaults();
    if a.preset == Preset::Charlm && a.model.is_none() {
        if a.checkpoint_every.is_some() || a.checkpoint_dir.is_some() {
            return Err("--checkpoint-every and --checkpoint-dir are not supported with --preset charlm yet".into());
        }
        return crate::charlm::train(a, registry);
    }
    let started = Instant::now();
    let Setup { parts, mut model, n_features } = setup(&a, registry)?;
    let (mut trainer, observations) = prepare_trainer(&a, &mut run, &parts, &mut model, is_root)?;
    if !a.quiet {
        print_setup(&a, &parts, n_features, &mut model)?;
    }
    let fit_started = Instant::now();
    let fitted = fit(&run, &mut trainer, &mut model, &parts, a.quiet, a.batch_size);
    if !is_root {
        return fitted.map(|_| ());
    }
    let after = crate::insight::After {
        args: &a,
        name: &parts.name,
        n_train: parts.train.len(),
        history: &trainer.state().history,
        observations: &observations,
        baseline: crate::insight::class_baseline(&parts.train),
    };
    crate::insight::diagnose_and_report(after, &mut model, crate::insight::classifier_test(parts.test.as_ref()))?;
    let history = fitted?;
    let broken_test = report(&history, &mut model, &parts, &a, (fit_started, started))?;
    if let Some(out) = &a.out {
        let column = dataset::label_column_name(parts.label_column);
        model = model.with_metadata(crate::model::LABEL_COLUMN, column);
        model.save(out)?;
        outln!("saved the model to {}", out.display());
    }
    // The trained model is kept; the run still fails on a figure it cannot give.
    broken_test.map_or(Ok(()), |e| Err(e.into()))
}

/// The trainer of a classifier run: its checkpoint callback (rank 0 only),
/// the report's observer, and the state of the checkpoint it resumes from.
fn prepare_trainer(
    a: &TrainArgs,
    run: &mut Run,
    parts: &Parts,
    model: &mut Model,
    is_root: bool,
) -> Result<(Trainer, strata::report::ObservationsHandle)> {
    let mut trainer = make_trainer(a, LossKind::CrossEntropy, parts.train.len(), parts.val.is_some())?;
    // Rank 0 alone writes checkpoints; the others leave out the callback and its state.
    if let Some(cb) = crate::checkpoint::callback(a, run, &parts.train, parts.val.is_some())?.filter(|_| is_root) {
        trainer.add_callback(cb)?;
    }
    let observations = crate::insight::observe(&mut trainer, parts.val.as_ref().unwrap_or(&parts.train))?;
    let names = trainer.callback_names().to_vec();
    run.restore(&mut trainer, model.network_mut(), |name| is_root || names.iter().any(|n| n == name))?;
    Ok((trainer, observations))
}

/// `fit` on this process, or as one rank of a distributed session.
fn fit(
    run: &Run,
    trainer: &mut Trainer,
    model: &mut Model,
    parts: &Parts,
    quiet: bool,
    batch: usize,
) -> Result<History> {
    let validation = parts.val.as_ref().map(|v| v as &dyn Dataset);
    match &run.session {
        Some(session) => {
            if !quiet {
                outln!("{}", session.describe(batch));
            }
            session.fit(trainer, model.network_mut(), &parts.train, validation)
        }
        None => trainer.fit(model.network_mut(), &parts.train, validation).map_err(Into::into),
    }
}

/// The data, split and scaled, and the model built for it: where `train`,
/// `doctor` and `lr-find` start.
pub(crate) struct Setup {
    pub parts: Parts,
    pub model: Model,
    pub n_features: usize,
}

/// Load and split the data, build the model the flags describe (within the
/// parameter budget), and check that they fit together.
pub(crate) fn setup(a: &TrainArgs, registry: &Registry) -> Result<Setup> {
    let mut root = StrataRng::seed_from_u64(a.seed);
    let (mut split_rng, mut init_rng) = (root.fork(), root.fork());
    let parts = load_parts(a, &mut split_rng)?;
    let n_features = parts.train.feature_shape().iter().product::<usize>();
    let spec = model_spec(a, n_features, parts.n_classes)?;
    let in_file = |e: &dyn std::fmt::Display| match &a.model {
        Some(path) => format!("{}: {e}", path.display()),
        None => e.to_string(),
    };
    crate::checks::parameter_budget(a, &spec).map_err(|e| in_file(&e))?;
    let mut network = registry.build(&spec, &mut init_rng).map_err(|e| in_file(&e))?;
    check_trainable(network.as_mut()).map_err(|e| in_file(&e))?;
    let mut model = Model::new(network)?.with_providers_from(registry).with_preprocessing(parts.normalizer.clone());
    if let Some(names) = parts.train.class_names() {
        model = model.with_class_names(names.to_vec())?;
    }
    let parts = parts.reshape_to(model.input_shape())?;
    check_fits(a, &model, &parts)?;
    check_token_ids(a, &model, &parts)?;
    // Training's batches, and evaluation's of 512.
    let batch = a.batch_size.max(512).min(parts.n_samples).max(1);
    strata::model::check_activations(
        model.network(),
        parts.train.feature_shape(),
        batch,
        strata::model::default_activation_budget(),
    )
    .map_err(|e| {
        in_file(&format!("{e} (a quarter of this machine's memory): lower --batch-size or the layer's size"))
    })?;
    check_batch_norm_batch(model.network(), parts.train.feature_shape(), a.batch_size)?;
    Ok(Setup { parts, model, n_features })
}

/// A batch norm over features (one value a channel per sample) normalises
/// each feature over the batch: batches of one sample leave it nothing to
/// normalise, its output is its bias alone and nothing is learned. PyTorch
/// refuses such a batch in training; Strata takes a last batch of one (as
/// Keras does) but refuses `--batch-size 1`.
fn check_batch_norm_batch(network: &dyn strata::layers::Layer, sample: &[usize], batch: usize) -> Result<()> {
    if batch != 1 {
        return Ok(());
    }
    let outputs = strata::layers::layer_outputs(network, sample);
    match outputs.into_iter().find(|(_, kind, _, shape)| kind == "batch_norm" && shape.len() == 1) {
        Some((layer, ..)) => Err(format!(
            "--batch-size 1: layer '{layer}' (batch_norm) normalises each feature over the batch, and a batch of \
             one sample leaves it nothing to normalise (its output would be its bias alone, and nothing would be \
             learned); use --batch-size 2 or more"
        )
        .into()),
        None => Ok(()),
    }
}

/// A model must have something to train.
pub(crate) fn check_trainable(network: &mut dyn strata::layers::Layer) -> Result<()> {
    if network.n_parameters() == 0 {
        return Err(format!(
            "the model ({}) has no trainable parameters: add a dense, convolution or other layer with weights",
            network.kind()
        )
        .into());
    }
    Ok(())
}

/// A model whose first layer reads token ids takes them as they are: no
/// scaling (`--normalize none`), and every part's features are ids of its
/// vocabulary.
fn check_token_ids(a: &TrainArgs, model: &Model, parts: &Parts) -> Result<()> {
    if crate::checks::token_vocab(model.network()).is_none() {
        return Ok(());
    }
    if !matches!(parts.normalizer, Normalizer::None) {
        return Err(format!(
            "--normalize {}: the model's first layer (an embedding) reads token ids, which scaling would turn into \
             fractions; give --normalize none",
            a.normalize
        )
        .into());
    }
    let named = [("training", Some(&parts.train)), ("validation", parts.val.as_ref()), ("test", parts.test.as_ref())];
    for (what, part) in named {
        if let Some(part) = part {
            crate::checks::token_ids(model.network(), part, &format!("{} ({what} part)", parts.name))?;
        }
    }
    Ok(())
}

/// The data's samples fit the model: checked before anything is printed or trained.
fn check_fits(a: &TrainArgs, model: &Model, parts: &Parts) -> Result<()> {
    let shape = parts.train.feature_shape();
    match model.network().output_shape(&dims(shape)) {
        Ok(out) => match out.last().and_then(|d| d.fixed()) {
            Some(width) if width < parts.n_classes => {
                let n = parts.n_classes;
                let fix = match &a.model {
                    Some(spec) => format!("give the last layer of {} {n} outputs", spec.display()),
                    None => format!("end --layers with {n}"),
                };
                let values = if width == 1 { "value" } else { "values" };
                Err(format!("the model outputs {width} {values} a sample, but the data has {n} classes: {fix}").into())
            }
            _ => Ok(()),
        },
        Err(_) => Err(strata::training::TrainingError::InputShape {
            what: "training",
            data: shape.to_vec(),
            model: model.input_shape().to_vec(),
        }
        .into()),
    }
}

fn print_setup(a: &TrainArgs, parts: &Parts, n_features: usize, model: &mut Model) -> Result<()> {
    outln!(
        "data: {} ({} samples, {} features, {} classes): train {}, validation {}, test {}",
        parts.name,
        parts.n_samples,
        n_features,
        parts.n_classes,
        parts.train.len(),
        parts.val.as_ref().map_or(0, InMemoryDataset::len),
        parts.test.as_ref().map_or(0, InMemoryDataset::len),
    );
    out!("{}", model.summary());
    outln!("{}", optimizer_line(a, "constant", 1));
    Ok(())
}

/// `optimizer adam lr 0.001, schedule cosine, batch 64, epochs 40, seed 0`,
/// with the schedule and epochs a preset defaults to when not given.
pub(crate) fn optimizer_line(a: &TrainArgs, schedule: &str, epochs: usize) -> String {
    format!(
        "optimizer {} lr {}, schedule {}, batch {}, epochs {}, seed {}",
        a.optimizer,
        a.lr.unwrap_or(1e-3),
        a.schedule.as_deref().unwrap_or(schedule),
        a.batch_size,
        a.epochs.unwrap_or(epochs),
        a.seed
    )
}

/// The epoch whose weights early stopping restored, when it did.
pub(crate) fn say_restored(history: &History) -> Result<()> {
    if let Some(best) = history.best_epoch {
        outln!("early stopping: restored the weights of epoch {best}");
    }
    Ok(())
}

/// Early stopping, the test accuracy, and the time taken.
fn report(
    history: &History,
    model: &mut Model,
    parts: &Parts,
    a: &TrainArgs,
    (fit_started, started): (Instant, Instant),
) -> Result<Option<String>> {
    let fit_seconds = fit_started.elapsed().as_secs_f64();
    let mut broken_test = None;
    say_restored(history)?;
    match &parts.test {
        Some(test) => {
            let m = strata::training::evaluate(model.network_mut(), test, &LossKind::CrossEntropy)?;
            let correct = m.accuracy.map_or(0, |acc| (acc * m.n_samples as f32).round() as usize);
            if m.loss.is_finite() {
                outln!("test accuracy: {} ({correct}/{}), test loss {:.4}", pct(m.accuracy), m.n_samples, m.loss);
            } else {
                let largest = test.features().data().iter().fold(0.0f32, |a, x| a.max(x.abs()));
                broken_test = Some(format!(
                    "{} (test part): the test loss is {}: the model's outputs are not finite numbers for some test \
                     samples (their largest feature, scaled, is {largest:e}: values far outside the training part's \
                     range, or weights that diverged)",
                    parts.name, m.loss
                ));
            }
        }
        None => outln!("no test part (--test-fraction 0)"),
    }
    if !a.quiet {
        let n_epochs = history.epochs.len().max(1);
        outln!(
            "trained {} epochs in {:.2} s ({:.3} s per epoch); total {:.2} s{}",
            history.epochs.len(),
            fit_seconds,
            fit_seconds / n_epochs as f64,
            started.elapsed().as_secs_f64(),
            crate::peak_rss_kb().map_or_else(String::new, |kb| format!(", peak memory {:.1} MB", kb as f64 / 1024.0))
        );
    }
    Ok(broken_test)
}

/// Read the data a saved model is evaluated on or predicts for, as the
/// model was trained: its label column by default; a file whose rows are as
/// wide as the model's input holds features only. A file of another width
/// is refused with both widths.
fn load_for_model(m: &Model, data: &crate::args::DataArgs, want_labels: bool) -> Result<InMemoryDataset> {
    let n_inputs = m.input_shape().iter().try_fold(1usize, |n, d| n.checked_mul(d.fixed()?));
    let column = if data.label_column != "last" {
        dataset::label_column(data)?
    } else {
        let stored = crate::model::label_column(m);
        dataset::parse_label_column(stored).map_err(|_| {
            format!(
                "the model's metadata {} is '{stored}', not last, first, none or a 0-based column index (a damaged \
                 or edited model file; --label-column overrides it)",
                crate::model::LABEL_COLUMN
            )
        })?
    };
    let task = if crate::model::is_regression(m) { Task::Regression } else { Task::Classification };
    let loaded = if data.labels.is_some() || data.data.is_none() {
        dataset::load_for(data, column, task)?
    } else {
        // Features only, when the rows are exactly as wide as the model's input.
        let width = |l: &dataset::Loaded| l.dataset.feature_shape().iter().product::<usize>();
        match dataset::load_for(data, LabelColumn::None, task) {
            Ok(all) if !want_labels && Some(width(&all)) == n_inputs => all,
            // Neither all the cells nor all but a label: the width is what is wrong, not a label.
            Ok(all) if !want_labels => dataset::load_for(data, column, task).map_err(|_| {
                format!(
                    "{}: the model takes {} features per row, the file has {} cells per row",
                    all.name,
                    n_inputs.map_or_else(|| "other".to_string(), |n| n.to_string()),
                    width(&all)
                )
            })?,
            _ => dataset::load_for(data, column, task)?,
        }
    };
    // `--missing mean` here: the means of this file's columns (the training part's are not saved).
    let mut loaded = loaded;
    dataset::fill_missing(data, (&loaded.name.clone(), "the file"), &mut loaded.dataset, [])?;
    let width = loaded.dataset.feature_shape().iter().product::<usize>();
    if let Some(n) = n_inputs.filter(|&n| n != width) {
        return Err(format!(
            "{}: the model takes {n} features per row, the file has {width} (besides its label column, {})",
            loaded.name,
            dataset::label_column_name(column)
        )
        .into());
    }
    if want_labels && task == Task::Classification && loaded.dataset.n_classes().is_none() {
        return Err("evaluation needs labelled data".into());
    }
    crate::checks::token_ids(m.network(), &loaded.dataset, &loaded.name)?;
    let ds = in_model_classes(m, loaded.dataset, &loaded.name)?;
    if want_labels {
        labels_within_outputs(m, &ds, &loaded.name)?;
    }
    Ok(ds)
}

/// Every class index of the file is one of the model's outputs, named by
/// its data row when not (the trainer's check knows no file).
fn labels_within_outputs(m: &Model, ds: &InMemoryDataset, file: &str) -> Result<()> {
    let (Some(labels), Some(n)) = (ds.labels(), m.n_outputs().filter(|&n| n > 1)) else { return Ok(()) };
    match labels.iter().position(|&l| l >= n) {
        Some(row) => Err(format!(
            "{file}: data row {} has class {}, but the model has {n} classes (0 to {})",
            row + 1,
            labels[row],
            n - 1
        )
        .into()),
        None => Ok(()),
    }
}

/// A file that names its classes numbers them by the names it holds,
/// sorted; the model numbers them by the names it was trained on. Read the
/// file's labels in the model's numbering, so that a file lacking a class,
/// or holding one the model does not know, is not scored against the
/// wrong classes.
fn in_model_classes(m: &Model, ds: InMemoryDataset, file: &str) -> Result<InMemoryDataset> {
    let Some(file_names) = ds.class_names() else { return Ok(ds) };
    let Some(model_names) = m.class_names() else {
        return Err(format!(
            "{file}: its labels are class names ('{}', ...), but the model was trained on class indices",
            file_names[0]
        )
        .into());
    };
    let listed = || model_names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    let to_model: Vec<usize> = file_names
        .iter()
        .map(|name| {
            model_names
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| format!("{file}: class '{name}' is not one of the model's classes ({})", listed()))
        })
        .collect::<std::result::Result<_, _>>()?;
    let labels: Vec<usize> = ds.targets().data().iter().map(|&l| to_model[l as usize]).collect();
    let (features, ..) = ds.into_parts();
    let n_classes = model_names.len().max(m.n_outputs().unwrap_or(0));
    Ok(InMemoryDataset::from_labels(features, &labels)?.with_n_classes(n_classes)?)
}

pub fn evaluate(a: EvaluateArgs, registry: &Registry) -> Result<()> {
    let mut model = Model::load_with(&a.model, registry)?;
    if model.metadata().contains_key(crate::charlm::VOCAB_KEY) {
        return crate::charlm::evaluate(&mut model, &a.model, &a.data);
    }
    let ds = load_for_model(&model, &a.data, true)?;
    if let Some(scaling) = crate::regression::scaling_of(&model)? {
        let (rmse, mae, r2) = crate::regression::evaluate(&mut model, &scaling, &ds)?;
        outln!("samples: {}", ds.len());
        outln!("RMSE: {rmse:.4}");
        outln!("MAE: {mae:.4}");
        outln!("R²: {r2:.4}");
        return Ok(());
    }
    let mut ds = ds;
    model.preprocess(ds.features_mut(), "evaluate")?;
    let metrics = strata::training::evaluate(model.network_mut(), &ds, &LossKind::CrossEntropy)?;
    if !metrics.loss.is_finite() {
        // Name the rows whose outputs are not finite (one more pass, on this error path only).
        let output = model.network_mut().forward(ds.features(), strata::layers::Mode::Eval)?;
        crate::checks::finite_outputs(output, "evaluate")?;
    }
    outln!("samples: {}", metrics.n_samples);
    outln!("accuracy: {}", pct(metrics.accuracy));
    outln!("loss: {:.4}", metrics.loss);
    Ok(())
}

pub fn predict(a: PredictArgs, registry: &Registry) -> Result<()> {
    if dataset::missing(&a.data)? == strata::data::Missing::Drop {
        return Err("--missing drop: predict prints one line for each row of the file, and rows left out would \
                    shift every line after them (use --missing mean, or mend the rows)"
            .into());
    }
    let mut model = Model::load_with(&a.model, registry)?;
    if model.metadata().contains_key(crate::charlm::VOCAB_KEY) {
        return Err(format!(
            "{}: a language model: `strata generate` samples new items from it, `strata evaluate --data TEXT` \
             scores a text file; predict reads rows of features",
            a.model.display()
        )
        .into());
    }
    let ds = load_for_model(&model, &a.data, false)?;
    let output = model.output(ds.features())?;
    crate::checks::finite_outputs(&output, "predict")?;
    let mut out = String::with_capacity(ds.len() * 8);
    match crate::regression::scaling_of(&model)? {
        Some(scaling) => {
            for y in scaling.unscale(&output) {
                out.push_str(&format!("{y}\n"));
            }
        }
        None => {
            for label in model.labels_of(&output) {
                out.push_str(&label);
                out.push('\n');
            }
        }
    }
    out!("{out}");
    Ok(())
}

pub fn summary_cmd(a: SummaryArgs, registry: &Registry) -> Result<()> {
    // A Strata file (model or checkpoint): its own errors, damaged or not.
    let mut head = [0u8; 6];
    let is_strata =
        std::fs::File::open(&a.model).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head)).is_ok()
            && &head == b"STRATA";
    if is_strata {
        out!("{}", Model::load_with(&a.model, registry)?.summary());
        return Ok(());
    }
    // Otherwise a model spec (JSON).
    let text = std::fs::read_to_string(&a.model)
        .map_err(|e| format!("{}: neither a Strata model file nor a model spec (JSON): {e}", a.model.display()))?;
    let spec = LayerSpec::from_json(&text).map_err(|e| format!("{}: {e}", a.model.display()))?;
    let mut network = build_spec_file(&a.model, &spec, registry)?;
    let file = a.model.display();
    let shape: Vec<Dim> = spec
        .config
        .get("input_shape")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .ok_or_else(|| format!("{file}: no input_shape at the top level (a sequential's config holds it)"))?;
    let summary = strata::layers::summary(network.as_mut(), &shape).map_err(|e| format!("{file}: {e}"))?;
    out!("{summary}");
    Ok(())
}

/// Build the network a spec file describes, seed 0, within the default
/// parameter budget (checked before anything is allocated); errors name
/// the file.
pub(crate) fn build_spec_file(
    path: &std::path::Path,
    spec: &LayerSpec,
    registry: &Registry,
) -> Result<Box<dyn strata::layers::Layer>> {
    let in_file = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    strata::model::check_budget(spec, strata::model::default_budget()).map_err(|e| in_file(&e))?;
    Ok(registry.build(spec, &mut StrataRng::seed_from_u64(0)).map_err(|e| in_file(&e))?)
}

/// Write the kernels of the model's first convolution (the first rank-4
/// tensor named `*.weight`) as a PNG grid.
pub fn export_filters(a: ExportFiltersArgs) -> Result<()> {
    crate::checks::output("--out", &a.out, &[("--model", Some(&a.model))])?;
    let saved = SavedModel::load(&a.model)?;
    let (name, weight) = saved
        .tensors
        .iter()
        .find(|(name, t)| (name == "weight" || name.ends_with(".weight")) && t.rank() == 4)
        .ok_or_else(|| {
            format!("{}: the model has no convolution weight (a rank-4 tensor named *.weight)", a.model.display())
        })?;
    strata::conv::filters_png(weight, &a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let s = weight.shape();
    outln!(
        "wrote the {} kernels {}x{} of {name} ({} filters x {} channels) to {}",
        s[0] * s[1],
        s[2],
        s[3],
        s[0],
        s[1],
        a.out.display()
    );
    Ok(())
}
