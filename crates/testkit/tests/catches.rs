//! Subjects that break one rule fail exactly that check, with a message that
//! names what is wrong and where, and never crash the test.

use crate::fixtures::{
    AssertingTanh, BatchCentering, FirstPositionScale, Flaw, FlawedDense, FlippedInputGradient, PanickingDoubler,
    RowSum, Scale, SignFlippedDense, UnscaledMse, WrongTanh, nondeterministic_dense, registry,
};
use strata_layers::{Dense, DenseConfig};
use strata_tensor::{StrataRng, Tensor};
use strata_testkit::{Check, CheckOptions, Failures, Outcome, check_activation, check_layer, check_loss};

fn with_fixtures() -> CheckOptions {
    CheckOptions::default().with_registry(registry())
}

/// The kit run on a dense layer without bias whose weight gradient has the wrong sign.
fn sign_flipped() -> Failures {
    let config = DenseConfig { bias: false, ..DenseConfig::new(4, 3) };
    check_layer("sign_flipped_dense", |rng| SignFlippedDense::new(config.clone(), rng), &[4], &with_fixtures())
        .unwrap_err()
}

#[test]
fn a_sign_flipped_weight_gradient_is_caught_and_named() {
    let failures = sign_flipped();
    // Without a bias, the flipped step moves every weight uphill, so the SGD check fails too.
    assert_eq!(failures.checks(), [Check::Gradients, Check::OptimizerStep]);
    let messages = failures.messages();
    assert_eq!(messages.len(), 2, "{failures}");
    let gradient = messages[0];
    assert!(
        gradient.starts_with("sign_flipped_dense: gradient of 'weight' differs from finite differences: "),
        "{gradient}"
    );
    // With a = -n, |a - n| / max(|a|, |n|) = 2 for every element above atol / rtol = 0.1.
    assert!(gradient.contains("largest relative error 2 at ["), "{gradient}");
    assert!(gradient.contains("tolerance 1e-2"), "{gradient}");
    let worst = failures.report().max_gradient_error.unwrap();
    assert!((worst - 2.0).abs() < 1e-3, "{worst}");
    // The input gradient is right and is not blamed.
    assert!(!failures.to_string().contains("gradient of the input"), "{failures}");
    assert!(messages[1].contains("did not lower the loss"), "{}", messages[1]);
}

#[test]
fn the_documented_failure_message_is_what_the_kit_prints() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/kit-failure-example.txt");
    let documented = std::fs::read_to_string(path).unwrap();
    let actual = sign_flipped().to_string();
    assert_eq!(documented.trim_end(), actual, "update {path} with the message above");
}

#[test]
fn a_panic_on_a_wrong_input_shape_fails_the_shape_error_check() {
    let make = |_: &mut StrataRng| Ok(PanickingDoubler::new(4));
    let failures = check_layer("panicking_doubler", make, &[4], &with_fixtures()).unwrap_err();
    assert_eq!(failures.checks(), [Check::ShapeErrors], "{failures}");
    // Three wrong shapes ([3, 5], [3], [3, 4, 2]), each in Eval and Train mode.
    let messages = failures.messages();
    assert_eq!(messages.len(), 6, "{failures}");
    for m in &messages {
        assert!(m.contains("panicked on an input of shape") && m.contains("instead of returning an Err"), "{m}");
        assert!(m.contains("PanickingDoubler: wrong input shape"), "{m}");
    }
    assert!(messages[0].starts_with("panicking_doubler: forward (Eval) panicked on an input of shape [3, 5]"));
}

#[test]
fn an_error_that_names_no_layer_fails_the_shape_error_check() {
    let make = |_: &mut StrataRng| Ok(RowSum::new(4));
    let failures = check_layer("row_sum", make, &[4], &with_fixtures()).unwrap_err();
    assert_eq!(failures.checks(), [Check::ShapeErrors], "{failures}");
    // Three wrong shapes in two modes; the matrix multiply's error names no layer.
    let messages = failures.messages();
    assert_eq!(messages.len(), 6, "{failures}");
    assert_eq!(
        messages[0],
        "row_sum: forward (Eval) on an input of shape [3, 5] returned an error that names no layer: matmul: \
         shapes do not match: left [3, 5], right [4, 1]"
    );
}

#[test]
fn a_layer_mixing_rows_fails_batch_independence_unless_it_opts_out() {
    let make = |_: &mut StrataRng| Ok(BatchCentering::new(3));
    let failures = check_layer("batch_centering", make, &[3], &with_fixtures()).unwrap_err();
    assert_eq!(failures.checks(), [Check::BatchIndependence], "{failures}");
    let m = failures.messages()[0];
    // A row alone is centred on itself, so it becomes all zeros.
    assert!(m.contains("inference is not batch-independent") && m.contains("the row alone gives 0"), "{m}");
    assert!(m.contains("skip Check::BatchIndependence"), "{m}");

    let opts = with_fixtures().skip(Check::BatchIndependence);
    let report = check_layer("batch_centering", make, &[3], &opts).unwrap();
    assert!(report.skipped(Check::BatchIndependence));
    assert!(report.passed(Check::Gradients));
}

