//! The activation budget: how many values a network's layers will output
//! for one batch, counted from their output shapes before a batch runs. Few
//! parameters can still ask for outputs no memory holds (a convolution
//! padded by 20000, or a batch of 60000 images), and an allocation the
//! machine refuses would abort the process.

use crate::error::{ActivationExcess, LayerError, Result};
use crate::layer::Layer;
use crate::shape::Dim;

/// The default budget of [`check_activations`]: the values a quarter of
/// this machine's memory holds as layer outputs while training (an output
/// and its gradient: 8 bytes each); 2^29 when the memory cannot be read.
/// The memory is read once a process ([`strata_tensor::machine_memory`]).
pub fn default_activation_budget() -> u64 {
    strata_tensor::machine_memory().map_or(1 << 29, |bytes| bytes / 4 / 8)
}

/// Refuse a network whose layers' outputs for one batch of `batch` samples
/// of `sample_shape` would hold more than `budget` values, naming the
/// largest output, before a batch runs. Few parameters can still ask for
/// outputs no memory holds (a convolution padded by 20000, say), and a
/// layer keeps its output while training.
///
/// ```
/// use strata_layers::{Dense, DenseConfig};
/// use strata_tensor::StrataRng;
/// // 4 x 1000 weights, but a batch of a million samples outputs 10^9 values.
/// let dense = Dense::new(DenseConfig::new(4, 1000), &mut StrataRng::seed_from_u64(0))?;
/// strata_layers::check_activations(&dense, &[4], 1000, 1 << 29)?;
/// let err = strata_layers::check_activations(&dense, &[4], 1_000_000, 1 << 29).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "a batch of 1000000 samples would make layer 'dense' (dense) output [1000000, 1000] \
///      (1000000000 values), more than the budget of 536870912 values for all the layers' outputs"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_activations(network: &dyn Layer, sample_shape: &[usize], batch: usize, budget: u64) -> Result<()> {
    let outputs = layer_outputs(network, sample_shape);
    let batch_values = |per_sample: u128| per_sample.saturating_mul(batch as u128);
    let total = outputs.iter().fold(0u128, |t, o| t.saturating_add(batch_values(o.2)));
    if total <= u128::from(budget) {
        return Ok(());
    }
    // The first of equal outputs (a dense layer, not the activation after it).
    let (layer, kind, per_sample, shape) = outputs.into_iter().rev().max_by_key(|o| o.2).unwrap_or_default();
    let layer = if layer.is_empty() { kind.clone() } else { layer };
    let mut shape: Vec<Dim> = shape;
    shape.insert(0, Dim::Fixed(batch));
    let values = batch_values(per_sample);
    Err(LayerError::TooManyActivations(Box::new(ActivationExcess { layer, kind, shape, batch, values, total, budget })))
}

/// Every leaf layer of `network` (no children) with its output for one
/// sample of `sample_shape`: its path, its kind, the values of that output
/// and its shape; children chained from their parent's input while their
/// shapes chain.
///
/// ```
/// use strata_layers::{ActivationLayer, Dense, DenseConfig, Dim, Layer, Sequential};
/// use strata_tensor::StrataRng;
/// let dense = Dense::new(DenseConfig::new(4, 8), &mut StrataRng::seed_from_u64(0))?;
/// let relu = ActivationLayer::new(strata_activation::ActivationKind::Relu);
/// let layers: Vec<Box<dyn Layer>> = vec![Box::new(dense), Box::new(relu)];
/// let net = Sequential::new(&[4], layers)?;
/// let outputs = strata_layers::layer_outputs(&net, &[4]);
/// assert_eq!(outputs[1], ("relu_1".to_string(), "relu".to_string(), 8, vec![Dim::Fixed(8)]));
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
pub fn layer_outputs(network: &dyn Layer, sample_shape: &[usize]) -> Vec<(String, String, u128, Vec<Dim>)> {
    let mut outputs = Vec::new();
    let input: Vec<Dim> = sample_shape.iter().map(|&n| Dim::Fixed(n)).collect();
    output_values(network, "", &input, &mut outputs);
    outputs
}

/// [`layer_outputs`] below `layer`; `None` when it does not take `input`.
fn output_values(
    layer: &dyn Layer,
    path: &str,
    input: &[Dim],
    out: &mut Vec<(String, String, u128, Vec<Dim>)>,
) -> Option<Vec<Dim>> {
    let shape = layer.output_shape(input).ok()?;
    let children = layer.children();
    if children.is_empty() {
        let values = shape.iter().fold(1u128, |v, d| v.saturating_mul(d.fixed().unwrap_or(1) as u128));
        out.push((path.to_string(), layer.kind().to_string(), values, shape.clone()));
    }
    let mut inner = input.to_vec();
    for (name, child) in children {
        let p = if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
        match output_values(child, &p, &inner, out) {
            Some(next) => inner = next,
            None => break,
        }
    }
    Some(shape)
}
