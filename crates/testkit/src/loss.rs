//! [`check_loss`]: the conformance checks of a [`Loss`].

use crate::numeric::{self, Tolerance, bitwise_eq, guarded, no_panic, num, shape};
use crate::options::{Check, CheckOptions};
use crate::report::{Outcome, Report, Result};
use strata_loss::Loss;
use strata_tensor::{StrataRng, Tensor};

/// Check a loss on the prediction and target `make` draws (called once, with
/// a generator seeded with [`CheckOptions::seed`]):
///
/// * [`Check::Value`]: value and gradient are finite;
/// * [`Check::Shapes`]: the gradient has the prediction's shape;
/// * [`Check::Gradients`]: `gradient` agrees with central finite differences
///   of `value` (the prediction's elements perturbed one at a time);
/// * [`Check::ValueAndGradient`]: `value_and_gradient` returns exactly what
///   `value` and `gradient` return;
/// * [`Check::ShapeErrors`]: a target with one element too many and a
///   prediction with one row too many are errors naming the loss and both
///   shapes, from all three methods, never panics.
///
/// Losses are means over the batch, so their gradients are small (`~1/B`);
/// pass a smaller `atol` (e.g. `1e-4`) than the layer default.
///
/// ```
/// use strata_loss::MeanSquaredError;
/// use strata_tensor::{StrataRng, Tensor};
/// use strata_testkit::{CheckOptions, check_loss};
///
/// let draw = |rng: &mut StrataRng| {
///     let p = Tensor::random_normal(&[4, 3], 0.0, 1.0, rng).unwrap_or_default();
///     let t = Tensor::random_normal(&[4, 3], 0.0, 1.0, rng).unwrap_or_default();
///     (p, t)
/// };
/// let report = check_loss("mse", &MeanSquaredError, draw, &CheckOptions::default().with_tolerance(1e-2, 1e-4))?;
/// assert!(report.is_ok());
/// # Ok::<(), strata_testkit::Failures>(())
/// ```
pub fn check_loss(
    name: &str,
    loss: &dyn Loss,
    make: impl Fn(&mut StrataRng) -> (Tensor, Tensor),
    opts: &CheckOptions,
) -> Result<Report> {
    let mut report = Report { subject: name.to_string(), results: Vec::new(), max_gradient_error: None };
    let problems = opts.problems();
    if !problems.is_empty() {
        report.push(
            Check::Setup,
            Outcome::Failed(problems.into_iter().map(|p| format!("{name}: invalid options: {p}")).collect()),
        );
        return report.into_result();
    }
    let (p, t) = match no_panic(|| make(&mut StrataRng::seed_from_u64(opts.seed))) {
        Ok(pt) => pt,
        Err(panic) => {
            report.push(Check::Setup, Outcome::Failed(vec![format!("{name}: drawing the data panicked: {panic}")]));
            return report.into_result();
        }
    };
    report.push(Check::Setup, Outcome::Passed(format!("prediction {}, target {}", shape(p.shape()), shape(t.shape()))));
    let skip = |check: Check| opts.skips(check).then(|| Outcome::Skipped("switched off in the options".into()));

    let o = skip(Check::Value).unwrap_or_else(|| guarded(name, || value(name, loss, &p, &t)));
    report.push(Check::Value, o);
    let o = skip(Check::Shapes).unwrap_or_else(|| guarded(name, || gradient_shape(name, loss, &p, &t)));
    report.push(Check::Shapes, o);
    let tol = Tolerance::from_options(opts);
    let o = skip(Check::Gradients).unwrap_or_else(|| match no_panic(|| gradients(name, loss, &p, &t, &tol)) {
        Ok((o, max)) => {
            report.max_gradient_error = max;
            o
        }
        Err(panic) => Outcome::Failed(vec![format!("{name}: panicked: {panic}")]),
    });
    report.push(Check::Gradients, o);
    let o = skip(Check::ValueAndGradient).unwrap_or_else(|| guarded(name, || fused(name, loss, &p, &t)));
    report.push(Check::ValueAndGradient, o);
    let o = skip(Check::ShapeErrors).unwrap_or_else(|| guarded(name, || shape_errors(name, loss, &p, &t)));
    report.push(Check::ShapeErrors, o);
    report.into_result()
}