#[test]
fn a_layer_ignoring_the_seed_fails_determinism_and_skips_gradients() {
    let failures = check_layer("unseeded", nondeterministic_dense, &[3], &CheckOptions::default()).unwrap_err();
    assert_eq!(failures.checks(), [Check::Determinism], "{failures}");
    assert!(failures.messages()[0].contains("two builds from the same seed have different parameters"));
    match failures.report().outcome(Check::Gradients) {
        Some(Outcome::Skipped(reason)) => assert!(reason.contains("not deterministic"), "{reason}"),
        other => panic!("gradients should be skipped, got {other:?}"),
    }
}

#[test]
fn a_kind_missing_from_the_registry_fails_save_load_with_a_hint() {
    let failures = check_layer("scale", |rng| Ok(Scale::new(3, rng)), &[3], &CheckOptions::default()).unwrap_err();
    assert_eq!(failures.checks(), [Check::SaveLoad], "{failures}");
    let m = failures.messages()[0];
    assert!(m.contains("unknown layer kind 'scale'"), "{m}");
    assert!(m.contains("register the layer's kind in CheckOptions::registry"), "{m}");
}

#[test]
fn setup_problems_are_failures_not_panics() {
    // A layer that cannot be built.
    let failures =
        check_layer("empty_dense", |rng| Dense::new(DenseConfig::new(0, 3), rng), &[0], &CheckOptions::default())
            .unwrap_err();
    assert_eq!(failures.checks(), [Check::Setup]);
    assert!(failures.messages()[0].starts_with("empty_dense: could not build the layer: layer 'dense': invalid"));

    // An input shape the layer does not take.
    let make = |rng: &mut StrataRng| Dense::new(DenseConfig::new(4, 3), rng);
    let failures = check_layer("dense", make, &[5], &CheckOptions::default()).unwrap_err();
    assert_eq!(failures.checks(), [Check::Setup]);
    assert!(failures.messages()[0].contains("output_shape rejects the input shape [5]"), "{failures}");

    // Invalid options: every problem is listed.
    let opts = CheckOptions::default().with_batch_size(0).with_tolerance(0.0, -1.0);
    let failures = check_layer("dense", make, &[4], &opts).unwrap_err();
    assert_eq!(failures.checks(), [Check::Setup]);
    assert_eq!(failures.messages().len(), 3, "{failures}");
    let failures = check_activation("tanh", &strata_activation::Tanh, &opts).unwrap_err();
    assert_eq!(failures.checks(), [Check::Setup]);
}

#[test]
fn a_wrong_activation_derivative_is_caught() {
    let failures = check_activation("wrong_tanh", &WrongTanh, &CheckOptions::default()).unwrap_err();
    assert_eq!(failures.checks(), [Check::Gradients], "{failures}");
    // One message per input shape: [3, 6], [3, 2, 3] and [7].
    let messages = failures.messages();
    assert_eq!(messages.len(), 3, "{failures}");
    assert!(
        messages[0].starts_with(
            "wrong_tanh: gradient of the input (shape [3, 6]) differs from finite differences: largest relative error"
        ),
        "{}",
        messages[0]
    );
}

#[test]
fn an_activation_asserting_shapes_fails_the_shape_error_check() {
    let failures = check_activation("asserting_tanh", &AssertingTanh, &CheckOptions::default()).unwrap_err();
    assert_eq!(failures.checks(), [Check::ShapeErrors], "{failures}");
    for m in failures.messages() {
        assert!(m.contains("panicked") && m.contains("asserting_tanh: shapes differ"), "{m}");
    }
}

#[test]
fn a_loss_gradient_missing_the_mean_is_caught() {
    let draw = |rng: &mut StrataRng| {
        let p = Tensor::random_normal(&[4, 3], 0.0, 1.0, rng).unwrap();
        let t = Tensor::random_normal(&[4, 3], 0.0, 1.0, rng).unwrap();
        (p, t)
    };
    let failures = check_loss("unscaled_mse", &UnscaledMse, draw, &CheckOptions::default()).unwrap_err();
    assert_eq!(failures.checks(), [Check::Gradients], "{failures}");
    let m = failures.messages()[0];
    assert!(m.starts_with("unscaled_mse: gradient of the prediction differs from finite differences"), "{m}");
    // The analytic gradient is N = 12 times the true one: relative error (12 - 1) / 12 = 0.917.
    assert!(m.contains("largest relative error 0.917 at ["), "{m}");
}

