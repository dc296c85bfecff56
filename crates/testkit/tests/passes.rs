//! Subjects that conform pass every check; options, skips and reports.

use crate::fixtures::{Lookup, Scale, registry};
use strata_activation::Tanh;
use strata_layers::{Dense, DenseConfig, Flatten};
use strata_loss::MeanSquaredError;
use strata_tensor::{StrataRng, Tensor};
use strata_testkit::{
    Check, CheckOptions, InputRange, Outcome, assert_activation_conforms, assert_layer_conforms, assert_loss_conforms,
    check_layer, layer_conformance,
};

layer_conformance!(dense_via_the_macro, |rng| Dense::new(DenseConfig::new(4, 3), rng), [4]);

layer_conformance!(
    a_user_layer_with_its_own_registry,
    |rng| Ok(Scale::new(5, rng)),
    [5],
    CheckOptions::default().with_registry(registry())
);

#[test]
fn a_conforming_layer_passes_every_check() {
    let make = |rng: &mut StrataRng| Dense::new(DenseConfig::new(4, 3), rng);
    let report = check_layer("dense", make, &[4], &CheckOptions::default()).unwrap();
    let checks: Vec<Check> = report.results.iter().map(|r| r.check).collect();
    assert_eq!(
        checks,
        [
            Check::Setup,
            Check::Gradients,
            Check::Shapes,
            Check::ShapeErrors,
            Check::ParameterNames,
            Check::BatchIndependence,
            Check::Determinism,
            Check::SaveLoad,
            Check::OptimizerStep,
            Check::Accumulation,
            Check::LeadingAxes,
        ]
    );
    assert!(checks.iter().all(|&c| report.passed(c)), "{report}");
    assert!(report.to_string().contains("pass  parameter names: 2 unique, stable names: weight, bias"), "{report}");
    // A dense layer is linear in its input and weights: central differences are exact up to f32 rounding.
    assert!(report.max_gradient_error.unwrap() < 1e-3, "{report}");
}

#[test]
fn parameter_free_layers_skip_the_optimizer_step() {
    let report = assert_layer_conforms("flatten", |_| Ok(Flatten::new()), &[2, 2], &CheckOptions::default());
    assert!(report.skipped(Check::OptimizerStep));
    assert!(report.passed(Check::Gradients));
    // Flatten reads an extra leading axis as part of the sample: [2, 2, 2] -> [8].
    let leading = report.outcome(Check::LeadingAxes).unwrap();
    assert!(matches!(leading, Outcome::Skipped(why) if why.contains("output_shape([2, 2, 2]) = [8], not [2, 4]")));
}

#[test]
fn a_dense_layer_on_sequences_conforms_on_rank_3_input() {
    // Per-sample shape [5, 4]: the kit's batches are [3, 5, 4], and the
    // leading-axes check compares [3, 2, 5, 4] with [6, 5, 4].
    let make = |rng: &mut StrataRng| Dense::new(DenseConfig::new(4, 3), rng);
    let report = assert_layer_conforms("dense_on_sequences", make, &[5, 4], &CheckOptions::default());
    assert!(report.passed(Check::LeadingAxes) && report.passed(Check::Gradients), "{report}");
}

#[test]
fn a_layer_that_takes_token_ids_is_checked_with_generated_ids() {
    // Ids in 0..7 of sequences of 5; the table's gradient is checked, the
    // ids' is not (they are not differentiable).
    let opts = CheckOptions::default().with_registry(registry()).with_ids(7);
    let report = assert_layer_conforms("lookup", |rng| Ok(Lookup::new(7, 4, rng)), &[5], &opts);
    assert!(report.passed(Check::Gradients) && report.passed(Check::LeadingAxes), "{report}");
    let gradients = report.outcome(Check::Gradients).unwrap();
    assert!(
        matches!(gradients, Outcome::Passed(m) if m.contains("1 parameter gradient") && m.contains("(28 elements)"))
    );
}

#[test]
fn skipped_checks_are_reported_as_skipped() {
    let opts = CheckOptions::default().skip(Check::SaveLoad).skip(Check::Gradients);
    let report = check_layer("scale", |rng| Ok(Scale::new(3, rng)), &[3], &opts).unwrap();
    assert!(report.skipped(Check::SaveLoad) && report.skipped(Check::Gradients));
    assert_eq!(report.max_gradient_error, None);
    assert!(report.to_string().contains("skip  save/load: switched off in the options"), "{report}");
}

#[test]
fn conforming_activations_and_losses_pass() {
    let report = assert_activation_conforms("tanh", &Tanh, &CheckOptions::default());
    let checks: Vec<Check> = report.results.iter().map(|r| r.check).collect();
    assert_eq!(checks, [Check::Setup, Check::Gradients, Check::Shapes, Check::ShapeErrors]);

    let draw = |rng: &mut StrataRng| {
        (Tensor::random_normal(&[5, 2], 0.0, 1.0, rng).unwrap(), Tensor::random_normal(&[5, 2], 0.0, 1.0, rng).unwrap())
    };
    let report = assert_loss_conforms("mse", &MeanSquaredError, draw, &CheckOptions::default());
    let checks: Vec<Check> = report.results.iter().map(|r| r.check).collect();
    assert_eq!(
        checks,
        [Check::Setup, Check::Gradients, Check::Shapes, Check::ShapeErrors, Check::Value, Check::ValueAndGradient]
    );
}

#[test]
fn input_ranges_keep_their_bounds() {
    let range = InputRange::new(0.1, 1.0);
    let x = range.sample(&[1000], &mut StrataRng::seed_from_u64(3));
    assert!(x.data().iter().all(|v| (0.1..=1.0).contains(&v.abs())));
    // Both signs occur (1000 fair coin flips).
    assert!(x.data().iter().any(|&v| v < 0.0) && x.data().iter().any(|&v| v > 0.0));
}

#[test]
fn failures_are_errors() {
    let make = |rng: &mut StrataRng| Dense::new(DenseConfig::new(4, 3), rng);
    let err: Box<dyn std::error::Error> =
        Box::new(check_layer("dense", make, &[5], &CheckOptions::default()).unwrap_err());
    assert!(err.to_string().starts_with("'dense' failed 1 of 1 conformance checks:\n  [setup] dense: "), "{err}");
}

#[test]
fn an_id_that_is_not_a_token_is_an_error_naming_its_position() {
    use strata_layers::{Layer, LayerError, Mode};
    let mut lookup = Lookup::new(7, 4, &mut StrataRng::seed_from_u64(0));
    let ids = Tensor::from_vec(&[2, 3], vec![0., 1., 2., 3., 7., 1.]).unwrap();
    let err = lookup.forward(&ids, Mode::Eval).unwrap_err();
    assert!(matches!(&err, LayerError::TokenId { position, vocab: 7, .. } if position == &[1, 1]), "{err:?}");
    assert_eq!(err.to_string(), "layer 'lookup': the input at [1, 1] is 7, not a token id in 0..7");
}
