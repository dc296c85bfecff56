//! # strata-testkit
//!
//! The conformance kit: one call checks a [`Layer`](strata_layers::Layer),
//! an [`Activation`](strata_activation::Activation) or a
//! [`Loss`](strata_loss::Loss) against everything the rest of Strata relies
//! on, and reports every failure with a message that names what is wrong
//! and where. Write a layer in your own crate, add one test, and the kit
//! tells you whether Strata can train, save and load it.
//!
//! [`check_layer`] runs these checks ([`Check`]):
//!
//! 1. **gradients**: the input gradient and *every* parameter gradient agree
//!    with central finite differences of the objective `L = Σ w ⊙ y` (a fixed
//!    random `w`), taken in training mode;
//! 2. **shapes**: `output_shape` agrees with what `forward` returns, and
//!    `backward` returns the input's shape;
//! 3. **shape errors**: inputs of wrong shapes are rejected with an `Err`
//!    naming the layer and both shapes (the accepted one may use `*` for
//!    "any size", as in `[*, 4, *, *]`) — exactly when `output_shape`
//!    rejects them — and so is a gradient of the wrong shape; a panic is a
//!    failure, not a crash;
//! 4. **parameter names**: non-empty, unique, stable across visits, passes
//!    and builds;
//! 5. **batch independence**: inference on a batch equals inference row by
//!    row (opt out with [`CheckOptions::skip`]);
//! 6. **determinism**: the same seed builds the same layer, with the same
//!    outputs;
//! 7. **save/load**: [`SavedModel`](strata_io::SavedModel) capture →
//!    bytes → parse → instantiate with the [`CheckOptions::registry`] gives
//!    the same spec, the same tensors and bitwise the same inference output;
//! 8. **optimizer step**: one SGD step on an MSE regression to a random
//!    target lowers the loss (skipped for parameter-free layers);
//! 9. **accumulation**: a second `backward` after one `forward` doubles
//!    every parameter gradient (backward adds, never overwrites) and repeats
//!    the input gradient;
//! 10. **leading axes**: a layer whose `output_shape` accepts an extra
//!     leading axis (`[2, ..sample]`) computes on `[batch, 2, ..sample]`
//!     exactly what it computes on the `2 * batch` rows reshaped: outputs in
//!     both modes, input and parameter gradients (skipped for layers that
//!     reject the extra axis, such as convolutions).
//!
//! Inputs are real values by default; a layer that takes token ids (an
//! embedding) is checked with [`CheckOptions::with_ids`], or any input with
//! [`CheckOptions::with_input_generator`] ([`InputKind`]): the input gradient
//! of ids is not compared, everything else is.
//!
//! [`check_activation`] and [`check_loss`] do the same for activations
//! (finite differences of `backward`, shape preservation, shape errors) and
//! losses (finite differences of `gradient`, finite values,
//! `value_and_gradient` = `value` + `gradient`, shape errors). Each returns
//! a [`Report`] or [`Failures`]; the `assert_*` functions and
//! [`layer_conformance!`] panic with the failures' message, for tests.
//!
//! ## The design decision: rebuild, don't reset
//!
//! The kit never reuses a layer between two evaluations of the objective:
//! each finite difference calls the caller's `make` with a freshly seeded
//! generator and perturbs the fresh layer. The [`Layer`](strata_layers::Layer)
//! trait has no `reset`, and the kit cannot rewind a layer's random stream
//! from outside; but a layer that builds deterministically from a seed —
//! which check 6 verifies, and which model files need anyway — applies the
//! same dropout mask on its first training-mode forward every time. So
//! dropout's training-mode gradients are checked with a fixed mask, without
//! a hook, and a new layer needs nothing beyond the `Layer` trait. If the
//! layer is *not* deterministic, the gradient check is skipped and the
//! determinism failure explains why. The price is one build per evaluation,
//! small next to the forward pass at the sizes a conformance test uses.
//!
//! ## Step and tolerance
//!
//! Element `v` is moved to `v ± h` with `h = 1e-2 · max(1, |v|)` and
//! `(L(v + h) - L(v - h)) / (2h)` is compared with the analytic gradient;
//! `L` is accumulated in `f64` from the layer's `f32` output, and the
//! quotient divides by the step actually taken in `f32`. Two errors
//! compete. *Truncation*: `h² |L'''| / 6 ≈ 2e-5 · |L'''|` (zero for a
//! linear map such as a dense layer). *Rounding*: `f32` carries about 7
//! significant digits (`ε = 6e-8`), so each output is off by about `ε |y|`
//! and the quotient turns that into roughly `ε Σ|w y| / (2h)` ≈ `6e-8 · 10
//! / 2e-2 ≈ 3e-5` for ten outputs of size one. `h = 1e-2` keeps both near
//! `1e-5`; `h = 1e-3` would push rounding to `3e-4` and `1e-4` to `3e-3`.
//!
//! Analytic `a` and numeric `n` pass when the *relative error*
//! `|a - n| / max(|a|, |n|, floor)` is at most `rtol = 1e-2`: two orders of
//! magnitude above the errors above, and two below what a real bug produces
//! (a wrong sign gives a relative error of 2, a missing factor 2 gives 0.5).
//! Gradients below the `floor` are compared absolutely, because the relative
//! error of a near-zero gradient measures nothing but rounding. The floor is
//! `atol / rtol = 0.1` for a tensor whose gradients reach 1 or more, and
//! shrinks with the tensor's own scale below that (its largest analytic or
//! numeric element `s`: `0.1 · s`), so that a layer with tiny weights is held
//! to the same relative standard (a sign-flipped gradient of magnitude
//! `1e-4` fails); it never goes below `2 noise / (h rtol)`, where `noise` is
//! the `f32` rounding of one evaluation of the objective, so rounding alone
//! never fails a correct layer.
//!
//! An element that misses the tolerance is measured again at `h / 10` and
//! `h / 100`, each time with the central and both one-sided differences, and
//! the best estimate counts. A wrong derivative is wrong at every step and
//! on both sides; the two legitimate misses are not. Truncation error
//! shrinks with `h`. A kink inside the stencil — a hidden ReLU whose
//! pre-activation lies within `h` of zero, which the kit cannot steer clear
//! of from outside — biases the central difference, but once the step is
//! shorter than the distance to the kink, the difference on the other side
//! is exact. Measured on a dense(4→6)-relu-dense(6→3) network: the central
//! difference at `h` alone failed for 4 of 12 seeds, central differences
//! down to `h / 100` for 2 of 300, the full refinement for none of 3000.
//! The layer's own inputs are kept off kinks at zero by [`InputRange`],
//! which draws magnitudes in `[0.1, 1]` by default.
//!
//! ## Example
//!
//! ```
//! use strata_activation::ActivationKind;
//! use strata_layers::{ActivationLayer, Dense, DenseConfig, Sequential};
//! use strata_testkit::{Check, CheckOptions, check_layer};
//!
//! // A small network: dense -> relu -> dense, built from the kit's generator.
//! let make = |rng: &mut strata_tensor::StrataRng| {
//!     Sequential::new(&[4], vec![
//!         Box::new(Dense::new(DenseConfig::new(4, 5), rng)?),
//!         Box::new(ActivationLayer::new(ActivationKind::Relu)),
//!         Box::new(Dense::new(DenseConfig::new(5, 2), rng)?),
//!     ])
//! };
//! let report = check_layer("mlp", make, &[4], &CheckOptions::default())?;
//! assert!(report.passed(Check::Gradients) && report.passed(Check::SaveLoad));
//! println!("{report}"); // one line per check: pass/skip/FAIL and what was measured
//! # Ok::<(), strata_testkit::Failures>(())
//! ```
//!
//! In a layer crate's tests, one line per layer:
//!
//! ```
//! use strata_layers::{Dense, DenseConfig};
//! use strata_testkit::layer_conformance;
//!
//! layer_conformance!(dense_4_to_3, |rng| Dense::new(DenseConfig::new(4, 3), rng), [4]);
//! # fn main() {}
//! ```
//!
//! A dense layer (no bias) whose weight gradient has the wrong sign fails
//! like this — the kit's own test keeps `docs/kit-failure-example.txt`
//! equal to what it prints:
//!
//! ```text
//! 'sign_flipped_dense' failed 2 of 10 conformance checks:
//!   [gradients] sign_flipped_dense: gradient of 'weight' differs from finite differences: largest relative error 2 at [2, 0] (analytic 1.78, numeric -1.78), tolerance 1e-2 (12 of 12 elements outside it)
//!   [optimizer step] sign_flipped_dense: one SGD step (lr 0.01) on an MSE regression did not lower the loss: it went from 1.06 to 1.07 (+0.00561)
//! ```
#![warn(missing_docs)]

