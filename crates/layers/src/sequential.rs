use crate::error::{LayerError, Result};
use crate::layer::{Layer, Mode, check_input};
use crate::registry::LayerSpec;
use crate::shape::{Dim, dims};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use strata_tensor::{ParamVisitor, Tensor};

/// Layers applied one after another; itself a [`Layer`].
///
/// Built with the per-sample input shape (axes may be [`Dim::Any`], a
/// sequence of any length: see [`Sequential::with_dims`]), it checks when it is built that
/// every layer accepts what the one before produces, so a mismatch is an
/// error naming both layers and both shapes before any data flows. Layers are
/// named Keras-style, `kind_n` (`dense_1`, `relu_1`, `dense_2`); parameter
/// names follow (`dense_1.weight`).
///
/// # Shapes
/// - input: `[batch, ..input_shape]`
/// - output: `[batch, ..output_shape()]`
///
/// ```
/// use strata_layers::{ActivationLayer, Dense, DenseConfig, Layer, Mode, Sequential};
/// use strata_activation::ActivationKind;
/// use strata_tensor::{StrataRng, Tensor};
///
/// let mut rng = StrataRng::seed_from_u64(0);
/// let mut model = Sequential::new(&[4], vec![
///     Box::new(Dense::new(DenseConfig::new(4, 8), &mut rng)?),
///     Box::new(ActivationLayer::new(ActivationKind::Relu)),
///     Box::new(Dense::new(DenseConfig::new(8, 3), &mut rng)?),
/// ])?;
/// let y = model.forward(&Tensor::zeros(&[2, 4]), Mode::Eval)?;
/// assert_eq!(y.shape(), &[2, 3]);
///
/// // 8 -> 3 cannot follow 4 -> 8 -> 5:
/// let bad = Sequential::new(&[4], vec![
///     Box::new(Dense::new(DenseConfig::new(4, 5), &mut rng)?),
///     Box::new(Dense::new(DenseConfig::new(8, 3), &mut rng)?),
/// ]);
/// assert_eq!(
///     bad.unwrap_err().to_string(),
///     "layer 'dense_2' cannot follow layer 'dense_1': 'dense_1' produces shape [5] but 'dense_2' expects [8]"
/// );
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
#[derive(Debug)]
pub struct Sequential {
    input_shape: Vec<Dim>,
    output_shape: Vec<Dim>,
    names: Vec<String>,
    kinds: Vec<String>,
    layers: Vec<Box<dyn Layer>>,
    passthrough: Tensor,
}

/// The spec of a [`Sequential`]: its input shape and its layers' specs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialConfig {
    /// Per-sample input shape, e.g. `[784]`; `null` for an axis of any size
    /// (`[null, 28]`: sequences of any length of 28 features).
    pub input_shape: Vec<Dim>,
    /// The layers, first to last.
    pub layers: Vec<LayerSpec>,
}

impl Sequential {
    /// Chain `layers` for inputs of per-sample shape `input_shape`, checking
    /// that each layer accepts the previous one's output.
    pub fn new(input_shape: &[usize], layers: Vec<Box<dyn Layer>>) -> Result<Sequential> {
        Sequential::with_dims(&dims(input_shape), layers)
    }

    /// [`Sequential::new`] for an input shape with axes of any size
    /// ([`Dim::Any`]), such as sequences of any length.
    ///
    /// ```
    /// use strata_layers::{Dense, DenseConfig, Dim, Layer, Mode, Sequential};
    /// use strata_tensor::{StrataRng, Tensor};
    /// let mut rng = StrataRng::seed_from_u64(0);
    /// let mut model = Sequential::with_dims(&[Dim::Any, Dim::Fixed(4)], vec![
    ///     Box::new(Dense::new(DenseConfig::new(4, 2), &mut rng)?),
    /// ])?;
    /// assert_eq!(model.output_shape(&[Dim::Any, Dim::Fixed(4)])?, [Dim::Any, Dim::Fixed(2)]);
    /// // Sequences of 3 and of 7 steps both flow.
    /// assert_eq!(model.forward(&Tensor::zeros(&[5, 3, 4]), Mode::Eval)?.shape(), &[5, 3, 2]);
    /// assert_eq!(model.forward(&Tensor::zeros(&[5, 7, 4]), Mode::Eval)?.shape(), &[5, 7, 2]);
    /// # Ok::<(), strata_layers::LayerError>(())
    /// ```
    pub fn with_dims(input_shape: &[Dim], layers: Vec<Box<dyn Layer>>) -> Result<Sequential> {
        let mut counters: BTreeMap<String, usize> = BTreeMap::new();
        let names = layers
            .iter()
            .map(|l| {
                let n = counters.entry(l.kind().to_string()).or_insert(0);
                *n += 1;
                format!("{}_{}", l.kind(), n)
            })
            .collect::<Vec<_>>();
        if crate::shape::fixed_shape(input_shape).is_some_and(|s| strata_tensor::checked_numel(&s).is_none()) {
            return Err(LayerError::TooLarge { layer: "sequential".into(), shape: input_shape.to_vec() });
        }
        let mut shape = input_shape.to_vec();
        let mut previous = "input".to_string();
        for (name, layer) in names.iter().zip(&layers) {
            shape = match layer.output_shape(&shape) {
                Ok(s) => s,
                Err(LayerError::ShapeMismatch { expected, actual, .. }) if actual == shape => {
                    return Err(LayerError::IncompatibleLayers {
                        previous,
                        previous_output: shape,
                        next: name.clone(),
                        next_expected: expected,
                    });
                }
                Err(e) => return Err(e.within(name, layer.kind())),
            };
            previous = name.clone();
        }
        let kinds = layers.iter().map(|l| l.kind().to_string()).collect();
        Ok(Sequential {
            input_shape: input_shape.to_vec(),
            output_shape: shape,
            names,
            kinds,
            layers,
            passthrough: Tensor::default(),
        })
    }

