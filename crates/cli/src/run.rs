//! The subcommands.

use crate::args::{EvaluateArgs, ExportFiltersArgs, PredictArgs, Preset, SummaryArgs, TrainArgs};
use crate::dataset::{self, EMBEDDED_TRAIN_ROWS};
use crate::model;
use std::error::Error;
use std::time::Instant;
use strata::activation::ActivationKind;
use strata::data::{
    Dataset, InMemoryDataset, LabelColumn, MinMaxScaler, Normalizer, StandardScaler, split_three, train_test_split,
};
use strata::layers::{LayerSpec, SavedModel, summary};
use strata::loss::LossKind;
use strata::optimizer::{OptimizerConfig, Schedule};
use strata::tensor::StrataRng;
use strata::training::{EarlyStopping, FitConfig, Progress, Trainer};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn pct(x: Option<f32>) -> String {
    x.map_or_else(|| "n/a".into(), |a| format!("{:.2}%", a * 100.0))
}

fn normalizer_for(name: &str, embedded: bool, train: &InMemoryDataset) -> Result<Normalizer> {
    Ok(match name {
        "auto" if embedded => Normalizer::Scale { factor: 1.0 / 255.0 },
        "auto" | "standard" => Normalizer::Standard(StandardScaler::fit(train.features())?),
        "minmax" => Normalizer::MinMax(MinMaxScaler::fit(train.features())?),
        "none" => Normalizer::None,
        other => return Err(format!("--normalize must be auto, standard, minmax or none, got '{other}'").into()),
    })
}

fn schedule_for(name: &str, epochs: usize, n_batches: usize) -> Result<Schedule> {
    Ok(match name {
        "constant" => Schedule::Constant,
        "cosine" => Schedule::LinearWarmup {
            warmup_steps: n_batches,
            then: Box::new(Schedule::Cosine { total_steps: epochs.saturating_sub(1).max(1) * n_batches, min_lr: 0.0 }),
        },
        other => return Err(format!("--schedule must be cosine or constant, got '{other}'").into()),
    })
}

