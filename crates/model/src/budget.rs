//! The parameter budget: how many values a model's layers will hold,
//! counted from its spec before anything is allocated.

use crate::error::{ModelError, Result};
use serde_json::Value;
use strata_layers::LayerSpec;

/// Values (parameters and buffers) a layer of each kind of the workspace
/// allocates, from its configuration; 0 for kinds without parameters and
/// kinds this crate does not know (a third-party layer is counted when built).
fn own_count(spec: &LayerSpec) -> u128 {
    let c = &spec.config;
    let n = |key: &str| c.get(key).and_then(Value::as_u64).map_or(0, u128::from);
    let flag = |key: &str| c.get(key).and_then(Value::as_bool).unwrap_or(true);
    // Saturating: a hostile spec's sizes must give "too many", not an overflow.
    let product = |values: &[u128]| values.iter().fold(1u128, |p, &v| p.saturating_mul(v));
    let sum = |values: &[u128]| values.iter().fold(0u128, |s, &v| s.saturating_add(v));
    let pair = |key: &str| match c.get(key) {
        Some(Value::Array(a)) => product(&a.iter().filter_map(Value::as_u64).map(u128::from).collect::<Vec<_>>()),
        Some(v) => v.as_u64().map_or(1, |k| product(&[u128::from(k), u128::from(k)])),
        None => 1,
    };
    let attention = |d: u128| sum(&[product(&[4, d, d]), product(&[4, d])]);
    let bias = |key: &str| if flag("bias") { n(key) } else { 0 };
    match spec.kind.as_str() {
        "dense" => sum(&[product(&[n("n_inputs"), n("n_outputs")]), bias("n_outputs")]),
        "conv2d" => sum(&[product(&[n("out_channels"), n("in_channels"), pair("kernel_size")]), bias("out_channels")]),
        "batch_norm" => product(&[4, n("n_features")]),
        "layer_norm" => {
            let shape: Vec<u128> = c
                .get("normalized_shape")
                .and_then(Value::as_array)
                .map_or(vec![0], |a| a.iter().filter_map(Value::as_u64).map(u128::from).collect());
            product(&[2, product(&shape)])
        }
        "embedding" => product(&[n("vocab_size"), n("d_model")]),
        "positional_encoding" => product(&[n("max_len"), n("d_model")]),
        "multi_head_attention" => attention(n("d_model")),
        "transformer_encoder_block" | "transformer_decoder_block" => {
            let (d, ff) = (n("d_model"), n("d_ff"));
            sum(&[attention(d), product(&[4, d]), product(&[2, d, ff]), ff, d])
        }
        _ => 0,
    }
}

/// The children of a composite spec, with the names `Sequential` gives them.
fn children(spec: &LayerSpec) -> Vec<(String, LayerSpec)> {
    let parse = |v: &Value| serde_json::from_value::<LayerSpec>(v.clone()).ok();
    match spec.kind.as_str() {
        "sequential" => {
            let mut seen = std::collections::BTreeMap::<String, usize>::new();
            let layers = spec.config.get("layers").and_then(Value::as_array).cloned().unwrap_or_default();
            layers
                .iter()
                .filter_map(parse)
                .map(|s| {
                    let k = seen.entry(s.kind.clone()).or_insert(0);
                    *k += 1;
                    (format!("{}_{k}", s.kind), s)
                })
                .collect()
        }
        "residual" => {
            spec.config.get("inner").and_then(parse).map(|s| vec![("inner".to_string(), s)]).unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

/// Every layer of `spec` with its own count, by path (`dense_2`), depth first.
pub fn layer_counts(spec: &LayerSpec) -> Vec<(String, String, u128)> {
    let mut out = Vec::new();
    walk(spec, "", &mut out);
    out
}

fn walk(spec: &LayerSpec, path: &str, out: &mut Vec<(String, String, u128)>) {
    out.push((path.to_string(), spec.kind.clone(), own_count(spec)));
    for (name, child) in children(spec) {
        let p = if path.is_empty() { name } else { format!("{path}.{name}") };
        walk(&child, &p, out);
    }
}

/// The default budget: the values a quarter of this machine's memory holds
/// while training (weights, gradients and two optimizer moments: 16 bytes
/// each); 2^28 when the memory cannot be read.
pub fn default_budget() -> u64 {
    quarter_of_memory().map_or(1 << 28, |bytes| bytes / 16)
}

fn quarter_of_memory() -> Option<u64> {
    strata_tensor::machine_memory().map(|bytes| bytes / 4)
}

/// Refuse a spec whose layers would hold more than `budget` values, naming
/// the largest layer, before anything is allocated.
///
/// ```
/// let spec = strata_layers::LayerSpec::from_json(r#"{"kind": "sequential", "config": {"input_shape": [4],
///     "layers": [{"kind": "dense", "config": {"n_inputs": 4, "n_outputs": 10000000000}}]}}"#)?;
/// let err = strata_model::check_budget(&spec, 1_000_000).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "the model would hold 50000000000 parameters, more than the budget of 1000000: \
///      layer 'dense_1' (dense) alone holds 50000000000"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_budget(spec: &LayerSpec, budget: u64) -> Result<()> {
    let counts = layer_counts(spec);
    let total = counts.iter().fold(0u128, |t, c| t.saturating_add(c.2));
    if total <= u128::from(budget) {
        return Ok(());
    }
    let (layer, kind, count) = counts.into_iter().max_by_key(|c| c.2).unwrap_or_default();
    let layer = if layer.is_empty() { kind.clone() } else { layer };
    Err(ModelError::TooManyParameters { file: None, layer, kind, count, total, budget })
}
