//! Model files: a layer's spec plus its named tensors plus free-form
//! metadata, written atomically.
//!
//! Layout (all integers little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `STRATA\0M` |
//! | 4 | format version (1) |
//! | 8 | payload length |
//! | 8 | FNV-1a 64 checksum of the payload |
//! | n | payload: spec JSON, tensors by name, metadata (see [`crate::codec`]) |
//!
//! The hardened, versioned checkpoint format (with trainer and optimizer
//! state) builds on this later.

use crate::codec;
use crate::error::{LayerError, Result};
use crate::layer::Layer;
use crate::registry::{LayerSpec, Registry};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use strata_tensor::{ParamVisitor, StrataRng, Tensor};

/// First bytes of every model file.
pub const MODEL_MAGIC: [u8; 8] = *b"STRATA\0M";
/// The format version this build writes and reads.
pub const MODEL_FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 8;

/// A model as stored: architecture, weights by name, metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModel {
    /// The architecture.
    pub spec: LayerSpec,
    /// Every parameter and buffer, by name, in visit order.
    pub tensors: Vec<(String, Tensor)>,
    /// Free-form key/value pairs (the command line keeps its preprocessing here).
    pub metadata: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    spec_json: String,
    tensors: Vec<(String, Tensor)>,
    metadata: BTreeMap<String, String>,
}

/// Every parameter and buffer of a model, cloned, by name.
pub fn state_dict(model: &mut dyn Layer) -> Vec<(String, Tensor)> {
    let mut out = Vec::new();
    let mut path = String::new();
    let mut f = |p: strata_tensor::ParamRef<'_>| out.push((p.name.to_string(), p.value.clone()));
    model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    out
}

/// Every counter of a model (dropout's call count, batch norm's batch
/// count), by name, in visit order: the integer state a training snapshot
/// restores exactly (see [`strata_tensor::ParamVisitor::counter`]).
pub fn counters(model: &mut dyn Layer) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut path = String::new();
    let mut tensors = |_: strata_tensor::ParamRef<'_>| {};
    let mut f = |name: &str, value: &mut u64| out.push((name.to_string(), *value));
    model.visit_parameters(&mut ParamVisitor::with_counters(&mut path, &mut tensors, &mut f));
    out
}

/// Set a model's counters by name. Every counter of the model must be
/// present, and every given counter must be used.
pub fn load_counters(model: &mut dyn Layer, values: &[(String, u64)]) -> Result<()> {
    let mut by_name: HashMap<&str, u64> = values.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let mut missing = None;
    let mut path = String::new();
    let mut tensors = |_: strata_tensor::ParamRef<'_>| {};
    let mut f = |name: &str, value: &mut u64| match by_name.remove(name) {
        Some(v) => *value = v,
        None => {
            missing.get_or_insert_with(|| name.to_string());
        }
    };
    model.visit_parameters(&mut ParamVisitor::with_counters(&mut path, &mut tensors, &mut f));
    if let Some(name) = missing {
        return Err(LayerError::MissingWeight { name });
    }
    if let Some(name) = by_name.keys().min() {
        return Err(LayerError::UnexpectedWeight { name: name.to_string() });
    }
    Ok(())
}

/// Copy tensors into a model by name. Every parameter and buffer of the model
/// must be present with its shape, and every tensor must be used.
pub fn load_state_dict(model: &mut dyn Layer, tensors: &[(String, Tensor)]) -> Result<()> {
    let mut by_name: HashMap<&str, &Tensor> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut first_err = None;
    let mut path = String::new();
    let mut f = |p: strata_tensor::ParamRef<'_>| {
        if first_err.is_some() {
            return;
        }
        match by_name.remove(p.name) {
            None => first_err = Some(LayerError::MissingWeight { name: p.name.to_string() }),
            Some(t) if t.shape() != p.value.shape() => {
                first_err = Some(LayerError::WeightShape {
                    name: p.name.to_string(),
                    expected: p.value.shape().to_vec(),
                    actual: t.shape().to_vec(),
                })
            }
            Some(t) => p.value.copy_from(t),
        }
    };
    model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    if let Some(e) = first_err {
        return Err(e);
    }
    if let Some(name) = by_name.keys().min() {
        return Err(LayerError::UnexpectedWeight { name: name.to_string() });
    }
    Ok(())
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl SavedModel {
    /// Capture a model (spec and every tensor).
    pub fn capture(model: &mut dyn Layer, metadata: BTreeMap<String, String>) -> Result<SavedModel> {
        Ok(SavedModel { spec: model.spec()?, tensors: state_dict(model), metadata })
    }

    /// Rebuild the model with `registry` and load the weights into it.
    pub fn instantiate(&self, registry: &Registry) -> Result<Box<dyn Layer>> {
        let mut model = registry.build(&self.spec, &mut StrataRng::seed_from_u64(0))?;
        load_state_dict(model.as_mut(), &self.tensors)?;
        Ok(model)
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let payload =
            Payload { spec_json: self.spec.to_json()?, tensors: self.tensors.clone(), metadata: self.metadata.clone() };
        let body = codec::encode(&payload).map_err(LayerError::Spec)?;
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(&MODEL_MAGIC);
        out.extend_from_slice(&MODEL_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(&fnv1a(&body).to_le_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Parse a file's bytes; `path` is only used in error messages.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<SavedModel> {
        let bad = |reason: String| LayerError::ModelFormat { path: path.to_path_buf(), reason };
        if bytes.len() < HEADER_LEN {
            return Err(bad(format!("truncated: {} bytes, shorter than the {HEADER_LEN}-byte header", bytes.len())));
        }
        if bytes[..8] != MODEL_MAGIC {
            return Err(bad("wrong magic bytes (not written by Strata)".into()));
        }
        let word = |at: usize, n: usize| -> u64 {
            let mut b = [0u8; 8];
            b[..n].copy_from_slice(&bytes[at..at + n]);
            u64::from_le_bytes(b)
        };
        let version = word(8, 4);
        if version != u64::from(MODEL_FORMAT_VERSION) {
            return Err(bad(format!("format version {version}, this build reads {MODEL_FORMAT_VERSION}")));
        }
        let len = word(12, 8);
        let body = &bytes[HEADER_LEN..];
        if body.len() as u64 != len {
            return Err(bad(format!(
                "truncated: the header announces {len} payload bytes, the file holds {}",
                body.len()
            )));
        }
        if fnv1a(body) != word(20, 8) {
            return Err(bad("checksum mismatch (the file is corrupt)".into()));
        }
        let payload: Payload = codec::decode(body).map_err(|e| bad(format!("payload: {e}")))?;
        let spec = LayerSpec::from_json(&payload.spec_json).map_err(|e| bad(e.to_string()))?;
        Ok(SavedModel { spec, tensors: payload.tensors, metadata: payload.metadata })
    }

    /// Write the model to `path` atomically (a temporary file in the same
    /// folder, synced, then renamed over the target): a crash leaves either
    /// the old file or the new one, never half of one.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        atomic_write(path, &self.to_bytes()?).map_err(|source| LayerError::Io { path: path.to_path_buf(), source })
    }

    /// Read a model file.
    pub fn load(path: impl AsRef<Path>) -> Result<SavedModel> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| LayerError::Io { path: path.to_path_buf(), source })?;
        SavedModel::from_bytes(&bytes, path)
    }
}

/// Write `bytes` to `path` through a temporary sibling file and a rename.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
