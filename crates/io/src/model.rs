//! Model files: a layer's spec, its named tensors and free-form metadata.

use crate::container::{self, FileKind};
use crate::error::{IoError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use strata_layers::{Layer, LayerSpec, Registry, counters, load_counters, load_state_dict, state_dict};
use strata_tensor::{StrataRng, Tensor};

/// A model as stored: architecture, weights by name, metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModel {
    /// The architecture.
    pub spec: LayerSpec,
    /// Every parameter and buffer, by name, in visit order.
    pub tensors: Vec<(String, Tensor)>,
    /// Free-form key/value pairs (the command line keeps its preprocessing here).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Every counter (batch norm's `num_batches_tracked`, dropout's call
    /// count), by name; empty in format version 1, which did not keep them.
    #[serde(default)]
    pub counters: Vec<(String, u64)>,
}

impl SavedModel {
    /// Capture a model (spec and every tensor). A model no reader would take
    /// back is refused: a spec nested too deep, a weight that is not finite
    /// or a negative running variance ([`strata_layers::check_finite`]).
    pub fn capture(model: &mut dyn Layer, metadata: BTreeMap<String, String>) -> strata_layers::Result<SavedModel> {
        let spec = model.spec()?;
        spec.check_depth()?;
        strata_layers::check_finite(model)?;
        Ok(SavedModel { spec, tensors: state_dict(model), metadata, counters: counters(model) })
    }

    /// Rebuild the model with `registry` and load the weights into it.
    pub fn instantiate(&self, registry: &Registry) -> strata_layers::Result<Box<dyn Layer>> {
        let mut model = registry.build(&self.spec, &mut StrataRng::seed_from_u64(0))?;
        load_state_dict(model.as_mut(), &self.tensors)?;
        if !self.counters.is_empty() {
            load_counters(model.as_mut(), &self.counters)?;
        }
        Ok(model)
    }

    /// The file's bytes (the current format version).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        container::encode(FileKind::Model, self)
    }

    /// Parse a file's bytes, of any format version; `path` names the file
    /// in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<SavedModel> {
        SavedModel::from_vec(bytes.to_vec(), path)
    }

    fn from_vec(bytes: Vec<u8>, path: &Path) -> Result<SavedModel> {
        let header = container::header(&bytes, FileKind::Model, path)?;
        if header.version == 1 {
            return crate::legacy::read_model_v1(&bytes, path);
        }
        container::decode(bytes, FileKind::Model, path)
    }

    /// Write the model to `path` atomically (see [`crate::atomic_write`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::atomic_write(path.as_ref(), &self.to_bytes()?)
    }

    /// Read a model file.
    pub fn load(path: impl AsRef<Path>) -> Result<SavedModel> {
        let path = path.as_ref();
        SavedModel::from_vec(read(path)?, path)
    }
}

/// A file's bytes, with the path in the error.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| IoError::io(path, e))
}
