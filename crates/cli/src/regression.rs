//! `strata train --task regression`: a real-valued target, standardised on
//! the training part (predictions are mapped back), MSE or Huber loss, and
//! RMSE, MAE and R² in the target's own units.

use crate::args::TrainArgs;
use crate::checkpoint::Run;
use crate::dataset;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use strata::activation::ActivationKind;
use strata::data::{Dataset, InMemoryDataset, LabelColumn, Normalizer, Task, split_three};
use strata::layers::Registry;
use strata::loss::LossKind;
use strata::model::Model;
use strata::report::TestFigures;
use strata::tensor::{StrataRng, Tensor};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The metadata key of the target's scaling in a regression model.
pub const TARGET_SCALING: &str = "strata.cli.target_scaling";

/// `y = mean + std * output`: the target's standardisation, fitted on the training part.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetScaling {
    /// The training targets' mean.
    pub mean: f64,
    /// Their standard deviation (1 when they are all equal).
    pub std: f64,
}

impl TargetScaling {
    fn fit(targets: &Tensor) -> TargetScaling {
        let n = targets.len().max(1) as f64;
        let mean = targets.data().iter().map(|&y| f64::from(y)).sum::<f64>() / n;
        let var = targets.data().iter().map(|&y| (f64::from(y) - mean).powi(2)).sum::<f64>() / n;
        let std = if var > 0.0 { var.sqrt() } else { 1.0 };
        TargetScaling { mean, std }
    }

    fn standardised(&self, ds: InMemoryDataset) -> Result<InMemoryDataset> {
        let (f, t, _) = ds.into_parts();
        let t: Vec<f32> = t.data().iter().map(|&y| ((f64::from(y) - self.mean) / self.std) as f32).collect();
        Ok(InMemoryDataset::new(f, Tensor::from_vec(&[t.len(), 1], t)?)?)
    }

    /// The model's outputs in the target's units.
    pub fn unscale(&self, output: &Tensor) -> Vec<f64> {
        output.data().iter().map(|&o| self.mean + self.std * f64::from(o)).collect()
    }
}

/// RMSE, MAE and R² of predictions against targets, in the target's units.
/// R² of a constant target is scikit-learn's (`r2_score`, `force_finite`):
/// 1 for exact predictions, else 0.
pub fn metrics(predicted: &[f64], actual: &[f32]) -> (f64, f64, f64) {
    let n = actual.len().max(1) as f64;
    let mean = actual.iter().map(|&y| f64::from(y)).sum::<f64>() / n;
    let (mut se, mut ae, mut tot) = (0.0, 0.0, 0.0);
    for (&p, &y) in predicted.iter().zip(actual) {
        let y = f64::from(y);
        se += (p - y).powi(2);
        ae += (p - y).abs();
        tot += (y - mean).powi(2);
    }
    let r2 = match (tot > 0.0, se == 0.0) {
        (true, _) => 1.0 - se / tot,
        (false, exact) => f64::from(u8::from(exact)),
    };
    ((se / n).sqrt(), ae / n, r2)
}

/// A regression ready to train or check: its parts (features scaled and
/// targets standardised on the training part; the test part as read, for
/// the model's own preprocessing), the MLP and the loss.
pub(crate) struct Prepared {
    pub name: String,
    pub label_column: LabelColumn,
    pub n_rows: usize,
    pub n_features: usize,
    pub train: InMemoryDataset,
    pub val: Option<InMemoryDataset>,
    pub test: Option<InMemoryDataset>,
    pub normalizer: Normalizer,
    pub scaling: TargetScaling,
    pub model: Model,
    pub loss: LossKind,
}

impl Prepared {
    /// The test part as the network sees it: features scaled, targets standardised.
    pub fn scaled_test(&self) -> Result<Option<InMemoryDataset>> {
        let Some(test) = &self.test else { return Ok(None) };
        let mut test = test.clone();
        self.normalizer.transform(test.features_mut())?;
        Ok(Some(self.scaling.standardised(test)?))
    }
}

/// The defaults of a regression: the MLP preset's, without dropout unless
/// `--dropout` is given.
pub(crate) fn resolve_defaults(a: &mut TrainArgs) {
    let dropout = a.dropout.take();
    a.resolve_defaults();
    a.dropout = Some(dropout.unwrap_or(0.0));
}

