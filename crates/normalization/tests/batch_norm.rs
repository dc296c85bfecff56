//! BatchNorm: values by hand, running statistics, modes, save/load, errors.
//!
//! Most expected numbers come from one batch worked out on paper: a single
//! channel holding 1 and 3 has mean 2, biased variance ((1-2)² + (3-2)²) / 2
//! = 1 and unbiased variance 2 / (2 - 1) = 2; normalised, it is
//! ∓1 / sqrt(1 + eps) (∓1 with eps = 0; the layer needs eps > 0 and the
//! default 1e-5 moves the result by 5e-6).

use crate::common::{assert_close, get_grad, get_tensor, registry, set_tensor, tensor};
use std::path::Path;
use strata_io::SavedModel;
use strata_layers::{Dense, DenseConfig, Dim, Layer, LayerError, LayerSpec, Mode, Sequential, dims, state_dict};
use strata_normalization::{BatchNorm, BatchNormConfig};
use strata_tensor::{StrataRng, Tensor};

const EPS: f32 = 1e-5;

fn bn(n_features: usize) -> BatchNorm {
    BatchNorm::new(BatchNormConfig::new(n_features)).unwrap()
}

/// `1 / sqrt(var + eps)`.
fn inv_std(var: f32) -> f32 {
    1.0 / (var + EPS).sqrt()
}

#[test]
fn training_normalises_each_channel_with_the_batch_statistics() {
    // Channel 0 holds 1 and 3 (mean 2, variance 1); channel 1 holds 10 and 10
    // (variance 0: x - mean is 0, so the output is the bias, 0).
    let mut layer = bn(2);
    let y = layer.forward(&tensor(&[2, 2], &[1.0, 10.0, 3.0, 10.0]), Mode::Train).unwrap();
    let a = inv_std(1.0);
    assert_close(y.data(), &[-a, 0.0, a, 0.0], 1e-6);
}

#[test]
fn four_dimensional_inputs_share_statistics_over_batch_height_and_width() {
    // [N=2, C=2, H=1, W=2]. Channel 0 holds 1, 2 (sample 0) and 3, 4 (sample 1):
    // mean 2.5, variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25. Channel 1 holds
    // 0, 0 and 2, 2: mean 1, variance 1.
    let x = tensor(&[2, 2, 1, 2], &[1.0, 2.0, 0.0, 0.0, 3.0, 4.0, 2.0, 2.0]);
    let mut layer = bn(2);
    let y = layer.forward(&x, Mode::Train).unwrap().clone();
    assert_eq!(y.shape(), &[2, 2, 1, 2]);
    let (a, b) = (inv_std(1.25), inv_std(1.0));
    let want = [-1.5 * a, -0.5 * a, -b, -b, 0.5 * a, 1.5 * a, b, b];
    assert_close(y.data(), &want, 1e-6);
    // Running statistics with m = 4 values per channel: the unbiased variances
    // are 1.25 * 4/3 = 5/3 and 4/3, so running_var = 0.9 * 1 + 0.1 * (5/3, 4/3).
    assert_close(layer.running_mean().data(), &[0.25, 0.1], 1e-7);
    assert_close(layer.running_var().data(), &[0.9 + 0.1 * 5.0 / 3.0, 0.9 + 0.1 * 4.0 / 3.0], 1e-6);
}