pub fn train(mut a: TrainArgs) -> Result<()> {
    a.resolve_defaults();
    let (epochs, dropout, val_fraction) =
        (a.epochs.unwrap_or(1), a.dropout.unwrap_or(0.0), a.val_fraction.unwrap_or(0.0));
    let schedule = a.schedule.clone().unwrap_or_default();
    let started = Instant::now();
    let label_column = dataset::parse_label_column(&a.data.label_column)?;
    if label_column == LabelColumn::None {
        return Err("training needs labels: --label-column cannot be none".into());
    }
    let loaded = dataset::load(&a.data, label_column)?;
    let ds = loaded.dataset;
    let n_classes = ds.n_classes().ok_or("the data has no class labels")?;
    let mut root = StrataRng::seed_from_u64(a.seed);
    let mut split_rng = root.fork();
    let mut init_rng = root.fork();

    // The split: the embedded sample keeps its standard split (first 4000 rows
    // train, last 1000 test) unless a test fraction is asked for.
    let n_samples = ds.len();
    // The embedded sample keeps its standard split (first 4000 rows train,
    // last 1000 test) unless a test fraction is asked for. Parts are moved or
    // copied once, and what is no longer needed is dropped at once: peak
    // memory is a figure of merit (W6).
    let (train_val, test) = match (loaded.embedded, a.test_fraction) {
        (true, None) => {
            let (tv, te) = ds.split_at(EMBEDDED_TRAIN_ROWS)?;
            (tv, Some(te))
        }
        (_, fraction) => {
            let split = split_three(&ds, 0.0, fraction.unwrap_or(0.2), true, &mut split_rng)?;
            drop(ds);
            (split.train, split.test)
        }
    };
    let (mut train, mut val) = if val_fraction > 0.0 {
        let (t, v) = train_test_split(&train_val, val_fraction, true, &mut split_rng)?;
        drop(train_val);
        (t, Some(v))
    } else {
        (train_val, None)
    };
    let mut test = test;
    let normalizer = normalizer_for(&a.normalize, loaded.embedded, &train)?;
    for part in [Some(&mut train), val.as_mut(), test.as_mut()].into_iter().flatten() {
        normalizer.transform(part.features_mut())?;
    }

    let n_features = train.feature_shape().iter().product::<usize>();
    let spec = match &a.model {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            LayerSpec::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None if a.preset == Preset::Cnn => strata_conv::cnn_spec(),
        None => {
            let widths = a.layers.clone().unwrap_or_else(|| vec![n_features, 256, 128, n_classes]);
            let activation: ActivationKind = a.activation.parse()?;
            strata::training::presets::mlp(&widths, activation, dropout)?
        }
    };
    let mut network = crate::registry().build(&spec, &mut init_rng)?;
    // A model whose input is an image ([1, 28, 28]) takes the flat rows as images.
    let model_input = spec_input_shape(&spec);
    if let Some(shape) =
        model_input.filter(|s| s.iter().product::<usize>() == n_features && s.as_slice() != train.feature_shape())
    {
        train = train.with_feature_shape(&shape)?;
        val = val.map(|v| v.with_feature_shape(&shape)).transpose()?;
        test = test.map(|t| t.with_feature_shape(&shape)).transpose()?;
    }

    let n_batches = train.len().div_ceil(a.batch_size.max(1));
    let config = FitConfig {
        epochs,
        batch_size: a.batch_size,
        seed: a.seed,
        schedule: schedule_for(&schedule, epochs, n_batches)?,
        early_stopping: (a.patience > 0).then_some(EarlyStopping { patience: a.patience, ..EarlyStopping::default() }),
        progress: if a.quiet { Progress::Silent } else { Progress::Auto },
        ..FitConfig::default()
    };
    let optimizer = OptimizerConfig::from_name(&a.optimizer, a.lr)?.build()?;
    let mut trainer = Trainer::new(config, Box::new(LossKind::CrossEntropy), optimizer)?;

    if !a.quiet {
        println!(
            "data: {} ({} samples, {} features, {} classes): train {}, validation {}, test {}",
            loaded.name,
            n_samples,
            n_features,
            n_classes,
            train.len(),
            val.as_ref().map_or(0, InMemoryDataset::len),
            test.as_ref().map_or(0, InMemoryDataset::len),
        );
        print!("{}", summary(network.as_mut(), train.feature_shape())?);
        println!(
            "optimizer {} lr {}, schedule {}, batch {}, epochs {}, seed {}",
            a.optimizer, a.lr, schedule, a.batch_size, epochs, a.seed
        );
    }
    let fit_started = Instant::now();
    let history = trainer.fit(network.as_mut(), &train, val.as_ref().map(|v| v as &dyn Dataset))?;
    let fit_seconds = fit_started.elapsed().as_secs_f64();
    let n_epochs = history.epochs.len().max(1);
    if let Some(best) = history.best_epoch {
        println!("early stopping: restored the weights of epoch {best}");
    }
    match &test {
        Some(test) => {
            let m = trainer.evaluate(network.as_mut(), test)?;
            let correct = m.accuracy.map_or(0, |acc| (acc * m.n_samples as f32).round() as usize);
            println!("test accuracy: {} ({correct}/{}), test loss {:.4}", pct(m.accuracy), m.n_samples, m.loss);
        }
        None => println!("no test part (--test-fraction 0)"),
    }
    if !a.quiet {
        println!(
            "trained {} epochs in {:.2} s ({:.3} s per epoch); total {:.2} s{}",
            history.epochs.len(),
            fit_seconds,
            fit_seconds / n_epochs as f64,
            started.elapsed().as_secs_f64(),
            crate::peak_rss_kb().map_or_else(String::new, |kb| format!(", peak memory {:.1} MB", kb as f64 / 1024.0))
        );
    }
    if let Some(out) = &a.out {
        model::save(out, network.as_mut(), &normalizer, &dataset::label_column_name(label_column), Some(n_classes))?;
        println!("saved the model to {}", out.display());
    }
    Ok(())
}

/// The per-sample input shape a spec declares, if it declares one.
pub fn spec_input_shape(spec: &LayerSpec) -> Option<Vec<usize>> {
    spec.config.get("input_shape").and_then(|v| serde_json::from_value(v.clone()).ok())
}

