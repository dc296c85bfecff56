//! Test-only layers, activations and losses: one that conforms (`Scale`, a
//! user layer with its own registry entry) and several that break one rule
//! each, so the tests can check that the kit catches exactly that rule.

use std::sync::atomic::{AtomicU64, Ordering};
use strata_activation::{Activation, Tanh};
use strata_layers::{
    Dense, DenseConfig, Dim, Layer, LayerError, LayerSpec, Mode, Registry, Result, check_features, check_grad,
    check_input, check_sample_shape, check_token_ids, dims, features_output_shape,
};
use strata_loss::{Loss, LossError, MeanSquaredError};
use strata_tensor::{ParamRef, ParamVisitor, StrataRng, Tensor};

/// A registry with the built-in kinds and every fixture layer below.
pub fn registry() -> Registry {
    let mut r = Registry::with_builtins();
    r.register("scale", |spec, _, rng| Ok(Box::new(Scale::new(spec.config::<usize>()?, rng)))).unwrap();
    r.register("sign_flipped_dense", |spec, _, rng| Ok(Box::new(SignFlippedDense::new(spec.config()?, rng)?))).unwrap();
    r.register("panicking_doubler", |spec, _, _| Ok(Box::new(PanickingDoubler::new(spec.config()?)))).unwrap();
    r.register("row_sum", |spec, _, _| Ok(Box::new(RowSum::new(spec.config()?)))).unwrap();
    r.register("batch_centering", |spec, _, _| Ok(Box::new(BatchCentering::new(spec.config()?)))).unwrap();
    r.register(Flaw::Overwrites.kind(), |spec, _, rng| {
        Ok(Box::new(FlawedDense::new(Flaw::Overwrites, spec.config()?, rng)?))
    })
    .unwrap();
    r.register(Flaw::Stale.kind(), |spec, _, rng| Ok(Box::new(FlawedDense::new(Flaw::Stale, spec.config()?, rng)?)))
        .unwrap();
    r.register(Flaw::Unsettled.kind(), |spec, _, rng| {
        Ok(Box::new(FlawedDense::new(Flaw::Unsettled, spec.config()?, rng)?))
    })
    .unwrap();
    r.register("flipped_input_gradient", |spec, _, rng| Ok(Box::new(FlippedInputGradient::new(spec.config()?, rng)?)))
        .unwrap();
    r.register("first_position_scale", |spec, _, rng| Ok(Box::new(FirstPositionScale::new(spec.config()?, rng))))
        .unwrap();
    r.register("lookup", |spec, _, rng| {
        let (vocab, width) = spec.config::<(usize, usize)>()?;
        Ok(Box::new(Lookup::new(vocab, width, rng)))
    })
    .unwrap();
    r
}

// ----- Scale: a conforming user layer -----------------------------------------

/// `y = x ⊙ gamma + beta` per feature: what a user's layer crate might add.
#[derive(Debug, Clone)]
pub struct Scale {
    gamma: Tensor,
    beta: Tensor,
    grad_gamma: Tensor,
    grad_beta: Tensor,
    input: Option<Tensor>,
    output: Tensor,
    grad_input: Tensor,
}

impl Scale {
    /// `width` features, gamma ~ U(0.5, 1.5), beta ~ U(-0.5, 0.5).
    pub fn new(width: usize, rng: &mut StrataRng) -> Scale {
        let gamma = Tensor::random_uniform(&[width], 0.5, 1.5, rng).unwrap();
        let beta = Tensor::random_uniform(&[width], -0.5, 0.5, rng).unwrap();
        Scale {
            grad_gamma: Tensor::zeros(&[width]),
            grad_beta: Tensor::zeros(&[width]),
            gamma,
            beta,
            input: None,
            output: Tensor::default(),
            grad_input: Tensor::default(),
        }
    }

    fn width(&self) -> usize {
        self.gamma.len()
    }
}

