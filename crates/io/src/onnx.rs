//! ONNX export (opset 17) of Strata networks: MLPs, CNNs and transformers,
//! with the model's input scaling as the graph's first operations. Built
//! with the `onnx-protobuf` crate's messages; behind the `onnx` feature.
//!
//! | Strata layer | ONNX operators |
//! |---|---|
//! | `dense` | `MatMul`, `Add` (any number of leading axes) |
//! | activations | `Relu`, `LeakyRelu`, `Sigmoid`, `Tanh`, `Softmax` (last axis), `Identity`; GELU composed of `Tanh` or `Erf` |
//! | `dropout` | nothing (inference) |
//! | `flatten`, `reshape` | `Flatten`, `Reshape` |
//! | `conv2d`, `max_pool2d`, `avg_pool2d`, `global_avg_pool` | `Conv`, `MaxPool`, `AveragePool`, `GlobalAveragePool` + `Flatten` |
//! | `batch_norm`, `layer_norm` | `BatchNormalization`, `LayerNormalization` |
//! | `embedding` | `Cast` to int64, `Gather` |
//! | `positional_encoding` | `Slice` of the table to the sequence's length, `Add` |
//! | `multi_head_attention` | `MatMul`, `Split`, `Reshape`, `Transpose`, `Softmax` (a `Trilu` mask when causal) |
//! | `transformer_encoder_block`, `transformer_decoder_block` | its layer norms, attention and feed-forward layers, and the two residual `Add`s |
//! | `sequence_pool` | `ReduceMean` or `Gather` over the sequence axis |
//! | `sequential`, `residual` | their layers in order; `Add` |
//!
//! Any other kind is refused with [`IoError::Unsupported`] naming the layer.

use crate::error::{IoError, Result};
use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::tensor_shape_proto::{Dimension, dimension};
use onnx_protobuf::type_proto;
use onnx_protobuf::{
    AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto,
    TypeProto, ValueInfoProto,
};
use serde_json::Value;
use std::collections::HashMap;
use strata_layers::{Dim, Layer, state_dict};
use strata_tensor::Tensor;

/// The operator set the graphs use.
pub const OPSET: i64 = 17;

/// One element-wise step of the input scaling, with one value per feature
/// of a sample (or one for all).
#[derive(Debug, Clone, PartialEq)]
pub enum ScaleStep {
    /// `x - values`.
    Sub(Vec<f32>),
    /// `x * values`.
    Mul(Vec<f32>),
    /// `x / values`.
    Div(Vec<f32>),
}

/// The ONNX model (serialized `ModelProto`) of `network`, for inputs of
/// per-sample shape `input_shape`, after `scaling`.
pub fn export(network: &mut dyn Layer, input_shape: &[Dim], scaling: &[ScaleStep]) -> Result<Vec<u8>> {
    let weights: HashMap<String, Tensor> = state_dict(network).into_iter().collect();
    let mut g = Graph { weights, ..Graph::default() };
    let mut x = "input".to_string();
    let sample: Vec<i64> = input_shape.iter().map(|d| d.fixed().map_or(-1, |n| n as i64)).collect();
    for step in scaling {
        let (op, values) = match step {
            ScaleStep::Sub(v) => ("Sub", v),
            ScaleStep::Mul(v) => ("Mul", v),
            ScaleStep::Div(v) => ("Div", v),
        };
        let n = values.len() as i64;
        let dims =
            if sample.iter().all(|&d| d > 0) && sample.iter().product::<i64>() == n { sample.clone() } else { vec![n] };
        let c = g.constant("scale", &dims, values);
        x = g.node(op, &[&x, &c], vec![]);
    }
    let y = emit(&mut g, &*network, "", &x)?;
    g.nodes.push(node("Identity", &[&y], &["output"], vec![]));
    let out = network.output_shape(input_shape).map_err(|e| IoError::Unsupported {
        operation: "onnx export",
        reason: format!("the network does not take the model's inputs: {e}"),
    })?;
    let output_dims: Vec<Option<i64>> =
        std::iter::once(None).chain(out.iter().map(|d| d.fixed().map(|n| n as i64))).collect();
    let input_dims = std::iter::once(None).chain(sample.iter().map(|&d| (d > 0).then_some(d))).collect::<Vec<_>>();
    let graph = GraphProto {
        name: "strata".into(),
        node: g.nodes,
        initializer: g.inits,
        input: vec![value_info("input", &input_dims)],
        output: vec![value_info("output", &output_dims)],
        ..GraphProto::default()
    };
    let model = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET, ..Default::default() }],
        producer_name: "strata".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(graph).into(),
        ..ModelProto::default()
    };
    model.write_to_bytes().map_err(|e| IoError::Unsupported { operation: "onnx export", reason: e.to_string() })
}