#[test]
fn the_running_statistics_follow_pytorchs_momentum_convention() {
    let x = tensor(&[2, 1], &[1.0, 3.0]); // mean 2, unbiased variance 2
    // momentum 0.1 (default): 0.9 * (0, 1) + 0.1 * (2, 2) = (0.2, 1.1).
    let mut layer = bn(1);
    layer.forward(&x, Mode::Train).unwrap();
    assert_close(layer.running_mean().data(), &[0.2], 1e-7);
    assert_close(layer.running_var().data(), &[1.1], 1e-6);
    // A second step: 0.9 * (0.2, 1.1) + 0.1 * (2, 2) = (0.38, 1.19).
    layer.forward(&x, Mode::Train).unwrap();
    assert_close(layer.running_mean().data(), &[0.38], 1e-6);
    assert_close(layer.running_var().data(), &[1.19], 1e-6);

    // momentum 0.5: 0.5 * (0, 1) + 0.5 * (2, 2) = (1, 1.5); 1 takes the batch; 0 keeps (0, 1).
    for (momentum, mean, var) in [(0.5, 1.0, 1.5), (1.0, 2.0, 2.0), (0.0, 0.0, 1.0)] {
        let mut layer = BatchNorm::new(BatchNormConfig::new(1).with_momentum(momentum)).unwrap();
        layer.forward(&x, Mode::Train).unwrap();
        assert_close(layer.running_mean().data(), &[mean], 1e-7);
        assert_close(layer.running_var().data(), &[var], 1e-6);
    }
}

#[test]
fn inference_uses_the_running_statistics_and_differs_from_training() {
    let x = tensor(&[2, 1], &[1.0, 3.0]);
    let mut layer = bn(1);
    // A fresh layer's running statistics are (0, 1): inference is x / sqrt(1 + eps).
    let y = layer.forward(&x, Mode::Eval).unwrap();
    assert_close(y.data(), &[inv_std(1.0), 3.0 * inv_std(1.0)], 1e-6);
    // Inference touches no statistics.
    assert_eq!((layer.running_mean().data(), layer.running_var().data()), (&[0.0][..], &[1.0][..]));

    let train = layer.forward(&x, Mode::Train).unwrap().clone();
    assert_close(train.data(), &[-inv_std(1.0), inv_std(1.0)], 1e-6);
    // After that step the running statistics are (0.2, 1.1) (see above):
    // inference is (x - 0.2) / sqrt(1.1 + eps) = (0.8, 2.8) / 1.04881.
    let eval = layer.forward(&x, Mode::Eval).unwrap().clone();
    assert_close(eval.data(), &[0.8 * inv_std(1.1), 2.8 * inv_std(1.1)], 1e-6);
    assert!(train.max_abs_diff(&eval).unwrap() > 1.0, "train {train:?} eval {eval:?}");
    // ... and does not depend on the rest of the batch.
    let alone = layer.forward(&tensor(&[1, 1], &[3.0]), Mode::Eval).unwrap();
    assert_eq!(alone.data(), &eval.data()[1..]);
}

#[test]
fn weight_and_bias_scale_and_shift_each_channel() {
    let mut layer = bn(2);
    set_tensor(&mut layer, "weight", &[2.0, -1.0]);
    set_tensor(&mut layer, "bias", &[0.5, 3.0]);
    // x̂ = (∓a, ∓a) for both channels (each holds two values 2 apart); y = w x̂ + b.
    let y = layer.forward(&tensor(&[2, 2], &[1.0, 5.0, 3.0, 7.0]), Mode::Train).unwrap();
    let a = inv_std(1.0);
    assert_close(y.data(), &[0.5 - 2.0 * a, 3.0 + a, 0.5 + 2.0 * a, 3.0 - a], 1e-6);
    // Inference: w (x - running_mean) / sqrt(running_var + eps) + b, with the
    // statistics after that one step: means 0.1 * (2, 6), variances 0.9 + 0.1 * 2.
    let y = layer.forward(&tensor(&[1, 2], &[1.0, 5.0]), Mode::Eval).unwrap();
    assert_close(y.data(), &[0.5 + 2.0 * 0.8 * inv_std(1.1), 3.0 - 4.4 * inv_std(1.1)], 1e-6);
}

