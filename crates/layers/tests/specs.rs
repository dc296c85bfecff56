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

/// A slope beyond `f32` (1e39 reads as infinity) is refused when the spec is
/// built, naming the layer: `strata summary` took it and `train` refused it
/// only in the first forward pass, naming neither the file nor the layer.
#[test]
fn a_leaky_relu_slope_that_is_not_finite_is_refused_when_built() {
    let err = build(r#"{"kind": "leaky_relu", "config": {"slope": 1e39}}"#).unwrap_err();
    assert_eq!(err, "layer 'leaky_relu': invalid configuration: slope must be a finite number, got inf");
    build(r#"{"kind": "leaky_relu", "config": {"slope": -3e38}}"#).unwrap();
}

/// A spec saved with a UTF-8 byte order mark (some Windows editors write one)
/// reads as without it: it was "line 1, column 1: expected value".
#[test]
fn a_spec_that_starts_with_a_byte_order_mark_reads() {
    build("\u{feff}{\"kind\": \"relu\"}").unwrap();
}
