//! [`check_layer`]: every conformance check against one [`Layer`].

use crate::numeric::{self, Comparison, Tolerance, bitwise_eq, first_difference, guarded, no_panic, num, shape};
use crate::options::{Check, CheckOptions};
use crate::report::{Outcome, Report, Result};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use strata_io::SavedModel;
use strata_layers::{
    Layer, LayerError, Mode, ShapeDisplay, dims, fixed_shape, load_state_dict, shape_accepts, state_dict,
};
use strata_loss::{Loss, MeanSquaredError};
use strata_optimizer::{Optimizer, Sgd, SgdConfig};
use strata_tensor::{ParamRef, ParamVisitor, StrataRng, Tensor};

/// Stream of the random inputs and objective weights (independent of the
/// stream the layer is built from, which is `seed` itself).
const DATA_STREAM: u64 = 0x6b69_745f_6461_7461;

/// Run every conformance check against the layer `make` builds, for inputs
/// of per-sample shape `input_shape` (without the batch axis).
///
/// `make` is called with a generator freshly seeded with
/// [`CheckOptions::seed`] every time the kit needs a layer, so it must build
/// the same layer (weights, masks) every time; [`Check::Determinism`]
/// verifies that. Rebuilding is how the kit resets a layer: every finite
/// difference is taken on a fresh build, so a dropout layer applies the same
/// mask in every training-mode evaluation.
///
/// `name` starts every failure message. Returns the [`Report`] when every
/// check passes or is skipped, else [`crate::Failures`] listing each failed
/// check. Never panics: a panicking layer fails the check it panicked in.
///
/// ```
/// use strata_layers::{Dense, DenseConfig};
/// use strata_testkit::{Check, CheckOptions, check_layer};
///
/// let report = check_layer("dense", |rng| Dense::new(DenseConfig::new(4, 3), rng), &[4], &CheckOptions::default())?;
/// assert!(report.passed(Check::Gradients));
/// assert!(report.max_gradient_error.unwrap() < 1e-2);
/// # Ok::<(), strata_testkit::Failures>(())
/// ```
pub fn check_layer<L: Layer>(
    name: &str,
    make: impl Fn(&mut StrataRng) -> std::result::Result<L, LayerError>,
    input_shape: &[usize],
    opts: &CheckOptions,
) -> Result<Report> {
    let mut report = Report { subject: name.to_string(), results: Vec::new(), max_gradient_error: None };
    let subject = match guarded_setup(name, &make, input_shape, opts) {
        Ok(subject) => subject,
        Err(messages) => {
            report.push(Check::Setup, Outcome::Failed(messages));
            return report.into_result();
        }
    };
    report.push(Check::Setup, Outcome::Passed(subject.describe()));

    let run = |report: &mut Report, check: Check, f: &dyn Fn() -> Outcome| {
        let outcome =
            if opts.skips(check) { Outcome::Skipped("switched off in the options".into()) } else { guarded(name, f) };
        report.push(check, outcome);
    };
    // Determinism first: the gradient check relies on it.
    run(&mut report, Check::Determinism, &|| subject.determinism());
    let deterministic = !report.outcome(Check::Determinism).is_some_and(Outcome::is_failed);
    if deterministic {
        let outcome = if opts.skips(Check::Gradients) {
            Outcome::Skipped("switched off in the options".into())
        } else {
            match no_panic(|| subject.gradients()) {
                Ok((outcome, max_error)) => {
                    report.max_gradient_error = max_error;
                    outcome
                }
                Err(panic) => Outcome::Failed(vec![format!("{name}: panicked: {panic}")]),
            }
        };
        report.push(Check::Gradients, outcome);
    } else {
        report.push(
            Check::Gradients,
            Outcome::Skipped(
                "the layer is not deterministic for a fixed seed (see determinism), so finite differences \
                 would measure noise"
                    .into(),
            ),
        );
    }
    run(&mut report, Check::Shapes, &|| subject.shapes());
    run(&mut report, Check::ShapeErrors, &|| subject.shape_errors());
    run(&mut report, Check::ParameterNames, &|| subject.parameter_names());
    run(&mut report, Check::BatchIndependence, &|| subject.batch_independence());
    run(&mut report, Check::SaveLoad, &|| subject.save_load());
    run(&mut report, Check::OptimizerStep, &|| subject.optimizer_step());
    run(&mut report, Check::Accumulation, &|| subject.accumulation());
    if deterministic {
        run(&mut report, Check::LeadingAxes, &|| subject.leading_axes());
    } else {
        let why = "the layer is not deterministic for a fixed seed (see determinism), so two builds cannot be compared";
        report.push(Check::LeadingAxes, Outcome::Skipped(why.into()));
    }
    report.into_result()
}

