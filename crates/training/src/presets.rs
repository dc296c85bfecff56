//! Ready-made architectures, as specs a [`strata_layers::Registry`] builds.

use strata_activation::ActivationKind;
use strata_layers::{DenseConfig, Dim, DropoutConfig, LayerSpec, Result, SequentialConfig};
use strata_tensor::Init;

/// A multi-layer perceptron: `widths[0]` inputs, dense layers to each next
/// width, `activation` (and dropout with `dropout_rate`, when > 0) between
/// them, no activation after the last (it outputs logits).
///
/// He-normal weights for ReLU-family activations, Xavier-uniform otherwise.
///
/// ```
/// use strata_activation::ActivationKind;
/// use strata_layers::{Registry, dims};
/// use strata_tensor::StrataRng;
/// use strata_training::presets::mlp;
///
/// let spec = mlp(&[784, 256, 128, 10], ActivationKind::Relu, 0.2)?;
/// let model = Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(1))?;
/// assert_eq!(model.output_shape(&dims(&[784]))?, dims(&[10]));
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
pub fn mlp(widths: &[usize], activation: ActivationKind, dropout_rate: f32) -> Result<LayerSpec> {
    let init = match activation {
        ActivationKind::Relu | ActivationKind::LeakyRelu { .. } | ActivationKind::Gelu => Init::HeNormal,
        _ => Init::XavierUniform,
    };
    let mut layers = Vec::new();
    for (i, pair) in widths.windows(2).enumerate() {
        layers.push(LayerSpec::new("dense", &DenseConfig::new(pair[0], pair[1]).with_init(init))?);
        if i + 2 < widths.len() {
            layers.push(match activation {
                ActivationKind::LeakyRelu { slope } => {
                    LayerSpec::new("leaky_relu", &serde_json::json!({ "slope": slope }))?
                }
                other => LayerSpec { kind: other.name().to_string(), config: serde_json::Value::Null },
            });
            if dropout_rate > 0.0 {
                layers.push(LayerSpec::new("dropout", &DropoutConfig { rate: dropout_rate, seed: 0 })?);
            }
        }
    }
    LayerSpec::new(
        "sequential",
        &SequentialConfig { input_shape: widths.first().map(|&w| vec![Dim::Fixed(w)]).unwrap_or_default(), layers },
    )
}