impl Layer for Scale {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        check_input("scale", input, &dims(&[self.width()]))?;
        self.output.copy_from(input);
        for row in self.output.data_mut().chunks_mut(self.gamma.len()) {
            for ((y, &g), &b) in row.iter_mut().zip(self.gamma.data()).zip(self.beta.data()) {
                *y = *y * g + b;
            }
        }
        self.input = (mode == Mode::Train).then(|| input.clone());
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        let Some(input) = &self.input else {
            return Err(LayerError::BackwardBeforeForward { layer: "scale".into() });
        };
        check_grad("scale", grad_output, input.shape())?;
        let w = self.gamma.len();
        self.grad_input.copy_from(grad_output);
        let rows = self.grad_input.data_mut().chunks_mut(w).zip(grad_output.data().chunks(w));
        for ((dx, gs), xs) in rows.zip(input.data().chunks(w)) {
            for (j, ((d, &g), &x)) in dx.iter_mut().zip(gs).zip(xs).enumerate() {
                self.grad_gamma.data_mut()[j] += g * x;
                self.grad_beta.data_mut()[j] += g;
                *d = g * self.gamma.data()[j];
            }
        }
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        check_sample_shape("scale", input_shape, &dims(&[self.width()]))?;
        Ok(input_shape.to_vec())
    }

    fn kind(&self) -> &str {
        "scale"
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        visitor.param("gamma", &mut self.gamma, &mut self.grad_gamma);
        visitor.param("beta", &mut self.beta, &mut self.grad_beta);
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new("scale", &self.width())
    }
}

// ----- SignFlippedDense: a wrong weight gradient -------------------------------

/// A dense layer whose backward adds `-dW` instead of `dW` to the weight
/// gradient; the bias and input gradients are right.
#[derive(Debug, Clone)]
pub struct SignFlippedDense {
    inner: Dense,
    grad_input: Tensor,
}

impl SignFlippedDense {
    /// Built like [`Dense`].
    pub fn new(config: DenseConfig, rng: &mut StrataRng) -> Result<SignFlippedDense> {
        Ok(SignFlippedDense { inner: Dense::new(config, rng)?, grad_input: Tensor::default() })
    }
}

/// A copy of the gradient of parameter `name`.
fn grad_of(layer: &mut dyn Layer, name: &str) -> Option<Tensor> {
    let mut out = None;
    let mut path = String::new();
    let mut f = |p: ParamRef<'_>| {
        if p.name == name {
            out = p.grad.map(|g| g.clone());
        }
    };
    layer.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    out
}

impl Layer for SignFlippedDense {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        self.inner.forward(input, mode)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        let before = grad_of(&mut self.inner, "weight").unwrap_or_default();
        self.grad_input.copy_from(self.inner.backward(grad_output)?);
        // before + dW  ->  before - dW
        let mut path = String::new();
        let mut f = |p: ParamRef<'_>| {
            if p.name == "weight"
                && let Some(g) = p.grad
            {
                for (g, &b) in g.data_mut().iter_mut().zip(before.data()) {
                    *g = 2.0 * b - *g;
                }
            }
        };
        self.inner.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        self.inner.output_shape(input_shape)
    }

    fn kind(&self) -> &str {
        "sign_flipped_dense"
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        self.inner.visit_parameters(visitor);
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new("sign_flipped_dense", self.inner.config())
    }
}

// ----- PanickingDoubler: panics on a wrong shape -----------------------------

/// `y = 2x` for inputs `[batch, width]`; asserts the shape instead of
/// returning an error (the bug), otherwise correct.
#[derive(Debug, Clone, Default)]
pub struct PanickingDoubler {
    /// Features per sample.
    pub width: usize,
    output: Tensor,
    grad_input: Tensor,
    trained: bool,
}

impl PanickingDoubler {
    /// For inputs `[batch, width]`.
    pub fn new(width: usize) -> Self {
        PanickingDoubler { width, ..Default::default() }
    }
}

