//! `cargo xtask new-layer NAME`: the skeleton of a layer crate, `crates/NAME`
//! (package `strata-NAME`), the way `docs/extending.md` builds one: a config,
//! a layer with one weight, `register`, a conformance test and a criterion
//! benchmark. The layer's `backward` is left for the author: the generated
//! crate compiles, and its conformance test fails until `backward` is right.

use std::path::{Path, PathBuf};

const HELP: &str = "\
cargo xtask new-layer NAME [--root DIR]

Creates crates/NAME, the package strata-NAME: a layer crate with a config, a
layer with one weight (an element-wise scale whose backward is left to write),
`register`, a conformance test (tests/tests.rs) and a criterion benchmark.
NAME: lowercase ASCII letters, digits and underscores, starting with a letter.

options:
  --root DIR   the workspace to create it in (default: this workspace)
";

/// Identifiers the generated code imports or defines: a layer whose type name
/// (NAME in CamelCase) is one of them would not compile.
const TAKEN_IDENTIFIERS: &[&str] = &[
    "BenchmarkId",
    "CheckOptions",
    "Criterion",
    "Deserialize",
    "Layer",
    "LayerError",
    "LayerSpec",
    "Mode",
    "ParamVisitor",
    "Registry",
    "Result",
    "Self",
    "Serialize",
    "StrataRng",
    "Tensor",
    "Throughput",
];

pub fn run(args: &[String]) -> Result<(), String> {
    let mut name = None;
    let mut root = crate::workspace_root();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(());
            }
            "--root" => root = it.next().map(PathBuf::from).ok_or("--root needs a directory")?,
            flag if flag.starts_with('-') => return Err(format!("unknown option '{flag}'\n\n{HELP}")),
            value if name.is_none() => name = Some(value.to_string()),
            extra => return Err(format!("one NAME only, got a second: '{extra}'\n\n{HELP}")),
        }
    }
    let name = name.ok_or_else(|| format!("missing NAME\n\n{HELP}"))?;
    let files = generate(&name, &root)?;
    let dir = Path::new("crates").join(&name);
    println!("created {} (package strata-{name}):", dir.display());
    for file in &files {
        println!("  {}", dir.join(file).display());
    }
    println!(
        "
next steps:
  1. run its conformance test; it fails until backward is written:
       cargo test -p strata-{name}
  2. write `backward` in crates/{name}/src/lib.rs (search for TODO) until the test passes
  3. add it to [workspace.dependencies] in the root Cargo.toml:
       strata-{name} = {{ path = \"crates/{name}\", version = \"0.1.0\" }}
  4. use it from the command line without editing Strata (the crate's own binary):
       cargo run -p strata-{name} --features cli --bin strata-{name} -- train --model spec.json
     or add it to Strata's default registry: `strata-{name}.workspace = true` in
     crates/model/Cargo.toml, then in crates/model/src/registry.rs::register_workspace():
       strata_{name}::register(r)?;
docs/extending.md walks through every step."
    );
    Ok(())
}

/// `my_layer` -> `MyLayer`.
pub fn camel_case(name: &str) -> String {
    name.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// Why `name` cannot be a new layer crate in the workspace at `root`, if it cannot.
pub fn validate(name: &str, root: &Path) -> Result<(), String> {
    let rule = "a layer name is lowercase ASCII letters, digits and underscores, starting with a letter";
    if name.is_empty() {
        return Err(format!("the name is empty: {rule}"));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')) {
        return Err(format!("'{name}' contains '{bad}': {rule} (e.g. 'my_layer')"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("'{name}' does not start with a letter: {rule}"));
    }
    let camel = camel_case(name);
    if TAKEN_IDENTIFIERS.contains(&camel.as_str()) {
        return Err(format!(
            "'{name}' would name the layer type `{camel}`, which clashes with `{camel}` in the generated code; \
             choose another name"
        ));
    }
    if !root.join("Cargo.toml").is_file() {
        return Err(format!("{} is not a workspace root (it has no Cargo.toml)", root.display()));
    }
    let dir = root.join("crates").join(name);
    if dir.symlink_metadata().is_ok() {
        return Err(format!("{} already exists: choose another name", dir.display()));
    }
    let package = format!("name = \"strata-{name}\"");
    let mut manifests = vec![root.join("Cargo.toml")];
    if let Ok(entries) = std::fs::read_dir(root.join("crates")) {
        manifests.extend(entries.flatten().map(|e| e.path().join("Cargo.toml")));
    }
    for manifest in manifests {
        if std::fs::read_to_string(&manifest).is_ok_and(|text| text.lines().any(|l| l.trim() == package)) {
            return Err(format!("{} already defines the package strata-{name}", manifest.display()));
        }
    }
    Ok(())
}

/// Write the crate `crates/NAME` under `root`; returns the files written,
/// relative to the crate. Nothing is left behind on an error.
pub fn generate(name: &str, root: &Path) -> Result<Vec<PathBuf>, String> {
    validate(name, root)?;
    let dir = root.join("crates").join(name);
    let camel = camel_case(name);
    let templates = [
        ("Cargo.toml".to_string(), CARGO_TOML),
        ("src/lib.rs".to_string(), LIB_RS),
        ("src/bin/cli.rs".to_string(), CLI_RS),
        ("tests/tests.rs".to_string(), TESTS_RS),
        (format!("benches/{name}.rs"), BENCH_RS),
    ];
    let mut written = Vec::new();
    for (relative, template) in templates {
        let path = dir.join(&relative);
        let text = template.replace("{{Camel}}", &camel).replace("{{name}}", name);
        let result = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text))
            .map_err(|e| format!("{}: {e}", path.display()));
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        written.push(PathBuf::from(relative));
    }
    format(&dir, &written);
    Ok(written)
}

/// Format the generated sources with the workspace's rustfmt settings, so
/// that `cargo fmt --check` passes whatever the name's length. Best effort:
/// without rustfmt the files are merely less tidy.
fn format(dir: &Path, files: &[PathBuf]) {
    let sources: Vec<PathBuf> =
        files.iter().filter(|f| f.extension().is_some_and(|e| e == "rs")).map(|f| dir.join(f)).collect();
    let status = std::process::Command::new("rustfmt").args(["--edition", "2024"]).args(&sources).status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("note: rustfmt did not run on the new files; run `cargo fmt` before committing");
    }
}

const CARGO_TOML: &str = r##"[package]
name = "strata-{{name}}"
description = "A layer crate for Strata: {{Camel}}."
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
repository.workspace = true
autotests = false
autobenches = false

[lib]
bench = false

# The strata command with this crate's kinds, without editing Strata:
#   cargo run -p strata-{{name}} --features cli --bin strata-{{name}} -- train --model spec.json
[[bin]]
name = "strata-{{name}}"
path = "src/bin/cli.rs"
required-features = ["cli"]

[features]
cli = ["dep:strata", "dep:strata-cli"]

[dependencies]
strata-tensor.workspace = true
strata-layers.workspace = true
serde.workspace = true
strata = { workspace = true, optional = true }
strata-cli = { workspace = true, optional = true }

[dev-dependencies]
strata-testkit.workspace = true
criterion.workspace = true

[[test]]
name = "tests"
path = "tests/tests.rs"

[[bench]]
name = "{{name}}"
harness = false

[lints]
workspace = true
"##;

const LIB_RS: &str = r##"//! # strata-{{name}}
//!
//! A layer crate for Strata, generated by `cargo xtask new-layer {{name}}`:
//! [`{{Camel}}`] multiplies every feature by a learnable weight, and
//! [`register`] adds its kind, `{{name}}`, to a [`Registry`] so model specs
//! and model files can name it. Replace this description with your layer's;
//! `docs/extending.md` walks through every step.
//!
//! ```
//! use strata_layers::{Layer, Mode};
//! use strata_tensor::Tensor;
//! use strata_{{name}}::{{{Camel}}, {{Camel}}Config};
//!
//! let mut layer = {{Camel}}::new({{Camel}}Config::new(3))?;
//! let y = layer.forward(&Tensor::ones(&[2, 3]), Mode::Eval)?;
//! assert_eq!(y.shape(), &[2, 3]);
//! # Ok::<(), strata_layers::LayerError>(())
//! ```
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};
use strata_layers::{
    Dim, Layer, LayerError, LayerSpec, Mode, Registry, Result, check_features, check_grad, features_output_shape,
};
use strata_tensor::{ParamVisitor, Tensor};

