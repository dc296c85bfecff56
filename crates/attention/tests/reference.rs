//! One [`TransformerBlock`] against an independent float64 numpy reference.
//!
//! The expected numbers come from `tests/reference/block.json`, written by
//! `tests/reference/block_reference.py`: numpy only, float64, the block's
//! maths written out from PyTorch's formulas (pre-norm
//! `nn.TransformerEncoderLayer(norm_first=True, batch_first=True)` around
//! `nn.MultiheadAttention`), its hand-derived backward checked inside the
//! script by central finite differences and its forward by a loop-by-loop
//! second forward. Regenerate it from the repository root with
//!
//! ```text
//! python3 -m venv /work/venv-ref && /work/venv-ref/bin/pip install numpy
//! /work/venv-ref/bin/python crates/attention/tests/reference/block_reference.py
//! ```
//!
//! (the JSON records the command and the numpy version). Each case (encoder
//! with ReLU; causal decoder with `gelu_erf`; encoder with `gelu` (tanh form)
//! and a key-padding mask) loads the fixture's weights with
//! `load_state_dict`, runs a training-mode forward (dropout 0) of `x [2, 5,
//! 8]`, 2 heads, `d_ff` 16, and a backward of `R` (the gradient of `L =
//! sum(y * R)`), and requires the output, the input gradient, every
//! parameter gradient and the attention weights `[batch, heads, s, s]`
//! within [`TOL`] (absolute) of the reference.

use crate::common::grads;
use serde::Deserialize;
use std::collections::BTreeMap;
use strata_attention::{TransformerBlock, TransformerBlockConfig};
use strata_layers::{Layer, Mode, load_state_dict};
use strata_tensor::{StrataRng, Tensor};

/// The largest absolute deviation allowed from the float64 reference.
const TOL: f32 = 1e-5;

const FIXTURE: &str = include_str!("reference/block.json");

#[derive(Deserialize)]
struct Fixture {
    command: String,
    numpy_version: String,
    config: Config,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Config {
    batch: usize,
    seq: usize,
    d_model: usize,
    n_heads: usize,
    d_ff: usize,
    layer_norm_eps: f32,
    dropout: f32,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    activation: String,
    causal: bool,
    /// `[batch * seq]`, true = padding.
    key_padding_mask: Option<Vec<bool>>,
    params: BTreeMap<String, Array>,
    x: Array,
    r: Array,
    expected: Expected,
}

#[derive(Deserialize)]
struct Expected {
    loss: f64,
    y: Array,
    grad_input: Array,
    attention_weights: Array,
    grads: BTreeMap<String, Array>,
}

#[derive(Deserialize)]
struct Array {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl Array {
    fn tensor(&self) -> Tensor {
        Tensor::from_vec(&self.shape, self.data.clone()).unwrap()
    }
}

fn fixture() -> Fixture {
    serde_json::from_str(FIXTURE).unwrap()
}

/// The multi-index of flat index `i` in `shape` (row-major).
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (slot, &n) in index.iter_mut().zip(shape).rev() {
        *slot = i % n.max(1);
        i /= n.max(1);
    }
    index
}

/// Every element of `got` within [`TOL`] of `want`; the largest deviation.
#[track_caller]
fn compare(case: &str, what: &str, got: &Tensor, want: &Array) -> f32 {
    assert_eq!(got.shape(), want.shape.as_slice(), "{case}: the shape of {what}");
    let mut worst = 0.0f32;
    for (i, (&g, &w)) in got.data().iter().zip(&want.data).enumerate() {
        let deviation = (g - w).abs();
        assert!(
            deviation <= TOL,
            "{case}: {what}: element {i} {:?}: Strata {g}, the reference {w}, |difference| {deviation:e} > {TOL:e}",
            unravel(i, &want.shape)
        );
        worst = worst.max(deviation);
    }
    worst
}

/// Run case `name` of the fixture, print its largest deviations.
fn check(name: &str) {
    let fixture = fixture();
    let c = &fixture.config;
    let case = fixture.cases.iter().find(|case| case.name == name).unwrap_or_else(|| panic!("no case '{name}'"));
    let mut config = TransformerBlockConfig::new(c.d_model, c.n_heads, c.d_ff).with_activation(&case.activation);
    if case.causal {
        config = config.causal();
    }
    assert_eq!((config.layer_norm_eps, config.dropout), (c.layer_norm_eps, c.dropout));
    let mut block = TransformerBlock::new(config, &mut StrataRng::seed_from_u64(0)).unwrap();
    let weights: Vec<(String, Tensor)> = case.params.iter().map(|(n, a)| (n.clone(), a.tensor())).collect();
    load_state_dict(&mut block, &weights).unwrap();
    block.self_attention().set_key_padding_mask(case.key_padding_mask.as_deref());

    let x = case.x.tensor();
    assert_eq!(x.shape(), &[c.batch, c.seq, c.d_model]);
    let y = block.forward(&x, Mode::Train).unwrap().clone();
    let mut worst = [("output", compare(name, "output", &y, &case.expected.y))].to_vec();
    let loss: f64 = y.data().iter().zip(&case.r.data).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
    assert!((loss - case.expected.loss).abs() <= 1e-4, "{name}: loss {loss}, the reference {}", case.expected.loss);
    let attention = block.self_attention().attention_weights().clone();
    worst.push(("attention weights", compare(name, "attention weights", &attention, &case.expected.attention_weights)));

    let grad_input = block.backward(&case.r.tensor()).unwrap().clone();
    worst.push(("input gradient", compare(name, "input gradient", &grad_input, &case.expected.grad_input)));
    let got = grads(&mut block);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    let expected: Vec<&str> = case.expected.grads.keys().map(String::as_str).collect();
    assert_eq!(names.len(), expected.len(), "{name}: Strata's parameters {names:?}, the reference's {expected:?}");
    for (param, grad) in &got {
        let want = case.expected.grads.get(param).unwrap_or_else(|| panic!("{name}: no reference gradient of {param}"));
        worst.push(("parameter gradients", compare(name, &format!("the gradient of {param}"), grad, want)));
    }
    let overall = worst.iter().map(|w| w.1).fold(0.0, f32::max);
    let mut by_kind: BTreeMap<&str, f32> = BTreeMap::new();
    for (kind, w) in worst {
        let slot = by_kind.entry(kind).or_default();
        *slot = slot.max(w);
    }
    eprintln!("{name}: max |Strata - reference| {overall:e} ({by_kind:?})");
}

#[test]
fn fixture_is_what_the_doc_says() {
    let fixture = fixture();
    assert!(fixture.command.ends_with("crates/attention/tests/reference/block_reference.py"), "{}", fixture.command);
    assert!(!fixture.numpy_version.is_empty());
    let c = &fixture.config;
    assert_eq!((c.batch, c.seq, c.d_model, c.n_heads, c.d_ff), (2, 5, 8, 2, 16));
    let names: Vec<&str> = fixture.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["encoder_relu", "decoder_gelu_erf", "encoder_gelu_padding"]);
    let padded = &fixture.cases[2];
    assert_eq!(padded.key_padding_mask.as_ref().map(Vec::len), Some(c.batch * c.seq));
    assert!(fixture.cases[1].causal && !fixture.cases[0].causal && !padded.causal);
}

#[test]
fn encoder_relu_matches_reference() {
    check("encoder_relu");
}

#[test]
fn causal_decoder_gelu_erf_matches_reference() {
    check("decoder_gelu_erf");
}

#[test]
fn encoder_gelu_key_padding_matches_reference() {
    check("encoder_gelu_padding");
}