#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    weights: HashMap<String, Tensor>,
    n: usize,
}

impl Graph {
    fn fresh(&mut self, hint: &str) -> String {
        self.n += 1;
        format!("{hint}_{}", self.n)
    }

    fn constant(&mut self, hint: &str, dims: &[i64], values: &[f32]) -> String {
        let name = self.fresh(hint);
        self.inits.push(TensorProto {
            name: name.clone(),
            dims: dims.to_vec(),
            data_type: DataType::FLOAT as i32,
            raw_data: values.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ..TensorProto::default()
        });
        name
    }

    fn scalar(&mut self, value: f32) -> String {
        self.constant("c", &[], &[value])
    }

    fn ints(&mut self, values: &[i64]) -> String {
        let name = self.fresh("i");
        self.inits.push(TensorProto {
            name: name.clone(),
            dims: vec![values.len() as i64],
            data_type: DataType::INT64 as i32,
            raw_data: values.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ..TensorProto::default()
        });
        name
    }

    /// A weight of the network, by its Strata name, as an initializer.
    fn weight(&mut self, name: &str) -> Result<String> {
        let t = self.weights.get(name).ok_or_else(|| IoError::Unsupported {
            operation: "onnx export",
            reason: format!("the network has no tensor '{name}'"),
        })?;
        let (dims, data): (Vec<i64>, Vec<f32>) = (t.shape().iter().map(|&d| d as i64).collect(), t.data().to_vec());
        Ok(self.constant(&name.replace('.', "_"), &dims, &data))
    }

    fn has(&self, name: &str) -> bool {
        self.weights.contains_key(name)
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(op);
        self.nodes.push(node(op, inputs, &[&out], attrs));
        out
    }

    /// `x @ w + b` for a dense layer's tensors under `prefix`.
    fn dense(&mut self, prefix: &str, x: &str) -> Result<String> {
        let w = self.weight(&format!("{prefix}weight"))?;
        let y = self.node("MatMul", &[x, &w], vec![]);
        if !self.has(&format!("{prefix}bias")) {
            return Ok(y);
        }
        let b = self.weight(&format!("{prefix}bias"))?;
        Ok(self.node("Add", &[&y, &b], vec![]))
    }

    /// The length of axis 1 (the sequence) of `x`, as a 1-d int64 tensor.
    fn seq_len(&mut self, x: &str) -> String {
        let shape = self.node("Shape", &[x], vec![]);
        let (s, e) = (self.ints(&[1]), self.ints(&[2]));
        self.node("Slice", &[&shape, &s, &e], vec![])
    }
}

fn node(op: &str, inputs: &[&str], outputs: &[&str], attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute,
        ..NodeProto::default()
    }
}

fn attr_i(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), type_: AttributeType::INT.into(), i, ..Default::default() }
}

fn attr_f(name: &str, f: f32) -> AttributeProto {
    AttributeProto { name: name.into(), type_: AttributeType::FLOAT.into(), f, ..Default::default() }
}

fn attr_ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), type_: AttributeType::INTS.into(), ints: ints.to_vec(), ..Default::default() }
}

fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    let shape = TensorShapeProto {
        dim: dims
            .iter()
            .enumerate()
            .map(|(i, d)| Dimension {
                value: Some(match d {
                    Some(n) => dimension::Value::DimValue(*n),
                    None if i == 0 => dimension::Value::DimParam("batch".into()),
                    None => dimension::Value::DimParam(format!("{name}_dim_{i}")),
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let tensor =
        type_proto::Tensor { elem_type: DataType::FLOAT as i32, shape: Some(shape).into(), ..Default::default() };
    ValueInfoProto {
        name: name.into(),
        type_: Some(TypeProto { value: Some(type_proto::Value::TensorType(tensor)), ..Default::default() }).into(),
        ..Default::default()
    }
}

fn unsupported(prefix: &str, kind: &str, why: &str) -> IoError {
    let name = prefix.trim_end_matches('.');
    let at = if name.is_empty() { String::new() } else { format!(" '{name}'") };
    IoError::Unsupported { operation: "onnx export", reason: format!("layer{at} ({kind}) {why}") }
}

fn config(layer: &dyn Layer, prefix: &str) -> Result<Value> {
    layer.spec().map(|s| s.config).map_err(|e| unsupported(prefix, layer.kind(), &format!("has no spec: {e}")))
}

fn num(cfg: &Value, key: &str) -> Option<f64> {
    cfg.get(key).and_then(Value::as_f64)
}

fn pair(cfg: &Value, key: &str) -> Option<[i64; 2]> {
    let v = cfg.get(key)?;
    if let Some(n) = v.as_i64() {
        return Some([n, n]);
    }
    let a = v.as_array()?;
    Some([a.first()?.as_i64()?, a.get(1)?.as_i64()?])
}

fn child<'a>(layer: &'a dyn Layer, name: &str) -> Result<&'a dyn Layer> {
    layer
        .children()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, l)| l)
        .ok_or_else(|| unsupported("", layer.kind(), &format!("has no part '{name}'")))
}

/// Emit `layer` (its tensors named under `prefix`) applied to `x`; returns its output.
fn emit(g: &mut Graph, layer: &dyn Layer, prefix: &str, x: &str) -> Result<String> {
    let kind = layer.kind();
    Ok(match kind {
        "sequential" => {
            let mut y = x.to_string();
            for (name, l) in layer.children() {
                y = emit(g, l, &format!("{prefix}{name}."), &y)?;
            }
            y
        }
        "residual" => {
            let (name, inner) =
                layer.children().into_iter().next().ok_or_else(|| unsupported(prefix, kind, "is empty"))?;
            let y = emit(g, inner, &crate::safetensors::strata_prefix(layer, prefix, name), x)?;
            g.node("Add", &[x, &y], vec![])
        }
        "dense" => g.dense(prefix, x)?,
        "dropout" => x.to_string(),
        "identity" => g.node("Identity", &[x], vec![]),
        "relu" => g.node("Relu", &[x], vec![]),
        "sigmoid" => g.node("Sigmoid", &[x], vec![]),
        "tanh" => g.node("Tanh", &[x], vec![]),
        "softmax" => g.node("Softmax", &[x], vec![attr_i("axis", -1)]),
        "leaky_relu" => {
            let slope = num(&config(layer, prefix)?, "slope").unwrap_or(0.01) as f32;
            g.node("LeakyRelu", &[x], vec![attr_f("alpha", slope)])
        }
        "gelu" | "gelu_erf" => gelu(g, x, kind == "gelu_erf"),
        "flatten" => g.node("Flatten", &[x], vec![attr_i("axis", 1)]),
        "reshape" => {
            let cfg = config(layer, prefix)?;
            let shape: Vec<i64> = cfg
                .get("shape")
                .and_then(Value::as_array)
                .map_or_else(Vec::new, |a| std::iter::once(-1).chain(a.iter().filter_map(Value::as_i64)).collect());
            let s = g.ints(&shape);
            g.node("Reshape", &[x, &s], vec![])
        }
        "conv2d" => conv(g, layer, prefix, x)?,
        "max_pool2d" | "avg_pool2d" => {
            let cfg = config(layer, prefix)?;
            let k = pair(&cfg, "kernel").ok_or_else(|| unsupported(prefix, kind, "has no kernel"))?;
            let s = pair(&cfg, "stride").unwrap_or(k);
            let op = if kind == "max_pool2d" { "MaxPool" } else { "AveragePool" };
            g.node(op, &[x], vec![attr_ints("kernel_shape", &k), attr_ints("strides", &s)])
        }
        "global_avg_pool" => {
            let y = g.node("GlobalAveragePool", &[x], vec![]);
            g.node("Flatten", &[&y], vec![attr_i("axis", 1)])
        }
        "batch_norm" => batch_norm(g, layer, prefix, x)?,
        "layer_norm" => layer_norm(g, layer, prefix, x)?,
        "embedding" => {
            let w = g.weight(&format!("{prefix}weight"))?;
            let ids = g.node("Cast", &[x], vec![attr_i("to", DataType::INT64 as i64)]);
            g.node("Gather", &[&w, &ids], vec![attr_i("axis", 0)])
        }
        "positional_encoding" => positional(g, layer, prefix, x)?,
        "multi_head_attention" => attention(g, layer, prefix, x)?,
        "transformer_encoder_block" | "transformer_decoder_block" => block(g, layer, prefix, x)?,
        "sequence_pool" => {
            let cfg = config(layer, prefix)?;
            if cfg.get("mode").and_then(Value::as_str) == Some("first") {
                let zero = g.ints(&[0]);
                let first = g.node("Gather", &[x, &zero], vec![attr_i("axis", -2)]);
                let axes = g.ints(&[-2]);
                g.node("Squeeze", &[&first, &axes], vec![])
            } else {
                g.node("ReduceMean", &[x], vec![attr_ints("axes", &[-2]), attr_i("keepdims", 0)])
            }
        }
        other => return Err(unsupported(prefix, other, "has no ONNX export")),
    })
}

