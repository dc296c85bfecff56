//! [`Model`]: a network with everything inference needs besides its weights.

use crate::error::{ModelError, Result};
use std::collections::BTreeMap;
use std::path::Path;
use strata_activation::{Activation, Softmax, sigmoid};
use strata_data::Normalizer;
use strata_io::SavedModel;
use strata_layers::{Dim, Layer, LayerError, LayerSpec, Mode, Registry, ShapeDisplay, shape_accepts};
use strata_tensor::{StrataRng, Tensor};

/// The metadata keys a model file uses (see the crate documentation).
pub mod keys {
    /// The per-sample input shape, JSON (`[784]`, `[null, 28]`).
    pub const INPUT_SHAPE: &str = "strata.input_shape";
    /// The input preprocessing, JSON of a `strata_data::Normalizer`.
    pub const PREPROCESSING: &str = "strata.preprocessing";
    /// The class names, a JSON array of strings.
    pub const CLASS_NAMES: &str = "strata.class_names";
    /// The crate providing each layer kind, a JSON object.
    pub const PROVIDERS: &str = "strata.providers";
    /// Where the command line kept the preprocessing before this type
    /// existed; read when [`PREPROCESSING`] is absent.
    pub const LEGACY_CLI_NORMALIZER: &str = "strata.cli.normalizer";
}

/// Rows per inference batch.
const BATCH: usize = 512;

/// A trained network with what inference needs besides the weights: the
/// per-sample input shape, the input preprocessing fitted at training time
/// (a scaler), the class names, free-form metadata. What `strata train --out`
/// writes and what user code saves and loads; [`Model::predict`] takes raw
/// features, as read from the data, and gives what `strata predict` prints.
///
/// ```
/// use strata_data::{Normalizer, StandardScaler};
/// use strata_model::Model;
/// use strata_tensor::Tensor;
///
/// let spec = strata_layers::LayerSpec::from_json(r#"{"kind": "sequential", "config": {"input_shape": [2],
///     "layers": [{"kind": "dense", "config": {"n_inputs": 2, "n_outputs": 3}}]}}"#)?;
/// let raw = Tensor::from_vec(&[2, 2], vec![10.0, 200.0, 30.0, 400.0])?;
/// let scaler = StandardScaler::fit(&raw)?;
/// let mut model = Model::from_spec(&spec, 7)?
///     .with_preprocessing(Normalizer::Standard(scaler))
///     .with_class_names(vec!["setosa".into(), "versicolor".into(), "virginica".into()])?;
///
/// let classes = model.predict(&raw)?;                     // one class per row
/// let names = model.predict_labels(&raw)?;
/// assert_eq!(names[0], model.class_names().unwrap()[classes[0]]);
/// let p = model.predict_proba(&raw)?;                     // [2, 3], rows sum to 1
/// assert!((p.data()[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
///
/// let path = std::env::temp_dir().join(format!("strata-model-doc-{}.strata", std::process::id()));
/// model.save(&path)?;
/// let mut again = Model::load(&path)?;
/// assert_eq!(again.predict(&raw)?, classes);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Model {
    network: Box<dyn Layer>,
    input_shape: Vec<Dim>,
    preprocessing: Normalizer,
    class_names: Option<Vec<String>>,
    metadata: BTreeMap<String, String>,
    providers: BTreeMap<String, String>,
    /// The sample shape and batch whose activations last passed
    /// [`crate::check_activations`]: a repeated call with them skips the
    /// check. [`Model::network_mut`] forgets it.
    checked: Option<(Vec<usize>, usize)>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("network", &self.network.kind())
            .field("input_shape", &ShapeDisplay(&self.input_shape).to_string())
            .field("preprocessing", &self.preprocessing)
            .field("class_names", &self.class_names)
            .field("metadata", &self.metadata)
            .finish()
    }
}