impl Layer for PanickingDoubler {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        assert_eq!(&input.shape()[1..], [self.width], "PanickingDoubler: wrong input shape");
        self.output = input.scale(2.0);
        self.trained = mode == Mode::Train;
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if !self.trained {
            return Err(LayerError::BackwardBeforeForward { layer: "panicking_doubler".into() });
        }
        check_grad("panicking_doubler", grad_output, self.output.shape())?;
        self.grad_input = grad_output.scale(2.0);
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        check_sample_shape("panicking_doubler", input_shape, &dims(&[self.width]))?;
        Ok(input_shape.to_vec())
    }

    fn kind(&self) -> &str {
        "panicking_doubler"
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new("panicking_doubler", &self.width)
    }
}

// ----- BatchCentering: mixes the rows of a batch -----------------------------

/// `y = x - mean over the batch of x`, in both modes: correct gradients, but
/// a row alone always gives zeros, so inference is not batch-independent.
#[derive(Debug, Clone, Default)]
pub struct BatchCentering {
    /// Features per sample.
    pub width: usize,
    output: Tensor,
    grad_input: Tensor,
    trained: bool,
}

/// `x - mean over rows of x`, for `[batch, width]`.
fn center(x: &Tensor) -> Tensor {
    let mean = x.mean_axis(0).unwrap();
    let mut y = x.clone();
    for row in y.data_mut().chunks_mut(mean.len()) {
        for (v, m) in row.iter_mut().zip(mean.data()) {
            *v -= m;
        }
    }
    y
}

impl BatchCentering {
    /// For inputs `[batch, width]`.
    pub fn new(width: usize) -> Self {
        BatchCentering { width, ..Default::default() }
    }
}

impl Layer for BatchCentering {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        check_input("batch_centering", input, &dims(&[self.width]))?;
        self.output = center(input);
        self.trained = mode == Mode::Train;
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if !self.trained {
            return Err(LayerError::BackwardBeforeForward { layer: "batch_centering".into() });
        }
        check_grad("batch_centering", grad_output, self.output.shape())?;
        // The centering map is symmetric and idempotent: its Jacobian is its own transpose.
        self.grad_input = center(grad_output);
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        check_sample_shape("batch_centering", input_shape, &dims(&[self.width]))?;
        Ok(input_shape.to_vec())
    }

    fn kind(&self) -> &str {
        "batch_centering"
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new("batch_centering", &self.width)
    }
}

// ----- a layer that ignores the seed ------------------------------------------

static BUILDS: AtomicU64 = AtomicU64::new(1);

/// A dense layer whose weights come from a global counter instead of the
/// kit's generator: every build differs.
pub fn nondeterministic_dense(_rng: &mut StrataRng) -> Result<Dense> {
    let seed = BUILDS.fetch_add(1, Ordering::Relaxed);
    Dense::new(DenseConfig::new(3, 2), &mut StrataRng::seed_from_u64(seed))
}

// ----- activations ------------------------------------------------------------

/// tanh with the derivative `1 - y` instead of `1 - y²` (its errors are tanh's).
#[derive(Debug, Clone, Copy)]
pub struct WrongTanh;

impl Activation for WrongTanh {
    fn name(&self) -> &'static str {
        "tanh"
    }

    fn forward(&self, input: &Tensor, output: &mut Tensor) -> strata_activation::Result<()> {
        Tanh.forward(input, output)
    }

    fn backward(
        &self,
        input: &Tensor,
        output: &Tensor,
        grad_output: &Tensor,
        grad_input: &mut Tensor,
    ) -> strata_activation::Result<()> {
        Tanh.backward(input, output, grad_output, grad_input)?;
        for ((d, &y), &g) in grad_input.data_mut().iter_mut().zip(output.data()).zip(grad_output.data()) {
            *d = g * (1.0 - y);
        }
        Ok(())
    }
}

/// tanh whose backward asserts the shapes instead of returning an error.
#[derive(Debug, Clone, Copy)]
pub struct AssertingTanh;