/// GELU: `x/2 (1 + erf(x/sqrt 2))`, or its tanh form (Strata's `gelu`).
fn gelu(g: &mut Graph, x: &str, erf: bool) -> String {
    let half = g.scalar(0.5);
    let one = g.scalar(1.0);
    let t = if erf {
        let c = g.scalar(std::f32::consts::FRAC_1_SQRT_2);
        let s = g.node("Mul", &[x, &c], vec![]);
        g.node("Erf", &[&s], vec![])
    } else {
        let (a, c) = (g.scalar(0.044_715), g.scalar((2.0 / std::f64::consts::PI).sqrt() as f32));
        let x2 = g.node("Mul", &[x, x], vec![]);
        let x3 = g.node("Mul", &[&x2, x], vec![]);
        let ax3 = g.node("Mul", &[&x3, &a], vec![]);
        let inner = g.node("Add", &[x, &ax3], vec![]);
        let scaled = g.node("Mul", &[&inner, &c], vec![]);
        g.node("Tanh", &[&scaled], vec![])
    };
    let hx = g.node("Mul", &[x, &half], vec![]);
    let onep = g.node("Add", &[&t, &one], vec![]);
    g.node("Mul", &[&hx, &onep], vec![])
}

fn conv(g: &mut Graph, layer: &dyn Layer, prefix: &str, x: &str) -> Result<String> {
    let cfg = config(layer, prefix)?;
    let k = pair(&cfg, "kernel_size").ok_or_else(|| unsupported(prefix, "conv2d", "has no kernel_size"))?;
    let (s, p, d) = (
        pair(&cfg, "stride").unwrap_or([1, 1]),
        pair(&cfg, "padding").unwrap_or([0, 0]),
        pair(&cfg, "dilation").unwrap_or([1, 1]),
    );
    let w = g.weight(&format!("{prefix}weight"))?;
    let mut inputs = vec![x.to_string(), w];
    if g.has(&format!("{prefix}bias")) {
        inputs.push(g.weight(&format!("{prefix}bias"))?);
    }
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let attrs = vec![
        attr_ints("kernel_shape", &k),
        attr_ints("strides", &s),
        attr_ints("pads", &[p[0], p[1], p[0], p[1]]),
        attr_ints("dilations", &d),
    ];
    Ok(g.node("Conv", &refs, attrs))
}

/// Scale and shift of a normalization layer: its own, or ones and zeros.
fn affine(g: &mut Graph, prefix: &str, n: usize) -> Result<(String, String)> {
    if g.has(&format!("{prefix}weight")) {
        return Ok((g.weight(&format!("{prefix}weight"))?, g.weight(&format!("{prefix}bias"))?));
    }
    Ok((g.constant("ones", &[n as i64], &vec![1.0; n]), g.constant("zeros", &[n as i64], &vec![0.0; n])))
}

