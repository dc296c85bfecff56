//! Every layer kind of the crate through the conformance kit
//! (`strata-testkit`): finite-difference gradients of the input and of every
//! parameter (in training mode, so through the batch statistics), shapes,
//! shape errors, parameter names, batch independence (in inference mode,
//! where batch norm uses its running statistics and is batch-independent),
//! determinism, save/load through a registry with this crate's kinds, and
//! one SGD step. Steps, tolerances and seeds are the kit's defaults.
//!
//! `every_registered_kind_has_a_conformance_test` fails when `register`
//! gains a kind without cases and a test here.

use crate::common::registry;
use std::collections::BTreeSet;
use strata_activation::ActivationKind;
use strata_layers::{ActivationLayer, Dense, DenseConfig, Layer, LayerError, Registry, Sequential};
use strata_normalization::{BatchNorm, BatchNormConfig, KINDS, LayerNorm, LayerNormConfig};
use strata_tensor::StrataRng;
use strata_testkit::{Check, CheckOptions, check_layer, layer_conformance};

type Make = Box<dyn Fn(&mut StrataRng) -> Result<Box<dyn Layer>, LayerError>>;

/// One layer configuration to check.
struct Case {
    name: String,
    make: Make,
    input_shape: Vec<usize>,
}

fn case(name: &str, input_shape: &[usize], make: Make) -> Case {
    Case { name: name.to_string(), make, input_shape: input_shape.to_vec() }
}

/// `dense(4 -> 6) - norm - relu - dense(6 -> 3)` for inputs `[4]`.
fn mlp_with(rng: &mut StrataRng, norm: Box<dyn Layer>) -> Result<Sequential, LayerError> {
    Sequential::new(
        &[4],
        vec![
            Box::new(Dense::new(DenseConfig::new(4, 6), rng)?),
            norm,
            Box::new(ActivationLayer::new(ActivationKind::Relu)),
            Box::new(Dense::new(DenseConfig::new(6, 3), rng)?),
        ],
    )
}

/// Every configuration the tests check.
fn cases() -> Vec<Case> {
    vec![
        // [N, C]: features after a dense layer.
        case("batch_norm [4]", &[4], Box::new(|_| Ok(Box::new(BatchNorm::new(BatchNormConfig::new(4))?)))),
        case(
            "batch_norm [5] without affine, momentum 0.5",
            &[5],
            Box::new(|_| Ok(Box::new(BatchNorm::new(BatchNormConfig::new(5).with_affine(false).with_momentum(0.5))?))),
        ),
        // [N, C, H, W]: channels after a convolution. The layer takes any
        // [N, C, ...]; the kit's wrong-shape check also probes the per-sample
        // shape without its first axis, here [H, W] = [3, 2], which with
        // H == C is a valid [N, C, L] batch (accepted, as output_shape says).
        // With H != C it would be rejected by an error spelling the accepted
        // shape `[*, C, *]`, which the kit cannot match against the
        // [C, H, W] it was given.
        case("batch_norm [3, 3, 2]", &[3, 3, 2], Box::new(|_| Ok(Box::new(BatchNorm::new(BatchNormConfig::new(3))?)))),
        case(
            "dense-batch_norm-relu-dense",
            &[4],
            Box::new(|rng| Ok(Box::new(mlp_with(rng, Box::new(BatchNorm::new(BatchNormConfig::new(6))?))?))),
        ),
        case("layer_norm [6]", &[6], Box::new(|_| Ok(Box::new(LayerNorm::new(LayerNormConfig::new(&[6]))?)))),
        case(
            "layer_norm [2, 3, 2]",
            &[2, 3, 2],
            Box::new(|_| Ok(Box::new(LayerNorm::new(LayerNormConfig::new(&[2, 3, 2]))?))),
        ),
        case(
            "layer_norm [5] without affine",
            &[5],
            Box::new(|_| Ok(Box::new(LayerNorm::new(LayerNormConfig::new(&[5]).with_affine(false))?))),
        ),
        // Sequences: [batch, 5, 6] normalised over the last axis, every
        // position on its own (PyTorch's normalized_shape = [d_model]).
        case(
            "layer_norm [6] on sequences [5, 6]",
            &[5, 6],
            Box::new(|_| Ok(Box::new(LayerNorm::new(LayerNormConfig::new(&[6]))?))),
        ),
        case(
            "dense-layer_norm-relu-dense",
            &[4],
            Box::new(|rng| Ok(Box::new(mlp_with(rng, Box::new(LayerNorm::new(LayerNormConfig::new(&[6]))?))?))),
        ),
    ]
}

/// The kit's default options, with this crate's kinds registered for the save/load check.
fn options() -> CheckOptions {
    CheckOptions::default().with_registry(registry())
}

// The one-line form a layer crate starts with (docs/extending.md); the cases
// above check more configurations of each kind.
layer_conformance!(batch_norm_8_features, |_| BatchNorm::new(BatchNormConfig::new(8)), [8], options());
layer_conformance!(layer_norm_8_features, |_| LayerNorm::new(LayerNormConfig::new(&[8])), [8], options());

/// The kinds a case checks: its own and, for a composite, its children's.
fn kinds_of(case: &Case) -> BTreeSet<String> {
    strata_testkit::kinds_in((case.make)(&mut StrataRng::seed_from_u64(0)).unwrap().as_ref())
}

/// Run every case that contains a `kind` layer through the kit; fail with every failure message.
fn check_kind(kind: &str) {
    let cases: Vec<Case> = cases().into_iter().filter(|c| kinds_of(c).contains(kind)).collect();
    assert!(!cases.is_empty(), "no conformance case builds a '{kind}' layer");
    let options = options();
    let mut failures = Vec::new();
    for case in &cases {
        match check_layer(&case.name, &*case.make, &case.input_shape, &options) {
            Err(f) => failures.push(f.to_string()),
            // Nothing is switched off: every check ran (the optimizer step
            // only skips layers without parameters).
            Ok(report) => {
                for check in [
                    Check::Gradients,
                    Check::Shapes,
                    Check::ShapeErrors,
                    Check::ParameterNames,
                    Check::BatchIndependence,
                    Check::Determinism,
                    Check::SaveLoad,
                    Check::Accumulation,
                ] {
                    assert!(report.passed(check), "{}: {check} did not run: {report}", case.name);
                }
                // Layer norm takes any leading axes: the kit compares
                // [batch, 2, ..sample] with the rows reshaped.
                if case.name.starts_with("layer_norm") {
                    assert!(report.passed(Check::LeadingAxes), "{}: leading axes did not run: {report}", case.name);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

strata_testkit::kind_tests!(batch_norm, layer_norm);

#[test]
fn every_registered_kind_has_a_conformance_test() {
    let builtins: BTreeSet<String> = Registry::with_builtins().kinds().map(str::to_string).collect();
    let ours: BTreeSet<String> = registry().kinds().map(str::to_string).filter(|k| !builtins.contains(k)).collect();
    let tested: BTreeSet<String> = TESTED.iter().map(|s| s.to_string()).collect();
    let with_cases: BTreeSet<String> = cases().iter().flat_map(kinds_of).filter(|k| !builtins.contains(k)).collect();
    assert_eq!(ours, tested, "kinds `register` adds (left) vs kinds with a test in kind_tests! (right)");
    assert_eq!(with_cases, tested, "kinds built by cases() (left) vs kinds with a test (right)");
    assert_eq!(KINDS.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(), ours, "the KINDS constant");
}
