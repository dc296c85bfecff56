//! What the kit checks and how: [`Check`], [`CheckOptions`], [`InputRange`].

use strata_layers::Registry;
use strata_tensor::{StrataRng, Tensor};

/// One property the kit verifies. [`CheckOptions::skip`] turns a check off;
/// a [`crate::Report`] has one entry per check that applies to the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Check {
    /// The kit could start: the options are valid, the layer could be built
    /// and accepts the input shape it is checked with. Never skipped.
    Setup,
    /// Analytic gradients (input and every parameter) agree with central
    /// finite differences.
    Gradients,
    /// `output_shape` agrees with what `forward` returns, and `backward`
    /// returns the input's shape (for activations: both keep the input's
    /// shape; for losses: the gradient has the prediction's shape).
    Shapes,
    /// A tensor of a wrong shape gives an `Err` naming the layer (or
    /// activation, or loss) and the shapes, never a panic.
    ShapeErrors,
    /// Parameter names are non-empty, unique, and the same on every visit and
    /// on every build; each gradient has its parameter's shape.
    ParameterNames,
    /// Inference on a batch equals inference row by row.
    BatchIndependence,
    /// The same seed builds the same layer: identical parameters and
    /// identical outputs, in both modes.
    Determinism,
    /// `SavedModel` round trip (capture, bytes, parse, instantiate with the
    /// registry): same spec, same tensors, bitwise the same inference output.
    SaveLoad,
    /// One SGD step on a small MSE regression lowers the loss.
    OptimizerStep,
    /// A loss's value and gradient are finite.
    Value,
    /// `Loss::value_and_gradient` returns exactly `value` and `gradient`.
    ValueAndGradient,
    /// Parameter gradients accumulate: a second `backward` after one
    /// `forward` adds the same gradient again (twice the first), and the
    /// input gradient is the same both times. After `zero_grad` every
    /// gradient reads zero, and one `backward` gives the first gradients
    /// again, bit for bit.
    Accumulation,
    /// A layer that accepts an extra leading axis (`[batch, k, ..sample]`)
    /// computes on it exactly what it computes on the `batch * k` rows
    /// reshaped: outputs, input gradient and parameter gradients.
    LeadingAxes,
}

impl Check {
    /// Every check, in report order.
    pub const ALL: [Check; 13] = [
        Check::Setup,
        Check::Gradients,
        Check::Shapes,
        Check::ShapeErrors,
        Check::ParameterNames,
        Check::BatchIndependence,
        Check::Determinism,
        Check::SaveLoad,
        Check::OptimizerStep,
        Check::Value,
        Check::ValueAndGradient,
        Check::Accumulation,
        Check::LeadingAxes,
    ];

    /// Short lowercase name used in reports, e.g. `gradients`.
    pub const fn name(self) -> &'static str {
        match self {
            Check::Setup => "setup",
            Check::Gradients => "gradients",
            Check::Shapes => "shapes",
            Check::ShapeErrors => "shape errors",
            Check::ParameterNames => "parameter names",
            Check::BatchIndependence => "batch independence",
            Check::Determinism => "determinism",
            Check::SaveLoad => "save/load",
            Check::OptimizerStep => "optimizer step",
            Check::Value => "value",
            Check::ValueAndGradient => "value and gradient",
            Check::Accumulation => "accumulation",
            Check::LeadingAxes => "leading axes",
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where random inputs come from: magnitudes uniform in `[min_abs, max_abs]`,
/// each with a random sign.
///
/// The default, `[0.1, 1]`, keeps every input at least `0.1` away from zero,
/// so the `±h` stencil of a finite difference never straddles the kink of
/// ReLU-like functions at zero (`h` is `1e-2` there). Use a range starting at
/// zero for smooth functions, and a wide one (`max_abs = 6`) to reach
/// saturated tails.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputRange {
    /// Smallest magnitude (`>= 0`).
    pub min_abs: f32,
    /// Largest magnitude (`>= min_abs`).
    pub max_abs: f32,
}

impl Default for InputRange {
    fn default() -> Self {
        InputRange { min_abs: 0.1, max_abs: 1.0 }
    }
}

impl InputRange {
    /// Magnitudes in `[min_abs, max_abs]`.
    pub const fn new(min_abs: f32, max_abs: f32) -> Self {
        InputRange { min_abs, max_abs }
    }