/// [`check_layer`], panicking with the [`crate::Failures`] message if any
/// check fails: for use inside `#[test]` (see also
/// [`layer_conformance!`](crate::layer_conformance)). Returns the report.
pub fn assert_layer_conforms<L: Layer>(
    name: &str,
    make: impl Fn(&mut StrataRng) -> std::result::Result<L, LayerError>,
    input_shape: &[usize],
    opts: &CheckOptions,
) -> Report {
    match check_layer(name, make, input_shape, opts) {
        Ok(report) => report,
        Err(failures) => panic!("{failures}"),
    }
}

/// Validate the options, build the layer once, and draw the data.
fn guarded_setup<'a, L: Layer>(
    name: &'a str,
    make: &'a dyn Fn(&mut StrataRng) -> std::result::Result<L, LayerError>,
    input_shape: &'a [usize],
    opts: &'a CheckOptions,
) -> std::result::Result<Subject<'a, L>, Vec<String>> {
    let problems = opts.problems();
    if !problems.is_empty() {
        return Err(problems.into_iter().map(|p| format!("{name}: invalid options: {p}")).collect());
    }
    let mut batch_shape = vec![opts.batch_size];
    batch_shape.extend_from_slice(input_shape);
    let mut subject = Subject {
        name,
        make,
        input_shape,
        batch_shape,
        output_shape: Vec::new(),
        opts,
        x: Tensor::default(),
        w: Tensor::default(),
        tol: Tolerance::from_options(opts),
    };
    let output_shape = no_panic(|| -> std::result::Result<Vec<usize>, String> {
        let layer = subject.build()?;
        let out = layer.output_shape(&dims(input_shape)).map_err(|e| {
            format!("{name}: output_shape rejects the input shape {} the kit was given: {e}", shape(input_shape))
        })?;
        fixed_shape(&out).ok_or_else(|| {
            format!(
                "{name}: output_shape({}) = {} has an axis of any size, for an input of fixed sizes",
                shape(input_shape),
                strata_layers::ShapeDisplay(&out)
            )
        })
    })
    .map_err(|panic| vec![format!("{name}: panicked while building the layer: {panic}")])?
    .map_err(|e| vec![e])?;
    let mut rng = StrataRng::seed_from_u64(opts.seed ^ DATA_STREAM);
    subject.x = opts.sample_input(&subject.batch_shape, &mut rng);
    let mut out_batch = vec![opts.batch_size];
    out_batch.extend_from_slice(&output_shape);
    subject.w = Tensor::random_normal(&out_batch, 0.0, 1.0, &mut rng)
        .map_err(|e| vec![format!("{name}: cannot draw objective weights of shape {}: {e}", shape(&out_batch))])?;
    subject.output_shape = output_shape;
    Ok(subject)
}

/// Everything one run of the checks needs.
pub(crate) struct Subject<'a, L> {
    pub(crate) name: &'a str,
    pub(crate) make: &'a dyn Fn(&mut StrataRng) -> std::result::Result<L, LayerError>,
    pub(crate) input_shape: &'a [usize],
    /// `[batch, ..input_shape]`.
    pub(crate) batch_shape: Vec<usize>,
    /// Per-sample output shape, from `output_shape`.
    pub(crate) output_shape: Vec<usize>,
    pub(crate) opts: &'a CheckOptions,
    /// The input batch.
    pub(crate) x: Tensor,
    /// Weights of the objective `L = Σ w ⊙ y`, of the output's batch shape.
    pub(crate) w: Tensor,
    pub(crate) tol: Tolerance,
}

/// A parameter as seen through `visit_parameters`.
pub(crate) struct ParamInfo {
    pub(crate) name: String,
    pub(crate) value: Tensor,
    pub(crate) grad: Option<Tensor>,
}

