//! Weights in PyTorch's `state_dict` names and layouts, as safetensors
//! files: a Strata model exports to what `load_state_dict` takes for the
//! equivalent `nn.Sequential`, and a PyTorch model's weights import into the
//! Strata model of the same architecture.
//!
//! | Strata layer | PyTorch module | tensors (PyTorch layout) |
//! |---|---|---|
//! | `sequential` | `nn.Sequential` | children numbered `0.`, `1.`, ... by position (activations, dropout and flatten count, as modules do) |
//! | `dense` | `nn.Linear` | `weight [out, in]` (Strata stores `[in, out]`: transposed), `bias [out]` |
//! | `conv2d` | `nn.Conv2d` | `weight [out, in, kh, kw]`, `bias [out]` |
//! | `batch_norm` | `nn.BatchNorm1d/2d` | `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked` (int64, 0-d) |
//! | `layer_norm` | `nn.LayerNorm` | `weight`, `bias` |
//! | `embedding` | `nn.Embedding` | `weight [vocab, d]` |
//! | `multi_head_attention` | `nn.MultiheadAttention` | `in_proj_weight [3d, d]`, `in_proj_bias [3d]`, `out_proj.weight [d, d]`, `out_proj.bias [d]` (weights transposed) |
//! | `transformer_encoder_block` | `nn.TransformerEncoderLayer` | `self_attn.*`, `linear1.*`, `linear2.*`, `norm1.*`, `norm2.*` |
//! | `residual` | (none) | its inner layer under `inner.` |
//!
//! Reading takes `F32`, `F16`, `BF16` and `F64` tensors (converted to
//! `f32`); every tensor of the model must be in the file with its shape,
//! and every tensor of the file must be used (PyTorch's `strict=True`).

use crate::error::{FormatProblem, IoError, Result};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::HashMap;
use std::path::Path;
use strata_layers::{Layer, counters, load_counters, load_state_dict, state_dict};
use strata_tensor::Tensor;

/// The PyTorch name of a Strata tensor, and whether its 2-d layout is transposed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorchName {
    /// Strata's name (`dense_1.weight`).
    pub strata: String,
    /// PyTorch's name (`0.weight`).
    pub torch: String,
    /// PyTorch stores the transpose (`nn.Linear`'s `[out, in]`).
    pub transposed: bool,
}

const COUNTER: &str = "num_batches_tracked";

/// Every tensor and batch-norm counter of `model` with its PyTorch name.
pub fn torch_names(model: &mut dyn Layer) -> Vec<TorchName> {
    let mut prefixes = HashMap::new();
    let mut transposed = std::collections::HashSet::new();
    walk(&*model, "", "", &mut prefixes, &mut transposed);
    let tensors = state_dict(model).into_iter().map(|(n, _)| n);
    let counters = counters(model).into_iter().map(|(n, _)| n).filter(|n| n.ends_with(COUNTER));
    tensors
        .chain(counters)
        .map(|strata| {
            // The longest layer prefix of the name: at most one lookup a dot.
            let ends = strata.match_indices('.').map(|(i, _)| i + 1).rev().chain([0]);
            let (from, to) = ends
                .map(|end| &strata[..end])
                .find_map(|p| prefixes.get(p).map(|to: &String| (p.len(), to.clone())))
                .unwrap_or_default();
            let torch = format!("{to}{}", &strata[from..]);
            TorchName { transposed: transposed.contains(&strata), strata, torch }
        })
        .collect()
}

/// Record every layer's Strata prefix with its PyTorch prefix (a deeper
/// layer's replaces its parent's when the two share one: a residual's inner
/// layer), and the names of the tensors PyTorch stores transposed.
fn walk(
    layer: &dyn Layer,
    strata: &str,
    torch: &str,
    prefixes: &mut HashMap<String, String>,
    t: &mut std::collections::HashSet<String>,
) {
    prefixes.insert(strata.to_string(), torch.to_string());
    match layer.kind() {
        "dense" => {
            t.insert(format!("{strata}weight"));
        }
        "multi_head_attention" => t.extend([format!("{strata}in_proj_weight"), format!("{strata}out_proj.weight")]),
        _ => {}
    }
    let numbered = layer.kind() == "sequential";
    for (i, (name, child)) in layer.children().into_iter().enumerate() {
        let torch_child = if numbered { i.to_string() } else { name.to_string() };
        walk(child, &strata_prefix(layer, strata, name), &format!("{torch}{torch_child}."), prefixes, t);
    }
}

/// The prefix of a child's Strata tensor names: a residual passes its inner
/// layer's names through as they are (`residual_1.weight`; PyTorch's
/// `0.inner.weight`), every other composite puts the child's name first.
pub(crate) fn strata_prefix(layer: &dyn Layer, prefix: &str, child: &str) -> String {
    if layer.kind() == "residual" { prefix.to_string() } else { format!("{prefix}{child}.") }
}