#[test]
fn backward_through_the_batch_statistics_by_hand() {
    // One channel holding -1, 0, 1: mean 0, variance 2/3, σ² = 2/3 + eps,
    // x̂ = (-1, 0, 1) / σ. With g = (1, 0, 0): mean(g) = 1/3 and
    // mean(g x̂) = -1 / (3σ), so with q = 1/σ²
    // dx = (g - mean(g) - x̂ mean(g x̂)) / σ = (2/3 - q/3, -1/3, -1/3 + q/3) / σ,
    // which for eps = 0 (q = 3/2) is sqrt(3/2) (1/6, -1/3, 1/6).
    let mut layer = bn(1);
    layer.forward(&tensor(&[3, 1], &[-1.0, 0.0, 1.0]), Mode::Train).unwrap();
    let g = tensor(&[3, 1], &[1.0, 0.0, 0.0]);
    let dx = layer.backward(&g).unwrap().clone();
    let (s, q) = (inv_std(2.0 / 3.0), 1.0 / (2.0 / 3.0 + EPS));
    assert_close(dx.data(), &[s * (2.0 - q) / 3.0, -s / 3.0, s * (q - 1.0) / 3.0], 1e-6);
    // dbias = Σ g = 1, dweight = Σ g x̂ = -1/σ (about -sqrt(3/2)).
    assert_close(get_grad(&mut layer, "bias").data(), &[1.0], 1e-6);
    assert_close(get_grad(&mut layer, "weight").data(), &[-s], 1e-6);
    // Parameter gradients accumulate until zero_grad.
    layer.backward(&g).unwrap();
    assert_close(get_grad(&mut layer, "bias").data(), &[2.0], 1e-6);
    layer.zero_grad();
    assert_eq!(get_grad(&mut layer, "weight").data(), &[0.0]);
}

#[test]
fn with_two_samples_the_input_gradient_vanishes() {
    // Two values always normalise to ∓1/sqrt(1 + eps/var) whatever they are,
    // so dL/dx is 0 up to the eps term: dx = γ/σ (1 - a²)/2 (1, -1) with
    // a² = 1 / (1 + eps), i.e. about 5e-6 for γ = 3.
    let mut layer = bn(1);
    set_tensor(&mut layer, "weight", &[3.0]);
    layer.forward(&tensor(&[2, 1], &[1.0, 3.0]), Mode::Train).unwrap();
    let dx = layer.backward(&tensor(&[2, 1], &[1.0, 0.0])).unwrap();
    assert_close(dx.data(), &[0.0, 0.0], 1e-4);
}

#[test]
fn without_affine_there_are_only_buffers() {
    let mut layer = BatchNorm::new(BatchNormConfig::new(3).with_affine(false)).unwrap();
    let names: Vec<String> = state_dict(&mut layer).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["running_mean", "running_var"]);
    assert_eq!(layer.n_parameters(), 0);
    let mut affine = bn(3);
    let names: Vec<String> = state_dict(&mut affine).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias", "running_mean", "running_var"]);
    assert_eq!(affine.n_parameters(), 6); // weight and bias, 3 each; buffers are not trainable
}

#[test]
fn save_and_load_keep_the_running_statistics() {
    let registry = registry();
    let mut rng = StrataRng::seed_from_u64(3);
    let mut layer = bn(4);
    set_tensor(&mut layer, "weight", &[1.5, 0.5, -1.0, 2.0]);
    for _ in 0..5 {
        let x = Tensor::random_normal(&[8, 4, 2, 2], 1.0, 2.0, &mut rng).unwrap();
        layer.forward(&x, Mode::Train).unwrap();
    }
    let running_mean = layer.running_mean().clone();
    assert!(running_mean.data().iter().all(|&m| m != 0.0), "five steps moved the means: {running_mean:?}");

    let bytes = SavedModel::capture(&mut layer, Default::default()).unwrap().to_bytes().unwrap();
    let mut loaded = SavedModel::from_bytes(&bytes, Path::new("<memory>")).unwrap().instantiate(&registry).unwrap();
    assert_eq!(loaded.kind(), "batch_norm");
    assert_eq!(get_tensor(loaded.as_mut(), "running_mean"), running_mean);
    assert_eq!(get_tensor(loaded.as_mut(), "running_var"), *layer.running_var());
    assert_eq!(get_tensor(loaded.as_mut(), "weight"), *layer.weight());
    let x = Tensor::random_normal(&[3, 4, 2, 2], 0.0, 1.0, &mut rng).unwrap();
    assert_eq!(loaded.predict(&x).unwrap(), layer.predict(&x).unwrap());
}