/// The input shape a spec declares (a `sequential`'s `input_shape`).
fn declared_input_shape(spec: &LayerSpec) -> Option<Vec<Dim>> {
    spec.config.get("input_shape").and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// The input shape `network`'s spec declares, or the error saying there is none.
fn declared_input_shape_of(network: &dyn Layer) -> Result<Vec<Dim>> {
    Ok(declared_input_shape(&network.spec()?).ok_or_else(|| LayerError::InvalidConfig {
        layer: network.kind().to_string(),
        reason: "its spec declares no input_shape; use Model::with_input_shape".into(),
    })?)
}

impl Model {
    /// A model of `network`, whose input shape its spec declares (a
    /// `Sequential` does). No preprocessing, no class names.
    pub fn new(network: Box<dyn Layer>) -> Result<Model> {
        let input_shape = declared_input_shape_of(network.as_ref())?;
        Model::with_input_shape(network, &input_shape)
    }

    /// A model of `network` for samples of `input_shape`.
    pub fn with_input_shape(network: Box<dyn Layer>, input_shape: &[Dim]) -> Result<Model> {
        Model::assemble(network, input_shape, &crate::registry())
    }

    /// A model of `network` for samples of `input_shape`, whose layer kinds
    /// `registry` says which crate provides.
    fn assemble(network: Box<dyn Layer>, input_shape: &[Dim], registry: &Registry) -> Result<Model> {
        network.output_shape(input_shape)?;
        let providers = match network.spec() {
            Ok(spec) => registry.providers_of(&spec),
            Err(_) => BTreeMap::new(),
        };
        Ok(Model {
            network,
            input_shape: input_shape.to_vec(),
            preprocessing: Normalizer::None,
            class_names: None,
            metadata: BTreeMap::new(),
            providers,
            checked: None,
        })
    }

    /// Build `spec` with the default [`crate::registry`], weights drawn from `seed`.
    pub fn from_spec(spec: &LayerSpec, seed: u64) -> Result<Model> {
        Model::from_spec_with(spec, seed, &crate::registry())
    }

    /// Build `spec` with `registry` (for third-party layer kinds).
    pub fn from_spec_with(spec: &LayerSpec, seed: u64, registry: &Registry) -> Result<Model> {
        crate::check_budget(spec, crate::default_budget())?;
        let network = registry.build(spec, &mut StrataRng::seed_from_u64(seed))?;
        let input_shape = declared_input_shape_of(network.as_ref())?;
        Model::assemble(network, &input_shape, registry)
    }

    /// Record which crate provides each layer kind as `registry` says (a
    /// registry with third-party kinds): saved with the model, so that
    /// loading it where a kind is missing names the crate.
    pub fn with_providers_from(mut self, registry: &Registry) -> Model {
        if let Ok(spec) = self.network.spec() {
            self.providers = registry.providers_of(&spec);
        }
        self
    }

    /// The preprocessing [`Model::predict`] applies to raw features (a scaler
    /// fitted on the training data).
    pub fn with_preprocessing(mut self, preprocessing: Normalizer) -> Model {
        self.preprocessing = preprocessing;
        self
    }

    /// Names of the classes, one per output of the network.
    pub fn with_class_names(mut self, names: Vec<String>) -> Result<Model> {
        let n_outputs = self.n_outputs();
        if n_outputs != Some(names.len()) && !(n_outputs == Some(1) && names.len() == 2) {
            return Err(ModelError::ClassNames { n_outputs: n_outputs.unwrap_or(0), n_names: names.len() });
        }
        class_names_printable(&names).map_err(ModelError::ClassName)?;
        self.class_names = Some(names);
        Ok(self)
    }

    /// A free-form metadata entry, saved with the model.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Model {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The network.
    pub fn network(&self) -> &dyn Layer {
        self.network.as_ref()
    }

    /// The network, to train it (`trainer.fit(model.network_mut(), ..)`).
    pub fn network_mut(&mut self) -> &mut dyn Layer {
        self.checked = None;
        self.network.as_mut()
    }

    /// Give up the network.
    pub fn into_network(self) -> Box<dyn Layer> {
        self.network
    }

    /// The per-sample input shape.
    pub fn input_shape(&self) -> &[Dim] {
        &self.input_shape
    }

    /// The input preprocessing.
    pub fn preprocessing(&self) -> &Normalizer {
        &self.preprocessing
    }

    /// The class names, if the model has them.
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// The metadata (without the keys of [`keys`], which have accessors).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Width of the output's last axis, if fixed (the number of classes of a
    /// classifier; 1 for a single logit).
    pub fn n_outputs(&self) -> Option<usize> {
        self.network.output_shape(&self.input_shape).ok()?.last()?.fixed()
    }

    /// Number of classes of a classifier: the output width, or 2 for a single logit.
    pub fn n_classes(&self) -> Option<usize> {
        self.n_outputs().map(|n| if n == 1 { 2 } else { n })
    }

    /// A Keras-style table of the layers.
    pub fn summary(&mut self) -> String {
        let shape = self.input_shape.clone();
        strata_layers::summary(self.network.as_mut(), &shape).unwrap_or_else(|e| e.to_string())
    }

    /// Raw features as the network takes them: rows whose values are the
    /// input shape's, flat or not, are reshaped to it, then preprocessed.
    pub fn preprocess(&self, features: &mut Tensor, operation: &'static str) -> Result<()> {
        let s = features.shape();
        let sample = s.get(1..).unwrap_or(&[]);
        if !shape_accepts(&self.input_shape, sample) {
            let fixed: Option<Vec<usize>> = self.input_shape.iter().map(|d| d.fixed()).collect();
            match fixed {
                Some(want) if s.len() >= 2 && want.iter().product::<usize>() == features.row_len() => {
                    let mut full = vec![s[0]];
                    full.extend_from_slice(&want);
                    features.reshape_in_place(&full)?;
                }
                _ => {
                    return Err(ModelError::InputShape {
                        operation,
                        expected: ShapeDisplay(&self.input_shape).to_string(),
                        actual: s.to_vec(),
                    });
                }
            }
        }
        self.preprocessing.transform(features)?;
        Ok(())
    }

    /// The network's raw outputs (logits) for raw features, in inference
    /// mode, in batches of 512 rows.
    pub fn output(&mut self, features: &Tensor) -> Result<Tensor> {
        self.output_for(features, "output")
    }

    /// The outputs of [`Model::output`], denormals flushed as in training
    /// (`strata_tensor::par::denormal::scoped`): the caller's thread gets its
    /// own mode back.
    fn output_for(&mut self, features: &Tensor, operation: &'static str) -> Result<Tensor> {
        strata_tensor::par::denormal::scoped(|| self.forward_all(features, operation))
    }

    /// Preprocessing, the activation check and the forward pass, in batches.
    fn forward_all(&mut self, features: &Tensor, operation: &'static str) -> Result<Tensor> {
        let mut x = features.clone();
        self.preprocess(&mut x, operation)?;
        let n = x.n_rows();
        self.check_activations(&x, n.min(BATCH))?;
        if (1..=BATCH).contains(&n) {
            return Ok(self.network.forward(&x, Mode::Eval)?.clone());
        }
        let mut shape = vec![0];
        let mut data = Vec::new();
        for start in (0..n).step_by(BATCH) {
            let chunk = x.slice_rows(start, (start + BATCH).min(n))?;
            let y = self.network.forward(&chunk, Mode::Eval)?;
            data.extend_from_slice(y.data());
            if start == 0 {
                shape = y.shape().to_vec();
            }
        }
        shape[0] = n;
        Ok(Tensor::from_vec(&shape, data)?)
    }

    /// The predicted class of every row of the output's last axis: the
    /// largest logit (the first, on ties), or for a single logit, 1 when it
    /// is positive. What `strata predict` prints (as indices).
    pub fn predict(&mut self, features: &Tensor) -> Result<Vec<usize>> {
        let y = self.output_for(features, "predict")?;
        Ok(classes(&y))
    }

    /// [`crate::check_activations`] for batches of `batch` samples of
    /// `features`' shape, unless the last call checked as many of them.
    fn check_activations(&mut self, features: &Tensor, batch: usize) -> Result<()> {
        let Some(sample) = features.shape().get(1..) else { return Ok(()) };
        if let Some((shape, checked)) = &self.checked
            && shape == sample
            && batch <= *checked
        {
            return Ok(());
        }
        crate::check_activations(self.network.as_ref(), sample, batch, crate::default_activation_budget())?;
        self.checked = Some((sample.to_vec(), batch));
        Ok(())
    }

    /// [`Model::predict`] as class names (the index, when the model has none).
    pub fn predict_labels(&mut self, features: &Tensor) -> Result<Vec<String>> {
        let y = self.output_for(features, "predict")?;
        Ok(self.labels_of(&y))
    }

    /// The class names of outputs [`Model::output`] gave (indices, when the
    /// model has no names): for a caller that also needs the outputs.
    pub fn labels_of(&self, output: &Tensor) -> Vec<String> {
        classes(output)
            .into_iter()
            .map(|c| match self.class_names.as_ref().and_then(|n| n.get(c)) {
                Some(name) => name.clone(),
                None => c.to_string(),
            })
            .collect()
    }

    /// The model as an ONNX graph (opset [`strata_io::onnx::OPSET`]), its
    /// input preprocessing as the graph's first operations, so the graph
    /// takes raw features as [`Model::predict`] does.
    pub fn to_onnx(&mut self) -> Result<Vec<u8>> {
        use strata_io::onnx::ScaleStep;
        let scaling = match &self.preprocessing {
            Normalizer::None => vec![],
            Normalizer::Scale { factor } => vec![ScaleStep::Mul(vec![*factor])],
            Normalizer::MinMax(m) => vec![ScaleStep::Sub(m.min.clone()), ScaleStep::Mul(m.scale.clone())],
            Normalizer::Standard(s) => vec![ScaleStep::Sub(s.mean.clone()), ScaleStep::Div(s.std.clone())],
        };
        Ok(strata_io::onnx::export(self.network.as_mut(), &self.input_shape, &scaling)?)
    }

    /// Class probabilities: the softmax of the logits over the last axis, or
    /// for a single logit `[1 - σ(x), σ(x)]` (two columns).
    pub fn predict_proba(&mut self, features: &Tensor) -> Result<Tensor> {
        let y = self.output_for(features, "predict_proba")?;
        if y.shape().last() == Some(&1) {
            let mut shape = y.shape().to_vec();
            if let Some(last) = shape.last_mut() {
                *last = 2;
            }
            let data = y.data().iter().map(|&x| sigmoid(x)).flat_map(|p| [1.0 - p, p]).collect();
            return Ok(Tensor::from_vec(&shape, data)?);
        }
        let mut p = Tensor::default();
        Softmax.forward(&y, &mut p).map_err(LayerError::from)?;
        Ok(p)
    }

    /// The model as a [`SavedModel`]: spec, tensors, and metadata with the
    /// input shape, preprocessing, class names and layer providers.
    pub fn to_saved(&mut self) -> Result<SavedModel> {
        preprocessing_fits(&self.preprocessing, &self.input_shape)
            .map_err(|reason| ModelError::Unsavable { key: "preprocessing", reason })?;
        let mut meta = self.metadata.clone();
        let json = |v: &dyn erased::Json| v.json();
        meta.insert(keys::INPUT_SHAPE.into(), json(&self.input_shape));
        meta.insert(keys::PREPROCESSING.into(), json(&self.preprocessing));
        if let Some(names) = &self.class_names {
            meta.insert(keys::CLASS_NAMES.into(), json(names));
        }
        if !self.providers.is_empty() {
            meta.insert(keys::PROVIDERS.into(), json(&self.providers));
        }
        Ok(SavedModel::capture(self.network.as_mut(), meta)?)
    }

    /// Write the model file atomically.
    pub fn save(&mut self, path: impl AsRef<Path>) -> Result<()> {
        Ok(self.to_saved()?.save(path)?)
    }

    /// Read a model file, building its layers with the default
    /// [`crate::registry`] (every layer crate of the workspace).
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        Model::load_with(path, &crate::registry())
    }

    /// Read a model file, building its layers with `registry` (add a
    /// third-party crate's kinds to [`crate::registry`] first).
    pub fn load_with(path: impl AsRef<Path>, registry: &Registry) -> Result<Model> {
        let path = path.as_ref();
        Model::from_saved(SavedModel::load(path)?, registry, path)
    }

    /// A model from a [`SavedModel`]; `path` names it in errors.
    pub fn from_saved(saved: SavedModel, registry: &Registry, path: &Path) -> Result<Model> {
        let meta = Meta { path, map: &saved.metadata };
        let providers: BTreeMap<String, String> = meta.json(keys::PROVIDERS)?.unwrap_or_default();
        crate::check_budget(&saved.spec, crate::default_budget()).map_err(|e| match e {
            ModelError::TooManyParameters { layer, kind, count, total, budget, .. } => {
                ModelError::TooManyParameters { file: Some(path.to_path_buf()), layer, kind, count, total, budget }
            }
            other => other,
        })?;
        // Every error of the file's layers names the file.
        let mut network = saved.instantiate(registry).map_err(|e| {
            let source = match e {
                LayerError::UnknownKind { kind, known, provider } => {
                    let provider = providers.get(&kind).cloned().or(provider);
                    LayerError::UnknownKind { kind, known, provider }
                }
                other => other,
            };
            ModelError::LayerInFile { path: path.to_path_buf(), source }
        })?;
        strata_layers::check_finite(network.as_mut())
            .map_err(|source| ModelError::LayerInFile { path: path.to_path_buf(), source })?;
        let input_shape = match meta.json::<Vec<Dim>>(keys::INPUT_SHAPE)? {
            Some(shape) => shape,
            None => declared_input_shape(&saved.spec).unwrap_or_default(),
        };
        let preprocessing = match meta.json(keys::PREPROCESSING)? {
            Some(p) => p,
            None => meta.json(keys::LEGACY_CLI_NORMALIZER)?.unwrap_or_default(),
        };
        let class_names: Option<Vec<String>> = meta.json(keys::CLASS_NAMES)?;
        let output_shape = network.output_shape(&input_shape);
        if saved.metadata.contains_key(keys::INPUT_SHAPE)
            && let Err(e) = &output_shape
        {
            meta.check(keys::INPUT_SHAPE, Err(format!("the network refuses it: {e}")))?;
        }
        meta.check(keys::PREPROCESSING, preprocessing_fits(&preprocessing, &input_shape))?;
        let n_outputs = output_shape.ok().and_then(|s| s.last().and_then(|d| d.fixed()));
        meta.check(keys::CLASS_NAMES, class_names_fit(class_names.as_deref(), n_outputs))?;
        let metadata = saved.metadata.iter().filter(|(k, _)| !is_model_key(k)).map(|(k, v)| (k.clone(), v.clone()));
        let metadata = metadata.collect();
        Ok(Model { network, input_shape, preprocessing, class_names, metadata, providers, checked: None })
    }
}