/// The registry kind of [`{{Camel}}`]: how model specs name it.
pub const KIND: &str = "{{name}}";

/// Hyper-parameters of a [`{{Camel}}`] layer (the `config` of its spec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct {{Camel}}Config {
    /// Features per sample.
    pub n_features: usize,
}

impl {{Camel}}Config {
    /// A layer over `n_features` features.
    pub fn new(n_features: usize) -> Self {
        {{Camel}}Config { n_features }
    }
}

/// Multiplies every feature by a learnable weight: `y = x ⊙ weight`.
///
/// # Shapes
/// - input: `[batch, n_features]`, or any leading axes before the features
///   (`[batch, sequence, n_features]`)
/// - output: the input's shape
/// - parameters: `weight [n_features]`, initially 1
#[derive(Debug, Clone)]
pub struct {{Camel}} {
    config: {{Camel}}Config,
    weight: Tensor,
    grad_weight: Tensor,
    /// The input of the last training-mode forward, for backward.
    input: Tensor,
    has_input: bool,
    output: Tensor,
    grad_input: Tensor,
}

impl {{Camel}} {
    /// A layer with every weight 1. Errors: [`LayerError::InvalidConfig`]
    /// for zero features.
    pub fn new(config: {{Camel}}Config) -> Result<{{Camel}}> {
        if config.n_features == 0 {
            return Err(LayerError::InvalidConfig { layer: KIND.into(), reason: "needs at least one feature".into() });
        }
        Ok({{Camel}} {
            weight: Tensor::ones(&[config.n_features]),
            grad_weight: Tensor::zeros(&[config.n_features]),
            config,
            input: Tensor::default(),
            has_input: false,
            output: Tensor::default(),
            grad_input: Tensor::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &{{Camel}}Config {
        &self.config
    }

    /// The weights, `[n_features]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }
}

impl Layer for {{Camel}} {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        check_features(KIND, input, self.config.n_features)?;
        self.output.copy_from(input);
        for row in self.output.data_mut().chunks_exact_mut(self.config.n_features) {
            for (y, &w) in row.iter_mut().zip(self.weight.data()) {
                *y *= w;
            }
        }
        self.has_input = mode == Mode::Train;
        if self.has_input {
            self.input.copy_from(input);
        }
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if !self.has_input {
            return Err(LayerError::BackwardBeforeForward { layer: KIND.into() });
        }
        check_grad(KIND, grad_output, self.input.shape())?;
        // TODO: write backward. Add dL/dweight (the sum over the batch of
        // grad_output ⊙ input) to `self.grad_weight`, and return dL/dinput
        // (grad_output ⊙ weight, row by row) in `self.grad_input`. Until then
        // this returns zeros and the conformance test (tests/tests.rs) fails.
        self.grad_input.resize(grad_output.shape());
        self.grad_input.fill(0.0);
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        features_output_shape(KIND, input_shape, self.config.n_features, self.config.n_features)
    }

    fn kind(&self) -> &str {
        KIND
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        visitor.param("weight", &mut self.weight, &mut self.grad_weight);
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new(KIND, &self.config)
    }
}

/// Add this crate's kind, `{{name}}` ([`{{Camel}}Config`]), to `registry`.
/// Fails with [`LayerError::DuplicateKind`] if it is already registered.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.register_from(env!("CARGO_PKG_NAME"), KIND, |spec, _, _| Ok(Box::new({{Camel}}::new(spec.config()?)?)))
}
"##;

const CLI_RS: &str = r##"//! The `strata` command with this crate's layer kind registered: build
//! with `--features cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut registry = strata::registry();
    if let Err(e) = strata_{{name}}::register(&mut registry) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    strata_cli::main_with(registry)
}
"##;

