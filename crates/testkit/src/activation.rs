//! [`check_activation`]: the conformance checks of an [`Activation`].

use crate::numeric::{self, Tolerance, guarded, no_panic, num, shape};
use crate::options::{Check, CheckOptions, InputRange};
use crate::report::{Outcome, Report, Result};
use strata_activation::Activation;
use strata_tensor::{StrataRng, Tensor};

const STREAM: u64 = 0x6163_7469_7661_7465;

/// Check an activation function: its backward against central finite
/// differences of its forward ([`Check::Gradients`]), that forward and
/// backward keep the input's shape ([`Check::Shapes`]), and that a backward
/// given tensors of mismatched shapes returns an error naming the activation
/// and both shapes instead of panicking ([`Check::ShapeErrors`]).
///
/// Inputs of shapes `[batch, 6]`, `[batch, 2, 3]` and `[7]` are drawn from
/// [`CheckOptions::input_range`]; the objective is `Σ g ⊙ f(x)` with a fixed
/// random `g` (`|g| <= 2`), so the analytic gradient is `backward(x, f(x), g)`.
///
/// ```
/// use strata_activation::ActivationKind;
/// use strata_testkit::{CheckOptions, check_activation};
///
/// let report = check_activation("gelu", &ActivationKind::Gelu, &CheckOptions::default())?;
/// assert!(report.is_ok());
/// # Ok::<(), strata_testkit::Failures>(())
/// ```
pub fn check_activation(name: &str, activation: &dyn Activation, opts: &CheckOptions) -> Result<Report> {
    let mut report = Report { subject: name.to_string(), results: Vec::new(), max_gradient_error: None };
    let problems = opts.problems();
    if !problems.is_empty() {
        report.push(
            Check::Setup,
            Outcome::Failed(problems.into_iter().map(|p| format!("{name}: invalid options: {p}")).collect()),
        );
        return report.into_result();
    }
    let b = opts.batch_size;
    let shapes = [vec![b, 6], vec![b, 2, 3], vec![7]];
    report.push(
        Check::Setup,
        Outcome::Passed(format!(
            "inputs of shapes {} (|x| in [{}, {}])",
            shapes.iter().map(|s| shape(s)).collect::<Vec<_>>().join(", "),
            opts.input_range.min_abs,
            opts.input_range.max_abs
        )),
    );
    let mut rng = StrataRng::seed_from_u64(opts.seed ^ STREAM);
    let cases: Vec<(Tensor, Tensor)> = shapes
        .iter()
        .map(|s| {
            let x = opts.input_range.sample(s, &mut rng);
            let g = InputRange::new(0.0, 2.0).sample(s, &mut rng);
            (x, g)
        })
        .collect();
    let skip = |check: Check| opts.skips(check).then(|| Outcome::Skipped("switched off in the options".into()));

    let tol = Tolerance::from_options(opts);
    let outcome =
        skip(Check::Gradients).unwrap_or_else(|| match no_panic(|| gradients(name, activation, &cases, &tol)) {
            Ok((outcome, max)) => {
                report.max_gradient_error = max;
                outcome
            }
            Err(panic) => Outcome::Failed(vec![format!("{name}: panicked: {panic}")]),
        });
    report.push(Check::Gradients, outcome);
    let outcome = skip(Check::Shapes).unwrap_or_else(|| guarded(name, || shapes_kept(name, activation, &cases)));
    report.push(Check::Shapes, outcome);
    let outcome =
        skip(Check::ShapeErrors).unwrap_or_else(|| guarded(name, || shape_errors(name, activation, &cases[0])));
    report.push(Check::ShapeErrors, outcome);
    report.into_result()
}

/// [`check_activation`], panicking with the failure message if any check
/// fails (for `#[test]`s). Returns the report.
pub fn assert_activation_conforms(name: &str, activation: &dyn Activation, opts: &CheckOptions) -> Report {
    match check_activation(name, activation, opts) {
        Ok(report) => report,
        Err(failures) => panic!("{failures}"),
    }
}

/// `Σ g ⊙ f(x)` in `f64`.
fn objective(activation: &dyn Activation, x: &Tensor, g: &Tensor) -> std::result::Result<f64, String> {
    let y = activation.apply(x).map_err(|e| e.to_string())?;
    numeric::weighted_sum(&y, g)
}