fn batch_norm(g: &mut Graph, layer: &dyn Layer, prefix: &str, x: &str) -> Result<String> {
    let cfg = config(layer, prefix)?;
    let n = num(&cfg, "n_features").unwrap_or(0.0) as usize;
    let eps = num(&cfg, "eps").unwrap_or(1e-5) as f32;
    let (scale, bias) = affine(g, prefix, n)?;
    let mean = g.weight(&format!("{prefix}running_mean"))?;
    let var = g.weight(&format!("{prefix}running_var"))?;
    Ok(g.node("BatchNormalization", &[x, &scale, &bias, &mean, &var], vec![attr_f("epsilon", eps)]))
}

fn layer_norm(g: &mut Graph, layer: &dyn Layer, prefix: &str, x: &str) -> Result<String> {
    let cfg = config(layer, prefix)?;
    let shape: Vec<usize> = cfg
        .get("normalized_shape")
        .and_then(Value::as_array)
        .map_or_else(Vec::new, |a| a.iter().filter_map(|v| v.as_u64().map(|n| n as usize)).collect());
    let eps = num(&cfg, "eps").unwrap_or(1e-5) as f32;
    if g.has(&format!("{prefix}weight")) {
        let (s, b) = (g.weight(&format!("{prefix}weight"))?, g.weight(&format!("{prefix}bias"))?);
        let axis = -(shape.len().max(1) as i64);
        return Ok(g.node("LayerNormalization", &[x, &s, &b], vec![attr_i("axis", axis), attr_f("epsilon", eps)]));
    }
    let n: usize = shape.iter().product();
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    let ones = g.constant("ones", &dims, &vec![1.0; n]);
    let zeros = g.constant("zeros", &dims, &vec![0.0; n]);
    let axis = -(shape.len().max(1) as i64);
    Ok(g.node("LayerNormalization", &[x, &ones, &zeros], vec![attr_i("axis", axis), attr_f("epsilon", eps)]))
}

/// Strata's sinusoidal table (`strata-attention`'s formula, in `f64`).
fn sinusoids(max_len: usize, d: usize) -> Vec<f32> {
    let mut t = vec![0.0; max_len * d];
    for (p, row) in t.chunks_exact_mut(d.max(1)).enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            let i = (j / 2) as f64;
            let angle = p as f64 / 10000f64.powf(2.0 * i / d as f64);
            *x = if j % 2 == 0 { angle.sin() } else { angle.cos() } as f32;
        }
    }
    t
}

fn positional(g: &mut Graph, layer: &dyn Layer, prefix: &str, x: &str) -> Result<String> {
    let cfg = config(layer, prefix)?;
    let (max_len, d) = (num(&cfg, "max_len").unwrap_or(0.0) as usize, num(&cfg, "d_model").unwrap_or(0.0) as usize);
    let table = if g.has(&format!("{prefix}weight")) {
        g.weight(&format!("{prefix}weight"))?
    } else {
        g.constant("positions", &[max_len as i64, d as i64], &sinusoids(max_len, d))
    };
    let len = g.seq_len(x);
    let (start, axes) = (g.ints(&[0]), g.ints(&[0]));
    let rows = g.node("Slice", &[&table, &start, &len, &axes], vec![]);
    Ok(g.node("Add", &[x, &rows], vec![]))
}