fn is_model_key(key: &str) -> bool {
    [keys::INPUT_SHAPE, keys::PREPROCESSING, keys::CLASS_NAMES, keys::PROVIDERS, keys::LEGACY_CLI_NORMALIZER]
        .contains(&key)
}

/// The class of every row of the last axis (see [`Model::predict`]).
fn classes(y: &Tensor) -> Vec<usize> {
    let w = y.shape().last().copied().unwrap_or(1).max(1);
    y.data()
        .chunks_exact(w)
        .map(|row| if w == 1 { usize::from(row[0] > 0.0) } else { strata_tensor::argmax(row) })
        .collect()
}

/// A model file's metadata, read with errors naming the file and the key.
struct Meta<'a> {
    path: &'a Path,
    map: &'a BTreeMap<String, String>,
}

/// A scaler fitted per feature has as many features as a sample of the input.
fn preprocessing_fits(p: &Normalizer, input_shape: &[Dim]) -> std::result::Result<(), String> {
    p.check()?;
    let n = input_shape.iter().try_fold(1usize, |n, d| n.checked_mul(d.fixed()?));
    match (p.width(), n) {
        (Some(w), Some(n)) if w != n => Err(format!("scales {w} features, but a sample of the model's input has {n}")),
        _ => Ok(()),
    }
}

