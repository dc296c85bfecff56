//! Specs are closed: a field a kind does not have is refused, for kinds with
//! options and for those without.

use strata_layers::{LayerSpec, Registry};
use strata_tensor::StrataRng;

fn build(json: &str) -> Result<(), String> {
    let spec = LayerSpec::from_json(json).unwrap();
    Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(0)).map(|_| ()).map_err(|e| e.to_string())
}

#[test]
fn a_kind_without_options_refuses_any_and_takes_none_or_an_empty_config() {
    for kind in ["relu", "tanh", "softmax", "flatten"] {
        build(&format!(r#"{{"kind": "{kind}"}}"#)).unwrap();
        build(&format!(r#"{{"kind": "{kind}", "config": {{}}}}"#)).unwrap();
        let err = build(&format!(r#"{{"kind": "{kind}", "config": {{"slope": 0.2}}}}"#)).unwrap_err();
        assert_eq!(err, format!("model spec: layer '{kind}': unknown field 'slope' (it takes none)"));
    }
    // leaky_relu has one option, and no other.
    build(r#"{"kind": "leaky_relu", "config": {"slope": 0.2}}"#).unwrap();
    let err = build(r#"{"kind": "leaky_relu", "config": {"alpha": 0.2}}"#).unwrap_err();
    assert_eq!(err, "model spec: layer 'leaky_relu': unknown field 'alpha' (its fields: 'slope')");
}
