//! Every built-in layer kind through the conformance kit (`strata-testkit`):
//! finite-difference gradients of the input and of every parameter, shapes,
//! shape errors, parameter names, batch independence, determinism, save/load
//! and one SGD step. The numbers (steps, tolerances, seeds) are the kit's
//! defaults, justified in its crate documentation.
//!
//! `every_registered_kind_has_a_conformance_test` fails when a kind is added
//! to `Registry::with_builtins()` without cases and a test here.

use std::collections::BTreeSet;
use strata_activation::ActivationKind;
use strata_layers::{
    ActivationLayer, Dense, DenseConfig, Dim, Dropout, DropoutConfig, Flatten, Layer, LayerError, Mode, Registry,
    Reshape, ReshapeConfig, Residual, Sequential,
};
use strata_tensor::{Init, StrataRng, Tensor};
use strata_testkit::{Check, CheckOptions, check_layer};

type Make = Box<dyn Fn(&mut StrataRng) -> Result<Box<dyn Layer>, LayerError>>;

/// One layer configuration to check.
struct Case {
    name: String,
    make: Make,
    input_shape: Vec<usize>,
}

fn case(name: impl Into<String>, input_shape: &[usize], make: Make) -> Case {
    Case { name: name.into(), make, input_shape: input_shape.to_vec() }
}

fn dense_case(config: DenseConfig) -> Make {
    Box::new(move |rng| Ok(Box::new(Dense::new(config.clone(), rng)?)))
}

/// `dense(4 -> 6) - activation - dense(6 -> out)` for inputs `[4]`.
fn mlp(rng: &mut StrataRng, activation: ActivationKind, out: usize) -> Result<Sequential, LayerError> {
    Sequential::new(
        &[4],
        vec![
            Box::new(Dense::new(DenseConfig::new(4, 6), rng)?),
            Box::new(ActivationLayer::new(activation)),
            Box::new(Dense::new(DenseConfig::new(6, out), rng)?),
        ],
    )
}

/// Every configuration the tests check.
fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // Dense: every initialiser, with and without bias, and a few shapes.
    for init in [Init::XavierUniform, Init::XavierNormal, Init::HeNormal, Init::HeUniform, Init::Zeros] {
        for bias in [true, false] {
            let config = DenseConfig { init, bias, ..DenseConfig::new(4, 3) };
            cases.push(case(format!("dense 4->3 {init:?} bias={bias}"), &[4], dense_case(config)));
        }
    }
    for (n_in, n_out, bias) in [(1, 5, true), (7, 2, false), (3, 1, true), (6, 6, true)] {
        let config = DenseConfig { bias, ..DenseConfig::new(n_in, n_out) };
        cases.push(case(format!("dense {n_in}->{n_out} bias={bias}"), &[n_in], dense_case(config)));
    }
    // Dense on sequences: samples [5, 4] (batches [3, 5, 4]), one product over 15 rows.
    cases.push(case("dense 4->3 on sequences [5, 4]", &[5, 4], dense_case(DenseConfig::new(4, 3))));
    // Every activation kind, on rank-1 and rank-2 samples (softmax works on the last axis).
    let kinds = [
        ActivationKind::Identity,
        ActivationKind::Relu,
        ActivationKind::LeakyRelu { slope: 0.01 },
        ActivationKind::LeakyRelu { slope: 0.2 },
        ActivationKind::Sigmoid,
        ActivationKind::Tanh,
        ActivationKind::Gelu,
        ActivationKind::GeluErf,
        ActivationKind::Softmax,
    ];
    for kind in kinds {
        for shape in [&[5][..], &[2, 3]] {
            cases.push(case(
                format!("{kind} {shape:?}"),
                shape,
                Box::new(move |_| Ok(Box::new(ActivationLayer::new(kind)))),
            ));
        }
    }
    // Dropout: training-mode gradients with the mask of a fresh build (the kit rebuilds
    // the layer for every evaluation, so every evaluation sees the same mask).
    for (rate, shape) in [(0.5, &[6][..]), (0.2, &[2, 3]), (0.0, &[4])] {
        cases.push(case(
            format!("dropout {rate} {shape:?}"),
            shape,
            Box::new(move |rng| Ok(Box::new(Dropout::new(DropoutConfig { rate, seed: rng.next_u64() })?))),
        ));
    }
    // Flatten: rank-4 batches [batch, c, h, w].
    for shape in [&[2, 3, 2][..], &[1, 4, 1]] {
        cases.push(case(format!("flatten {shape:?}"), shape, Box::new(|_| Ok(Box::new(Flatten::new())))));
    }
    // Reshape: [6] -> [2, 3] and [6] -> [3, 1, 2]. (From [2, 3] it takes any
    // sample of 6 values, which its errors say as [6]: the kit's
    // shape-error probes expect the shape it was given, [2, 3].)
    for (input, output) in [(&[6][..], vec![2, 3]), (&[6], vec![3, 1, 2])] {
        cases.push(case(
            format!("reshape {input:?} to {output:?}"),
            input,
            Box::new(move |_| Ok(Box::new(Reshape::new(ReshapeConfig { shape: output.clone() })?))),
        ));
    }
    // Sequential: dense-relu-dense. Hidden ReLUs near zero are handled by the kit's h/10 refinement.
    cases.push(case(
        "sequential dense-relu-dense",
        &[4],
        Box::new(|rng| Ok(Box::new(mlp(rng, ActivationKind::Relu, 3)?))),
    ));
    // A sequential over sequences of any length (input [*, 4]), checked on length 5.
    cases.push(case(
        "sequential dense-gelu-dense on sequences",
        &[5, 4],
        Box::new(|rng| {
            let layers: Vec<Box<dyn Layer>> = vec![
                Box::new(Dense::new(DenseConfig::new(4, 6), rng)?),
                Box::new(ActivationLayer::new(ActivationKind::Gelu)),
                Box::new(Dense::new(DenseConfig::new(6, 2), rng)?),
            ];
            Ok(Box::new(Sequential::with_dims(&[Dim::Any, Dim::Fixed(4)], layers)?))
        }),
    ));
    // Residual around a dense-tanh-dense block that maps [4] to [4].
    cases.push(case(
        "residual(dense-tanh-dense)",
        &[4],
        Box::new(|rng| Ok(Box::new(Residual::new(Box::new(mlp(rng, ActivationKind::Tanh, 4)?))))),
    ));
    cases
}