/// One class name an output (two for a single logit), each once.
fn class_names_fit(names: Option<&[String]>, n_outputs: Option<usize>) -> std::result::Result<(), String> {
    let (Some(names), Some(n)) = (names, n_outputs) else { return Ok(()) };
    if names.len() != n && !(n == 1 && names.len() == 2) {
        return Err(format!("{} class names for {n} outputs", names.len()));
    }
    class_names_printable(names)
}

/// Each name once, and none with a control character (`predict` prints
/// one name a line).
fn class_names_printable(names: &[String]) -> std::result::Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(format!("the class name '{twice}' occurs twice"));
    }
    match names.iter().find(|n| n.chars().any(char::is_control)) {
        Some(name) => Err(format!("the class name {name:?} holds a control character (a line break, a tab, ...)")),
        None => Ok(()),
    }
}

impl Meta<'_> {
    fn check(&self, key: &str, fits: std::result::Result<(), String>) -> Result<()> {
        fits.map_err(|reason| ModelError::Metadata { path: self.path.to_path_buf(), key: key.to_string(), reason })
    }

    fn json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let Some(text) = self.map.get(key) else { return Ok(None) };
        serde_json::from_str(text).map(Some).map_err(|e| ModelError::Metadata {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            reason: e.to_string(),
        })
    }
}

/// JSON text of the metadata values (each serializes without failing).
mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}
