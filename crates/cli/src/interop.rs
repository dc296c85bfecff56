//! `strata export` and `strata import`: weights to and from PyTorch
//! (safetensors in its `state_dict` names and layouts) and models to ONNX.

use crate::args::{ExportArgs, ExportFormat, ImportArgs};
use std::collections::HashMap;
use strata::io::SavedModel;
use strata::layers::{LayerSpec, Registry};
use strata::model::Model;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Metadata keys that travel in a safetensors file's header (preprocessing,
/// class names, input shape): an export imports back into the same model.
fn travels(key: &str) -> bool {
    key.starts_with("strata.")
}

pub fn export(a: ExportArgs, registry: &Registry) -> Result<()> {
    crate::checks::output("--out", &a.out, &[("--model", Some(&a.model))])?;
    let mut model = Model::load_with(&a.model, registry)?;
    match a.format {
        ExportFormat::Safetensors => {
            let saved = model.to_saved()?;
            let meta: HashMap<String, String> = saved.metadata.into_iter().filter(|(k, _)| travels(k)).collect();
            let bytes = strata::io::safetensors::export(model.network_mut(), Some(meta))?;
            strata::io::atomic_write(&a.out, &bytes)?;
            let n = strata::io::safetensors::torch_names(model.network_mut()).len();
            outln!("wrote {n} tensors in PyTorch's names and layouts to {}", a.out.display());
        }
        ExportFormat::Onnx => {
            let bytes = model.to_onnx()?;
            strata::io::atomic_write(&a.out, &bytes)?;
            outln!("wrote the ONNX graph (opset {}) to {}", strata::io::onnx::OPSET, a.out.display());
        }
    }
    Ok(())
}

pub fn import(a: ImportArgs, registry: &Registry) -> Result<()> {
    crate::checks::output("--out", &a.out, &[("--weights", Some(&a.weights)), ("--model", Some(&a.model))])?;
    let text = std::fs::read_to_string(&a.model).map_err(|e| format!("{}: {e}", a.model.display()))?;
    let spec = LayerSpec::from_json(&text).map_err(|e| format!("{}: {e}", a.model.display()))?;
    let mut network = crate::run::build_spec_file(&a.model, &spec, registry)?;
    let bytes = std::fs::read(&a.weights).map_err(|e| format!("{}: {e}", a.weights.display()))?;
    strata::io::safetensors::import(network.as_mut(), &bytes, &a.weights)?;
    let metadata = strata::io::safetensors::metadata(&bytes).into_iter().filter(|(k, _)| travels(k)).collect();
    let saved = SavedModel::capture(network.as_mut(), metadata)?;
    let mut model = Model::from_saved(saved, registry, &a.weights)?.with_providers_from(registry);
    model.save(&a.out)?;
    outln!("imported {} into {}", a.weights.display(), a.out.display());
    Ok(())
}
