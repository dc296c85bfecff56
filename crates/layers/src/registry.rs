use crate::activation::ActivationLayer;
use crate::dense::{Dense, DenseConfig};
use crate::dropout::{Dropout, DropoutConfig};
use crate::error::{LayerError, Result};
use crate::flatten::Flatten;
use crate::layer::Layer;
use crate::reshape::{Reshape, ReshapeConfig};
use crate::residual::Residual;
use crate::sequential::{Sequential, SequentialConfig};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use strata_activation::ActivationKind;
use strata_tensor::StrataRng;

/// What a model file or a model spec says about one layer: its kind (the
/// registry key) and its configuration as JSON. Weights travel separately.
///
/// ```
/// use strata_layers::LayerSpec;
/// let spec: LayerSpec = serde_json::from_str(r#"{"kind": "dense", "config": {"n_inputs": 4, "n_outputs": 2}}"#).unwrap();
/// assert_eq!(spec.kind, "dense");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerSpec {
    /// Registry key, e.g. `dense`.
    pub kind: String,
    /// The layer's configuration (`null` for layers without one).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub config: serde_json::Value,
}

/// How deep a spec's JSON may nest to travel in a file (serde_json reads
/// 128 levels; the file's own structure takes some).
pub const MAX_SPEC_DEPTH: usize = 100;

impl LayerSpec {
    /// A spec from a serializable configuration.
    pub fn new(kind: &str, config: &impl Serialize) -> Result<LayerSpec> {
        let config = serde_json::to_value(config).map_err(|e| LayerError::Spec(format!("{kind}: {e}")))?;
        Ok(LayerSpec { kind: kind.to_string(), config })
    }

    /// Parse the configuration as `T`; a wrong field, or one `T` does not
    /// have (a typo such as `"bais"`, which would otherwise leave the
    /// default in place unnoticed, as Keras and PyTorch refuse an unknown
    /// keyword), is a [`LayerError::Spec`] naming the kind.
    pub fn config<T: DeserializeOwned + Serialize>(&self) -> Result<T> {
        let value = if self.config.is_null() { serde_json::json!({}) } else { self.config.clone() };
        let spec_error = |e: &dyn std::fmt::Display| LayerError::Spec(format!("layer '{}': {e}", self.kind));
        let parsed: T = serde_json::from_value(value.clone()).map_err(|e| spec_error(&e))?;
        // The fields `T` has are those it writes back (a null value may stand for an omitted option).
        if let (Some(given), Ok(serde_json::Value::Object(known))) = (value.as_object(), serde_json::to_value(&parsed))
            && let Some(unknown) = given.iter().find(|(k, v)| !v.is_null() && !known.contains_key(*k)).map(|e| e.0)
        {
            let fields = known.keys().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ");
            let takes = if known.is_empty() { "it takes none".to_string() } else { format!("its fields: {fields}") };
            return Err(spec_error(&format!("unknown field '{unknown}' ({takes})")));
        }
        Ok(parsed)
    }

    /// Refuse a spec nested deeper than [`MAX_SPEC_DEPTH`] levels of JSON
    /// (a residual inside a residual, 60 times over, built in code): no
    /// reader of a model file or a checkpoint would take it back.
    pub fn check_depth(&self) -> Result<()> {
        let mut deepest = 0;
        let mut stack = vec![(&self.config, 2usize)];
        while let Some((value, depth)) = stack.pop() {
            deepest = deepest.max(depth);
            match value {
                serde_json::Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
                serde_json::Value::Object(map) => stack.extend(map.values().map(|v| (v, depth + 1))),
                _ => {}
            }
        }
        if deepest > MAX_SPEC_DEPTH {
            return Err(LayerError::Spec(format!(
                "the spec nests {deepest} levels of JSON deep; a model file or a checkpoint holds at most \
                 {MAX_SPEC_DEPTH} (its reader's limit), so it could not be read back"
            )));
        }
        Ok(())
    }

    /// Check that a kind without options was given none (`{}`, or no
    /// `config` at all): `{"kind": "relu", "config": {"slope": 0.2}}` is
    /// refused, as [`LayerSpec::config`] refuses a field its type lacks.
    pub fn no_config(&self) -> Result<()> {
        #[derive(Deserialize, Serialize)]
        struct NoConfig {}
        self.config::<NoConfig>().map(|_| ())
    }

    /// Parse a spec from JSON text (a model spec file).
    pub fn from_json(text: &str) -> Result<LayerSpec> {
        // A UTF-8 byte order mark, as some Windows editors write, is skipped
        // (RFC 8259 allows a parser to ignore it).
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let at = |e: serde_json::Error| {
            // serde_json's message ends with the place, which goes first here.
            let place = format!(" at line {} column {}", e.line(), e.column());
            let message = e.to_string();
            let problem = message.strip_suffix(&place).unwrap_or(&message);
            LayerError::Spec(format!("line {}, column {}: {problem}", e.line(), e.column()))
        };
        // A key given twice in one object (`"n_outputs": 3, ..., "n_outputs": 10`)
        // is refused: JSON readers keep the last one, silently.
        unique_keys(text.as_bytes()).map_err(at)?;
        serde_json::from_str(text).map_err(at)
    }

