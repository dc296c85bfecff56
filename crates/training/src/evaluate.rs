//! Evaluation: loss and accuracy of a model on a dataset, with no optimizer.

use crate::error::{Result, TrainingError};
use crate::history::Metrics;
use strata_data::Dataset;
use strata_layers::{Dim, Layer, Mode, dims};
use strata_loss::Loss;
use strata_tensor::Tensor;

/// Rows per inference batch of an evaluation.
pub(crate) const EVAL_BATCH: usize = 512;

/// Loss and accuracy of `model` on `data` under `loss`, in inference mode
/// (batches of 512). Needs no optimizer and no trainer.
///
/// The loss is the mean over every term of the dataset (a batch's mean is
/// weighted by its [`Loss::n_terms`]), the accuracy the share of right
/// predictions among those counted, when the loss defines one.
///
/// ```
/// use strata_data::InMemoryDataset;
/// use strata_layers::{Dense, DenseConfig};
/// use strata_loss::LossKind;
/// use strata_tensor::{StrataRng, Tensor};
/// let mut model = Dense::new(DenseConfig::new(2, 2), &mut StrataRng::seed_from_u64(0))?;
/// let data = InMemoryDataset::from_labels(Tensor::from_vec(&[2, 2], vec![1., 0., 0., 1.])?, &[0, 1])?;
/// let m = strata_training::evaluate(&mut model, &data, &LossKind::CrossEntropy)?;
/// assert_eq!(m.n_samples, 2);
/// assert!(m.loss.is_finite() && m.accuracy.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn evaluate(model: &mut dyn Layer, data: &dyn Dataset, loss: &dyn Loss) -> Result<Metrics> {
    let (mut features, mut targets) = (Tensor::default(), Tensor::default());
    crate::trainer::on_pool(|| evaluate_with(model, data, loss, &mut features, &mut targets))
}

/// [`evaluate`] with reused batch buffers.
pub(crate) fn evaluate_with(
    model: &mut dyn Layer,
    data: &dyn Dataset,
    loss: &dyn Loss,
    features: &mut Tensor,
    targets: &mut Tensor,
) -> Result<Metrics> {
    check_data(model, data, "evaluation", EVAL_BATCH)?;
    let n = data.len();
    let mut indices: Vec<usize> = Vec::with_capacity(EVAL_BATCH.min(n));
    let (mut loss_sum, mut terms) = (0f64, 0f64);
    let mut correct = Some((0usize, 0usize));
    for start in (0..n).step_by(EVAL_BATCH) {
        indices.clear();
        indices.extend(start..(start + EVAL_BATCH).min(n));
        data.fill_batch(&indices, features, targets)?;
        let out = model.forward(features, Mode::Eval)?;
        let t = loss.n_terms(out, targets) as f64;
        if t > 0.0 {
            loss_sum += f64::from(loss.value(out, targets)?) * t;
            terms += t;
        }
        correct = correct.zip(loss.correct(out, targets)).map(|((a, b), (c, d))| (a + c, b + d));
    }
    Ok(Metrics {
        loss: if terms > 0.0 { (loss_sum / terms) as f32 } else { 0.0 },
        accuracy: correct.filter(|&(_, counted)| counted > 0).map(|(right, counted)| right as f32 / counted as f32),
        n_samples: n,
    })
}

/// A dataset that is not empty, whose samples the model takes, whose
/// class labels fit the model's output, and whose batches of `batch`
/// samples make outputs the memory holds
/// ([`strata_layers::check_activations`]: a batch of 60,000 images through
/// a convolution would otherwise abort the process where it allocates).
pub(crate) fn check_data(model: &dyn Layer, data: &dyn Dataset, what: &'static str, batch: usize) -> Result<()> {
    if data.is_empty() {
        return Err(TrainingError::EmptyDataset { what });
    }
    let out = model.output_shape(&dims(data.feature_shape())).map_err(|e| TrainingError::InputShape {
        what,
        data: data.feature_shape().to_vec(),
        model: model_input_hint(e),
    })?;
    if let (Some(n_classes), Some(&Dim::Fixed(width))) = (data.n_classes(), out.last())
        && width > 1
        && n_classes > width
    {
        return Err(TrainingError::LabelOutOfRange { what, label: n_classes - 1, n_classes: width });
    }
    let budget = strata_layers::default_activation_budget();
    Ok(strata_layers::check_activations(model, data.feature_shape(), batch.min(data.len()), budget)?)
}

/// The model's per-sample input shape as far as an error tells it.
fn model_input_hint(e: strata_layers::LayerError) -> Vec<Dim> {
    match e {
        strata_layers::LayerError::ShapeMismatch { expected, .. } => expected,
        strata_layers::LayerError::IncompatibleLayers { next_expected, .. } => next_expected,
        _ => Vec::new(),
    }
}
