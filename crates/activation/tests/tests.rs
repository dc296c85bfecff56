//! Integration tests of strata-activation: finite-difference gradient checks,
//! values against hand calculations, errors, and name/serde round trips.
#![allow(clippy::unwrap_used)]

mod errors;
mod gradients;
mod names;
mod values;

use strata_activation::{Activation, ActivationKind, Gelu, GeluErf, Identity, LeakyRelu, Relu, Sigmoid, Softmax, Tanh};

/// One value of every activation type, with a label for assertion messages.
pub fn all_activations() -> Vec<(&'static str, Box<dyn Activation>)> {
    vec![
        ("identity", Box::new(Identity)),
        ("relu", Box::new(Relu)),
        ("leaky_relu", Box::new(LeakyRelu { slope: 0.2 })),
        ("sigmoid", Box::new(Sigmoid)),
        ("tanh", Box::new(Tanh)),
        ("gelu", Box::new(Gelu)),
        ("gelu_erf", Box::new(GeluErf)),
        ("softmax", Box::new(Softmax)),
    ]
}

/// Every `ActivationKind`, with a non-default leaky slope too.
pub fn all_kinds() -> Vec<ActivationKind> {
    vec![
        ActivationKind::Identity,
        ActivationKind::Relu,
        ActivationKind::LeakyRelu { slope: 0.01 },
        ActivationKind::LeakyRelu { slope: 0.2 },
        ActivationKind::Sigmoid,
        ActivationKind::Tanh,
        ActivationKind::Gelu,
        ActivationKind::GeluErf,
        ActivationKind::Softmax,
    ]
}