/// The registry kind of the layer a case builds.
fn kind_of(case: &Case) -> String {
    (case.make)(&mut StrataRng::seed_from_u64(0)).unwrap().kind().to_string()
}

/// Kinds whose every axis but the last is a batch axis: the kit's
/// leading-axes check must pass for them, not be skipped. (A sequential
/// or residual takes leading axes when its declared input shape does.)
const FEATURE_KINDS: &[&str] =
    &["dense", "identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_erf", "softmax", "dropout"];

/// Run every case of `kind` through the kit; fail with every failure message.
fn check_kind(kind: &str) {
    let cases: Vec<Case> = cases().into_iter().filter(|c| kind_of(c) == kind).collect();
    assert!(!cases.is_empty(), "no conformance case builds a '{kind}' layer");
    let mut failures = Vec::new();
    for case in &cases {
        match check_layer(&case.name, &*case.make, &case.input_shape, &CheckOptions::default()) {
            Err(f) => failures.push(f.to_string()),
            Ok(report) if FEATURE_KINDS.contains(&kind) && !report.passed(Check::LeadingAxes) => {
                failures.push(format!("{}: the leading-axes check did not run:\n{report}", case.name))
            }
            Ok(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

strata_testkit::kind_tests!(
    dense, identity, relu, leaky_relu, sigmoid, tanh, gelu, gelu_erf, softmax, dropout, flatten, reshape, sequential,
    residual
);

#[test]
fn every_registered_kind_has_a_conformance_test() {
    let registered: BTreeSet<String> = Registry::with_builtins().kinds().map(str::to_string).collect();
    let tested: BTreeSet<String> = TESTED.iter().map(|s| s.to_string()).collect();
    let with_cases: BTreeSet<String> = cases().iter().map(kind_of).collect();
    assert_eq!(registered, tested, "registered kinds (left) vs kinds with a test in kind_tests! (right)");
    assert_eq!(with_cases, tested, "kinds built by cases() (left) vs kinds with a test (right)");
}

#[test]
fn the_dropout_cases_really_drop() {
    // The gradient check of dropout is only meaningful if the training mask
    // zeroes something: with the kit's default seed (42) the rate-0.5 case
    // drops some of its 3 x 6 inputs and scales the rest by 1 / (1 - 0.5) = 2.
    let case = cases().into_iter().find(|c| c.name == "dropout 0.5 [6]").unwrap();
    let mut layer = (case.make)(&mut StrataRng::seed_from_u64(CheckOptions::default().seed)).unwrap();
    let x = Tensor::ones(&[3, 6]);
    let y = layer.forward(&x, Mode::Train).unwrap();
    assert!(y.data().contains(&0.0) && y.data().contains(&2.0), "{y:?}");
}