impl Activation for AssertingTanh {
    fn name(&self) -> &'static str {
        "tanh"
    }

    fn forward(&self, input: &Tensor, output: &mut Tensor) -> strata_activation::Result<()> {
        Tanh.forward(input, output)
    }

    fn backward(
        &self,
        input: &Tensor,
        output: &Tensor,
        grad_output: &Tensor,
        grad_input: &mut Tensor,
    ) -> strata_activation::Result<()> {
        assert_eq!(grad_output.shape(), input.shape(), "asserting_tanh: shapes differ");
        assert_eq!(output.shape(), input.shape(), "asserting_tanh: shapes differ");
        Tanh.backward(input, output, grad_output, grad_input)
    }
}

// ----- losses -----------------------------------------------------------------

/// Mean squared error whose gradient forgets the `1 / N` of the mean.
#[derive(Debug, Clone, Copy)]
pub struct UnscaledMse;

impl Loss for UnscaledMse {
    fn name(&self) -> &'static str {
        "unscaled_mse"
    }

    fn value(&self, prediction: &Tensor, target: &Tensor) -> strata_loss::Result<f32> {
        MeanSquaredError.value(prediction, target).map_err(rename)
    }

    fn gradient(&self, prediction: &Tensor, target: &Tensor, grad: &mut Tensor) -> strata_loss::Result<()> {
        MeanSquaredError.gradient(prediction, target, grad).map_err(rename)?;
        grad.scale_assign(prediction.len() as f32);
        Ok(())
    }
}

/// MSE's errors under this loss's name.
fn rename(e: LossError) -> LossError {
    match e {
        LossError::ShapeMismatch { prediction, target, .. } => {
            LossError::ShapeMismatch { loss: "unscaled_mse", prediction, target }
        }
        other => other,
    }
}

// ----- RowSum: lets a tensor error through -------------------------------------

/// `y = Σ_j x_j` per row, as `x · 1`; a wrong input shape surfaces as the
/// matrix multiply's error, which names no layer (the bug), otherwise correct.
#[derive(Debug, Clone, Default)]
pub struct RowSum {
    width: usize,
    output: Tensor,
    grad_input: Tensor,
    trained: bool,
}

impl RowSum {
    /// For inputs `[batch, width]`.
    pub fn new(width: usize) -> Self {
        RowSum { width, ..Default::default() }
    }
}

impl Layer for RowSum {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        self.output = input.matmul(&Tensor::ones(&[self.width, 1]))?;
        self.trained = mode == Mode::Train;
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if !self.trained {
            return Err(LayerError::BackwardBeforeForward { layer: "row_sum".into() });
        }
        check_grad("row_sum", grad_output, self.output.shape())?;
        self.grad_input = grad_output.matmul(&Tensor::ones(&[1, self.width]))?;
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        check_sample_shape("row_sum", input_shape, &dims(&[self.width]))?;
        Ok(dims(&[1]))
    }

    fn kind(&self) -> &str {
        "row_sum"
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new("row_sum", &self.width)
    }
}

// ----- FlawedDense: gradients that do not accumulate, or survive zero_grad ---

/// What a [`FlawedDense`] gets wrong about its parameter gradients.
#[derive(Debug, Clone, Copy)]
pub enum Flaw {
    /// Backward overwrites them (zeroes them first) instead of adding to
    /// them: right on a fresh layer, wrong as soon as two backward calls
    /// should add up (`overwriting_dense`).
    Overwrites,
    /// `zero_grad` does nothing: right until the first `zero_grad` after a
    /// backward, when the old gradients survive it (`stale_dense`).
    Stale,
    /// `zero_grad` zeroes them lazily, in the next backward, but a visit
    /// before it is handed the old ones (`unsettled_dense`).
    Unsettled,
}

impl Flaw {
    /// The fixture's layer kind.
    pub fn kind(self) -> &'static str {
        match self {
            Flaw::Overwrites => "overwriting_dense",
            Flaw::Stale => "stale_dense",
            Flaw::Unsettled => "unsettled_dense",
        }
    }
}

/// A dense layer with one [`Flaw`] in how it keeps its parameter gradients.
#[derive(Debug, Clone)]
pub struct FlawedDense {
    inner: Dense,
    flaw: Flaw,
    /// A `zero_grad` the next backward owes (`Flaw::Unsettled`).
    pending: bool,
}

