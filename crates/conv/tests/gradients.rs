//! Gradients against central finite differences (the crate's own check,
//! complementing the conformance kit in `kit.rs`), and the accumulation
//! contract.

use crate::common::{Geometry, check_gradients, distinct, random};
use strata_conv::{AvgPool2d, Conv2d, Conv2dConfig, GlobalAvgPool, MaxPool2d, Pool2dConfig};
use strata_layers::{Layer, Mode};
use strata_tensor::{ParamVisitor, StrataRng, Tensor};

#[test]
fn conv_gradients_for_many_geometries() {
    // A convolution is linear in its input and in its weights, so central
    // differences are exact up to rounding: a large step (0.05) is safe.
    let cases: &[(Geometry, bool)] = &[
        (([3, 3], [1, 1], [1, 1], [1, 1]), true),
        (([3, 3], [2, 2], [0, 0], [1, 1]), true),
        (([2, 3], [1, 2], [2, 1], [2, 1]), false),
        (([1, 1], [3, 3], [1, 1], [1, 1]), true),
        (([3, 3], [1, 1], [2, 2], [2, 2]), true),
    ];
    for (case, &((kernel_size, stride, padding, dilation), bias)) in cases.iter().enumerate() {
        let config = Conv2dConfig { kernel_size, stride, padding, dilation, bias, ..Conv2dConfig::new(2, 3, 1) };
        let mut conv = Conv2d::new(config, &mut StrataRng::seed_from_u64(case as u64)).unwrap();
        let x = random(&[2, 2, 6, 7], 100 + case as u64);
        let checked = check_gradients(&mut conv, &x, 0.05, 400);
        assert!(checked > 100, "case {case}: {checked}");
    }
}

#[test]
fn pooling_gradients() {
    // Distinct inputs 0.1 apart: the maximum of a window never changes
    // within a step of 0.01.
    let x = distinct(&[2, 2, 6, 6], 3);
    for (kernel, stride) in [(2, 2), (3, 1), (2, 3)] {
        let config = Pool2dConfig::new(kernel).with_stride(stride);
        check_gradients(&mut MaxPool2d::new(config.clone()).unwrap(), &x, 0.01, 200);
        check_gradients(&mut AvgPool2d::new(config).unwrap(), &x, 0.05, 200);
    }
    check_gradients(&mut GlobalAvgPool::new(), &x, 0.05, 200);
}

fn grads(layer: &mut dyn Layer) -> Vec<Tensor> {
    let mut out = Vec::new();
    let mut path = String::new();
    let mut f = |p: strata_tensor::ParamRef<'_>| out.push(p.grad.unwrap().clone());
    layer.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    out
}

#[test]
fn backward_accumulates_parameter_gradients() {
    let mut conv = Conv2d::new(Conv2dConfig::new(2, 3, 3).with_padding(1), &mut StrataRng::seed_from_u64(0)).unwrap();
    let x = random(&[2, 2, 5, 5], 1);
    let dy = random(&[2, 3, 5, 5], 2);
    conv.zero_grad();
    conv.forward(&x, Mode::Train).unwrap();
    let dx1 = conv.backward(&dy).unwrap().clone();
    let once = grads(&mut conv);
    let dx2 = conv.backward(&dy).unwrap().clone();
    let twice = grads(&mut conv);
    assert_eq!(dx1, dx2, "the input gradient is returned, not accumulated");
    for (a, b) in once.iter().zip(&twice) {
        assert!(a.scale(2.0).max_abs_diff(b).unwrap() < 1e-5);
    }
    conv.zero_grad();
    assert!(grads(&mut conv).iter().all(|g| g.data().iter().all(|&v| v == 0.0)));
}

#[test]
fn the_weight_gradient_is_the_correlation_of_input_and_output_gradient() {
    // With a 1x1 input channel of ones and dy of ones, dW[o, 0, u, v] counts
    // the output positions whose tap (u, v) lands inside the image: for a
    // 3x3 kernel with padding 1 on a 3x3 image, 4 at the corners, 6 on the
    // edges, 9 in the middle; db = 9 positions.
    let mut conv = Conv2d::new(Conv2dConfig::new(1, 1, 3).with_padding(1), &mut StrataRng::seed_from_u64(0)).unwrap();
    conv.zero_grad();
    conv.forward(&Tensor::ones(&[1, 1, 3, 3]), Mode::Train).unwrap();
    conv.backward(&Tensor::ones(&[1, 1, 3, 3])).unwrap();
    let g = grads(&mut conv);
    assert_eq!(g[0].data(), &[4., 6., 4., 6., 9., 6., 4., 6., 4.]);
    assert_eq!(g[1].data(), &[9.]);
}

#[test]
fn without_the_input_gradient_parameter_gradients_are_unchanged() {
    let run = |input_gradient: bool| {
        let config = Conv2dConfig::new(3, 4, 3).with_padding(1);
        let mut conv = Conv2d::new(config, &mut StrataRng::seed_from_u64(0)).unwrap();
        conv.set_input_gradient(input_gradient);
        conv.zero_grad();
        conv.forward(&random(&[6, 3, 10, 10], 1), Mode::Train).unwrap();
        let dx = conv.backward(&random(&[6, 4, 10, 10], 2)).unwrap().clone();
        (dx, grads(&mut conv))
    };
    let (dx_on, on) = run(true);
    let (dx_off, off) = run(false);
    assert_eq!(on, off);
    assert_eq!(dx_on.shape(), &[6, 3, 10, 10]);
    assert!(dx_off.is_empty());
}
