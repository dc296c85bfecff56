//! LayerNorm: values by hand, modes, save/load, errors.

use crate::common::{assert_close, get_grad, registry, set_tensor, tensor};
use std::path::Path;
use strata_io::SavedModel;
use strata_layers::{Dim, Layer, LayerError, LayerSpec, Mode, dims, state_dict};
use strata_normalization::{LayerNorm, LayerNormConfig};
use strata_tensor::{StrataRng, Tensor};

const EPS: f32 = 1e-5;

fn ln(shape: &[usize]) -> LayerNorm {
    LayerNorm::new(LayerNormConfig::new(shape)).unwrap()
}

/// `1 / sqrt(var + eps)`.
fn inv_std(var: f32) -> f32 {
    1.0 / (var + EPS).sqrt()
}

#[test]
fn each_sample_is_normalised_with_its_own_statistics() {
    // Row [1, 3]: mean 2, variance 1. Row [10, 30]: mean 20, variance 100.
    // Row [4, 4]: variance 0, x - mean = 0, so the output is the bias, 0.
    let mut layer = ln(&[2]);
    let y = layer.forward(&tensor(&[3, 2], &[1.0, 3.0, 10.0, 30.0, 4.0, 4.0]), Mode::Train).unwrap();
    let (a, b) = (inv_std(1.0), 10.0 * inv_std(100.0));
    assert_close(y.data(), &[-a, a, -b, b, 0.0, 0.0], 1e-6);
}

#[test]
fn a_multi_axis_shape_is_normalised_as_a_whole() {
    // normalized_shape [2, 2]: the sample [[1, 2], [3, 4]] has mean 2.5 and
    // variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25.
    let mut layer = ln(&[2, 2]);
    set_tensor(&mut layer, "weight", &[1.0, 2.0, 3.0, 4.0]);
    set_tensor(&mut layer, "bias", &[0.0, 0.0, 1.0, -1.0]);
    let y = layer.forward(&tensor(&[1, 2, 2], &[1.0, 2.0, 3.0, 4.0]), Mode::Eval).unwrap();
    assert_eq!(y.shape(), &[1, 2, 2]);
    let a = inv_std(1.25);
    // y = weight ⊙ x̂ + bias, element by element.
    assert_close(y.data(), &[-1.5 * a, 2.0 * -0.5 * a, 3.0 * 0.5 * a + 1.0, 4.0 * 1.5 * a - 1.0], 1e-6);
}

#[test]
fn training_and_inference_compute_the_same_function() {
    let mut rng = StrataRng::seed_from_u64(5);
    let x = Tensor::random_normal(&[4, 6], 1.0, 3.0, &mut rng).unwrap();
    let mut layer = ln(&[6]);
    let train = layer.forward(&x, Mode::Train).unwrap().clone();
    let eval = layer.forward(&x, Mode::Eval).unwrap().clone();
    assert_eq!(train, eval);
    // Nothing but the parameters is saved: no statistics are kept across batches.
    let names: Vec<String> = state_dict(&mut layer).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias"]);
}

#[test]
fn backward_by_hand() {
    // The sample (-1, 0, 1): mean 0, variance 2/3, σ² = 2/3 + eps, x̂ = (-1, 0, 1) / σ.
    // With weight 1 and g = (1, 0, 0): mean(g) = 1/3, mean(g x̂) = -1 / (3σ), so
    // with q = 1/σ², dx = (g - mean(g) - x̂ mean(g x̂)) / σ = (2/3 - q/3, -1/3, -1/3 + q/3) / σ,
    // sqrt(3/2) (1/6, -1/3, 1/6) for eps = 0 (the same numbers as batch norm
    // over a batch holding those three values).
    let mut layer = ln(&[3]);
    layer.forward(&tensor(&[1, 3], &[-1.0, 0.0, 1.0]), Mode::Train).unwrap();
    let dx = layer.backward(&tensor(&[1, 3], &[1.0, 0.0, 0.0])).unwrap().clone();
    let (s, q) = (inv_std(2.0 / 3.0), 1.0 / (2.0 / 3.0 + EPS));
    let want = [s * (2.0 - q) / 3.0, -s / 3.0, s * (q - 1.0) / 3.0];
    assert_close(dx.data(), &want, 1e-6);
    // dbias = g, dweight = g ⊙ x̂ = (-1/σ, 0, 0).
    assert_close(get_grad(&mut layer, "bias").data(), &[1.0, 0.0, 0.0], 1e-7);
    assert_close(get_grad(&mut layer, "weight").data(), &[-s, 0.0, 0.0], 1e-6);
    // With weight w the input gradient sees ĝ = w ⊙ g: doubling w doubles dx.
    let mut doubled = ln(&[3]);
    set_tensor(&mut doubled, "weight", &[2.0, 2.0, 2.0]);
    doubled.forward(&tensor(&[1, 3], &[-1.0, 0.0, 1.0]), Mode::Train).unwrap();
    let dx2 = doubled.backward(&tensor(&[1, 3], &[1.0, 0.0, 0.0])).unwrap();
    assert_close(dx2.data(), &want.map(|v| 2.0 * v), 1e-6);
}

