//! Every verdict of the diagnosis from a run built to show it, on real data,
//! and no warning for a well-tuned run. The thresholds are those of
//! `Thresholds::default()` (docs/diagnosis.md).

use crate::common::{digits, head, mlp, mnist, rows, run};
use strata_activation::ActivationKind;
use strata_layers::Layer;
use strata_report::{Severity, Verdict};
use strata_tensor::ParamVisitor;
use strata_training::EarlyStopping;

#[test]
fn a_large_network_on_a_tiny_training_set_overfits() {
    let (train, _) = mnist();
    let (tiny, val) = (head(&train, 200), rows(&train, 3000, 3500));
    let mut model = mlp(&[784, 512, 512, 10], ActivationKind::Relu, 0.0, 0);
    let r = run(model.as_mut(), &tiny, &val, ("adam", 1e-3), (40, 32), None);
    assert_eq!(r.diagnosis.warnings(), vec![Verdict::Overfitting], "{}", r.diagnosis);
    let last = r.history.last().expect("epochs");
    // 200 rows are memorised (100% training accuracy) while about 80% of unseen rows are right.
    assert!(last.train_accuracy.expect("accuracy") > 0.99, "{last:?}");
}

#[test]
fn a_linear_model_on_mnist_underfits() {
    let (train, _) = mnist();
    let (part, val) = (head(&train, 3600), rows(&train, 3600, 4000));
    let mut model = mlp(&[784, 10], ActivationKind::Relu, 0.0, 0);
    let r = run(model.as_mut(), &part, &val, ("adam", 1e-3), (20, 64), None);
    assert_eq!(r.diagnosis.warnings(), vec![Verdict::Underfitting], "{}", r.diagnosis);
    // `strata train --layers 784,10 --epochs 20 --schedule constant` ends near 0.25 (93.7% on its training part).
    let finding = &r.diagnosis.findings[0];
    assert!(finding.evidence.starts_with("the training loss levelled off high: 0.2"), "{}", finding.evidence);
}

#[test]
fn a_learning_rate_of_10_is_too_large() {
    let (train, _) = mnist();
    let (part, val) = (head(&train, 2000), rows(&train, 3600, 4000));
    let mut model = mlp(&[784, 256, 128, 10], ActivationKind::Relu, 0.0, 0);
    let r = run(model.as_mut(), &part, &val, ("adam", 10.0), (3, 64), None);
    // The most serious finding comes first; the units the large steps killed may follow.
    assert_eq!(r.diagnosis.warnings().first(), Some(&Verdict::LearningRateTooLarge), "{} ({:?})", r.diagnosis, r.error);
}

#[test]
fn a_learning_rate_of_1e_7_is_too_small() {
    let (train, _) = mnist();
    let (part, val) = (head(&train, 2000), rows(&train, 3600, 4000));
    let mut model = mlp(&[784, 256, 128, 10], ActivationKind::Relu, 0.0, 0);
    let r = run(model.as_mut(), &part, &val, ("adam", 1e-7), (3, 64), None);
    assert_eq!(r.diagnosis.warnings(), vec![Verdict::LearningRateTooSmall], "{}", r.diagnosis);
    assert!(r.diagnosis.findings[0].evidence.starts_with("the training loss barely moved"), "{}", r.diagnosis);
    // One epoch is no evidence either way: its loss is the mean of batches
    // from the first on (a well-tuned run's first epoch also moves little).
    let mut model = mlp(&[784, 256, 128, 10], ActivationKind::Relu, 0.0, 0);
    let r = run(model.as_mut(), &part, &val, ("adam", 1e-7), (1, 64), None);
    assert!(!r.diagnosis.warnings().contains(&Verdict::LearningRateTooSmall), "{}", r.diagnosis);
}

#[test]
fn a_deep_sigmoid_network_has_vanishing_gradients() {
    // The plain network of examples/depth.rs: 20 hidden sigmoid layers of 64 on the digits.
    let (train, test) = digits();
    let mut widths = vec![64];
    widths.extend([64; 20]);
    widths.push(10);
    let mut model = mlp(&widths, ActivationKind::Sigmoid, 0.0, 0);
    let r = run(model.as_mut(), &train, &test, ("adam", 3e-3), (3, 32), None);
    assert!(r.diagnosis.warnings().contains(&Verdict::VanishingGradients), "{}", r.diagnosis);
}

/// Set every element of the parameter `name` to `value`.
fn set(model: &mut dyn Layer, name: &str, value: f32) {
    let mut path = String::new();
    let mut f = |p: strata_tensor::ParamRef<'_>| {
        if p.name == name {
            p.value.fill(value);
        }
    };
    model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
}

#[test]
fn a_large_negative_bias_kills_relu_units() {
    let (train, _) = mnist();
    let (part, val) = (head(&train, 2000), rows(&train, 3600, 4000));
    let mut model = mlp(&[784, 256, 128, 10], ActivationKind::Relu, 0.0, 0);
    set(model.as_mut(), "dense_1.bias", -10.0);
    let r = run(model.as_mut(), &part, &val, ("adam", 1e-3), (2, 64), None);
    // Dead units alone: no weight gets a gradient, which is neither vanishing gradients nor a slow rate.
    assert_eq!(r.diagnosis.warnings(), vec![Verdict::DeadUnits], "{}", r.diagnosis);
    let stats = r.observations.activations.last().expect("probed");
    // Pre-activations near N(0, 1) minus 10 are never positive: every unit of the first layer is dead.
    assert_eq!((stats[0].layer.as_str(), stats[0].dead_share), ("relu_1", Some(1.0)));
}

#[test]
fn large_weights_saturate_sigmoid_units() {
    let (train, _) = mnist();
    let (part, val) = (head(&train, 1000), rows(&train, 3600, 4000));
    let mut model = mlp(&[784, 64, 10], ActivationKind::Sigmoid, 0.0, 0);
    set(model.as_mut(), "dense_1.weight", 0.5);
    let r = run(model.as_mut(), &part, &val, ("adam", 1e-4), (1, 64), None);
    assert!(r.diagnosis.warnings().contains(&Verdict::SaturatedUnits), "{}", r.diagnosis);
}

#[test]
fn a_well_tuned_run_gets_no_warning() {
    let (train, _) = mnist();
    let (part, val) = (head(&train, 3600), rows(&train, 3600, 4000));
    let mut model = mlp(&[784, 256, 128, 10], ActivationKind::Relu, 0.3, 0);
    let stop = EarlyStopping::new(3).restore_best_weights(true);
    let r = run(model.as_mut(), &part, &val, ("adam", 1e-3), (20, 64), Some(stop));
    assert!(r.diagnosis.warnings().is_empty(), "{}", r.diagnosis);
    assert!(r.diagnosis.findings.iter().all(|f| f.severity == Severity::Note), "{}", r.diagnosis);
    assert!(r.history.last().and_then(|e| e.validation).and_then(|v| v.accuracy).expect("val") > 0.93);
}