impl FlawedDense {
    /// Built like [`Dense`].
    pub fn new(flaw: Flaw, config: DenseConfig, rng: &mut StrataRng) -> Result<FlawedDense> {
        Ok(FlawedDense { inner: Dense::new(config, rng)?, flaw, pending: false })
    }
}

impl Layer for FlawedDense {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        self.inner.forward(input, mode)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        if matches!(self.flaw, Flaw::Overwrites) || std::mem::take(&mut self.pending) {
            self.inner.zero_grad();
        }
        self.inner.backward(grad_output)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        self.inner.output_shape(input_shape)
    }

    fn kind(&self) -> &str {
        self.flaw.kind()
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        self.inner.visit_parameters(visitor);
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new(self.flaw.kind(), self.inner.config())
    }

    fn zero_grad(&mut self) {
        match self.flaw {
            Flaw::Overwrites => self.inner.zero_grad(),
            Flaw::Stale => {}
            Flaw::Unsettled => self.pending = true,
        }
    }
}

// ----- FlippedInputGradient: a wrong input gradient at a tiny scale -----------

/// A dense layer with weights scaled by `1e-4` whose input gradient has the
/// wrong sign: every input gradient is of order `1e-4`, far below an
/// absolute tolerance of `1e-3`.
#[derive(Debug, Clone)]
pub struct FlippedInputGradient {
    inner: Dense,
    grad_input: Tensor,
}

impl FlippedInputGradient {
    /// A [`Dense`] from `config`, its weights then scaled by `1e-4`.
    pub fn new(config: DenseConfig, rng: &mut StrataRng) -> Result<FlippedInputGradient> {
        let mut inner = Dense::new(config, rng)?;
        let mut path = String::new();
        let mut f = |p: ParamRef<'_>| p.value.scale_assign(1e-4);
        inner.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
        Ok(FlippedInputGradient { inner, grad_input: Tensor::default() })
    }
}

impl Layer for FlippedInputGradient {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        self.inner.forward(input, mode)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        self.grad_input.copy_from(self.inner.backward(grad_output)?);
        self.grad_input.scale_assign(-1.0);
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        self.inner.output_shape(input_shape)
    }

    fn kind(&self) -> &str {
        "flipped_input_gradient"
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        self.inner.visit_parameters(visitor);
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new("flipped_input_gradient", self.inner.config())
    }
}

// ----- FirstPositionScale: wrong on an extra leading axis -----------------------

/// `y = x ⊙ g` per feature, claiming any leading axes; but on a rank-3 input
/// `[b, s, w]` it scales only the first position of each sequence (the bug)
/// and copies the others.
#[derive(Debug, Clone)]
pub struct FirstPositionScale {
    g: Tensor,
    grad_g: Tensor,
    input: Tensor,
    output: Tensor,
    grad_input: Tensor,
}

impl FirstPositionScale {
    /// `width` features, `g ~ U(0.5, 1.5)`.
    pub fn new(width: usize, rng: &mut StrataRng) -> Self {
        FirstPositionScale {
            g: Tensor::random_uniform(&[width], 0.5, 1.5, rng).unwrap(),
            grad_g: Tensor::zeros(&[width]),
            input: Tensor::default(),
            output: Tensor::default(),
            grad_input: Tensor::default(),
        }
    }

    /// Whether row `r` of a batch of shape `shape` is scaled.
    fn scaled(shape: &[usize], r: usize) -> bool {
        shape.len() < 3 || r.is_multiple_of(shape[1])
    }
}