#[test]
fn gradients_that_overwrite_instead_of_accumulating_are_caught() {
    // Right on a fresh layer (every gradient check passes), wrong on the
    // second backward: the weight gradient is 1x the first instead of 2x.
    let make = |rng: &mut StrataRng| FlawedDense::new(Flaw::Overwrites, DenseConfig::new(4, 3), rng);
    let failures = check_layer("overwriting_dense", make, &[4], &with_fixtures()).unwrap_err();
    assert_eq!(failures.checks(), [Check::Accumulation], "{failures}");
    let messages = failures.messages();
    assert_eq!(messages.len(), 2, "weight and bias: {failures}");
    assert!(
        messages[0].starts_with("overwriting_dense: the gradient of 'weight' does not accumulate"),
        "{}",
        messages[0]
    );
    assert!(messages[0].contains("must add to parameter gradients, not overwrite them"), "{}", messages[0]);
}

#[test]
fn a_zero_grad_that_leaves_the_old_gradients_is_caught() {
    // Right on a fresh layer and on the second backward (2x the first);
    // after zero_grad and a third backward the weight gradient is 3x the
    // first, and after zero_grad again it still reads 3x, not 0.
    let make = |rng: &mut StrataRng| FlawedDense::new(Flaw::Stale, DenseConfig::new(4, 3), rng);
    let failures = check_layer("stale_dense", make, &[4], &with_fixtures()).unwrap_err();
    assert_eq!(failures.checks(), [Check::Accumulation], "{failures}");
    let messages = failures.messages();
    assert_eq!(messages.len(), 4, "weight and bias, each both ways: {failures}");
    assert!(
        messages[0].starts_with("stale_dense: after zero_grad and one backward the gradient of 'weight' is "),
        "{}",
        messages[0]
    );
    assert!(messages[0].contains("(the backward after zero_grad must start from zero)"), "{}", messages[0]);
    assert!(messages[1].starts_with("stale_dense: after zero_grad the gradient of 'weight' reads "), "{}", messages[1]);
    assert!(messages[1].ends_with(", not 0"), "{}", messages[1]);
}

#[test]
fn a_lazy_zero_grad_that_hands_out_the_old_gradients_is_caught() {
    // Its backward after zero_grad starts from zero (that part passes); a
    // visit between zero_grad and backward sees the old gradients.
    let make = |rng: &mut StrataRng| FlawedDense::new(Flaw::Unsettled, DenseConfig::new(4, 3), rng);
    let failures = check_layer("unsettled_dense", make, &[4], &with_fixtures()).unwrap_err();
    assert_eq!(failures.checks(), [Check::Accumulation], "{failures}");
    let messages = failures.messages();
    assert_eq!(messages.len(), 2, "weight and bias: {failures}");
    assert!(
        messages[0].starts_with("unsettled_dense: after zero_grad the gradient of 'weight' reads "),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].starts_with("unsettled_dense: after zero_grad the gradient of 'bias' reads "),
        "{}",
        messages[1]
    );
}

#[test]
fn a_sign_flipped_gradient_of_tiny_magnitude_is_caught() {
    // Weights of scale 1e-4 give input gradients of order 1e-4; an absolute
    // floor of 0.1 (atol / rtol) would pass them with either sign. Compared
    // relative to the tensor's own scale, the flip is a relative error of 2.
    let make = |rng: &mut StrataRng| FlippedInputGradient::new(DenseConfig::new(4, 3), rng);
    let failures = check_layer("flipped_input_gradient", make, &[4], &with_fixtures()).unwrap_err();
    assert_eq!(failures.checks(), [Check::Gradients], "{failures}");
    let message = failures.messages()[0];
    assert!(message.starts_with("flipped_input_gradient: gradient of the input differs"), "{message}");
    assert!(message.contains("largest relative error 2 at"), "{message}");
    assert!(!failures.to_string().contains("'weight'"), "the weight gradients are right: {failures}");
}

#[test]
fn a_layer_wrong_on_an_extra_leading_axis_is_caught() {
    // Correct on [batch, width]; on [batch, 2, width] it scales only the
    // first position of each sequence.
    let make = |rng: &mut StrataRng| Ok(FirstPositionScale::new(4, rng));
    let failures = check_layer("first_position_scale", make, &[4], &with_fixtures()).unwrap_err();
    assert_eq!(failures.checks(), [Check::LeadingAxes], "{failures}");
    let first = failures.messages()[0];
    assert!(
        first.starts_with(
            "first_position_scale: the inference output on [3, 2, 4] differs from the inference output on the rows \
             reshaped to [6, 4]"
        ),
        "{first}"
    );
}