mod activation;
pub mod bench;
mod layer;
mod layer_axes;
mod loss;
mod numeric;
mod options;
mod report;

pub use activation::{assert_activation_conforms, check_activation};
pub use layer::{assert_layer_conforms, check_layer};
pub use loss::{assert_loss_conforms, check_loss};
pub use options::{Check, CheckOptions, InputKind, InputRange};
pub use report::{CheckResult, Failures, Outcome, Report, Result};

/// The kinds of `layer` and of every layer inside it, all the way down
/// ([`strata_layers::Layer::children`]): what a conformance case checks, for
/// the test that every kind a crate registers has a case.
///
/// ```
/// use strata_layers::{ActivationLayer, Dense, DenseConfig, Residual, Sequential};
/// use strata_tensor::StrataRng;
/// let dense = Dense::new(DenseConfig::new(3, 3), &mut StrataRng::seed_from_u64(0))?;
/// let inner = Sequential::new(&[3], vec![Box::new(dense), Box::new(ActivationLayer::new(strata_activation::ActivationKind::Relu))])?;
/// let kinds = strata_testkit::kinds_in(&Residual::new(Box::new(inner)));
/// assert_eq!(kinds.into_iter().collect::<Vec<_>>(), ["dense", "relu", "residual", "sequential"]);
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
pub fn kinds_in(layer: &dyn strata_layers::Layer) -> std::collections::BTreeSet<String> {
    let mut kinds = std::collections::BTreeSet::from([layer.kind().to_string()]);
    for (_, child) in layer.children() {
        kinds.extend(kinds_in(child));
    }
    kinds
}

