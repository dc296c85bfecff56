//! [`Embedding`]: token ids to vectors.

use serde::{Deserialize, Serialize};
use strata_layers::{Dim, Layer, LayerError, LayerSpec, Mode, Result, check_grad, check_token_ids, dims};
use strata_tensor::{ParamVisitor, StrataRng, Tensor};

/// The registry kind of [`Embedding`].
pub const EMBEDDING: &str = "embedding";

/// Hyper-parameters of an [`Embedding`] (PyTorch's `nn.Embedding`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingConfig {
    /// Number of ids (the vocabulary), at least 1.
    pub vocab_size: usize,
    /// Length of each vector.
    pub d_model: usize,
    /// An id whose vector is zero and gets no gradient (padding).
    #[serde(default)]
    pub padding_idx: Option<usize>,
}

impl EmbeddingConfig {
    /// `vocab_size` vectors of `d_model`, no padding id.
    pub fn new(vocab_size: usize, d_model: usize) -> Self {
        EmbeddingConfig { vocab_size, d_model, padding_idx: None }
    }

    /// Id `padding_idx` is padding: a zero vector that is never trained.
    pub fn with_padding_idx(mut self, padding_idx: usize) -> Self {
        self.padding_idx = Some(padding_idx);
        self
    }
}

/// A table of learned vectors: each id of the input becomes its row.
///
/// # Shapes
/// - input: token ids `[batch, .., sequence]`, integers stored as `f32`, each
///   in `0..vocab_size` (checked; the error names the position of the first
///   that is not)
/// - output: `[batch, .., sequence, d_model]`
/// - parameters: `weight [vocab_size, d_model]` (PyTorch's layout),
///   drawn from `N(0, 1)` as PyTorch does; the padding row is zero
///
/// # Gradients
/// The gradient of each output row is added to the table row of its id
/// (rows of ids used twice get both); the padding row gets none. Ids are not
/// differentiable: `backward` returns zeros of the input's shape.
///
/// ```
/// use strata_attention::{Embedding, EmbeddingConfig};
/// use strata_layers::{Layer, Mode};
/// use strata_tensor::{StrataRng, Tensor};
/// let mut e = Embedding::new(EmbeddingConfig::new(5, 3).with_padding_idx(0), &mut StrataRng::seed_from_u64(0))?;
/// let y = e.forward(&Tensor::from_vec(&[1, 2], vec![0.0, 4.0])?, Mode::Eval)?;
/// assert_eq!(y.shape(), &[1, 2, 3]);
/// assert_eq!(&y.data()[..3], &[0.0, 0.0, 0.0]); // the padding id
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Embedding {
    config: EmbeddingConfig,
    weight: Tensor,
    grad_weight: Tensor,
    ids: Vec<usize>,
    input_shape: Vec<usize>,
    trained: bool,
    output: Tensor,
    grad_input: Tensor,
    input_gradient: bool,
}

impl Embedding {
    /// A table drawn from `N(0, 1)` with `rng`. Errors: an empty vocabulary,
    /// zero-length vectors, a padding id outside the vocabulary.
    pub fn new(config: EmbeddingConfig, rng: &mut StrataRng) -> Result<Embedding> {
        let (v, d) = (config.vocab_size, config.d_model);
        if v == 0 || d == 0 || config.padding_idx.is_some_and(|p| p >= v) || v > strata_tensor::MAX_EXACT_INT {
            return Err(LayerError::InvalidConfig {
                layer: EMBEDDING.into(),
                reason: format!(
                    "needs 1 to 2^24 ids, vectors of at least 1 and a padding id inside the vocabulary, got \
                     {v} ids of {d}, padding {:?}",
                    config.padding_idx
                ),
            });
        }
        let mut weight = Tensor::random_normal(&[v, d], 0.0, 1.0, rng)?;
        if let Some(p) = config.padding_idx {
            weight.data_mut()[p * d..(p + 1) * d].fill(0.0);
        }
        Ok(Embedding {
            grad_weight: Tensor::try_zeros(&[v, d])?,
            weight,
            config,
            ids: Vec::new(),
            input_shape: Vec::new(),
            trained: false,
            output: Tensor::default(),
            grad_input: Tensor::default(),
            input_gradient: true,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EmbeddingConfig {
        &self.config
    }

    /// The table, `[vocab_size, d_model]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }
}

impl Layer for Embedding {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        if input.rank() < 2 {
            return Err(LayerError::ShapeMismatch {
                layer: EMBEDDING.into(),
                expected: vec![Dim::Any, Dim::Any],
                actual: dims(input.shape()),
            });
        }
        check_token_ids(EMBEDDING, input, self.config.vocab_size)?;
        let d = self.config.d_model;
        self.ids.clear();
        self.ids.extend(input.data().iter().map(|&v| v as usize));
        self.output.resize_with_last(input.shape(), d);
        let table = self.weight.data();
        for (row, &id) in self.output.data_mut().chunks_exact_mut(d).zip(&self.ids) {
            row.copy_from_slice(&table[id * d..(id + 1) * d]);
        }
        self.input_shape.clear();
        self.input_shape.extend_from_slice(input.shape());
        self.trained = mode == Mode::Train;
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if !self.trained {
            return Err(LayerError::BackwardBeforeForward { layer: EMBEDDING.into() });
        }
        check_grad(EMBEDDING, grad_output, self.output.shape())?;
        let d = self.config.d_model;
        let grads = self.grad_weight.data_mut();
        for (g, &id) in grad_output.data().chunks_exact(d).zip(&self.ids) {
            if Some(id) == self.config.padding_idx {
                continue;
            }
            for (t, &gj) in grads[id * d..(id + 1) * d].iter_mut().zip(g) {
                *t += gj;
            }
        }
        if self.input_gradient {
            self.grad_input.resize(&self.input_shape);
            self.grad_input.fill(0.0);
        } else {
            self.grad_input.resize(&[self.input_shape[0], 0]);
        }
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        if input_shape.is_empty() {
            return Err(LayerError::ShapeMismatch {
                layer: EMBEDDING.into(),
                expected: vec![Dim::Any],
                actual: vec![],
            });
        }
        let mut out = input_shape.to_vec();
        out.push(Dim::Fixed(self.config.d_model));
        Ok(out)
    }

    fn kind(&self) -> &str {
        EMBEDDING
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        visitor.param("weight", &mut self.weight, &mut self.grad_weight);
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new(EMBEDDING, &self.config)
    }

    fn set_input_gradient(&mut self, needed: bool) {
        self.input_gradient = needed;
    }
}
