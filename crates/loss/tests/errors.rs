//! Errors are values with the exact variant, never panics.

use strata_loss::{BinaryCrossEntropy, CrossEntropy, Loss, LossError, LossKind, MeanSquaredError};
use strata_tensor::Tensor;

fn logits() -> Tensor {
    Tensor::zeros(&[2, 3])
}

/// `value`, `gradient` and `value_and_gradient` all fail; returns the `value` error.
fn all_fail(loss: &dyn Loss, p: &Tensor, t: &Tensor) -> LossError {
    let err = loss.value(p, t).unwrap_err();
    let mut g = Tensor::default();
    // Compared as messages: a NaN label makes the errors unequal under `PartialEq`.
    assert_eq!(loss.gradient(p, t, &mut g).unwrap_err().to_string(), err.to_string());
    assert_eq!(loss.value_and_gradient(p, t, &mut g).unwrap_err().to_string(), err.to_string());
    err
}

#[test]
fn label_out_of_range() {
    let err = all_fail(&CrossEntropy::new(), &logits(), &Tensor::from_slice(&[2.0, 3.0]));
    assert!(
        matches!(err, LossError::LabelOutOfRange { loss: "cross_entropy", row: 1, label, n_classes: 3 } if label == 3.0),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "cross_entropy: label 3 in row 1 is not a class in 0..3");
    let err = all_fail(&CrossEntropy::new(), &logits(), &Tensor::from_slice(&[-1.0, 0.0]));
    assert!(matches!(err, LossError::LabelOutOfRange { row: 0, .. }), "{err:?}");
    let err = all_fail(&CrossEntropy::new(), &logits(), &Tensor::from_slice(&[0.0, 1e20]));
    assert!(matches!(err, LossError::LabelOutOfRange { row: 1, .. }), "{err:?}");
}

#[test]
fn non_integer_and_nan_labels() {
    let err = all_fail(&CrossEntropy::new(), &logits(), &Tensor::from_slice(&[1.5, 0.0]));
    assert!(matches!(err, LossError::LabelOutOfRange { row: 0, label, .. } if label == 1.5), "{err:?}");
    let err = all_fail(&CrossEntropy::new(), &logits(), &Tensor::from_slice(&[0.0, f32::NAN]));
    assert!(matches!(err, LossError::LabelOutOfRange { row: 1, label, .. } if label.is_nan()), "{err:?}");
    let err = all_fail(&CrossEntropy::new(), &logits(), &Tensor::from_vec(&[2, 1], vec![f32::INFINITY, 0.0]).unwrap());
    assert!(matches!(err, LossError::LabelOutOfRange { row: 0, .. }), "{err:?}");
}

#[test]
fn cross_entropy_shape_mismatch() {
    let cases = [
        (logits(), Tensor::zeros(&[3])),            // wrong batch
        (logits(), Tensor::zeros(&[2, 2])),         // neither [batch, 1] nor [batch, classes]
        (logits(), Tensor::zeros(&[3, 2])),         // transposed
        (logits(), Tensor::zeros(&[2, 3, 1])),      // rank 3 target
        (Tensor::zeros(&[3]), Tensor::zeros(&[3])), // rank 1 prediction
        (Tensor::zeros(&[2, 3, 4]), Tensor::zeros(&[2])),
        (Tensor::scalar(0.0), Tensor::scalar(0.0)),
        (Tensor::zeros(&[2, 0]), Tensor::zeros(&[2])), // no classes
    ];
    for (p, t) in cases {
        let err = all_fail(&CrossEntropy::new(), &p, &t);
        assert!(
            matches!(&err, LossError::ShapeMismatch { loss: "cross_entropy", prediction, target }
                if prediction == p.shape() && target == t.shape()),
            "{:?} vs {:?}: {err:?}",
            p.shape(),
            t.shape()
        );
    }
}

#[test]
fn elementwise_losses_shape_mismatch() {
    for loss in [&MeanSquaredError as &dyn Loss, &BinaryCrossEntropy, &LossKind::Mse] {
        for (p, t) in [
            (Tensor::zeros(&[2, 3]), Tensor::zeros(&[3, 2])),
            (Tensor::zeros(&[4, 1]), Tensor::zeros(&[4])),
            (Tensor::zeros(&[4]), Tensor::zeros(&[5])),
        ] {
            let err = all_fail(loss, &p, &t);
            assert!(
                matches!(&err, LossError::ShapeMismatch { loss: name, .. } if *name == loss.name()),
                "{}: {err:?}",
                loss.name()
            );
        }
    }
}

#[test]
fn empty_batch() {
    let err = all_fail(&CrossEntropy::new(), &Tensor::zeros(&[0, 3]), &Tensor::zeros(&[0]));
    assert!(matches!(err, LossError::EmptyBatch { loss: "cross_entropy" }), "{err:?}");
    let err = all_fail(&CrossEntropy::new(), &Tensor::zeros(&[0, 3]), &Tensor::zeros(&[0, 3]));
    assert!(matches!(err, LossError::EmptyBatch { .. }), "{err:?}");
    let err = all_fail(&MeanSquaredError, &Tensor::zeros(&[0]), &Tensor::zeros(&[0]));
    assert!(matches!(err, LossError::EmptyBatch { loss: "mse" }), "{err:?}");
    let err = all_fail(&BinaryCrossEntropy, &Tensor::zeros(&[0, 1]), &Tensor::zeros(&[0, 1]));
    assert!(matches!(err, LossError::EmptyBatch { loss: "binary_cross_entropy" }), "{err:?}");
}

#[test]
fn bce_targets_outside_0_1_are_invalid() {
    for (bad, index) in [(1.5, 2), (-0.1, 0), (f32::NAN, 1)] {
        let mut t = vec![0.5; 3];
        t[index] = bad;
        let err = all_fail(&BinaryCrossEntropy, &Tensor::zeros(&[3]), &Tensor::from_slice(&t));
        assert!(
            matches!(err, LossError::InvalidTarget { loss: "binary_cross_entropy", index: i, .. } if i == index),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn cross_entropy_negative_probability_targets_are_invalid() {
    let t = Tensor::from_vec(&[2, 3], vec![1.0, 0.0, 0.0, 0.5, -0.5, 1.0]).unwrap();
    let err = all_fail(&CrossEntropy::new(), &logits(), &t);
    assert!(matches!(err, LossError::InvalidTarget { loss: "cross_entropy", index: 4, .. }), "{err:?}");
}

#[test]
fn unknown_loss_name() {
    let err = "hinge".parse::<LossKind>().unwrap_err();
    assert_eq!(err.name, "hinge");
    let msg = err.to_string();
    for name in ["mse", "cross_entropy", "ce", "binary_cross_entropy", "bce"] {
        assert!(msg.contains(name), "'{msg}' does not list {name}");
    }
}

#[test]
fn a_huber_delta_that_is_not_positive_is_refused() {
    let (p, t) = (Tensor::zeros(&[1, 1]), Tensor::ones(&[1, 1]));
    for delta in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        let err = all_fail(&strata_loss::HuberLoss { delta }, &p, &t);
        assert!(matches!(err, LossError::InvalidParameter { loss: "huber", parameter: "delta", .. }), "{err:?}");
        assert_eq!(err.to_string(), format!("huber: delta must be a finite number > 0, got {delta}"));
    }
}