    /// The spec as pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| LayerError::Spec(e.to_string()))
    }
}

/// Check that each object of the JSON document `json` names a key once
/// (the error is placed at the second occurrence): JSON readers keep the
/// last value of a repeated key in silence. Model spec files and the
/// documents of model files and checkpoints are checked with it.
pub fn unique_keys(json: &[u8]) -> std::result::Result<(), serde_json::Error> {
    serde_json::from_slice::<UniqueKeys>(json).map(|_| ())
}

/// Any JSON value whose objects each name a key once; deserializing it is
/// the check.
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> std::result::Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<UniqueKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(serde::de::Error::custom(format_args!("the key \"{key}\" is given twice in one object")));
            }
            map.next_value::<UniqueKeys>()?;
            seen.insert(key);
        }
        Ok(UniqueKeys)
    }
}

/// Builds a layer from its spec. `rng` draws initial weights (a loaded model
/// overwrites them) and derives seeds (dropout).
pub type LayerBuilder = fn(&LayerSpec, &Registry, &mut StrataRng) -> Result<Box<dyn Layer>>;

/// Maps layer kinds to builders: the open set of layers a model spec or a
/// model file may name. A layer crate registers its kinds; nothing in the
/// core crates needs to change for a new layer.
///
/// ```
/// use strata_layers::{LayerSpec, Registry};
/// use strata_tensor::StrataRng;
/// let registry = Registry::with_builtins();
/// let spec = LayerSpec::from_json(r#"{"kind": "sequential", "config": {"input_shape": [4], "layers": [
///     {"kind": "dense", "config": {"n_inputs": 4, "n_outputs": 3}}, {"kind": "relu"}]}}"#)?;
/// let model = registry.build(&spec, &mut StrataRng::seed_from_u64(1))?;
/// assert_eq!(model.output_shape(&strata_layers::dims(&[4]))?, vec![3]);
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Registry {
    builders: BTreeMap<String, LayerBuilder>,
    /// The crate that registered each kind.
    providers: BTreeMap<String, String>,
}

/// The crates of the Strata workspace that provide layer kinds beyond the
/// built-ins: named in the error for a kind a registry lacks.
const KNOWN_PROVIDERS: &[(&str, &str)] = &[
    ("conv2d", "strata-conv"),
    ("max_pool2d", "strata-conv"),
    ("avg_pool2d", "strata-conv"),
    ("global_avg_pool", "strata-conv"),
    ("batch_norm", "strata-normalization"),
    ("layer_norm", "strata-normalization"),
    ("embedding", "strata-attention"),
    ("positional_encoding", "strata-attention"),
    ("multi_head_attention", "strata-attention"),
    ("transformer_encoder_block", "strata-attention"),
    ("transformer_decoder_block", "strata-attention"),
    ("sequence_pool", "strata-attention"),
];

impl Registry {
    /// A registry with no kinds.
    pub fn new() -> Self {
        Registry::default()
    }

    /// A registry with this crate's kinds: `dense`, `dropout`, `flatten`,
    /// `reshape`, `sequential`, `residual` and one per activation (`relu`, `softmax`, ...).
    pub fn with_builtins() -> Self {
        let mut r = Registry::new();
        r.register_builtins();
        r
    }

