//! Bad input gives typed errors naming the layer and the shapes; impossible
//! configurations are refused at construction. No panics.

use crate::common::{random, registry};
use strata_conv::{AvgPool2d, Conv2d, Conv2dConfig, GlobalAvgPool, MaxPool2d, Pool2dConfig};
use strata_layers::{Dim, Layer, LayerError, LayerSpec, Mode, Sequential, dims};
use strata_tensor::{StrataRng, Tensor};

fn conv(config: Conv2dConfig) -> strata_layers::Result<Conv2d> {
    Conv2d::new(config, &mut StrataRng::seed_from_u64(0))
}

/// The error's layer and shapes, with 0 for an axis of any size.
fn shape_mismatch(e: LayerError) -> (String, Vec<usize>, Vec<usize>) {
    let zero_for_any = |s: Vec<Dim>| s.iter().map(|d| d.fixed().unwrap_or(0)).collect();
    match e {
        LayerError::ShapeMismatch { layer, expected, actual } => (layer, zero_for_any(expected), zero_for_any(actual)),
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
}

#[test]
fn channel_count_mismatch() {
    let mut c = conv(Conv2dConfig::new(3, 8, 3)).unwrap();
    let err = c.forward(&random(&[2, 1, 8, 8], 0), Mode::Eval).unwrap_err();
    assert_eq!(err.to_string(), "layer 'conv2d': expected input of shape [*, 3, *, *], got [2, 1, 8, 8]");
    assert_eq!(shape_mismatch(err), ("conv2d".into(), vec![0, 3, 0, 0], vec![2, 1, 8, 8]));
    let err = c.output_shape(&dims(&[1, 8, 8])).unwrap_err();
    assert_eq!(shape_mismatch(err), ("conv2d".into(), vec![3, 0, 0], vec![1, 8, 8]));
}

#[test]
fn wrong_rank() {
    let mut c = conv(Conv2dConfig::new(1, 2, 3)).unwrap();
    let err = c.forward(&random(&[4, 64], 0), Mode::Train).unwrap_err();
    assert_eq!(shape_mismatch(err), ("conv2d".into(), vec![0, 1, 0, 0], vec![4, 64]));
    let err = c.output_shape(&dims(&[1, 8, 8, 1])).unwrap_err();
    assert_eq!(shape_mismatch(err), ("conv2d".into(), vec![1, 0, 0], vec![1, 8, 8, 1]));
    for layer in [
        Box::new(MaxPool2d::new(Pool2dConfig::new(2)).unwrap()) as Box<dyn Layer>,
        Box::new(AvgPool2d::new(Pool2dConfig::new(2)).unwrap()),
        Box::new(GlobalAvgPool::new()),
    ] {
        let mut layer = layer;
        let err = layer.forward(&random(&[2, 16], 0), Mode::Eval).unwrap_err();
        let (name, expected, actual) = shape_mismatch(err);
        assert_eq!((name.as_str(), expected, actual), (layer.kind(), vec![0, 0, 0, 0], vec![2, 16]));
        let (_, expected, _) = shape_mismatch(layer.output_shape(&dims(&[16])).unwrap_err());
        assert_eq!(expected, vec![0, 0, 0]);
    }
}

#[test]
fn kernel_larger_than_the_padded_input() {
    // A 5x5 kernel needs 5x5 pixels; with padding 1, a 3x3 input.
    let mut c = conv(Conv2dConfig::new(1, 2, 5).with_padding(1)).unwrap();
    assert_eq!(c.output_shape(&dims(&[1, 3, 3])).unwrap(), vec![2, 1, 1]);
    let err = c.output_shape(&dims(&[1, 2, 4])).unwrap_err();
    assert_eq!(shape_mismatch(err), ("conv2d".into(), vec![1, 3, 3], vec![1, 2, 4]));
    let err = c.forward(&random(&[1, 1, 2, 4], 0), Mode::Eval).unwrap_err();
    assert_eq!(err.to_string(), "layer 'conv2d': expected input of shape [*, 1, 3, 3], got [1, 1, 2, 4]");
    assert_eq!(shape_mismatch(err), ("conv2d".into(), vec![0, 1, 3, 3], vec![1, 1, 2, 4]));

    // Dilation widens the kernel: 3 taps 3 apart span 7 pixels.
    let c = conv(Conv2dConfig::new(1, 1, 3).with_dilation(3)).unwrap();
    assert_eq!(shape_mismatch(c.output_shape(&dims(&[1, 6, 9])).unwrap_err()).1, vec![1, 7, 7]);

    // Pools: a window larger than the input.
    let mut pool = MaxPool2d::new(Pool2dConfig::new(3)).unwrap();
    let err = pool.forward(&random(&[1, 4, 2, 2], 0), Mode::Eval).unwrap_err();
    assert_eq!(shape_mismatch(err), ("max_pool2d".into(), vec![0, 0, 3, 3], vec![1, 4, 2, 2]));
    let pool = AvgPool2d::new(Pool2dConfig { kernel: [1, 4], stride: None }).unwrap();
    assert_eq!(shape_mismatch(pool.output_shape(&dims(&[4, 2, 2])).unwrap_err()).1, vec![0, 1, 4]);
    // An empty image has no mean.
    let err = GlobalAvgPool::new().forward(&Tensor::zeros(&[1, 2, 0, 3]), Mode::Eval).unwrap_err();
    assert_eq!(shape_mismatch(err).1, vec![0, 0, 1, 1]);
}

#[test]
fn sequential_reports_the_layers_that_do_not_fit() {
    // After two 2x2 poolings a 6x6 image is 1x1: a 3x3 conv no longer fits.
    let r = registry();
    let spec = LayerSpec::from_json(
        r#"{"kind": "sequential", "config": {"input_shape": [1, 6, 6], "layers": [
            {"kind": "max_pool2d", "config": {"kernel": 2}},
            {"kind": "max_pool2d", "config": {"kernel": 2}},
            {"kind": "conv2d", "config": {"in_channels": 1, "out_channels": 4, "kernel_size": 3}}]}}"#,
    )
    .unwrap();
    let err = r.build(&spec, &mut StrataRng::seed_from_u64(0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 'conv2d_1' cannot follow layer 'max_pool2d_2': 'max_pool2d_2' produces shape [1, 1, 1] but \
         'conv2d_1' expects [1, 3, 3]"
    );
    // A channel mismatch between two convolutions.
    let mut rng = StrataRng::seed_from_u64(0);
    let err = Sequential::new(
        &[3, 8, 8],
        vec![
            Box::new(Conv2d::new(Conv2dConfig::new(3, 8, 3), &mut rng).unwrap()),
            Box::new(Conv2d::new(Conv2dConfig::new(4, 8, 3), &mut rng).unwrap()),
        ],
    )
    .unwrap_err();
    assert!(matches!(
        err,
        LayerError::IncompatibleLayers { ref previous_output, ref next_expected, .. }
            if previous_output == &[8, 6, 6] && next_expected == &[Dim::Fixed(4), Dim::Any, Dim::Any]
    ));
}