fn attention(g: &mut Graph, layer: &dyn Layer, prefix: &str, x: &str) -> Result<String> {
    let cfg = config(layer, prefix)?;
    let d = num(&cfg, "d_model").unwrap_or(0.0) as i64;
    let h = num(&cfg, "n_heads").unwrap_or(1.0) as i64;
    if d == 0 || h == 0 || d % h != 0 {
        return Err(unsupported(prefix, "multi_head_attention", "has an invalid configuration"));
    }
    let causal = cfg.get("causal").and_then(Value::as_bool).unwrap_or(false);
    let dh = d / h;
    let w = g.weight(&format!("{prefix}in_proj_weight"))?;
    let mut qkv = g.node("MatMul", &[x, &w], vec![]);
    if g.has(&format!("{prefix}in_proj_bias")) {
        let b = g.weight(&format!("{prefix}in_proj_bias"))?;
        qkv = g.node("Add", &[&qkv, &b], vec![]);
    }
    let split = g.ints(&[d, d, d]);
    let names = [g.fresh("q"), g.fresh("k"), g.fresh("v")];
    let outs: Vec<&str> = names.iter().map(String::as_str).collect();
    g.nodes.push(node("Split", &[&qkv, &split], &outs, vec![attr_i("axis", -1)]));
    let heads = g.ints(&[0, 0, h, dh]);
    let per_head = |g: &mut Graph, t: &str, perm: &[i64]| {
        let r = g.node("Reshape", &[t, &heads], vec![]);
        g.node("Transpose", &[&r], vec![attr_ints("perm", perm)])
    };
    let q = per_head(g, &names[0], &[0, 2, 1, 3]);
    let kt = per_head(g, &names[1], &[0, 2, 3, 1]);
    let v = per_head(g, &names[2], &[0, 2, 1, 3]);
    let scores = g.node("MatMul", &[&q, &kt], vec![]);
    let c = g.scalar(1.0 / (dh as f32).sqrt());
    let mut scores = g.node("Mul", &[&scores, &c], vec![]);
    if causal {
        let len = g.seq_len(x);
        let square = g.node("Concat", &[&len, &len], vec![attr_i("axis", 0)]);
        let one = TensorProto {
            dims: vec![1],
            data_type: DataType::FLOAT as i32,
            float_data: vec![1.0],
            ..Default::default()
        };
        let ones_attr = AttributeProto {
            name: "value".into(),
            type_: AttributeType::TENSOR.into(),
            t: Some(one).into(),
            ..Default::default()
        };
        let ones = g.node("ConstantOfShape", &[&square], vec![ones_attr]);
        let lower = g.node("Trilu", &[&ones], vec![attr_i("upper", 0)]);
        let (one, big) = (g.scalar(1.0), g.scalar(1e9));
        let above = g.node("Sub", &[&lower, &one], vec![]);
        let mask = g.node("Mul", &[&above, &big], vec![]);
        scores = g.node("Add", &[&scores, &mask], vec![]);
    }
    let weights = g.node("Softmax", &[&scores], vec![attr_i("axis", -1)]);
    let o = g.node("MatMul", &[&weights, &v], vec![]);
    let o = g.node("Transpose", &[&o], vec![attr_ints("perm", &[0, 2, 1, 3])]);
    let merged = g.ints(&[0, 0, d]);
    let o = g.node("Reshape", &[&o, &merged], vec![]);
    let wo = g.weight(&format!("{prefix}out_proj.weight"))?;
    let y = g.node("MatMul", &[&o, &wo], vec![]);
    if !g.has(&format!("{prefix}out_proj.bias")) {
        return Ok(y);
    }
    let bo = g.weight(&format!("{prefix}out_proj.bias"))?;
    Ok(g.node("Add", &[&y, &bo], vec![]))
}

/// A pre-norm block: `y = x + attn(norm1(x))`, `out = y + linear2(act(linear1(norm2(y))))`.
fn block(g: &mut Graph, layer: &dyn Layer, prefix: &str, x: &str) -> Result<String> {
    let cfg = config(layer, prefix)?;
    let activation = cfg.get("activation").and_then(Value::as_str).unwrap_or("relu").to_string();
    let part = |name: &str| format!("{prefix}{name}.");
    let h1 = emit(g, child(layer, "norm1")?, &part("norm1"), x)?;
    let a = emit(g, child(layer, "self_attn")?, &part("self_attn"), &h1)?;
    let y1 = g.node("Add", &[x, &a], vec![]);
    let h2 = emit(g, child(layer, "norm2")?, &part("norm2"), &y1)?;
    let f = g.dense(&part("linear1"), &h2)?;
    let f = match activation.as_str() {
        "relu" => g.node("Relu", &[&f], vec![]),
        "gelu" => gelu(g, &f, false),
        "gelu_erf" => gelu(g, &f, true),
        other => {
            return Err(unsupported(prefix, layer.kind(), &format!("has activation '{other}' with no ONNX export")));
        }
    };
    let f = g.dense(&part("linear2"), &f)?;
    Ok(g.node("Add", &[&y1, &f], vec![]))
}