    fn register_builtins(&mut self) {
        let builtins: [(&str, LayerBuilder); 6] = [
            ("dense", |spec, _, rng| Ok(Box::new(Dense::new(spec.config::<DenseConfig>()?, rng)?))),
            ("dropout", |spec, _, rng| {
                let mut config: DropoutConfig = spec.config()?;
                if config.seed == 0 {
                    config.seed = rng.next_u64();
                }
                Ok(Box::new(Dropout::new(config)?))
            }),
            ("flatten", |spec, _, _| {
                spec.no_config()?;
                Ok(Box::new(Flatten::new()))
            }),
            ("reshape", |spec, _, _| Ok(Box::new(Reshape::new(spec.config::<ReshapeConfig>()?)?))),
            ("sequential", |spec, registry, rng| {
                let config: SequentialConfig = spec.config()?;
                let layers = config.layers.iter().map(|s| registry.build(s, rng)).collect::<Result<Vec<_>>>()?;
                Ok(Box::new(Sequential::with_dims(&config.input_shape, layers)?))
            }),
            ("residual", |spec, registry, rng| {
                #[derive(Deserialize, Serialize)]
                struct ResidualConfig {
                    inner: LayerSpec,
                }
                let config: ResidualConfig = spec.config()?;
                Ok(Box::new(Residual::new(registry.build(&config.inner, rng)?)))
            }),
        ];
        for (kind, builder) in builtins {
            self.builders.insert(kind.to_string(), builder);
            self.providers.insert(kind.to_string(), env!("CARGO_PKG_NAME").to_string());
        }
        let activation: LayerBuilder = |spec, _, _| {
            let kind = match spec.kind.as_str() {
                "leaky_relu" => {
                    #[derive(Deserialize, Serialize)]
                    struct Slope {
                        #[serde(default = "default_slope")]
                        slope: f32,
                    }
                    fn default_slope() -> f32 {
                        0.01
                    }
                    let slope = spec.config::<Slope>()?.slope;
                    // `LeakyRelu::new`'s rule, applied when the spec is
                    // built rather than first in a forward pass.
                    if strata_activation::LeakyRelu::new(slope).is_err() {
                        return Err(LayerError::InvalidConfig {
                            layer: "leaky_relu".into(),
                            reason: format!("slope must be a finite number, got {slope}"),
                        });
                    }
                    ActivationKind::LeakyRelu { slope }
                }
                other => {
                    spec.no_config()?;
                    other.parse::<ActivationKind>()?
                }
            };
            Ok(Box::new(ActivationLayer::new(kind)))
        };
        for kind in ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_erf", "softmax"] {
            self.builders.insert(kind.to_string(), activation);
            self.providers.insert(kind.to_string(), env!("CARGO_PKG_NAME").to_string());
        }
    }

    /// Add a kind whose provider is not named (prefer
    /// [`Registry::register_from`]). Registering a kind twice is an error.
    pub fn register(&mut self, kind: &str, builder: LayerBuilder) -> Result<()> {
        self.register_from("", kind, builder)
    }

    /// Add a kind provided by the crate `provider` (pass
    /// `env!("CARGO_PKG_NAME")`): model files record it, so that loading one
    /// where the kind is missing names the crate to add. Registering a kind
    /// twice is a [`LayerError::DuplicateKind`].
    ///
    /// ```
    /// use strata_layers::{Flatten, Layer, LayerError, Registry};
    /// let mut r = Registry::with_builtins();
    /// r.register_from("my-layers", "my_flatten", |_, _, _| Ok(Box::new(Flatten::new()) as Box<dyn Layer>))?;
    /// assert_eq!(r.provider("my_flatten"), Some("my-layers"));
    /// let again = r.register_from("my-layers", "my_flatten", |_, _, _| Ok(Box::new(Flatten::new()) as Box<dyn Layer>));
    /// assert!(matches!(again, Err(LayerError::DuplicateKind { .. })));
    /// # Ok::<(), LayerError>(())
    /// ```
    pub fn register_from(&mut self, provider: &str, kind: &str, builder: LayerBuilder) -> Result<()> {
        if self.builders.contains_key(kind) {
            return Err(LayerError::DuplicateKind { kind: kind.to_string() });
        }
        self.builders.insert(kind.to_string(), builder);
        if !provider.is_empty() {
            self.providers.insert(kind.to_string(), provider.to_string());
        }
        Ok(())
    }

    /// The crate that registered `kind`, when it said.
    pub fn provider(&self, kind: &str) -> Option<&str> {
        self.providers.get(kind).map(String::as_str)
    }

    /// The providers of every kind in a spec (recursively through composites'
    /// configurations), as far as this registry knows them.
    pub fn providers_of(&self, spec: &LayerSpec) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        collect_kinds(&serde_json::to_value(spec).unwrap_or_default(), &mut |kind| {
            if let Some(p) = self.provider(kind) {
                out.insert(kind.to_string(), p.to_string());
            }
        });
        out
    }

    /// Whether `kind` is registered.
    pub fn contains(&self, kind: &str) -> bool {
        self.builders.contains_key(kind)
    }

    /// The registered kinds, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.builders.keys().map(String::as_str)
    }

    /// Build a layer (recursively, for composites) from its spec.
    pub fn build(&self, spec: &LayerSpec, rng: &mut StrataRng) -> Result<Box<dyn Layer>> {
        let builder = self.builders.get(&spec.kind).ok_or_else(|| LayerError::UnknownKind {
            kind: spec.kind.clone(),
            known: self.kinds().collect::<Vec<_>>().join(", "),
            provider: KNOWN_PROVIDERS.iter().find(|(k, _)| *k == spec.kind).map(|(_, p)| p.to_string()),
        })?;
        builder(spec, self, rng)
    }
}

/// Every `"kind"` string of layer specs nested anywhere in `value` (a
/// composite keeps its children's specs in its configuration).
fn collect_kinds(value: &serde_json::Value, f: &mut dyn FnMut(&str)) {
    match value {
        serde_json::Value::Object(map) => {
            if let (Some(serde_json::Value::String(kind)), true) =
                (map.get("kind"), map.contains_key("config") || map.len() == 1)
            {
                f(kind);
            }
            for v in map.values() {
                collect_kinds(v, f);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_kinds(v, f)),
        _ => {}
    }
}
