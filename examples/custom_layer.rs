//! A layer of your own: PReLU (a ReLU whose negative slope is learned, one
//! per feature, as PyTorch's `nn.PReLU(num_parameters)`), written against the
//! `Layer` trait, checked by the conformance kit, registered under its own
//! kind, used in a model spec, trained, saved and loaded.
//!
//! Run: `cargo run --release --example custom_layer`

use serde::{Deserialize, Serialize};
use strata::layers::{LayerError, check_features, check_grad, features_output_shape};
use strata::prelude::*;
use strata::tensor::ParamVisitor;
use strata_testkit::{CheckOptions, check_layer};

/// `y = x` for `x > 0`, else `a_j x` with a learnable slope per feature.
///
/// # Shapes
/// - input: `[.., n_features]` (any leading axes)
/// - output: the input's shape
/// - parameters: `slope [n_features]`, initially 0.25 (PyTorch's default)
#[derive(Debug)]
struct PRelu {
    config: PReluConfig,
    slope: Tensor,
    grad_slope: Tensor,
    input: Tensor,
    output: Tensor,
    grad_input: Tensor,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PReluConfig {
    n_features: usize,
}

const KIND: &str = "prelu";

impl PRelu {
    fn new(config: PReluConfig) -> Result<PRelu, LayerError> {
        if config.n_features == 0 {
            return Err(LayerError::InvalidConfig { layer: KIND.into(), reason: "needs at least one feature".into() });
        }
        let n = config.n_features;
        Ok(PRelu {
            config,
            slope: Tensor::full(&[n], 0.25),
            grad_slope: Tensor::zeros(&[n]),
            input: Tensor::default(),
            output: Tensor::default(),
            grad_input: Tensor::default(),
        })
    }
}

impl Layer for PRelu {
    fn forward(&mut self, input: &Tensor, _mode: Mode) -> Result<&Tensor, LayerError> {
        let n = self.config.n_features;
        check_features(KIND, input, n)?;
        self.input.copy_from(input);
        self.output.copy_from(input);
        for row in self.output.data_mut().chunks_exact_mut(n) {
            for (y, &a) in row.iter_mut().zip(self.slope.data()) {
                if *y <= 0.0 {
                    *y *= a;
                }
            }
        }
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor, LayerError> {
        let n = self.config.n_features;
        check_grad(KIND, grad_output, self.input.shape())?;
        self.grad_input.copy_from(grad_output);
        let rows = self.grad_input.data_mut().chunks_exact_mut(n).zip(self.input.data().chunks_exact(n));
        for (dx, x) in rows {
            for (j, (d, &xj)) in dx.iter_mut().zip(x).enumerate() {
                if xj <= 0.0 {
                    self.grad_slope.data_mut()[j] += *d * xj; // dL/da_j += g x
                    *d *= self.slope.data()[j]; // dL/dx = g a_j
                }
            }
        }
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>, LayerError> {
        features_output_shape(KIND, input_shape, self.config.n_features, self.config.n_features)
    }

    fn kind(&self) -> &str {
        KIND
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        visitor.param("slope", &mut self.slope, &mut self.grad_slope);
    }

    fn spec(&self) -> Result<LayerSpec, LayerError> {
        LayerSpec::new(KIND, &self.config)
    }
}

/// What a layer crate's `register` does: add its kinds to a registry.
fn register(registry: &mut Registry) -> Result<(), LayerError> {
    registry.register_from("custom-layer-example", KIND, |spec, _, _| Ok(Box::new(PRelu::new(spec.config()?)?)))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut registry = strata::registry();
    register(&mut registry)?;

    // 1. The conformance kit: gradients against finite differences, shapes,
    //    errors, names, save/load through the registry, and more.
    let options = CheckOptions::default().with_registry(registry.clone());
    let report = check_layer("prelu", |_| PRelu::new(PReluConfig { n_features: 4 }), &[4], &options)?;
    println!("{report}");

    // 2. In a model spec, next to built-in kinds.
    let spec = LayerSpec::from_json(
        r#"{"kind": "sequential", "config": {"input_shape": [4], "layers": [
            {"kind": "dense", "config": {"n_inputs": 4, "n_outputs": 16}},
            {"kind": "prelu", "config": {"n_features": 16}},
            {"kind": "dense", "config": {"n_inputs": 16, "n_outputs": 3}}]}}"#,
    )?;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/iris.csv");
    let mut data = load_csv(path, &CsvOptions::default())?;
    let scaler = StandardScaler::fit_transform(data.features_mut())?;
    let mut model = Model::from_spec_with(&spec, 1, &registry)?.with_preprocessing(Normalizer::Standard(scaler));
    let config = FitConfig { epochs: 40, batch_size: 16, progress: Progress::Silent, ..FitConfig::default() };
    let mut trainer = Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name("adam", 0.01)?)?;
    let history = trainer.fit(model.network_mut(), &data, None)?;
    println!(
        "training accuracy after 40 epochs: {:.1}%",
        100.0 * history.last().and_then(|r| r.train_accuracy).unwrap_or(0.0)
    );

    // 3. Saved and loaded: the default registry does not know `prelu` and
    //    says which crate provides it; the registry with it loads the model.
    let file = std::env::temp_dir().join("strata-example-prelu.strata");
    model.save(&file)?;
    match Model::load(&file) {
        Err(e) => println!("without the layer's registry: {e}"),
        Ok(_) => return Err("the default registry should not know 'prelu'".into()),
    }
    let mut loaded = Model::load_with(&file, &registry)?;
    std::fs::remove_file(&file)?;
    println!("loaded with the layer's registry: {} parameters", loaded.network_mut().n_parameters());
    Ok(())
}
