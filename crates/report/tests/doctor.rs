//! `doctor` on real data: a sound set-up passes, each broken one is named.

use crate::common::{head, mlp, mnist, rows};
use strata_activation::ActivationKind;
use strata_data::InMemoryDataset;
use strata_layers::state_dict;
use strata_loss::LossKind;
use strata_report::{DoctorConfig, Status, checks, doctor};

fn status(list: &strata_report::Checklist, name: &str) -> Status {
    list.get(name).unwrap_or_else(|| panic!("no check {name} in\n{list}")).status
}

#[test]
fn a_sound_mlp_on_mnist_passes_every_check_and_keeps_its_weights() {
    let (train, test) = mnist();
    let mut model = mlp(&[784, 256, 128, 10], ActivationKind::Relu, 0.0, 0);
    let before = state_dict(model.as_mut());
    let list =
        doctor(model.as_mut(), &train, Some(&test), LossKind::CrossEntropy, &DoctorConfig::default()).expect("runs");
    for name in [
        checks::CLASS_BALANCE,
        checks::SHARED_ROWS,
        checks::CONSTANT_FEATURES,
        checks::FEATURE_SCALES,
        checks::INITIAL_LOSS,
        checks::GRADIENT_FLOW,
        checks::OVERFIT_BATCH,
        checks::BASELINE,
    ] {
        assert_eq!(status(&list, name), Status::Pass, "{list}");
    }
    // MNIST's border pixels are 0 in every image: constant, reported, not a warning.
    assert!(list.get(checks::CONSTANT_FEATURES).expect("check").detail.contains("of the 784 features are constant"));
    assert_eq!(state_dict(model.as_mut()), before, "doctor must put the weights back");
}

#[test]
fn shared_rows_shuffled_labels_and_raw_scales_are_named() {
    let (train, _) = mnist();
    let part = head(&train, 1000);
    // Test rows 900..1100 overlap the training part by 100 rows.
    let test = rows(&train, 900, 1100);
    // Labels shifted by one row: nothing links a row's pixels to its label any more.
    let labels = part.labels().expect("labels");
    let shifted: Vec<usize> = (0..labels.len()).map(|i| labels[(i + 1) % labels.len()]).collect();
    let mut raw = InMemoryDataset::from_labels(part.features().clone(), &shifted).expect("dataset");
    raw.features_mut().scale_assign(255.0); // back to 0-255 pixels
    let test_raw = {
        let mut t = test.clone();
        t.features_mut().scale_assign(255.0);
        t
    };
    let mut model = mlp(&[784, 64, 10], ActivationKind::Relu, 0.0, 0);
    let list =
        doctor(model.as_mut(), &raw, Some(&test_raw), LossKind::CrossEntropy, &DoctorConfig::default()).expect("runs");
    assert_eq!(
        list.get(checks::SHARED_ROWS).expect("check").detail,
        "100 of the 200 test rows also appear in the training part"
    );
    assert_eq!(status(&list, checks::SHARED_ROWS), Status::Warn);
    // Pixels of 0-255 through He-initialised layers: logits far from 0.
    assert_eq!(status(&list, checks::INITIAL_LOSS), Status::Warn, "{list}");
    assert_eq!(status(&list, checks::BASELINE), Status::Warn, "{list}");
}

#[test]
fn a_model_without_gradient_to_its_first_layer_fails_gradient_flow() {
    let (train, _) = mnist();
    let part = head(&train, 500);
    let mut model = mlp(&[784, 32, 10], ActivationKind::Relu, 0.0, 0);
    // A zero first layer: every ReLU input is 0, no gradient reaches dense_1.weight.
    let mut path = String::new();
    let mut f = |p: strata_tensor::ParamRef<'_>| {
        if p.name.starts_with("dense_1") {
            p.value.fill(0.0);
        }
    };
    model.visit_parameters(&mut strata_tensor::ParamVisitor::new(&mut path, &mut f));
    let list = doctor(model.as_mut(), &part, None, LossKind::CrossEntropy, &DoctorConfig::default()).expect("runs");
    let check = list.get(checks::GRADIENT_FLOW).expect("check");
    assert_eq!((check.status, check.detail.as_str()), (Status::Fail, "no usable gradient reaches dense_1.weight"));
    assert!(list.failed());
}
