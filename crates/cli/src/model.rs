//! What the command line keeps in a model file besides the network: the
//! preprocessing fitted at training time and how the data was read.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::Path;
use strata::data::Normalizer;
use strata::layers::{Layer, SavedModel};

const NORMALIZER: &str = "strata.cli.normalizer";
const LABEL_COLUMN: &str = "strata.cli.label_column";
const N_CLASSES: &str = "strata.cli.n_classes";

pub struct CliModel {
    pub network: Box<dyn Layer>,
    pub normalizer: Normalizer,
    pub label_column: String,
    pub n_classes: Option<usize>,
    pub input_shape: Vec<usize>,
}

pub fn save(
    path: &Path,
    network: &mut dyn Layer,
    normalizer: &Normalizer,
    label_column: &str,
    n_classes: Option<usize>,
) -> Result<(), Box<dyn Error>> {
    let mut meta = BTreeMap::new();
    meta.insert(NORMALIZER.to_string(), serde_json::to_string(normalizer)?);
    meta.insert(LABEL_COLUMN.to_string(), label_column.to_string());
    if let Some(n) = n_classes {
        meta.insert(N_CLASSES.to_string(), n.to_string());
    }
    SavedModel::capture(network, meta)?.save(path)?;
    Ok(())
}

pub fn load(path: &Path) -> Result<CliModel, Box<dyn Error>> {
    let saved = SavedModel::load(path)?;
    let network = saved.instantiate(&crate::registry())?;
    let bad = |what: &str| format!("{}: model metadata '{what}' is invalid", path.display());
    let normalizer = match saved.metadata.get(NORMALIZER) {
        Some(s) => serde_json::from_str(s).map_err(|_| bad(NORMALIZER))?,
        None => Normalizer::None,
    };
    let n_classes = match saved.metadata.get(N_CLASSES) {
        Some(s) => Some(s.parse().map_err(|_| bad(N_CLASSES))?),
        None => None,
    };
    let input_shape = crate::run::spec_input_shape(&saved.spec).unwrap_or_default();
    Ok(CliModel {
        network,
        normalizer,
        label_column: saved.metadata.get(LABEL_COLUMN).cloned().unwrap_or_else(|| "last".into()),
        n_classes,
        input_shape,
    })
}