impl Layer for FirstPositionScale {
    fn forward(&mut self, input: &Tensor, _mode: Mode) -> Result<&Tensor> {
        let w = self.g.len();
        check_features("first_position_scale", input, w)?;
        self.input.copy_from(input);
        self.output.copy_from(input);
        let shape = input.shape().to_vec();
        for (r, row) in self.output.data_mut().chunks_mut(w).enumerate() {
            if Self::scaled(&shape, r) {
                row.iter_mut().zip(self.g.data()).for_each(|(y, g)| *y *= g);
            }
        }
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        check_grad("first_position_scale", grad_output, self.input.shape())?;
        let (w, shape) = (self.g.len(), self.input.shape().to_vec());
        self.grad_input.copy_from(grad_output);
        let rows = self.grad_input.data_mut().chunks_mut(w).zip(self.input.data().chunks(w)).enumerate();
        for (r, (dx, x)) in rows {
            if Self::scaled(&shape, r) {
                for (j, (d, &xj)) in dx.iter_mut().zip(x).enumerate() {
                    self.grad_g.data_mut()[j] += *d * xj;
                    *d *= self.g.data()[j];
                }
            }
        }
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        features_output_shape("first_position_scale", input_shape, self.g.len(), self.g.len())
    }

    fn kind(&self) -> &str {
        "first_position_scale"
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        visitor.param("g", &mut self.g, &mut self.grad_g);
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new("first_position_scale", &self.g.len())
    }
}

// ----- Lookup: a layer that takes token ids -------------------------------------

/// An embedding table `[vocab, width]`: ids `[.., s]` (integers stored as
/// `f32`) become vectors `[.., s, width]`; the gradient goes into the rows
/// looked up, and the input gradient is zero (ids are not differentiable).
#[derive(Debug, Clone)]
pub struct Lookup {
    table: Tensor,
    grad_table: Tensor,
    ids: Vec<usize>,
    input_shape: Vec<usize>,
    output: Tensor,
    grad_input: Tensor,
}

impl Lookup {
    /// A table of `vocab` rows of `width`, drawn from `N(0, 1)`.
    pub fn new(vocab: usize, width: usize, rng: &mut StrataRng) -> Self {
        Lookup {
            table: Tensor::random_normal(&[vocab, width], 0.0, 1.0, rng).unwrap(),
            grad_table: Tensor::zeros(&[vocab, width]),
            ids: Vec::new(),
            input_shape: Vec::new(),
            output: Tensor::default(),
            grad_input: Tensor::default(),
        }
    }
}

impl Layer for Lookup {
    fn forward(&mut self, input: &Tensor, _mode: Mode) -> Result<&Tensor> {
        let (vocab, width) = (self.table.shape()[0], self.table.shape()[1]);
        if input.rank() < 2 {
            return Err(LayerError::ShapeMismatch {
                layer: "lookup".into(),
                expected: vec![Dim::Any, Dim::Any],
                actual: dims(input.shape()),
            });
        }
        check_token_ids("lookup", input, vocab)?;
        self.ids.clear();
        self.ids.extend(input.data().iter().map(|&v| v as usize));
        self.input_shape = input.shape().to_vec();
        self.output.resize_with_last(input.shape(), width);
        for (row, &id) in self.output.data_mut().chunks_mut(width).zip(&self.ids) {
            row.copy_from_slice(&self.table.data()[id * width..(id + 1) * width]);
        }
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        check_grad("lookup", grad_output, self.output.shape())?;
        let width = self.table.shape()[1];
        for (g, &id) in grad_output.data().chunks(width).zip(&self.ids) {
            for (t, &gj) in self.grad_table.data_mut()[id * width..(id + 1) * width].iter_mut().zip(g) {
                *t += gj;
            }
        }
        self.grad_input.resize(&self.input_shape);
        self.grad_input.fill(0.0);
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        if input_shape.is_empty() {
            return Err(LayerError::ShapeMismatch { layer: "lookup".into(), expected: vec![Dim::Any], actual: vec![] });
        }
        let mut out = input_shape.to_vec();
        out.push(Dim::Fixed(self.table.shape()[1]));
        Ok(out)
    }

    fn kind(&self) -> &str {
        "lookup"
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        visitor.param("table", &mut self.table, &mut self.grad_table);
    }

    fn spec(&self) -> Result<LayerSpec> {
        LayerSpec::new("lookup", &(self.table.shape()[0], self.table.shape()[1]))
    }
}
