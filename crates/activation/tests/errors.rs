//! Errors are values with the exact variant, never panics.

use crate::all_activations;
use strata_activation::{Activation, ActivationError, ActivationKind, LeakyRelu, Softmax};
use strata_tensor::Tensor;

#[test]
fn backward_rejects_grad_output_of_another_shape() {
    let x = Tensor::zeros(&[2, 3]);
    for (label, act) in all_activations() {
        let y = act.apply(&x).unwrap();
        let mut dx = Tensor::default();
        let err = act.backward(&x, &y, &Tensor::zeros(&[3, 2]), &mut dx).unwrap_err();
        assert!(
            matches!(
                &err,
                ActivationError::ShapeMismatch { activation, op: "backward", expected, actual }
                    if *activation == label && expected == &[2, 3] && actual == &[3, 2]
            ),
            "{label}: {err:?}"
        );
    }
}

#[test]
fn backward_rejects_output_of_another_shape() {
    let x = Tensor::zeros(&[2, 3]);
    for (label, act) in all_activations() {
        let mut dx = Tensor::default();
        let err = act.backward(&x, &Tensor::zeros(&[6]), &Tensor::zeros(&[2, 3]), &mut dx).unwrap_err();
        assert!(
            matches!(&err, ActivationError::ShapeMismatch { op: "backward", actual, .. } if actual == &[6]),
            "{label}: {err:?}"
        );
    }
}

#[test]
fn kind_backward_reports_the_underlying_activation() {
    let x = Tensor::zeros(&[4]);
    let err = ActivationKind::Gelu.backward(&x, &x, &Tensor::zeros(&[5]), &mut Tensor::default()).unwrap_err();
    assert!(matches!(err, ActivationError::ShapeMismatch { activation: "gelu", op: "backward", .. }));
    assert_eq!(err.to_string(), "gelu backward: shapes do not match: expected [4], got [5]");
}

#[test]
fn softmax_of_a_rank_0_tensor_is_an_error() {
    let s = Tensor::scalar(1.0);
    let err = Softmax.apply(&s).unwrap_err();
    assert!(matches!(err, ActivationError::ShapeMismatch { activation: "softmax", op: "forward", .. }));
    let err = Softmax.backward(&s, &s, &s, &mut Tensor::default()).unwrap_err();
    assert!(matches!(err, ActivationError::ShapeMismatch { activation: "softmax", op: "backward", .. }));
    let err = ActivationKind::Softmax.apply(&s).unwrap_err();
    assert!(matches!(err, ActivationError::ShapeMismatch { activation: "softmax", .. }));
}

#[test]
fn unknown_activation_name_lists_the_valid_names() {
    let err = "swish".parse::<ActivationKind>().unwrap_err();
    assert!(matches!(&err, ActivationError::Invalid(msg) if msg.contains("swish")));
    let msg = err.to_string();
    for name in ["identity", "linear", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax"] {
        assert!(msg.contains(name), "'{msg}' does not list {name}");
    }
    assert!(matches!("".parse::<ActivationKind>(), Err(ActivationError::Invalid(_))));
}

#[test]
fn bad_parameters_are_invalid() {
    for s in ["leaky_relu:abc", "leaky_relu:", "leaky_relu:inf", "leaky_relu:NaN", "relu:0.2", "softmax:1"] {
        assert!(matches!(s.parse::<ActivationKind>(), Err(ActivationError::Invalid(_))), "{s}");
    }
}

#[test]
fn non_finite_leaky_slope_is_invalid() {
    assert!(matches!(LeakyRelu::new(f32::NAN), Err(ActivationError::Invalid(_))));
    assert!(matches!(LeakyRelu::new(f32::INFINITY), Err(ActivationError::Invalid(_))));
    let x = Tensor::zeros(&[2]);
    let bad = LeakyRelu { slope: f32::NAN };
    assert!(matches!(bad.apply(&x), Err(ActivationError::Invalid(_))));
    assert!(matches!(bad.backward(&x, &x, &x, &mut Tensor::default()), Err(ActivationError::Invalid(_))));
    let kind = ActivationKind::LeakyRelu { slope: f32::NEG_INFINITY };
    assert!(matches!(kind.apply(&x), Err(ActivationError::Invalid(_))));
}