/// [`check_loss`], panicking with the failure message if any check fails
/// (for `#[test]`s). Returns the report.
pub fn assert_loss_conforms(
    name: &str,
    loss: &dyn Loss,
    make: impl Fn(&mut StrataRng) -> (Tensor, Tensor),
    opts: &CheckOptions,
) -> Report {
    match check_loss(name, loss, make, opts) {
        Ok(report) => report,
        Err(failures) => panic!("{failures}"),
    }
}

fn value(name: &str, loss: &dyn Loss, p: &Tensor, t: &Tensor) -> Outcome {
    let v = match loss.value(p, t) {
        Ok(v) => v,
        Err(e) => return Outcome::Failed(vec![format!("{name}: value failed: {e}")]),
    };
    let mut g = Tensor::default();
    if let Err(e) = loss.gradient(p, t, &mut g) {
        return Outcome::Failed(vec![format!("{name}: gradient failed: {e}")]);
    }
    let mut failures = Vec::new();
    if !v.is_finite() {
        failures.push(format!("{name}: the value is {v}"));
    }
    if !g.is_finite() {
        failures.push(format!("{name}: the gradient has non-finite elements"));
    }
    if failures.is_empty() {
        Outcome::Passed(format!("value {} and gradient finite", num(f64::from(v))))
    } else {
        Outcome::Failed(failures)
    }
}

fn gradient_shape(name: &str, loss: &dyn Loss, p: &Tensor, t: &Tensor) -> Outcome {
    // A buffer of another shape must be resized.
    let mut g = Tensor::zeros(&[1]);
    match loss.gradient(p, t, &mut g) {
        Err(e) => Outcome::Failed(vec![format!("{name}: gradient failed: {e}")]),
        Ok(()) if g.shape() != p.shape() => Outcome::Failed(vec![format!(
            "{name}: the gradient has shape {} for a prediction of shape {}",
            shape(g.shape()),
            shape(p.shape())
        )]),
        Ok(()) => Outcome::Passed(format!("the gradient has the prediction's shape {}", shape(p.shape()))),
    }
}

fn gradients(name: &str, loss: &dyn Loss, p: &Tensor, t: &Tensor, tol: &Tolerance) -> (Outcome, Option<f64>) {
    let mut g = Tensor::default();
    if let Err(e) = loss.gradient(p, t, &mut g) {
        return (Outcome::Failed(vec![format!("{name}: gradient failed: {e}")]), None);
    }
    if g.shape() != p.shape() {
        return (Outcome::Failed(vec![format!("{name}: the gradient has the wrong shape (see shapes)")]), None);
    }
    let mut eval = |i: usize, v: f32| {
        let mut pp = p.clone();
        pp.data_mut()[i] = v;
        loss.value(&pp, t).map(f64::from).map_err(|e| format!("{name}: value failed: {e}"))
    };
    // The value is an f32: one evaluation is off by about one unit in its last place.
    let noise = loss.value(p, t).map_or(0.0, |v| f64::from(v.abs()) * f64::from(f32::EPSILON));
    match numeric::compare(p.data(), g.data(), tol, noise, &mut eval) {
        Err(e) => (Outcome::Failed(vec![e]), None),
        Ok(c) => match c.message(name, "the prediction", p.shape(), tol) {
            Some(m) => (Outcome::Failed(vec![m]), Some(c.max_error())),
            None => (
                Outcome::Passed(format!(
                    "{} elements match finite differences; largest relative error {} (tolerance {:e}){}",
                    c.n,
                    num(c.max_error()),
                    tol.rtol,
                    if c.n_refined == 0 { String::new() } else { format!("; {} needed a refined step", c.n_refined) }
                )),
                Some(c.max_error()),
            ),
        },
    }
}