    /// A tensor of `shape` drawn from this range.
    pub fn sample(&self, shape: &[usize], rng: &mut StrataRng) -> Tensor {
        let mut t = Tensor::zeros(shape);
        for x in t.data_mut() {
            let magnitude = self.min_abs + (self.max_abs - self.min_abs) * rng.next_f32();
            *x = if rng.next_u64() >> 63 == 1 { -magnitude } else { magnitude };
        }
        t
    }

    fn is_valid(&self) -> bool {
        self.min_abs.is_finite() && self.max_abs.is_finite() && 0.0 <= self.min_abs && self.min_abs <= self.max_abs
    }
}

/// What a layer takes as input: real values, token ids, or whatever a
/// generator draws.
#[derive(Debug, Clone, Copy)]
pub enum InputKind {
    /// Real values drawn from [`CheckOptions::input_range`]; the input
    /// gradient is checked.
    Real,
    /// Token ids: integers in `0..vocab` stored as `f32` (an embedding's
    /// input). Not differentiable: the input gradient is not compared with
    /// finite differences (`backward` must still return the input's shape).
    Ids {
        /// Ids are drawn from `0..vocab`.
        vocab: usize,
    },
    /// A generator of inputs of a shape, and whether the layer is
    /// differentiable in them.
    Custom {
        /// Draws an input of the given batch shape.
        generate: fn(&[usize], &mut StrataRng) -> Tensor,
        /// Whether the input gradient is checked.
        differentiable: bool,
    },
}

impl InputKind {
    /// Whether the input gradient is compared with finite differences.
    pub fn differentiable(&self) -> bool {
        match self {
            InputKind::Real => true,
            InputKind::Ids { .. } => false,
            InputKind::Custom { differentiable, .. } => *differentiable,
        }
    }
}

/// How the kit checks: batch size, seed, registry, inputs, tolerances, and
/// which checks to skip. Build it with [`CheckOptions::default`] and the
/// `with_*` methods.
///
/// **Finite differences.** Element `v` is moved to `v ± h` with
/// `h = step · max(1, |v|)` (`step` = `1e-2` by default), the objective is
/// evaluated in `f64` from the `f32` layer, and the quotient divides by the
/// step actually taken in `f32`. An element whose estimate misses the
/// tolerance is measured again at `h / 10` and `h / 100`, centrally and
/// one-sidedly, and the best estimate counts (see the crate documentation
/// for why).
///
/// **Tolerance.** Analytic `a` and numeric `n` agree when their *relative
/// error* `|a - n| / max(|a|, |n|, atol / rtol)` is at most `rtol`, that is
/// `|a - n| <= max(rtol · max(|a|, |n|), atol)`: relative for gradients
/// larger than `atol / rtol` (`0.1` by default), absolute below. Defaults
/// `rtol = 1e-2`, `atol = 1e-3`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckOptions {
    /// Rows per batch (default 3). Batch independence needs at least 2.
    pub batch_size: usize,
    /// Seed of every build of the layer and of the random inputs (default 42).
    pub seed: u64,
    /// The registry the save/load check rebuilds the layer with (default
    /// [`Registry::with_builtins`]); a layer crate adds its own kinds.
    pub registry: Registry,
    /// Where the inputs (activation inputs, layer inputs) are drawn from.
    pub input_range: InputRange,
    /// What a layer takes: real values (from `input_range`), token ids, or
    /// a custom generator's draws (default real values).
    pub input_kind: InputKind,
    /// Relative finite-difference step (default `1e-2`).
    pub step: f64,
    /// Relative tolerance of the gradient check (default `1e-2`).
    pub rtol: f64,
    /// Absolute tolerance of the gradient check (default `1e-3`).
    pub atol: f64,
    /// Mixed tolerance of the batch-independence check: `|a - b| <= tol ·
    /// max(1, |a|, |b|)` (default `1e-5`; a batch and a single row may take
    /// different matrix-multiply paths, which round differently).
    pub batch_tolerance: f64,
    /// Learning rate of the optimizer-step check (default `1e-2`).
    pub learning_rate: f32,
    /// Checks not to run; they are reported as skipped.
    pub skip: Vec<Check>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            batch_size: 3,
            seed: 42,
            registry: Registry::with_builtins(),
            input_range: InputRange::default(),
            input_kind: InputKind::Real,
            step: 1e-2,
            rtol: 1e-2,
            atol: 1e-3,
            batch_tolerance: 1e-5,
            learning_rate: 1e-2,
            skip: Vec::new(),
        }
    }
}