fn gradients(
    name: &str,
    activation: &dyn Activation,
    cases: &[(Tensor, Tensor)],
    tol: &Tolerance,
) -> (Outcome, Option<f64>) {
    let mut failures = Vec::new();
    let mut max = 0.0f64;
    let mut compared = 0;
    let mut refined = 0;
    for (x, g) in cases {
        let analytic = activation.apply(x).and_then(|y| {
            let mut dx = Tensor::default();
            activation.backward(x, &y, g, &mut dx).map(|()| (y, dx))
        });
        let (y, dx) = match analytic {
            Ok((y, dx)) if dx.shape() == x.shape() => (y, dx),
            Ok((_, dx)) => {
                failures.push(format!(
                    "{name}: backward returned shape {} for an input of shape {} (see shapes)",
                    shape(dx.shape()),
                    shape(x.shape())
                ));
                continue;
            }
            Err(e) => {
                failures.push(format!("{name}: forward or backward on shape {} failed: {e}", shape(x.shape())));
                continue;
            }
        };
        let mut eval = |i: usize, v: f32| {
            let mut xp = x.clone();
            xp.data_mut()[i] = v;
            objective(activation, &xp, g).map_err(|e| format!("{name}: forward failed: {e}"))
        };
        let noise = numeric::objective_noise(&y, g);
        match numeric::compare(x.data(), dx.data(), tol, noise, &mut eval) {
            Ok(c) => {
                max = max.max(c.max_error());
                compared += c.n;
                refined += c.n_refined;
                let what = format!("the input (shape {})", shape(x.shape()));
                failures.extend(c.message(name, &what, x.shape(), tol));
            }
            Err(e) => failures.push(e),
        }
    }
    if failures.is_empty() {
        let refined = if refined == 0 { String::new() } else { format!("; {refined} needed a refined step") };
        let note = format!(
            "{compared} elements match finite differences; largest relative error {} (tolerance {:e}){refined}",
            num(max),
            tol.rtol
        );
        (Outcome::Passed(note), Some(max))
    } else {
        (Outcome::Failed(failures), Some(max))
    }
}

fn shapes_kept(name: &str, activation: &dyn Activation, cases: &[(Tensor, Tensor)]) -> Outcome {
    let mut failures = Vec::new();
    for (x, g) in cases {
        // Buffers of another shape must be resized, not trusted.
        let mut y = Tensor::zeros(&[1]);
        let mut dx = Tensor::zeros(&[1]);
        if let Err(e) = activation.forward(x, &mut y) {
            failures.push(format!("{name}: forward on shape {} failed: {e}", shape(x.shape())));
            continue;
        }
        if y.shape() != x.shape() {
            failures.push(format!(
                "{name}: forward maps shape {} to {}; an activation keeps the shape",
                shape(x.shape()),
                shape(y.shape())
            ));
            continue;
        }
        match activation.backward(x, &y, g, &mut dx) {
            Err(e) => failures.push(format!("{name}: backward on shape {} failed: {e}", shape(x.shape()))),
            Ok(()) if dx.shape() != x.shape() => failures.push(format!(
                "{name}: backward returned shape {} for an input of shape {}",
                shape(dx.shape()),
                shape(x.shape())
            )),
            Ok(()) => {}
        }
    }
    if failures.is_empty() {
        Outcome::Passed(format!("forward and backward keep the shape on {} input shapes", cases.len()))
    } else {
        Outcome::Failed(failures)
    }
}

fn shape_errors(name: &str, activation: &dyn Activation, case: &(Tensor, Tensor)) -> Outcome {
    let (x, g) = case;
    let y = match activation.apply(x) {
        Ok(y) => y,
        Err(e) => return Outcome::Failed(vec![format!("{name}: forward failed: {e}")]),
    };
    let mut wrong = x.shape().to_vec();
    if let Some(last) = wrong.last_mut() {
        *last += 1;
    }
    let bad = Tensor::zeros(&wrong);
    let mut failures = Vec::new();
    for (what, output, grad_output) in [("a grad_output", &y, &bad), ("an output", &bad, g)] {
        let mut dx = Tensor::default();
        match no_panic(|| activation.backward(x, output, grad_output, &mut dx)) {
            Err(panic) => failures.push(format!(
                "{name}: backward panicked on an input of shape {} and {what} of shape {} instead of returning \
                 an Err: {panic}",
                shape(x.shape()),
                shape(&wrong)
            )),
            Ok(Ok(())) => failures.push(format!(
                "{name}: backward accepted an input of shape {} and {what} of shape {}",
                shape(x.shape()),
                shape(&wrong)
            )),
            Ok(Err(e)) => {
                let text = e.to_string();
                if !(text.contains(activation.name())
                    && text.contains(&shape(x.shape()))
                    && text.contains(&shape(&wrong)))
                {
                    failures.push(format!(
                        "{name}: backward with {what} of shape {} (input {}) returned an error that does not \
                         name the activation '{}' and both shapes: {text}",
                        shape(&wrong),
                        shape(x.shape()),
                        activation.name()
                    ));
                }
            }
        }
    }
    if failures.is_empty() {
        Outcome::Passed("backward rejects a grad_output and an output of the wrong shape with an error".into())
    } else {
        Outcome::Failed(failures)
    }
}