    /// Per-sample input shape.
    pub fn input_shape(&self) -> &[Dim] {
        &self.input_shape
    }

    /// Names of the layers, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// The layers, mutable.
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Layer>] {
        &mut self.layers
    }

    /// A Keras-style table of the layers (see [`crate::summary`]).
    pub fn summary(&mut self) -> String {
        let shape = self.input_shape.clone();
        crate::summary::summary(self, &shape).unwrap_or_else(|e| e.to_string())
    }
}

impl Layer for Sequential {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        check_input("sequential", input, &self.input_shape)
            .map_err(|e| e.within(self.names.first().map_or("sequential", String::as_str), "sequential"))?;
        let mut steps = self.names.iter().zip(&self.kinds).zip(self.layers.iter_mut());
        let Some(((name, kind), first)) = steps.next() else {
            self.passthrough.copy_from(input);
            return Ok(&self.passthrough);
        };
        // The first layer reads the caller's tensor; every later one reads the
        // buffer of the layer before it.
        let mut x = first.forward(input, mode).map_err(|e| e.within(name, kind))?;
        for ((name, kind), layer) in steps {
            x = layer.forward(x, mode).map_err(|e| e.within(name, kind))?;
        }
        Ok(x)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        let mut steps = self.names.iter().zip(&self.kinds).zip(self.layers.iter_mut()).rev();
        let Some(((name, kind), last)) = steps.next() else {
            self.passthrough.copy_from(grad_output);
            return Ok(&self.passthrough);
        };
        let mut g = last.backward(grad_output).map_err(|e| e.within(name, kind))?;
        for ((name, kind), layer) in steps {
            g = layer.backward(g).map_err(|e| e.within(name, kind))?;
        }
        Ok(g)
    }

    /// The input must fit the declared input shape; the output follows the
    /// layers from the given shape (so a fixed sequence length given for a
    /// declared [`Dim::Any`] stays fixed).
    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        crate::layer::check_sample_shape("sequential", input_shape, &self.input_shape)?;
        if input_shape == self.input_shape {
            return Ok(self.output_shape.clone());
        }
        let mut shape = input_shape.to_vec();
        for ((name, kind), layer) in self.names.iter().zip(&self.kinds).zip(&self.layers) {
            shape = layer.output_shape(&shape).map_err(|e| e.within(name, kind))?;
        }
        Ok(shape)
    }

    fn kind(&self) -> &str {
        "sequential"
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        for (name, layer) in self.names.iter().zip(self.layers.iter_mut()) {
            visitor.scope(name, |v| layer.visit_parameters(v));
        }
    }

    fn spec(&self) -> Result<LayerSpec> {
        let layers = self
            .names
            .iter()
            .zip(&self.layers)
            .map(|(name, l)| l.spec().map_err(|e| e.within(name, l.kind())))
            .collect::<Result<Vec<_>>>()?;
        LayerSpec::new("sequential", &SequentialConfig { input_shape: self.input_shape.clone(), layers })
    }

    /// Only the first layer's input is the model's input; every later layer
    /// must pass its gradient on.
    fn set_input_gradient(&mut self, needed: bool) {
        if let Some(first) = self.layers.first_mut() {
            first.set_input_gradient(needed);
        }
    }

    fn zero_grad(&mut self) {
        for layer in &mut self.layers {
            layer.zero_grad();
        }
    }

    fn children(&self) -> Vec<(&str, &dyn Layer)> {
        self.names.iter().map(String::as_str).zip(self.layers.iter().map(|l| l.as_ref() as &dyn Layer)).collect()
    }
}