/// Tensor `name` in PyTorch's layout: the transpose of a 2-d one when
/// `transposed`.
fn relayout(name: &str, t: &Tensor, transposed: bool) -> Result<Tensor> {
    if !transposed {
        return Ok(t.clone());
    }
    let unsupported =
        |reason| IoError::Unsupported { operation: "safetensors", reason: format!("tensor {name}: {reason}") };
    let &[rows, cols] = t.shape() else {
        return Err(unsupported(format!("shape {:?} is not 2-d, so it has no transpose", t.shape())));
    };
    let mut out = vec![0.0; rows * cols];
    for (r, row) in t.data().chunks_exact(cols.max(1)).enumerate() {
        for (c, &x) in row.iter().enumerate() {
            out[c * rows + r] = x;
        }
    }
    Tensor::from_vec(&[cols, rows], out).map_err(|e| unsupported(e.to_string()))
}

/// `model`'s weights as a safetensors file in PyTorch's names and layouts
/// (`metadata` goes into the file's header).
pub fn export(model: &mut dyn Layer, metadata: Option<HashMap<String, String>>) -> Result<Vec<u8>> {
    let names = torch_names(model);
    let tensors: HashMap<String, Tensor> = state_dict(model).into_iter().collect();
    let counts: HashMap<String, u64> = counters(model).into_iter().collect();
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(names.len());
    for n in &names {
        if let Some(t) = tensors.get(&n.strata) {
            let t = relayout(&n.torch, t, n.transposed)?;
            let bytes = t.data().iter().flat_map(|x| x.to_le_bytes()).collect();
            owned.push((n.torch.clone(), Dtype::F32, t.shape().to_vec(), bytes));
        } else if let Some(&c) = counts.get(&n.strata) {
            let c = i64::try_from(c).unwrap_or(i64::MAX);
            owned.push((n.torch.clone(), Dtype::I64, Vec::new(), c.to_le_bytes().to_vec()));
        }
    }
    let views = owned
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            let view = TensorView::new(*dtype, shape.clone(), bytes).map_err(|e| IoError::Unsupported {
                operation: "safetensors export",
                reason: format!("tensor {name}: {e}"),
            })?;
            Ok((name.as_str(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, metadata)
        .map_err(|e| IoError::Unsupported { operation: "safetensors export", reason: e.to_string() })
}

/// Refuse a file that lacks a tensor the model needs or holds one it does
/// not use (`load_state_dict(strict=True)`), naming every one of each (a
/// shifted numbering shows as the two side by side).
fn check_names(names: &[TorchName], file: &SafeTensors<'_>, path: &Path) -> Result<()> {
    let needed: std::collections::BTreeSet<&str> = names.iter().map(|n| n.torch.as_str()).collect();
    let held: std::collections::BTreeSet<&str> = file.names().into_iter().collect();
    let missing: Vec<String> = needed.difference(&held).map(|n| n.to_string()).collect();
    let unused: Vec<String> = held.difference(&needed).map(|n| n.to_string()).collect();
    if missing.is_empty() && unused.is_empty() {
        return Ok(());
    }
    Err(IoError::TorchNames { path: path.to_path_buf(), missing, unused })
}

/// Write [`export`]'s bytes to `path` atomically.
pub fn save(model: &mut dyn Layer, path: impl AsRef<Path>) -> Result<()> {
    crate::atomic_write(path.as_ref(), &export(model, None)?)
}

/// Load a safetensors file of PyTorch names and layouts into `model` (built
/// with the matching architecture); `path` names the file in errors.
/// Nothing changes in `model` unless every tensor fits.
pub fn import(model: &mut dyn Layer, bytes: &[u8], path: &Path) -> Result<()> {
    let bad = |problem| IoError::Format { path: path.to_path_buf(), expected: "safetensors file", problem };
    let file = SafeTensors::deserialize(bytes).map_err(|e| {
        // Another kind of file is named; a damaged safetensors file (or bytes of no known kind) gets the reason.
        bad(match crate::container::identify(bytes) {
            Some(found) if !found.starts_with("a safetensors file") => {
                FormatProblem::OtherFormat { found: found.into() }
            }
            _ => FormatProblem::Payload(e.to_string()),
        })
    })?;
    let names = torch_names(model);
    let shapes: HashMap<String, Vec<usize>> =
        state_dict(model).into_iter().map(|(n, t)| (n, t.shape().to_vec())).collect();
    let mut tensors = Vec::new();
    let mut new_counters: Vec<(String, u64)> = counters(model);
    check_names(&names, &file, path)?;
    for n in &names {
        let view = file.tensor(&n.torch).map_err(|_| IoError::Layer {
            path: path.to_path_buf(),
            source: strata_layers::LayerError::MissingWeight { name: n.torch.clone() },
        })?;
        if let Some(shape) = shapes.get(&n.strata) {
            let torch_shape: Vec<usize> =
                if n.transposed { shape.iter().rev().copied().collect() } else { shape.clone() };
            if view.shape() != torch_shape.as_slice() {
                return Err(IoError::Layer {
                    path: path.to_path_buf(),
                    source: strata_layers::LayerError::WeightShape {
                        name: n.torch.clone(),
                        expected: torch_shape,
                        actual: view.shape().to_vec(),
                    },
                });
            }
            let values =
                to_f32(&view).map_err(|reason| bad(FormatProblem::Payload(format!("{}: {reason}", n.torch))))?;
            if let Some((index, value)) = strata_tensor::first_failing(&values, f32::is_finite) {
                let source = strata_layers::LayerError::NonFiniteWeight { name: n.torch.clone(), index, value };
                return Err(IoError::Layer { path: path.to_path_buf(), source });
            }
            let t = Tensor::from_vec(&torch_shape, values)
                .map_err(|e| bad(FormatProblem::Payload(format!("{}: {e}", n.torch))))?;
            tensors.push((n.strata.clone(), relayout(&n.torch, &t, n.transposed)?));
        } else {
            let count =
                to_count(&view).map_err(|reason| bad(FormatProblem::Payload(format!("{}: {reason}", n.torch))))?;
            if let Some(slot) = new_counters.iter_mut().find(|(name, _)| *name == n.strata) {
                slot.1 = count;
            }
        }
    }
    let layer_err = |source| IoError::Layer { path: path.to_path_buf(), source };
    strata_layers::check_named(model, &tensors).map_err(|e| layer_err(torch_named(e, &names)))?;
    load_state_dict(model, &tensors).map_err(layer_err)?;
    load_counters(model, &new_counters).map_err(layer_err)
}

/// `e` naming its tensor as the file does (PyTorch's name).
fn torch_named(e: strata_layers::LayerError, names: &[TorchName]) -> strata_layers::LayerError {
    match e {
        strata_layers::LayerError::NegativeVariance { name, index, value } => {
            let name = names.iter().find(|n| n.strata == name).map_or(name, |n| n.torch.clone());
            strata_layers::LayerError::NegativeVariance { name, index, value }
        }
        other => other,
    }
}

/// Read a safetensors file into `model` (see [`import`]).
pub fn load(model: &mut dyn Layer, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    import(model, &crate::model::read(path)?, path)
}

fn to_f32(view: &TensorView<'_>) -> std::result::Result<Vec<f32>, String> {
    let d = view.data();
    Ok(match view.dtype() {
        Dtype::F32 => d.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        Dtype::F16 => d.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        Dtype::BF16 => d.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        Dtype::F64 => d.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32).collect(),
        other => return Err(format!("dtype {other:?} is not a float type (F32, F16, BF16 or F64)")),
    })
}

fn to_count(view: &TensorView<'_>) -> std::result::Result<u64, String> {
    let d = view.data();
    let n: usize = view.shape().iter().product();
    if n != 1 {
        return Err(format!("a counter must hold one value, it holds {n}"));
    }
    let v = match view.dtype() {
        Dtype::I64 => i64::from_le_bytes(d.try_into().map_err(|_| "8 bytes expected")?),
        Dtype::I32 => i64::from(i32::from_le_bytes(d.try_into().map_err(|_| "4 bytes expected")?)),
        other => return Err(format!("dtype {other:?} is not an integer type (I64 or I32)")),
    };
    u64::try_from(v).map_err(|_| format!("a counter cannot be negative ({v})"))
}

/// The free-form metadata of a safetensors file's header (empty when the
/// file has none or is not a safetensors file).
pub fn metadata(bytes: &[u8]) -> std::collections::BTreeMap<String, String> {
    SafeTensors::read_metadata(bytes)
        .ok()
        .and_then(|(_, m)| m.metadata().clone())
        .map(|m| m.into_iter().collect())
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_tensor_that_cannot_be_transposed_is_named() {
        let err = relayout("0.weight", &Tensor::zeros(&[2, 3, 4]), true).unwrap_err();
        assert_eq!(err.to_string(), "safetensors: tensor 0.weight: shape [2, 3, 4] is not 2-d, so it has no transpose");
        // Not transposed: passed through as it is, whatever its rank.
        assert_eq!(relayout("0.weight", &Tensor::zeros(&[2, 3, 4]), false).unwrap().shape(), &[2, 3, 4]);
    }
}