const TESTS_RS: &str = r##"//! Tests of strata-{{name}}. The conformance kit (strata-testkit) checks
//! the layer against everything Strata relies on: gradients against finite
//! differences, shapes, shape errors, parameter names, batch independence,
//! determinism, save/load, one optimizer step, gradient accumulation and
//! leading batch axes.
#![allow(clippy::unwrap_used)]

use strata_layers::Registry;
use strata_testkit::{CheckOptions, layer_conformance};
use strata_{{name}}::{{{Camel}}, {{Camel}}Config, KIND, register};

/// The kit's default options, with this crate's kind registered for the
/// save/load check.
fn options() -> CheckOptions {
    let mut registry = Registry::with_builtins();
    register(&mut registry).unwrap();
    CheckOptions::default().with_registry(registry)
}

layer_conformance!({{name}}_conforms, |_| {{Camel}}::new({{Camel}}Config::new(4)), [4], options());

// Sequences: batches [3, 5, 4], and the kit's leading-axes check on [3, 2, 5, 4].
layer_conformance!({{name}}_on_sequences, |_| {{Camel}}::new({{Camel}}Config::new(4)), [5, 4], options());

#[test]
fn register_adds_the_kind() {
    let mut registry = Registry::with_builtins();
    register(&mut registry).unwrap();
    assert!(registry.kinds().any(|k| k == KIND));
}
"##;

const BENCH_RS: &str = r##"//! Benchmark of {{Camel}}: one forward (training mode) and one backward on
//! `[64, 256]`, criterion id `{{name}}/64x256`.
#![allow(clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use strata_layers::{Layer, Mode};
use strata_tensor::{StrataRng, Tensor};
use strata_{{name}}::{{{Camel}}, {{Camel}}Config};

fn forward_backward(c: &mut Criterion) {
    let mut layer = {{Camel}}::new({{Camel}}Config::new(256)).unwrap();
    let mut rng = StrataRng::seed_from_u64(0);
    let x = Tensor::random_normal(&[64, 256], 0.0, 1.0, &mut rng).unwrap();
    let dy = Tensor::random_normal(&[64, 256], 0.0, 1.0, &mut rng).unwrap();
    let mut group = c.benchmark_group("{{name}}");
    group.throughput(Throughput::Elements(64 * 256));
    group.bench_function(BenchmarkId::from_parameter("64x256"), |b| {
        b.iter(|| {
            layer.forward(&x, Mode::Train).unwrap();
            black_box(layer.backward(&dy).unwrap());
        });
    });
    group.finish();
}

criterion_group!(benches, forward_backward);
criterion_main!(benches);
"##;