fn load_for_model(m: &model::CliModel, data: &crate::args::DataArgs, want_labels: bool) -> Result<InMemoryDataset> {
    let n_inputs: usize = m.input_shape.iter().product();
    // Read every column as a feature first, then decide where the label is:
    // a row one wider than the model's input carries a label.
    let explicit = data.label_column != "last";
    let column = if explicit {
        dataset::parse_label_column(&data.label_column)?
    } else {
        dataset::parse_label_column(&m.label_column)?
    };
    let loaded = if data.labels.is_some() || data.data.is_none() {
        dataset::load(data, column)?
    } else {
        let all = dataset::load(data, LabelColumn::None)?;
        let width = all.dataset.feature_shape().iter().product::<usize>();
        if width == n_inputs && !want_labels { all } else { dataset::load(data, column)? }
    };
    let mut ds = loaded.dataset;
    let width = ds.feature_shape().iter().product::<usize>();
    if !m.input_shape.is_empty() && width == n_inputs && ds.feature_shape() != m.input_shape.as_slice() {
        ds = ds.with_feature_shape(&m.input_shape)?;
    }
    if want_labels && ds.n_classes().is_none() {
        return Err("evaluation needs labelled data".into());
    }
    m.normalizer.transform(ds.features_mut())?;
    Ok(ds)
}

pub fn evaluate(a: EvaluateArgs) -> Result<()> {
    let mut m = model::load(&a.model)?;
    let ds = load_for_model(&m, &a.data, true)?;
    let mut trainer = Trainer::new(
        FitConfig { progress: Progress::Silent, ..FitConfig::default() },
        Box::new(LossKind::CrossEntropy),
        OptimizerConfig::from_name("sgd", 0.0)?.build()?,
    )?;
    let metrics = trainer.evaluate(m.network.as_mut(), &ds)?;
    println!("samples: {}", metrics.n_samples);
    println!("accuracy: {}", pct(metrics.accuracy));
    println!("loss: {:.4}", metrics.loss);
    Ok(())
}

pub fn predict(a: PredictArgs) -> Result<()> {
    let mut m = model::load(&a.model)?;
    let ds = load_for_model(&m, &a.data, false)?;
    let n = ds.len();
    let mut out = String::new();
    for start in (0..n).step_by(512) {
        let idx: Vec<usize> = (start..(start + 512).min(n)).collect();
        let (mut x, mut y) = Default::default();
        ds.fill_batch(&idx, &mut x, &mut y)?;
        let logits = m.network.forward(&x, strata::layers::Mode::Eval)?;
        for class in logits.argmax_rows()? {
            out.push_str(&class.to_string());
            out.push('\n');
        }
    }
    let _ = m.n_classes;
    print!("{out}");
    Ok(())
}

pub fn summary_cmd(a: SummaryArgs) -> Result<()> {
    let (mut network, input_shape) = match SavedModel::load(&a.model) {
        Ok(saved) => {
            let shape = serde_json::from_value(saved.spec.config["input_shape"].clone()).unwrap_or_default();
            (saved.instantiate(&crate::registry())?, shape)
        }
        Err(strata::layers::LayerError::ModelFormat { .. }) => {
            let text = std::fs::read_to_string(&a.model)?;
            let spec = LayerSpec::from_json(&text)?;
            let shape = serde_json::from_value(spec.config["input_shape"].clone()).unwrap_or_default();
            (crate::registry().build(&spec, &mut StrataRng::seed_from_u64(0))?, shape)
        }
        Err(e) => return Err(e.into()),
    };
    let shape: Vec<usize> = input_shape;
    print!("{}", summary(network.as_mut(), &shape)?);
    Ok(())
}

/// Write the kernels of the model's first convolution (the first rank-4
/// tensor named `*.weight`) as a PNG grid.
pub fn export_filters(a: ExportFiltersArgs) -> Result<()> {
    let saved = SavedModel::load(&a.model)?;
    let (name, weight) = saved
        .tensors
        .iter()
        .find(|(name, t)| (name == "weight" || name.ends_with(".weight")) && t.rank() == 4)
        .ok_or_else(|| {
            format!("{}: the model has no convolution weight (a rank-4 tensor named *.weight)", a.model.display())
        })?;
    strata_conv::filters_png(weight, &a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let s = weight.shape();
    println!(
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