#[test]
fn zero_sizes_are_invalid_configurations() {
    let invalid = |r: strata_layers::Result<Conv2d>| match r {
        Err(LayerError::InvalidConfig { layer, reason }) => {
            assert_eq!(layer, "conv2d");
            reason
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    };
    assert!(invalid(conv(Conv2dConfig::new(1, 2, 0))).contains("kernel_size"));
    assert!(invalid(conv(Conv2dConfig::new(1, 2, 3).with_stride(0))).contains("stride"));
    assert!(invalid(conv(Conv2dConfig::new(1, 2, 3).with_dilation(0))).contains("dilation"));
    assert!(invalid(conv(Conv2dConfig { kernel_size: [3, 0], ..Conv2dConfig::new(1, 2, 3) })).contains("[3, 0]"));
    assert!(invalid(conv(Conv2dConfig::new(0, 2, 3))).contains("channel"));
    assert!(invalid(conv(Conv2dConfig::new(1, 0, 3))).contains("channel"));

    for (config, what) in [
        (Pool2dConfig::new(0), "kernel"),
        (Pool2dConfig::new(2).with_stride(0), "stride"),
        (Pool2dConfig { kernel: [2, 0], stride: None }, "kernel"),
    ] {
        match MaxPool2d::new(config.clone()) {
            Err(LayerError::InvalidConfig { layer, reason }) => {
                assert_eq!(layer, "max_pool2d");
                assert!(reason.contains(what), "{reason}");
            }
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
        assert!(
            matches!(AvgPool2d::new(config), Err(LayerError::InvalidConfig { layer, .. }) if layer == "avg_pool2d")
        );
    }
}

#[test]
fn bad_specs_are_spec_errors() {
    let r = registry();
    let mut rng = StrataRng::seed_from_u64(0);
    for config in [
        r#"{"in_channels": 1, "out_channels": 2}"#,
        r#"{"in_channels": 1, "out_channels": 2, "kernel_size": "3"}"#,
        r#"{"in_channels": 1, "out_channels": 2, "kernel_size": [3, 3, 3]}"#,
        r#"{"in_channels": 1, "out_channels": 2, "kernel_size": -3}"#,
    ] {
        let spec = LayerSpec { kind: "conv2d".into(), config: serde_json::from_str(config).unwrap() };
        assert!(matches!(r.build(&spec, &mut rng), Err(LayerError::Spec(_))), "{config}");
    }
    let spec = LayerSpec::from_json(
        r#"{"kind": "conv2d", "config": {"in_channels": 1, "out_channels": 2, "kernel_size": 3, "stride": 0}}"#,
    )
    .unwrap();
    assert!(matches!(r.build(&spec, &mut rng), Err(LayerError::InvalidConfig { .. })));
    let spec = LayerSpec::from_json(r#"{"kind": "max_pool2d"}"#).unwrap();
    assert!(matches!(r.build(&spec, &mut rng), Err(LayerError::Spec(_))));
}

#[test]
fn backward_errors() {
    let mut c = conv(Conv2dConfig::new(1, 2, 3)).unwrap();
    let err = c.backward(&Tensor::zeros(&[1, 2, 3, 3])).unwrap_err();
    assert!(matches!(err, LayerError::BackwardBeforeForward { ref layer } if layer == "conv2d"));
    // An inference forward does not keep what backward needs.
    c.forward(&random(&[1, 1, 5, 5], 0), Mode::Eval).unwrap();
    assert!(matches!(c.backward(&Tensor::zeros(&[1, 2, 3, 3])), Err(LayerError::BackwardBeforeForward { .. })));
    c.forward(&random(&[1, 1, 5, 5], 0), Mode::Train).unwrap();
    let err = c.backward(&Tensor::zeros(&[1, 2, 4, 3])).unwrap_err();
    assert_eq!(shape_mismatch(err), ("conv2d".into(), vec![1, 2, 3, 3], vec![1, 2, 4, 3]));

    let mut layers: [Box<dyn Layer>; 3] = [
        Box::new(MaxPool2d::new(Pool2dConfig::new(2)).unwrap()),
        Box::new(AvgPool2d::new(Pool2dConfig::new(2)).unwrap()),
        Box::new(GlobalAvgPool::new()),
    ];
    for layer in &mut layers {
        assert!(matches!(layer.backward(&Tensor::zeros(&[1, 1])), Err(LayerError::BackwardBeforeForward { .. })));
        layer.forward(&random(&[1, 1, 4, 4], 0), Mode::Train).unwrap();
        let (name, _, actual) = shape_mismatch(layer.backward(&Tensor::zeros(&[1, 1, 3])).unwrap_err());
        assert_eq!((name.as_str(), actual), (layer.kind(), vec![1, 1, 3]));
    }
}

#[test]
fn absurd_sizes_are_errors_not_panics() {
    // Padding or a dilated kernel too large for any input: refused when built.
    assert!(conv(Conv2dConfig::new(1, 1, 1).with_padding(usize::MAX / 4)).is_err());
    assert!(conv(Conv2dConfig::new(1, 1, 2).with_dilation(usize::MAX)).is_err());
    assert!(conv(Conv2dConfig::new(1, 1, usize::MAX)).is_err());
    // The largest padding allowed, whose output no memory holds: an error at forward.
    let mut c = conv(Conv2dConfig::new(1, 1, 1).with_padding(u32::MAX as usize)).unwrap();
    assert!(c.forward(&random(&[1, 1, 2, 2], 0), Mode::Eval).is_err());
    // A dilated kernel that spans more than the input: an error at output_shape.
    let c = conv(Conv2dConfig::new(1, 1, 2).with_dilation(1 << 40));
    assert!(c.unwrap().output_shape(&dims(&[1, 9, 9])).is_err());
}

/// Padding that makes an output no machine holds (2^24 x 2^24 positions,
/// 2^50 bytes) is an error at forward, not an abort; the weights are tiny.
#[test]
fn an_output_beyond_memory_is_an_error() {
    let mut layer = conv(Conv2dConfig { padding: [1 << 23, 1 << 23], ..Conv2dConfig::new(1, 1, 1) }).unwrap();
    let err = layer.forward(&Tensor::zeros(&[1, 1, 1, 1]), Mode::Train).unwrap_err();
    assert!(err.to_string().contains("more than this machine can allocate"), "{err}");
}

/// A padding past `u32::MAX` or a dilated kernel whose span overflows is refused
/// at construction, by name (a padding of 2^63 - 1 used to pass and then be
/// reported as a shape mismatch against an expected input of [1, 1, 1]).
#[test]
fn a_padding_or_a_span_too_large_for_any_input_is_refused_at_construction() {
    let mut config = Conv2dConfig::new(1, 2, 3);
    config.padding = [1, 9_223_372_036_854_775_807];
    let err = conv(config).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 'conv2d': invalid configuration: padding must be at most 4294967295 along both axes, got [1, \
         9223372036854775807]"
    );
    let mut config = Conv2dConfig::new(1, 2, 3);
    config.padding = [u32::MAX as usize, 0];
    assert!(conv(config).is_ok(), "u32::MAX itself is allowed");
    let mut config = Conv2dConfig::new(1, 2, 3);
    config.dilation = [usize::MAX, 1];
    let err = conv(config).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "layer 'conv2d': invalid configuration: kernel_size [3, 3] with dilation [{}, 1] spans more positions \
             than a size can hold",
            usize::MAX
        )
    );
}