pub(crate) fn params(layer: &mut dyn Layer) -> Vec<ParamInfo> {
    let mut out = Vec::new();
    let mut path = String::new();
    let mut f = |p: ParamRef<'_>| {
        out.push(ParamInfo { name: p.name.to_string(), value: p.value.clone(), grad: p.grad.map(|g| g.clone()) })
    };
    layer.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    out
}

/// Set element `index` of parameter `name` to `value`; false if there is no such parameter.
fn set_param(layer: &mut dyn Layer, name: &str, index: usize, value: f32) -> bool {
    let mut found = false;
    let mut path = String::new();
    let mut f = |p: ParamRef<'_>| {
        if p.name == name
            && let Some(slot) = p.value.data_mut().get_mut(index)
        {
            *slot = value;
            found = true;
        }
    };
    layer.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    found
}

/// `f64` mean of `(y - t)²`.
fn mse(y: &Tensor, t: &Tensor) -> f64 {
    let n = y.len().max(1) as f64;
    y.data().iter().zip(t.data()).map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2)).sum::<f64>() / n
}

impl<L: Layer> Subject<'_, L> {
    pub(crate) fn build(&self) -> std::result::Result<L, String> {
        (self.make)(&mut StrataRng::seed_from_u64(self.opts.seed))
            .map_err(|e| format!("{}: could not build the layer: {e}", self.name))
    }

    fn describe(&self) -> String {
        format!(
            "inputs {} (|x| in [{}, {}]), per-sample output {}",
            shape(&self.batch_shape),
            self.opts.input_range.min_abs,
            self.opts.input_range.max_abs,
            shape(&self.output_shape)
        )
    }

    /// `name: what` for failure messages.
    pub(crate) fn msg(&self, what: impl std::fmt::Display) -> String {
        format!("{}: {what}", self.name)
    }

    pub(crate) fn forward(&self, layer: &mut L, x: &Tensor, mode: Mode) -> std::result::Result<Tensor, String> {
        layer.forward(x, mode).cloned().map_err(|e| self.msg(format_args!("forward ({mode:?}) failed: {e}")))
    }

    /// The objective on a fresh build, after `tweak` (a perturbation).
    fn objective(&self, x: &Tensor, tweak: impl FnOnce(&mut L) -> bool) -> std::result::Result<f64, String> {
        let mut layer = self.build()?;
        if !tweak(&mut layer) {
            return Err(self.msg("a freshly built layer lacks a parameter the first build reported"));
        }
        let y = self.forward(&mut layer, x, Mode::Train)?;
        numeric::weighted_sum(&y, &self.w).map_err(|e| self.msg(e))
    }

    /// Check 1: input and parameter gradients against finite differences.
    fn gradients(&self) -> (Outcome, Option<f64>) {
        match self.gradients_inner() {
            Ok((outcome, max)) => (outcome, Some(max)),
            Err(e) => (Outcome::Failed(vec![e]), None),
        }
    }

    fn gradients_inner(&self) -> std::result::Result<(Outcome, f64), String> {
        let mut layer = self.build()?;
        layer.zero_grad();
        let y = self.forward(&mut layer, &self.x, Mode::Train)?;
        if y.shape() != self.w.shape() {
            return Err(self.msg(format_args!(
                "forward returned shape {} where output_shape implies {} (see shapes)",
                shape(y.shape()),
                shape(self.w.shape())
            )));
        }
        let dx = layer.backward(&self.w).cloned().map_err(|e| self.msg(format_args!("backward failed: {e}")))?;
        if dx.shape() != self.x.shape() {
            return Err(self.msg(format_args!(
                "backward returned shape {} for an input of shape {} (see shapes)",
                shape(dx.shape()),
                shape(self.x.shape())
            )));
        }
        let mut failures = Vec::new();
        let mut max = 0.0f64;
        let mut compared = 0usize;
        let mut refined = 0usize;
        let noise = numeric::objective_noise(&y, &self.w);

        if self.opts.input_kind.differentiable() {
            let mut eval_input = |i: usize, v: f32| {
                let mut x = self.x.clone();
                x.data_mut()[i] = v;
                self.objective(&x, |_| true)
            };
            let c = numeric::compare(self.x.data(), dx.data(), &self.tol, noise, &mut eval_input)?;
            max = max.max(c.max_error());
            compared += c.n;
            refined += c.n_refined;
            failures.extend(c.message(self.name, "the input", self.x.shape(), &self.tol));
        }

        let trainable: Vec<(String, Tensor, Tensor)> =
            params(&mut layer).into_iter().filter_map(|p| p.grad.map(|g| (p.name, p.value, g))).collect();
        for (pname, value, grad) in &trainable {
            if grad.shape() != value.shape() {
                failures.push(self.msg(format_args!(
                    "gradient of '{pname}' has shape {} but the parameter has shape {}",
                    shape(grad.shape()),
                    shape(value.shape())
                )));
                continue;
            }
            let mut eval_param = |i: usize, v: f32| self.objective(&self.x, |l| set_param(l, pname, i, v));
            let c: Comparison = numeric::compare(value.data(), grad.data(), &self.tol, noise, &mut eval_param)?;
            max = max.max(c.max_error());
            compared += c.n;
            refined += c.n_refined;
            failures.extend(c.message(self.name, &format!("'{pname}'"), value.shape(), &self.tol));
        }
        if !failures.is_empty() {
            return Ok((Outcome::Failed(failures), max));
        }
        let what = match trainable.len() {
            0 => "the input gradient matches".to_string(),
            1 => "the input gradient and 1 parameter gradient match".to_string(),
            n => format!("the input gradient and {n} parameter gradients match"),
        };
        let refined = if refined == 0 { String::new() } else { format!("; {refined} needed a refined step") };
        Ok((
            Outcome::Passed(format!(
                "{what} finite differences ({compared} elements); largest relative error {} (tolerance \
                 {:e}){refined}",
                num(max),
                self.tol.rtol
            )),
            max,
        ))
    }

    /// Check 2: `output_shape` agrees with `forward`; `backward` returns the input's shape.
    fn shapes(&self) -> Outcome {
        let mut failures = Vec::new();
        let expected = self.w.shape();
        for mode in [Mode::Eval, Mode::Train] {
            let mut layer = match self.build() {
                Ok(l) => l,
                Err(e) => return Outcome::Failed(vec![e]),
            };
            match self.forward(&mut layer, &self.x, mode) {
                Err(e) => failures.push(e),
                Ok(y) if y.shape() != expected => failures.push(self.msg(format_args!(
                    "forward ({mode:?}) on {} returned shape {}, but output_shape({}) = {} implies {}",
                    shape(&self.batch_shape),
                    shape(y.shape()),
                    shape(self.input_shape),
                    shape(&self.output_shape),
                    shape(expected)
                ))),
                Ok(y) if mode == Mode::Train => {
                    let g = Tensor::ones(y.shape());
                    match layer.backward(&g) {
                        Err(e) => failures.push(self.msg(format_args!("backward failed: {e}"))),
                        Ok(dx) if dx.shape() != self.x.shape() => failures.push(self.msg(format_args!(
                            "backward returned shape {} for an input of shape {}",
                            shape(dx.shape()),
                            shape(self.x.shape())
                        ))),
                        Ok(_) => {}
                    }
                }
                Ok(_) => {}
            }
        }
        if failures.is_empty() {
            Outcome::Passed(format!(
                "forward gives {} in both modes, backward gives {}",
                shape(expected),
                shape(&self.batch_shape)
            ))
        } else {
            Outcome::Failed(failures)
        }
    }

    /// Per-sample shapes the layer is probed with: last axis one longer, an
    /// extra trailing axis, the first axis missing.
    fn wrong_sample_shapes(&self) -> Vec<Vec<usize>> {
        let s = self.input_shape;
        let mut probes = Vec::new();
        if let Some((&last, rest)) = s.split_last() {
            let mut longer = rest.to_vec();
            longer.push(last + 1);
            probes.push(longer);
            probes.push(s[1..].to_vec());
        }
        let mut extra = s.to_vec();
        extra.push(2);
        probes.push(extra);
        probes
    }

    /// Check 3: wrong shapes give an `Err` naming the layer and the shapes, never a panic.
    fn shape_errors(&self) -> Outcome {
        let mut failures = Vec::new();
        let (mut rejected, mut accepted) = (0, 0);
        let mut rng = StrataRng::seed_from_u64(self.opts.seed ^ DATA_STREAM ^ 1);
        for sample in self.wrong_sample_shapes() {
            let mut batch = vec![self.opts.batch_size];
            batch.extend_from_slice(&sample);
            let x = self.opts.sample_input(&batch, &mut rng);
            let claimed = match self.build() {
                Ok(layer) => match no_panic(|| layer.output_shape(&dims(&sample))) {
                    Ok(claimed) => claimed,
                    Err(panic) => {
                        failures.push(self.msg(format_args!(
                            "output_shape panicked on the per-sample shape {} (it must return an Err): {panic}",
                            shape(&sample)
                        )));
                        continue;
                    }
                },
                Err(e) => return Outcome::Failed(vec![e]),
            };
            for mode in [Mode::Eval, Mode::Train] {
                let mut layer = match self.build() {
                    Ok(l) => l,
                    Err(e) => return Outcome::Failed(vec![e]),
                };
                let result = no_panic(|| layer.forward(&x, mode).map(|y| y.shape().to_vec()));
                match (result, &claimed) {
                    (Err(panic), _) => failures.push(self.msg(format_args!(
                        "forward ({mode:?}) panicked on an input of shape {} instead of returning an Err: {panic}",
                        shape(&batch)
                    ))),
                    (Ok(Ok(got)), Err(e)) => failures.push(self.msg(format_args!(
                        "forward ({mode:?}) accepted an input of shape {} (output {}) although output_shape \
                         rejects {}: {e}",
                        shape(&batch),
                        shape(&got),
                        shape(&sample)
                    ))),
                    (Ok(Ok(got)), Ok(out)) => {
                        accepted += 1;
                        if got.first() != Some(&self.opts.batch_size) || !shape_accepts(out, &got[1..]) {
                            failures.push(self.msg(format_args!(
                                "forward ({mode:?}) on {} returned shape {}, but output_shape({}) = {}",
                                shape(&batch),
                                shape(&got),
                                shape(&sample),
                                ShapeDisplay(out)
                            )));
                        }
                    }
                    (Ok(Err(e)), Ok(out)) => failures.push(self.msg(format_args!(
                        "forward ({mode:?}) rejected an input of shape {} although output_shape({}) = {}: {e}",
                        shape(&batch),
                        shape(&sample),
                        ShapeDisplay(out)
                    ))),
                    (Ok(Err(e)), Err(_)) => {
                        rejected += 1;
                        if let Some(problem) = self.names_layer_and_shapes(&e, &batch, &sample) {
                            failures.push(self.msg(format_args!(
                                "forward ({mode:?}) on an input of shape {} returned an error that {problem}: {e}",
                                shape(&batch)
                            )));
                        }
                    }
                }
            }
        }
        // A gradient of the wrong shape.
        if let Err(e) = self.wrong_gradient() {
            failures.push(e);
        }
        if failures.is_empty() {
            Outcome::Passed(format!(
                "{rejected} probes (shape, mode) rejected with an error naming the layer and the shapes, {accepted} \
                 accepted as output_shape says; a gradient of the wrong shape rejected"
            ))
        } else {
            Outcome::Failed(failures)
        }
    }

    /// `None` if `e` names a layer and mentions the wrong and the expected
    /// shape (a pattern such as `[*, 4, *, *]` counts if it matches the
    /// shape the kit checks with), else what it lacks.
    fn names_layer_and_shapes(&self, e: &LayerError, batch: &[usize], sample: &[usize]) -> Option<&'static str> {
        let text = e.to_string();
        match e.layer() {
            Some(layer) if !layer.is_empty() && text.contains(layer) => {}
            _ => return Some("names no layer"),
        }
        if !(text.contains(&shape(batch)) || text.contains(&shape(sample))) {
            return Some("does not mention the shape it got");
        }
        // The accepted shape, per sample or per batch, where `*` (any size) matches every size.
        let mentioned = numeric::shapes_in(&text);
        if !mentioned.iter().any(|p| numeric::matches_with_leading_axes(p, self.input_shape)) {
            return Some("does not mention the shape it expects");
        }
        None
    }

    /// `backward` with a gradient of a wrong shape must be an `Err` naming the layer.
    fn wrong_gradient(&self) -> std::result::Result<(), String> {
        let mut layer = self.build()?;
        let y = self.forward(&mut layer, &self.x, Mode::Train)?;
        let mut bad = y.shape().to_vec();
        bad.push(2);
        let g = Tensor::zeros(&bad);
        match no_panic(|| layer.backward(&g).map(|_| ())) {
            Err(panic) => Err(self.msg(format_args!(
                "backward panicked on a gradient of shape {} (the output has {}) instead of returning an Err: {panic}",
                shape(&bad),
                shape(y.shape())
            ))),
            Ok(Ok(())) => Err(self.msg(format_args!(
                "backward accepted a gradient of shape {} for an output of shape {}",
                shape(&bad),
                shape(y.shape())
            ))),
            Ok(Err(e)) if e.layer().is_none_or(str::is_empty) || !e.to_string().contains(&shape(&bad)) => Err(self
                .msg(format_args!(
                    "backward on a gradient of shape {} returned an error that does not name the layer and the \
                     shape: {e}",
                    shape(&bad)
                ))),
            Ok(Err(_)) => Ok(()),
        }
    }

    /// Check 4: parameter names unique, non-empty, stable across visits and builds.
    fn parameter_names(&self) -> Outcome {
        let describe = |ps: &[ParamInfo]| -> Vec<(String, Vec<usize>, bool)> {
            ps.iter().map(|p| (p.name.clone(), p.value.shape().to_vec(), p.grad.is_some())).collect()
        };
        let result = (|| -> std::result::Result<Vec<String>, String> {
            let mut layer = self.build()?;
            let first = params(&mut layer);
            let mut failures = Vec::new();
            let mut seen = HashSet::new();
            for p in &first {
                if p.name.is_empty() || p.name.ends_with('.') || p.name.starts_with('.') || p.name.contains("..") {
                    failures.push(self.msg(format_args!("parameter name '{}' has an empty segment", p.name)));
                }
                if !seen.insert(p.name.as_str()) {
                    failures.push(self.msg(format_args!("parameter name '{}' is reported twice", p.name)));
                }
                if let Some(g) = &p.grad
                    && g.shape() != p.value.shape()
                {
                    failures.push(self.msg(format_args!(
                        "gradient of '{}' has shape {} but the parameter has shape {}",
                        p.name,
                        shape(g.shape()),
                        shape(p.value.shape())
                    )));
                }
            }
            let reference = describe(&first);
            let again = describe(&params(&mut layer));
            if again != reference {
                failures.push(self.msg(format_args!(
                    "a second visit reports other parameters: {:?} then {:?}",
                    names(&reference),
                    names(&again)
                )));
            }
            self.forward(&mut layer, &self.x, Mode::Train)?;
            layer.backward(&self.w).map_err(|e| self.msg(format_args!("backward failed: {e}")))?;
            let after = describe(&params(&mut layer));
            if after != reference {
                failures.push(self.msg(format_args!(
                    "after forward and backward the layer reports other parameters: {:?} then {:?}",
                    names(&reference),
                    names(&after)
                )));
            }
            let other = describe(&params(&mut self.build()?));
            if other != reference {
                failures.push(self.msg(format_args!(
                    "a second build reports other parameters: {:?} then {:?}",
                    names(&reference),
                    names(&other)
                )));
            }
            Ok(failures)
        })();
        match result {
            Err(e) => Outcome::Failed(vec![e]),
            Ok(failures) if failures.is_empty() => {
                let mut layer = match self.build() {
                    Ok(l) => l,
                    Err(e) => return Outcome::Failed(vec![e]),
                };
                let all = params(&mut layer);
                if all.is_empty() {
                    Outcome::Passed("the layer reports no parameters".into())
                } else {
                    let list: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
                    Outcome::Passed(format!("{} unique, stable names: {}", list.len(), list.join(", ")))
                }
            }
            Ok(failures) => Outcome::Failed(failures),
        }
    }

    /// Check 5: inference on the batch equals inference row by row.
    fn batch_independence(&self) -> Outcome {
        if self.opts.batch_size < 2 {
            return Outcome::Skipped("needs a batch of at least 2 rows".into());
        }
        let result = (|| -> std::result::Result<Outcome, String> {
            let mut layer = self.build()?;
            let whole = self.forward(&mut layer, &self.x, Mode::Eval)?;
            let tol = self.opts.batch_tolerance;
            let mut worst = (0.0f64, 0usize, 0.0f32, 0.0f32);
            for r in 0..self.opts.batch_size {
                let row = self.x.slice_rows(r, r + 1).map_err(|e| self.msg(e))?;
                let single = self.forward(&mut layer, &row, Mode::Eval)?;
                let expected = whole.slice_rows(r, r + 1).map_err(|e| self.msg(e))?;
                if single.shape() != expected.shape() {
                    return Ok(Outcome::Failed(vec![self.msg(format_args!(
                        "forward on row {r} alone returned shape {}, expected {}",
                        shape(single.shape()),
                        shape(expected.shape())
                    ))]));
                }
                for (i, (&a, &b)) in single.data().iter().zip(expected.data()).enumerate() {
                    let (a64, b64) = (f64::from(a), f64::from(b));
                    let err = (a64 - b64).abs() / 1f64.max(a64.abs()).max(b64.abs());
                    let err = if err.is_nan() { f64::INFINITY } else { err };
                    if err > worst.0 {
                        worst = (err, r * expected.len() + i, a, b);
                    }
                }
            }
            let (err, flat, single, batched) = worst;
            if err <= tol {
                Ok(Outcome::Passed(format!(
                    "{} rows one at a time match the batch; largest difference {} (tolerance {tol:e})",
                    self.opts.batch_size,
                    num(err)
                )))
            } else {
                Ok(Outcome::Failed(vec![self.msg(format_args!(
                    "inference is not batch-independent: at {} the row alone gives {single}, the batch gives \
                     {batched} (difference {}, tolerance {tol:e}); if the layer mixes rows on purpose, skip \
                     Check::BatchIndependence",
                    numeric::index(flat, whole.shape()),
                    num(err)
                ))]))
            }
        })();
        result.unwrap_or_else(|e| Outcome::Failed(vec![e]))
    }

    /// Check 6: two builds from one seed are the same layer.
    fn determinism(&self) -> Outcome {
        let result =
            (|| -> std::result::Result<Vec<String>, String> {
                let (mut a, mut b) = (self.build()?, self.build()?);
                let mut failures = Vec::new();
                let (pa, pb) = (state_dict(&mut a), state_dict(&mut b));
                let same_params = pa.len() == pb.len()
                    && pa.iter().zip(&pb).all(|((na, ta), (nb, tb))| na == nb && bitwise_eq(ta, tb));
                if !same_params {
                    failures.push(self.msg("two builds from the same seed have different parameters"));
                }
                let mut inference = Tensor::default();
                for mode in [Mode::Train, Mode::Eval] {
                    let ya = self.forward(&mut a, &self.x, mode)?;
                    let yb = self.forward(&mut b, &self.x, mode)?;
                    if !bitwise_eq(&ya, &yb) {
                        let detail = first_difference(&ya, &yb).map_or_else(
                            || "different shapes".to_string(),
                            |(at, va, vb)| format!("{va} and {vb} at {at}"),
                        );
                        failures.push(self.msg(format_args!(
                            "two builds from the same seed give different {mode:?} outputs: {detail}"
                        )));
                    }
                    inference = ya;
                }
                let again = self.forward(&mut a, &self.x, Mode::Eval)?;
                if !bitwise_eq(&again, &inference) {
                    failures.push(self.msg("inference on the same input gives different outputs on repeated calls"));
                }
                Ok(failures)
            })();
        match result {
            Ok(f) if f.is_empty() => Outcome::Passed(
                "two builds from the same seed have identical parameters and outputs (Train and Eval)".into(),
            ),
            Ok(f) => Outcome::Failed(f),
            Err(e) => Outcome::Failed(vec![e]),
        }
    }

    /// Check 7: `SavedModel` round trip through bytes and the registry.
    fn save_load(&self) -> Outcome {
        let result = (|| -> std::result::Result<Vec<String>, String> {
            let mut layer = self.build()?;
            let saved = SavedModel::capture(&mut layer, BTreeMap::new())
                .map_err(|e| self.msg(format_args!("cannot be saved: {e}")))?;
            let bytes = saved.to_bytes().map_err(|e| self.msg(format_args!("cannot be written: {e}")))?;
            let parsed = SavedModel::from_bytes(&bytes, Path::new("<in memory>"))
                .map_err(|e| self.msg(format_args!("its model file cannot be read back: {e}")))?;
            let mut restored = parsed.instantiate(&self.opts.registry).map_err(|e| {
                let hint = if matches!(e, LayerError::UnknownKind { .. }) {
                    " (register the layer's kind in CheckOptions::registry)"
                } else {
                    ""
                };
                self.msg(format_args!("the registry cannot rebuild the saved layer: {e}{hint}"))
            })?;
            let mut failures = Vec::new();
            match restored.spec() {
                Ok(spec) if spec == saved.spec => {}
                Ok(spec) => failures.push(self.msg(format_args!(
                    "the configuration changes in a round trip: saved {}, restored {}",
                    saved.spec.to_json().unwrap_or_default(),
                    spec.to_json().unwrap_or_default()
                ))),
                Err(e) => failures.push(self.msg(format_args!("the restored layer has no spec: {e}"))),
            }
            let after = state_dict(restored.as_mut());
            let same = after.len() == saved.tensors.len()
                && after.iter().zip(&saved.tensors).all(|((na, ta), (nb, tb))| na == nb && bitwise_eq(ta, tb));
            if !same {
                failures.push(self.msg("the restored layer's tensors differ from the saved ones"));
            }
            let y = self.forward(&mut layer, &self.x, Mode::Eval)?;
            let z = restored
                .forward(&self.x, Mode::Eval)
                .cloned()
                .map_err(|e| self.msg(format_args!("the restored layer's forward failed: {e}")))?;
            if !bitwise_eq(&y, &z) {
                let detail = first_difference(&y, &z)
                    .map_or_else(|| "different shapes".to_string(), |(at, a, b)| format!("{a} and {b} at {at}"));
                failures.push(self.msg(format_args!(
                    "inference differs after a save/load round trip: {detail} (original, restored)"
                )));
            }
            Ok(failures)
        })();
        match result {
            Ok(f) if f.is_empty() => Outcome::Passed(
                "spec, tensors and inference output survive capture, to_bytes, from_bytes, instantiate".into(),
            ),
            Ok(f) => Outcome::Failed(f),
            Err(e) => Outcome::Failed(vec![e]),
        }
    }

    /// Check 8: one SGD step lowers an MSE loss to a random target.
    fn optimizer_step(&self) -> Outcome {
        let result = (|| -> std::result::Result<Outcome, String> {
            let mut layer = self.build()?;
            if layer.n_parameters() == 0 {
                return Ok(Outcome::Skipped("the layer has no trainable parameters".into()));
            }
            let mut rng = StrataRng::seed_from_u64(self.opts.seed ^ DATA_STREAM ^ 2);
            let target = Tensor::random_normal(self.w.shape(), 0.0, 1.0, &mut rng).map_err(|e| self.msg(e))?;
            layer.zero_grad();
            let y = self.forward(&mut layer, &self.x, Mode::Train)?;
            let before = mse(&y, &target);
            let mut grad = Tensor::default();
            MeanSquaredError.gradient(&y, &target, &mut grad).map_err(|e| self.msg(e))?;
            layer.backward(&grad).map_err(|e| self.msg(format_args!("backward failed: {e}")))?;
            let lr = self.opts.learning_rate;
            let mut sgd = Sgd::new(SgdConfig { lr, ..SgdConfig::default() }).map_err(|e| self.msg(e))?;
            let mut path = String::new();
            sgd.step(&mut |v: &mut ParamVisitor<'_>| layer.visit_parameters(v), &mut path)
                .map_err(|e| self.msg(format_args!("the SGD step failed: {e}")))?;
            // Evaluate the stepped weights on a fresh build, so a random
            // layer applies the mask the gradient was computed with.
            let mut fresh = self.build()?;
            load_state_dict(&mut fresh, &state_dict(&mut layer))
                .map_err(|e| self.msg(format_args!("the stepped weights do not load into a fresh build: {e}")))?;
            let after = mse(&self.forward(&mut fresh, &self.x, Mode::Train)?, &target);
            if after < before {
                Ok(Outcome::Passed(format!(
                    "one SGD step (lr {lr}) lowered the MSE from {} by {}",
                    num(before),
                    num(before - after)
                )))
            } else {
                Ok(Outcome::Failed(vec![self.msg(format_args!(
                    "one SGD step (lr {lr}) on an MSE regression did not lower the loss: it went from {} to {} \
                     (+{})",
                    num(before),
                    num(after),
                    num(after - before)
                ))]))
            }
        })();
        result.unwrap_or_else(|e| Outcome::Failed(vec![e]))
    }
}

fn names(ps: &[(String, Vec<usize>, bool)]) -> Vec<&str> {
    ps.iter().map(|(n, _, _)| n.as_str()).collect()
}