fn fused(name: &str, loss: &dyn Loss, p: &Tensor, t: &Tensor) -> Outcome {
    let (mut g, mut fg) = (Tensor::default(), Tensor::default());
    let separate = loss.value(p, t).and_then(|v| loss.gradient(p, t, &mut g).map(|()| v));
    let together = loss.value_and_gradient(p, t, &mut fg);
    match (separate, together) {
        (Ok(v), Ok(fv)) => {
            let mut failures = Vec::new();
            if v.to_bits() != fv.to_bits() {
                failures.push(format!("{name}: value_and_gradient gives the value {fv}, value gives {v}"));
            }
            if !bitwise_eq(&g, &fg) {
                let detail = numeric::first_difference(&g, &fg)
                    .map_or_else(|| "different shapes".to_string(), |(at, a, b)| format!("{a} and {b} at {at}"));
                failures.push(format!(
                    "{name}: value_and_gradient and gradient give different gradients: {detail} (gradient, fused)"
                ));
            }
            if failures.is_empty() {
                Outcome::Passed("value_and_gradient equals value and gradient bitwise".into())
            } else {
                Outcome::Failed(failures)
            }
        }
        (Err(e), _) | (_, Err(e)) => Outcome::Failed(vec![format!("{name}: failed: {e}")]),
    }
}

/// One method of a loss, called on a gradient buffer.
type Call<'a> = dyn Fn(&mut Tensor) -> std::result::Result<(), String> + 'a;

fn shape_errors(name: &str, loss: &dyn Loss, p: &Tensor, t: &Tensor) -> Outcome {
    let mut cases = Vec::new();
    // A target with one element too many, flattened.
    let mut longer = t.data().to_vec();
    longer.push(0.0);
    cases.push((p.clone(), Tensor::from_slice(&longer)));
    // A prediction with one row too many.
    if let Some(&rows) = p.shape().first() {
        let mut s = p.shape().to_vec();
        s[0] = rows + 1;
        let mut data = p.data().to_vec();
        data.extend_from_slice(&p.data()[..p.row_len().min(p.len())]);
        if let Ok(bigger) = Tensor::from_vec(&s, data) {
            cases.push((bigger, t.clone()));
        }
    }
    let mut failures = Vec::new();
    for (pp, tt) in &cases {
        let (ps, ts) = (shape(pp.shape()), shape(tt.shape()));
        let mut g = Tensor::default();
        let calls: [(&str, &Call<'_>); 3] = [
            ("value", &|_| loss.value(pp, tt).map(|_| ()).map_err(|e| e.to_string())),
            ("gradient", &|g| loss.gradient(pp, tt, g).map_err(|e| e.to_string())),
            ("value_and_gradient", &|g| loss.value_and_gradient(pp, tt, g).map(|_| ()).map_err(|e| e.to_string())),
        ];
        for (method, call) in calls {
            match no_panic(|| call(&mut g)) {
                Err(panic) => failures.push(format!(
                    "{name}: {method} panicked on a prediction of shape {ps} and a target of shape {ts} instead \
                     of returning an Err: {panic}"
                )),
                Ok(Ok(())) => failures
                    .push(format!("{name}: {method} accepted a prediction of shape {ps} and a target of shape {ts}")),
                Ok(Err(text)) => {
                    if !(text.contains(loss.name()) && text.contains(&ps) && text.contains(&ts)) {
                        failures.push(format!(
                            "{name}: {method} on a prediction of shape {ps} and a target of shape {ts} returned an \
                             error that does not name the loss '{}' and both shapes: {text}",
                            loss.name()
                        ));
                    }
                }
            }
        }
    }
    if failures.is_empty() {
        Outcome::Passed(format!(
            "{} mismatched shape pairs rejected by value, gradient and value_and_gradient",
            cases.len()
        ))
    } else {
        Outcome::Failed(failures)
    }
}