/// A `#[test]` that runs [`check_layer`] and fails with the kit's message.
///
/// `layer_conformance!(test_name, make, input_shape)` or, with options,
/// `layer_conformance!(test_name, make, input_shape, options)`. `make` is a
/// closure `|rng| -> Result<impl Layer, LayerError>`, `input_shape` the
/// per-sample input shape (an array or slice), `options` a
/// [`CheckOptions`]. The test's name starts every failure message.
///
/// ```
/// use strata_layers::{Dropout, DropoutConfig, Flatten};
/// use strata_testkit::{CheckOptions, layer_conformance};
///
/// layer_conformance!(flatten_rank_4, |_| Ok(Flatten::new()), [2, 3, 2]);
/// layer_conformance!(
///     dropout_half,
///     |rng| Dropout::new(DropoutConfig { rate: 0.5, seed: rng.next_u64() }),
///     [6],
///     CheckOptions::default().with_batch_size(4)
/// );
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! layer_conformance {
    ($test:ident, $make:expr, $input_shape:expr $(,)?) => {
        $crate::layer_conformance!($test, $make, $input_shape, $crate::CheckOptions::default());
    };
    ($test:ident, $make:expr, $input_shape:expr, $options:expr $(,)?) => {
        #[test]
        fn $test() {
            $crate::assert_layer_conforms(::core::stringify!($test), $make, &$input_shape, &$options);
        }
    };
}

/// One `#[test]` per layer kind in a module `kind`, each calling
/// `check_kind("<kind>")` of the module the macro is used in, and a
/// `const TESTED: &[&str]` naming them, for a test that every kind a crate
/// registers has one (each layer crate's `tests/kit.rs` pairs them).
///
/// ```
/// fn check_kind(kind: &str) {
///     assert!(["dense", "flatten"].contains(&kind));
/// }
/// strata_testkit::kind_tests!(dense, flatten);
/// # fn main() { assert_eq!(TESTED, ["dense", "flatten"]); check_kind(TESTED[0]); }
/// ```
#[macro_export]
macro_rules! kind_tests {
    ($($kind:ident),* $(,)?) => {
        mod kind {
            $(
                #[test]
                fn $kind() {
                    super::check_kind(::core::stringify!($kind));
                }
            )*
        }
        const TESTED: &[&str] = &[$(::core::stringify!($kind)),*];
    };
}