/// Read, split, scale and standardise the data, and build the MLP
/// (`--layers`, default `features,64,64,1`) and the loss (`--loss`).
pub(crate) fn prepare(a: &TrainArgs, registry: &Registry) -> Result<Prepared> {
    if a.preset != crate::args::Preset::Mlp || a.model.is_some() {
        return Err("--task regression trains an MLP (--layers); --preset and --model are for classifiers".into());
    }
    let label_column = dataset::label_column(&a.data)?;
    if label_column == LabelColumn::None {
        return Err("--task regression needs a target: --label-column cannot be none".into());
    }
    if a.data.data.is_none() {
        return Err(
            "--task regression needs --data FILE with a real-valued column (the embedded sample is digits)".into()
        );
    }
    let loaded = dataset::load_for(&a.data, label_column, Task::Regression)?;
    let targets = loaded.dataset.targets().data();
    if targets.iter().all(|&y| y == targets[0]) {
        return Err(format!(
            "{}: every row's target is {}: a regression needs targets that vary",
            loaded.name, targets[0]
        )
        .into());
    }
    let mut root = StrataRng::seed_from_u64(a.seed);
    let (mut split_rng, mut init_rng) = (root.fork(), root.fork());
    let split = split_three(
        &loaded.dataset,
        a.val_fraction.unwrap_or(0.0),
        a.test_fraction.unwrap_or(0.2),
        false,
        &mut split_rng,
    )?;
    let (mut train, mut val, mut test) = (split.train, split.validation, split.test);
    dataset::fill_missing(&a.data, (&loaded.name, "the training part"), &mut train, [val.as_mut(), test.as_mut()])?;
    let n_features = train.features().row_len();
    let normalizer = crate::run::normalizer_for(&a.normalize, false, &train)?;
    for part in [Some(&mut train), val.as_mut()].into_iter().flatten() {
        normalizer.transform(part.features_mut())?;
    }
    crate::checks::finite_after_scaling(
        &loaded.name,
        &a.normalize,
        &[("training", Some(&train)), ("validation", val.as_ref())],
    )?;
    let scaling = TargetScaling::fit(train.targets());
    let train = scaling.standardised(train)?;
    let val = val.map(|v| scaling.standardised(v)).transpose()?;
    let model = build_model(a, registry, (&loaded.name, n_features), &normalizer, &mut init_rng)?;
    let loss: LossKind = match a.loss.as_str() {
        "mse" => LossKind::Mse,
        "huber" => LossKind::Huber,
        other => return Err(format!("--loss must be mse or huber for a regression, got '{other}'").into()),
    };
    let n_rows = loaded.dataset.len();
    Ok(Prepared {
        name: loaded.name,
        label_column,
        n_rows,
        n_features,
        train,
        val,
        test,
        normalizer,
        scaling,
        model,
        loss,
    })
}

/// The MLP of `--layers` (default `features,64,64,1`), `--activation` and `--dropout`.
fn build_model(
    a: &TrainArgs,
    registry: &Registry,
    (name, n_features): (&str, usize),
    normalizer: &Normalizer,
    init_rng: &mut StrataRng,
) -> Result<Model> {
    let widths = a.layers.clone().unwrap_or_else(|| vec![n_features, 64, 64, 1]);
    if widths.first() != Some(&n_features) || widths.last() != Some(&1) {
        let given: Vec<String> = widths.iter().map(usize::to_string).collect();
        return Err(format!(
            "--layers {}: a regression on {name} takes {n_features} inputs and gives 1 output",
            given.join(",")
        )
        .into());
    }
    let activation: ActivationKind = a.activation.parse()?;
    let spec = strata::training::presets::mlp(&widths, activation, a.dropout.unwrap_or(0.0))?;
    crate::checks::parameter_budget(a, &spec)?;
    let mut network = registry.build(&spec, init_rng)?;
    crate::run::check_trainable(network.as_mut())?;
    Ok(Model::new(network)?.with_providers_from(registry).with_preprocessing(normalizer.clone()))
}