#[test]
fn the_spec_round_trips_with_its_defaults() {
    let spec = LayerSpec::from_json(r#"{"kind": "batch_norm", "config": {"n_features": 3, "momentum": 0.2}}"#).unwrap();
    let layer = registry().build(&spec, &mut StrataRng::seed_from_u64(0)).unwrap();
    let written = layer.spec().unwrap();
    assert_eq!(written.config["n_features"], 3);
    let config: BatchNormConfig = written.config().unwrap();
    assert_eq!(config, BatchNormConfig::new(3).with_momentum(0.2));
}

#[test]
fn one_value_per_channel_gives_the_bias_and_keeps_the_running_variance() {
    // A batch of one [1, C] sample: x - mean = 0, so y = bias; the running
    // mean moves (0.1 * 5 = 0.5), the variance (unknowable from one value) stays 1.
    let mut layer = bn(1);
    set_tensor(&mut layer, "bias", &[0.25]);
    let y = layer.forward(&tensor(&[1, 1], &[5.0]), Mode::Train).unwrap();
    assert_eq!(y.data(), &[0.25]);
    assert_close(layer.running_mean().data(), &[0.5], 1e-7);
    assert_eq!(layer.running_var().data(), &[1.0]);
    // An empty batch changes nothing.
    let y = layer.forward(&Tensor::zeros(&[0, 1]), Mode::Train).unwrap();
    assert_eq!(y.shape(), &[0, 1]);
    assert_close(layer.running_mean().data(), &[0.5], 1e-7);
    assert_eq!(layer.backward(&Tensor::zeros(&[0, 1])).unwrap().shape(), &[0, 1]);
}

#[test]
fn buffers_are_reused_from_one_step_to_the_next() {
    let mut rng = StrataRng::seed_from_u64(1);
    let x = Tensor::random_normal(&[16, 8], 0.0, 1.0, &mut rng).unwrap();
    let g = Tensor::random_normal(&[16, 8], 0.0, 1.0, &mut rng).unwrap();
    let mut layer = bn(8);
    let out = layer.forward(&x, Mode::Train).unwrap().data().as_ptr();
    let dx = layer.backward(&g).unwrap().data().as_ptr();
    for _ in 0..3 {
        assert_eq!(layer.forward(&x, Mode::Train).unwrap().data().as_ptr(), out);
        assert_eq!(layer.backward(&g).unwrap().data().as_ptr(), dx);
    }
}

#[test]
fn without_the_input_gradient_parameter_gradients_still_accumulate() {
    let x = tensor(&[3, 1], &[-1.0, 0.0, 1.0]);
    let g = tensor(&[3, 1], &[1.0, 0.0, 0.0]);
    let mut layer = bn(1);
    layer.set_input_gradient(false);
    layer.forward(&x, Mode::Train).unwrap();
    assert!(layer.backward(&g).unwrap().is_empty());
    // The same parameter gradients as with it (see the hand-worked backward).
    assert_close(get_grad(&mut layer, "bias").data(), &[1.0], 1e-6);
    assert_close(get_grad(&mut layer, "weight").data(), &[-inv_std(2.0 / 3.0)], 1e-6);
}

#[test]
fn a_wrong_channel_count_names_the_layer_and_both_shapes() {
    let mut layer = bn(4);
    let err = layer.forward(&Tensor::zeros(&[2, 3]), Mode::Train).unwrap_err();
    assert!(
        matches!(&err, LayerError::ShapeMismatch { layer, expected, actual }
            if layer == "batch_norm" && expected == &[Dim::Any, Dim::Fixed(4)] && actual == &[2, 3]),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "layer 'batch_norm': expected input of shape [*, 4], got [2, 3]");
    // Images: the accepted shape keeps the input's rank, any height and width.
    let err = layer.forward(&Tensor::zeros(&[8, 3, 5, 5]), Mode::Eval).unwrap_err();
    assert_eq!(err.to_string(), "layer 'batch_norm': expected input of shape [*, 4, *, *], got [8, 3, 5, 5]");
    // A batch without a channel axis.
    let err = layer.forward(&Tensor::zeros(&[4]), Mode::Eval).unwrap_err();
    assert_eq!(err.to_string(), "layer 'batch_norm': expected input of shape [*, 4], got [4]");
    // Per-sample shapes, as a model checks them before any data flows.
    assert_eq!(layer.output_shape(&dims(&[4, 7, 7])).unwrap(), [4, 7, 7]);
    assert!(
        matches!(layer.output_shape(&dims(&[])), Err(LayerError::ShapeMismatch { expected, .. }) if expected == [4])
    );
    let mut rng = StrataRng::seed_from_u64(0);
    let err =
        Sequential::new(&[3], vec![Box::new(Dense::new(DenseConfig::new(3, 5), &mut rng).unwrap()), Box::new(bn(4))])
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 'batch_norm_1' cannot follow layer 'dense_1': 'dense_1' produces shape [5] but 'batch_norm_1' expects [4]"
    );
}