impl CheckOptions {
    /// Rows per batch.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Seed of the layer builds and of the inputs.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The registry for the save/load round trip.
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Input magnitudes in `[min_abs, max_abs]` with random signs.
    pub fn with_input_range(mut self, min_abs: f32, max_abs: f32) -> Self {
        self.input_range = InputRange::new(min_abs, max_abs);
        self
    }

    /// The layer takes token ids in `0..vocab` (see [`InputKind::Ids`]).
    pub fn with_ids(mut self, vocab: usize) -> Self {
        self.input_kind = InputKind::Ids { vocab };
        self
    }

    /// The layer takes what `generate` draws (see [`InputKind::Custom`]).
    pub fn with_input_generator(
        mut self,
        generate: fn(&[usize], &mut StrataRng) -> Tensor,
        differentiable: bool,
    ) -> Self {
        self.input_kind = InputKind::Custom { generate, differentiable };
        self
    }

    /// An input of `shape` as [`CheckOptions::input_kind`] says.
    pub fn sample_input(&self, shape: &[usize], rng: &mut StrataRng) -> Tensor {
        match self.input_kind {
            InputKind::Real => self.input_range.sample(shape, rng),
            InputKind::Ids { vocab } => {
                let mut t = Tensor::zeros(shape);
                for x in t.data_mut() {
                    *x = (rng.next_u64() % vocab.max(1) as u64) as f32;
                }
                t
            }
            InputKind::Custom { generate, .. } => generate(shape, rng),
        }
    }

    /// Relative finite-difference step.
    pub fn with_step(mut self, step: f64) -> Self {
        self.step = step;
        self
    }

    /// Gradient tolerance (see the type's documentation).
    pub fn with_tolerance(mut self, rtol: f64, atol: f64) -> Self {
        self.rtol = rtol;
        self.atol = atol;
        self
    }

    /// Tolerance of the batch-independence check.
    pub fn with_batch_tolerance(mut self, tol: f64) -> Self {
        self.batch_tolerance = tol;
        self
    }

    /// Learning rate of the optimizer-step check.
    pub fn with_learning_rate(mut self, lr: f32) -> Self {
        self.learning_rate = lr;
        self
    }

    /// Do not run `check` (e.g. [`Check::BatchIndependence`] for a layer
    /// that normalises over the batch in inference).
    pub fn skip(mut self, check: Check) -> Self {
        if !self.skip.contains(&check) {
            self.skip.push(check);
        }
        self
    }

    /// Whether `check` is switched off.
    pub fn skips(&self, check: Check) -> bool {
        self.skip.contains(&check)
    }

    /// What is wrong with these options, if anything.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.batch_size == 0 {
            out.push("batch_size must be at least 1".to_string());
        }
        if !self.input_range.is_valid() {
            out.push(format!(
                "input range [{}, {}] must satisfy 0 <= min_abs <= max_abs, both finite",
                self.input_range.min_abs, self.input_range.max_abs
            ));
        }
        if let InputKind::Ids { vocab } = self.input_kind
            && !(1..=strata_tensor::MAX_EXACT_INT).contains(&vocab)
        {
            out.push(format!("token ids need a vocabulary of 1 to 2^24 (exact in f32), got {vocab}"));
        }
        if !(self.step > 0.0 && self.step < 1.0) {
            out.push(format!("step must lie in (0, 1), got {}", self.step));
        }
        if !(self.rtol > 0.0 && self.rtol.is_finite()) {
            out.push(format!("rtol must be positive and finite, got {}", self.rtol));
        }
        if !(self.atol >= 0.0 && self.atol.is_finite()) {
            out.push(format!("atol must be finite and >= 0, got {}", self.atol));
        }
        if !(self.batch_tolerance >= 0.0 && self.batch_tolerance.is_finite()) {
            out.push(format!("batch_tolerance must be finite and >= 0, got {}", self.batch_tolerance));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            out.push(format!("learning_rate must be positive and finite, got {}", self.learning_rate));
        }
        out
    }
}
