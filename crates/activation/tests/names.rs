//! Names: `FromStr`/`Display` round trips, serde, and dispatch of `ActivationKind`.

use crate::all_kinds;
use strata_activation::{Activation, ActivationKind, Gelu, GeluErf, Identity, LeakyRelu, Relu, Sigmoid, Softmax, Tanh};
use strata_tensor::{StrataRng, Tensor};

#[test]
fn display_and_from_str_round_trip() {
    for kind in all_kinds() {
        let text = kind.to_string();
        assert_eq!(text.parse::<ActivationKind>().unwrap(), kind, "{text}");
    }
    assert_eq!(ActivationKind::LeakyRelu { slope: 0.2 }.to_string(), "leaky_relu:0.2");
    assert_eq!(ActivationKind::LeakyRelu { slope: 0.01 }.to_string(), "leaky_relu");
    assert_eq!(ActivationKind::Softmax.to_string(), "softmax");
}

#[test]
fn parse_accepts_aliases_case_and_dashes() {
    let cases = [
        ("identity", ActivationKind::Identity),
        ("linear", ActivationKind::Identity),
        ("relu", ActivationKind::Relu),
        ("ReLU", ActivationKind::Relu),
        (" tanh ", ActivationKind::Tanh),
        ("sigmoid", ActivationKind::Sigmoid),
        ("gelu", ActivationKind::Gelu),
        ("gelu_tanh", ActivationKind::Gelu),
        ("gelu_erf", ActivationKind::GeluErf),
        ("softmax", ActivationKind::Softmax),
        ("leaky_relu", ActivationKind::LeakyRelu { slope: 0.01 }),
        ("leaky-relu:0.2", ActivationKind::LeakyRelu { slope: 0.2 }),
        ("leaky_relu: 0.3", ActivationKind::LeakyRelu { slope: 0.3 }),
    ];
    for (text, kind) in cases {
        assert_eq!(text.parse::<ActivationKind>().unwrap(), kind, "{text}");
    }
}

#[test]
fn names_agree() {
    for kind in all_kinds() {
        assert_eq!(kind.name(), Activation::name(&kind));
        assert!(kind.to_string().starts_with(kind.name()));
    }
    assert_eq!(ActivationKind::leaky_relu(), ActivationKind::LeakyRelu { slope: LeakyRelu::DEFAULT_SLOPE });
    let names: Vec<&str> =
        [&Identity as &dyn Activation, &Relu, &LeakyRelu::default(), &Sigmoid, &Tanh, &Gelu, &GeluErf, &Softmax]
            .iter()
            .map(|a| a.name())
            .collect();
    assert_eq!(names, ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_erf", "softmax"]);
}

#[test]
fn serde_round_trip() {
    for kind in all_kinds() {
        let json = serde_json::to_string(&kind).unwrap();
        let back: ActivationKind = serde_json::from_str(&json).unwrap();
        assert_eq!(back, kind, "{json}");
    }
    assert_eq!(serde_json::to_string(&ActivationKind::Relu).unwrap(), r#"{"kind":"relu"}"#);
    assert_eq!(
        serde_json::to_string(&ActivationKind::LeakyRelu { slope: 0.2 }).unwrap(),
        r#"{"kind":"leaky_relu","slope":0.2}"#
    );
    assert!(serde_json::from_str::<ActivationKind>(r#"{"kind":"swish"}"#).is_err());
}

#[test]
fn kind_dispatches_to_the_structs() {
    let mut rng = StrataRng::seed_from_u64(20);
    let x = Tensor::random_normal(&[3, 4], 0.0, 2.0, &mut rng).unwrap();
    let g = Tensor::random_normal(&[3, 4], 0.0, 1.0, &mut rng).unwrap();
    let pairs: [(ActivationKind, &dyn Activation); 7] = [
        (ActivationKind::Identity, &Identity),
        (ActivationKind::Relu, &Relu),
        (ActivationKind::LeakyRelu { slope: 0.3 }, &LeakyRelu { slope: 0.3 }),
        (ActivationKind::Sigmoid, &Sigmoid),
        (ActivationKind::Tanh, &Tanh),
        (ActivationKind::Gelu, &Gelu),
        (ActivationKind::Softmax, &Softmax),
    ];
    for (kind, act) in pairs {
        let (y_kind, y_act) = (kind.apply(&x).unwrap(), act.apply(&x).unwrap());
        assert_eq!(y_kind, y_act, "{kind}");
        let (mut d_kind, mut d_act) = (Tensor::default(), Tensor::default());
        kind.backward(&x, &y_kind, &g, &mut d_kind).unwrap();
        act.backward(&x, &y_act, &g, &mut d_act).unwrap();
        assert_eq!(d_kind, d_act, "{kind}");
    }
}
