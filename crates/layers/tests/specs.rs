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

/// A key given twice in one object of a spec is refused where it repeats:
/// JSON readers (serde_json's `Value`, Python's `json`) keep the last one,
/// so `"n_outputs": 3, "n_outputs": 10` built a 10-output layer silently.
#[test]
fn a_key_given_twice_in_one_object_is_refused_with_its_place() {
    let nested = "{\"kind\": \"sequential\", \"config\": {\"layers\": [\n  {\"kind\": \"dense\", \"config\": \
                  {\"n_inputs\": 4, \"n_outputs\": 3, \"n_outputs\": 10}}]}}";
    let err = LayerSpec::from_json(nested).unwrap_err().to_string();
    // Column 73: the closing quote of the second "n_outputs".
    assert_eq!(err, "model spec: line 2, column 73: the key \"n_outputs\" is given twice in one object");
    let err = LayerSpec::from_json(r#"{"kind": "relu", "kind": "tanh"}"#).unwrap_err().to_string();
    assert!(err.contains("the key \"kind\" is given twice"), "{err}");
    // The same key in two objects is fine.
    build(r#"{"kind": "sequential", "config": {"input_shape": [2], "layers": [{"kind": "relu"}, {"kind": "tanh"}]}}"#)
        .unwrap();
}