#[test]
fn save_and_load_keep_the_parameters() {
    let mut layer = ln(&[3]);
    set_tensor(&mut layer, "weight", &[0.5, 1.5, -2.0]);
    set_tensor(&mut layer, "bias", &[0.1, 0.2, 0.3]);
    let bytes = SavedModel::capture(&mut layer, Default::default()).unwrap().to_bytes().unwrap();
    let mut loaded = SavedModel::from_bytes(&bytes, Path::new("<memory>")).unwrap().instantiate(&registry()).unwrap();
    assert_eq!(loaded.kind(), "layer_norm");
    let x = Tensor::random_normal(&[5, 3], 0.0, 1.0, &mut StrataRng::seed_from_u64(2)).unwrap();
    assert_eq!(loaded.predict(&x).unwrap(), layer.predict(&x).unwrap());
    let config: LayerNormConfig = loaded.spec().unwrap().config().unwrap();
    assert_eq!(config, LayerNormConfig::new(&[3]));
}

#[test]
fn buffers_are_reused_from_one_step_to_the_next() {
    let mut rng = StrataRng::seed_from_u64(1);
    let x = Tensor::random_normal(&[16, 8], 0.0, 1.0, &mut rng).unwrap();
    let g = Tensor::random_normal(&[16, 8], 0.0, 1.0, &mut rng).unwrap();
    let mut layer = ln(&[8]);
    let out = layer.forward(&x, Mode::Train).unwrap().data().as_ptr();
    let dx = layer.backward(&g).unwrap().data().as_ptr();
    for _ in 0..3 {
        assert_eq!(layer.forward(&x, Mode::Train).unwrap().data().as_ptr(), out);
        assert_eq!(layer.backward(&g).unwrap().data().as_ptr(), dx);
    }
}

#[test]
fn wrong_shapes_name_the_layer_and_both_shapes() {
    let mut layer = ln(&[4]);
    let err = layer.forward(&Tensor::zeros(&[2, 5]), Mode::Train).unwrap_err();
    assert!(
        matches!(&err, LayerError::ShapeMismatch { layer, expected, actual }
            if layer == "layer_norm" && expected == &[Dim::Any, Dim::Fixed(4)] && actual == &[2, 5]),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "layer 'layer_norm': expected input of shape [*, 4], got [2, 5]");
    assert!(matches!(layer.output_shape(&dims(&[4, 1])), Err(LayerError::ShapeMismatch { .. })));
    assert!(matches!(layer.backward(&Tensor::zeros(&[2, 4])), Err(LayerError::BackwardBeforeForward { .. })));
    layer.forward(&Tensor::zeros(&[2, 4]), Mode::Train).unwrap();
    assert!(matches!(layer.backward(&Tensor::zeros(&[2, 5])), Err(LayerError::ShapeMismatch { .. })));
    // An empty batch is fine.
    assert_eq!(layer.forward(&Tensor::zeros(&[0, 4]), Mode::Train).unwrap().shape(), &[0, 4]);
    assert_eq!(layer.backward(&Tensor::zeros(&[0, 4])).unwrap().shape(), &[0, 4]);
}

#[test]
fn impossible_configurations_are_invalid_config_errors() {
    let bad = [
        (LayerNormConfig::new(&[]), "got []"),
        (LayerNormConfig::new(&[3, 0]), "got [3, 0]"),
        (LayerNormConfig::new(&[3]).with_eps(0.0), "eps must be positive and finite, got 0"),
        (LayerNormConfig::new(&[3]).with_eps(f32::NAN), "got NaN"),
    ];
    for (config, message) in bad {
        let err = LayerNorm::new(config.clone()).unwrap_err();
        assert!(matches!(&err, LayerError::InvalidConfig { layer, .. } if layer == "layer_norm"), "{err:?}");
        assert!(err.to_string().contains(message), "{config:?}: {err}");
    }
    let spec = LayerSpec::from_json(r#"{"kind": "layer_norm", "config": {"normalized_shape": []}}"#).unwrap();
    let err = registry().build(&spec, &mut StrataRng::seed_from_u64(0)).unwrap_err();
    assert!(matches!(&err, LayerError::InvalidConfig { .. }), "{err:?}");
}