pub fn train(a: TrainArgs, registry: &Registry, mut run: Run) -> Result<()> {
    let started = Instant::now();
    let Prepared { name, label_column, n_rows, n_features, train, val, test, scaling, mut model, loss, .. } =
        prepare(&a, registry)?;
    let mut trainer = crate::run::make_trainer(&a, loss, train.len(), val.is_some())?;
    if let Some(cb) = crate::checkpoint::callback(&a, &run, &train, val.is_some())? {
        trainer.add_callback(cb)?;
    }
    let observations = crate::insight::observe(&mut trainer, val.as_ref().unwrap_or(&train))?;
    run.restore(&mut trainer, model.network_mut(), |_| true)?;
    if !a.quiet {
        outln!(
            "data: {} ({} samples, {n_features} features, a real-valued target): train {}, validation {}, test {}",
            name,
            n_rows,
            train.len(),
            val.as_ref().map_or(0, InMemoryDataset::len),
            test.as_ref().map_or(0, InMemoryDataset::len),
        );
        out!("{}", model.summary());
        outln!("{}, loss {}", crate::run::optimizer_line(&a, "constant", 1), loss.name());
    }
    let fitted = trainer.fit(model.network_mut(), &train, val.as_ref().map(|v| v as &dyn Dataset));
    let after = crate::insight::After {
        args: &a,
        name: &name,
        n_train: train.len(),
        history: &trainer.state().history,
        observations: &observations,
        baseline: Some(baseline_loss(&train, loss)),
    };
    crate::insight::diagnose_and_report(after, &mut model, regression_test(&scaling, test.as_ref()))?;
    fitted?;
    crate::run::say_restored(&trainer.state().history)?;
    match &test {
        Some(test) => {
            let (rmse, mae, r2) = evaluate(&mut model, &scaling, test)?;
            outln!("test RMSE {rmse:.4}, MAE {mae:.4}, R² {r2:.4} ({} rows)", test.len());
        }
        None => outln!("no test part (--test-fraction 0)"),
    }
    if !a.quiet {
        outln!("total {:.2} s", started.elapsed().as_secs_f64());
    }
    if let Some(out) = &a.out {
        let column = dataset::label_column_name(label_column);
        let mut model = model
            .with_metadata(crate::model::LABEL_COLUMN, column)
            .with_metadata(crate::model::TASK, "regression")
            .with_metadata(TARGET_SCALING, serde_json::to_string(&scaling)?);
        model.save(out)?;
        outln!("saved the model to {}", out.display());
    }
    Ok(())
}

/// The loss of predicting the training mean (0 once standardised) for every row.
fn baseline_loss(train: &InMemoryDataset, loss: LossKind) -> f32 {
    let y = train.targets().data();
    let term = |v: f32| match loss {
        LossKind::Huber if v.abs() > 1.0 => v.abs() - 0.5,
        LossKind::Huber => 0.5 * v * v,
        _ => v * v,
    };
    y.iter().map(|&v| term(v)).sum::<f32>() / y.len().max(1) as f32
}

/// The test part of a regression's report: MSE in the target's units, RMSE, MAE and R².
fn regression_test<'a>(scaling: &'a TargetScaling, test: Option<&'a InMemoryDataset>) -> crate::insight::TestPart<'a> {
    Box::new(move |model: &mut Model| {
        let Some(test) = test else { return Ok((None, None)) };
        let (rmse, mae, r2) = evaluate(model, scaling, test)?;
        let extra = vec![("RMSE".into(), rmse as f32), ("MAE".into(), mae as f32), ("R²".into(), r2 as f32)];
        let figures = TestFigures { n_samples: test.len(), loss: (rmse * rmse) as f32, accuracy: None, extra };
        Ok((Some(figures), None))
    })
}

/// RMSE, MAE and R² of `model` on raw `data` (features unscaled, targets in their units).
pub fn evaluate(model: &mut Model, scaling: &TargetScaling, data: &InMemoryDataset) -> Result<(f64, f64, f64)> {
    let output = model.output(data.features())?;
    crate::checks::finite_outputs(&output, "evaluate")?;
    Ok(metrics(&scaling.unscale(&output), data.targets().data()))
}

/// The scaling a regression model file carries, if it is one.
pub fn scaling_of(model: &Model) -> Result<Option<TargetScaling>> {
    match model.metadata().get(TARGET_SCALING) {
        Some(s) => Ok(Some(serde_json::from_str(s).map_err(|e| format!("model metadata {TARGET_SCALING}: {e}"))?)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::metrics;

    /// R² of a constant target, as scikit-learn's `r2_score` gives it
    /// (`force_finite=True`): 1 for exact predictions, else 0; not NaN.
    #[test]
    fn r2_of_a_constant_target_is_finite() {
        assert_eq!(metrics(&[7.0, 7.0], &[7.0, 7.0]).2, 1.0);
        assert_eq!(metrics(&[6.0, 8.0], &[7.0, 7.0]).2, 0.0);
        // A varying target: 1 - SSE / SST = 1 - 2 / 2 (by hand).
        assert_eq!(metrics(&[2.0, 2.0], &[1.0, 3.0]).2, 0.0);
    }
}