#[test]
fn backward_needs_a_training_forward_and_a_gradient_of_its_shape() {
    let mut layer = bn(2);
    assert!(
        matches!(layer.backward(&Tensor::zeros(&[3, 2])), Err(LayerError::BackwardBeforeForward { layer }) if layer == "batch_norm")
    );
    layer.forward(&Tensor::zeros(&[3, 2]), Mode::Eval).unwrap();
    assert!(matches!(layer.backward(&Tensor::zeros(&[3, 2])), Err(LayerError::BackwardBeforeForward { .. })));
    layer.forward(&Tensor::zeros(&[3, 2]), Mode::Train).unwrap();
    let err = layer.backward(&Tensor::zeros(&[3, 3])).unwrap_err();
    assert!(
        matches!(&err, LayerError::ShapeMismatch { layer, expected, actual }
            if layer == "batch_norm" && expected == &[3, 2] && actual == &[3, 3]),
        "{err:?}"
    );
}

#[test]
fn impossible_configurations_are_invalid_config_errors() {
    let bad = [
        (BatchNormConfig::new(0), "n_features = 0"),
        (BatchNormConfig::new(2).with_eps(0.0), "eps must be positive and finite, got 0"),
        (BatchNormConfig::new(2).with_eps(-1e-5), "got -0.00001"),
        (BatchNormConfig::new(2).with_eps(f32::NAN), "got NaN"),
        (BatchNormConfig::new(2).with_eps(f32::INFINITY), "got inf"),
        (BatchNormConfig::new(2).with_momentum(1.5), "momentum must lie in [0, 1], got 1.5"),
        (BatchNormConfig::new(2).with_momentum(f32::NAN), "momentum must lie in [0, 1], got NaN"),
    ];
    for (config, message) in bad {
        let err = BatchNorm::new(config.clone()).unwrap_err();
        assert!(matches!(&err, LayerError::InvalidConfig { layer, .. } if layer == "batch_norm"), "{err:?}");
        assert!(err.to_string().contains(message), "{config:?}: {err}");
    }
    // Through a spec: a missing field is a spec error naming the kind.
    let spec = LayerSpec::from_json(r#"{"kind": "batch_norm", "config": {"eps": 0.001}}"#).unwrap();
    let err = registry().build(&spec, &mut StrataRng::seed_from_u64(0)).unwrap_err();
    assert!(matches!(&err, LayerError::Spec(m) if m.contains("batch_norm") && m.contains("n_features")), "{err:?}");
}
