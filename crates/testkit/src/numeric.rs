//! The finite-difference engine, panic capture, and number/shape formatting
//! shared by the layer, activation and loss checks.

use crate::options::CheckOptions;
use crate::report::Outcome;
use std::panic::{AssertUnwindSafe, catch_unwind};
use strata_tensor::Tensor;

/// Step and tolerance of one gradient comparison.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
    pub step: f64,
}

impl Tolerance {
    pub fn from_options(opts: &CheckOptions) -> Self {
        Tolerance { rtol: opts.rtol, atol: opts.atol, step: opts.step }
    }

    /// `|a - n| / max(|a|, |n|, floor)`; infinite when either is not finite.
    pub fn relative_error_above(&self, analytic: f64, numeric: f64, floor: f64) -> f64 {
        if !(analytic.is_finite() && numeric.is_finite()) {
            return f64::INFINITY;
        }
        let scale = analytic.abs().max(numeric.abs()).max(floor);
        if scale == 0.0 { 0.0 } else { (analytic - numeric).abs() / scale }
    }

    /// The magnitude below which a tensor's gradients are compared
    /// absolutely: `atol / rtol` scaled down with the tensor's own gradient
    /// scale (its largest analytic or numeric element) when that is below 1,
    /// so that gradients of a small network are held to the same relative
    /// standard as large ones; but never below what the objective's `f32`
    /// rounding (`noise`, the absolute error of one evaluation) makes of a
    /// finite difference, `2 noise / (h rtol)`, which keeps that rounding at
    /// half the tolerance.
    pub fn floor(&self, scale: f64, noise: f64) -> f64 {
        let by_scale = self.atol / self.rtol * scale.min(1.0);
        let by_noise = 2.0 * noise / (self.step * self.rtol);
        by_scale.max(by_noise).max(f64::MIN_POSITIVE)
    }
}

/// The `f32` rounding error of an objective `Σ w_i y_i` (with `y` in `f32`):
/// about one unit in the last place of each term.
pub(crate) fn objective_noise(y: &Tensor, w: &Tensor) -> f64 {
    let s: f64 = y.data().iter().zip(w.data()).map(|(&y, &w)| (f64::from(y) * f64::from(w)).abs()).sum();
    s * f64::from(f32::EPSILON)
}

/// The worst element of a comparison.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Worst {
    pub rel: f64,
    pub index: usize,
    pub analytic: f64,
    pub numeric: f64,
}

/// A whole tensor compared with finite differences.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Comparison {
    pub worst: Option<Worst>,
    pub n_failed: usize,
    /// Elements that passed only with a refined step (`h / 10` or `h / 100`).
    pub n_refined: usize,
    pub n: usize,
}

impl Comparison {
    pub fn max_error(&self) -> f64 {
        self.worst.map_or(0.0, |w| w.rel)
    }

    /// The failure message, if any element is outside the tolerance.
    pub fn message(&self, name: &str, what: &str, shape: &[usize], tol: &Tolerance) -> Option<String> {
        let w = self.worst?;
        if self.n_failed == 0 {
            return None;
        }
        let mut msg = format!(
            "{name}: gradient of {what} differs from finite differences: largest relative error {} at {} \
             (analytic {}, numeric {}), tolerance {:e}",
            num(w.rel),
            index(w.index, shape),
            num(w.analytic),
            num(w.numeric),
            tol.rtol
        );
        if self.n > 1 {
            msg.push_str(&format!(" ({} of {} elements outside it)", self.n_failed, self.n));
        }
        Some(msg)
    }
}

/// Compare `analytic` (the gradient at `point`) with finite differences of
/// the objective `eval(i, v)` (the objective with element `i` set to `v`),
/// whose single evaluation is off by about `noise` (see [`objective_noise`]).
///
/// First every element's central difference at `h = step · max(1, |v|)`;
/// their largest magnitude and the analytic one's set the tensor's scale and
/// so the floor of the relative error ([`Tolerance::floor`]). An element
/// that misses the tolerance is measured again at `h / 10` and `h / 100`,
/// each time with the central and both one-sided differences, and the best
/// estimate counts. A wrong derivative is wrong at every step and on both
/// sides; truncation error shrinks with `h`, and a kink inside the stencil
/// leaves at least one side's difference exact once the step is smaller than
/// the distance to the kink.
pub(crate) fn compare(
    point: &[f32],
    analytic: &[f32],
    tol: &Tolerance,
    noise: f64,
    eval: &mut dyn FnMut(usize, f32) -> Result<f64, String>,
) -> Result<Comparison, String> {
    let mut central = Vec::with_capacity(point.len());
    for (i, &v) in point.iter().enumerate() {
        central.push(central_difference(i, v, tol.step, eval)?);
    }
    let scale = analytic
        .iter()
        .map(|&a| f64::from(a).abs())
        .chain(central.iter().filter(|n| n.is_finite()).map(|n| n.abs()))
        .fold(0.0, f64::max);
    let floor = tol.floor(scale, noise);
    let mut out = Comparison { n: point.len(), ..Comparison::default() };
    for (i, ((&v, &a), &first)) in point.iter().zip(analytic).zip(&central).enumerate() {
        let a = f64::from(a);
        let mut best = (tol.relative_error_above(a, first, floor), first);
        if best.0 > tol.rtol {
            let refined = refine(i, v, a, tol, floor, eval)?;
            if refined.0 < best.0 {
                best = refined;
            }
            out.n_refined += usize::from(best.0 <= tol.rtol);
        }
        let (rel, numeric) = best;
        if rel > tol.rtol {
            out.n_failed += 1;
        }
        // The worst element: the largest relative error as printed (three
        // significant digits), ties broken by the largest absolute difference,
        // so rounding noise does not pick among equally wrong elements.
        let key = |rel: f64, a: f64, n: f64| (round3(rel), if n.is_nan() { f64::INFINITY } else { (a - n).abs() });
        if out.worst.is_none_or(|w| key(rel, a, numeric) > key(w.rel, w.analytic, w.numeric)) {
            out.worst = Some(Worst { rel, index: i, analytic: a, numeric });
        }
    }
    Ok(out)
}

/// The central difference at `h = step · max(1, |v|)` (NaN when `v ± h`
/// rounds back to `v` in `f32`).
fn central_difference(
    i: usize,
    v: f32,
    step: f64,
    eval: &mut dyn FnMut(usize, f32) -> Result<f64, String>,
) -> Result<f64, String> {
    let h = step * f64::from(v.abs()).max(1.0);
    let (plus, minus) = ((f64::from(v) + h) as f32, (f64::from(v) - h) as f32);
    if plus == v || minus == v {
        return Ok(f64::NAN);
    }
    let (up, down) = (eval(i, plus)?, eval(i, minus)?);
    Ok((up - down) / (f64::from(plus) - f64::from(minus)))
}

/// The best `(relative error, estimate)` of the central and one-sided
/// differences at `h / 10` and `h / 100`.
fn refine(
    i: usize,
    v: f32,
    a: f64,
    tol: &Tolerance,
    floor: f64,
    eval: &mut dyn FnMut(usize, f32) -> Result<f64, String>,
) -> Result<(f64, f64), String> {
    let mut best = (f64::INFINITY, f64::NAN);
    let mut at_v: Option<f64> = None;
    for refinement in [0.1, 0.01] {
        let h = tol.step * refinement * f64::from(v.abs()).max(1.0);
        let (plus, minus) = ((f64::from(v) + h) as f32, (f64::from(v) - h) as f32);
        if plus == v || minus == v {
            continue;
        }
        let (up, down) = (eval(i, plus)?, eval(i, minus)?);
        let centre = match at_v {
            Some(c) => c,
            None => *at_v.insert(eval(i, v)?),
        };
        let (plus, minus, v64) = (f64::from(plus), f64::from(minus), f64::from(v));
        for numeric in [(up - down) / (plus - minus), (up - centre) / (plus - v64), (centre - down) / (v64 - minus)] {
            let rel = tol.relative_error_above(a, numeric, floor);
            if rel < best.0 {
                best = (rel, numeric);
            }
        }
        if best.0 <= tol.rtol {
            break;
        }
    }
    Ok(best)
}

/// `x` rounded to three significant digits.
fn round3(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(2 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// `Σ_i w_i y_i` in `f64`.
pub(crate) fn weighted_sum(y: &Tensor, w: &Tensor) -> Result<f64, String> {
    if y.shape() != w.shape() {
        return Err(format!("output has shape {} where {} was expected", shape(y.shape()), shape(w.shape())));
    }
    Ok(y.data().iter().zip(w.data()).map(|(&y, &w)| f64::from(y) * f64::from(w)).sum())
}

/// Run one check, turning a panic into a failure that names `name`.
pub(crate) fn guarded(name: &str, check: impl FnOnce() -> Outcome) -> Outcome {
    catch_unwind(AssertUnwindSafe(check))
        .unwrap_or_else(|payload| Outcome::Failed(vec![format!("{name}: panicked: {}", panic_message(&*payload))]))
}

/// Run `f`, returning the panic message instead of unwinding.
pub(crate) fn no_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_message(&*payload))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic payload that is not a string)".to_string()
    }
}

/// A shape as `[3, 4]`.
pub(crate) fn shape(s: &[usize]) -> String {
    format!("{s:?}")
}

/// Every shape written in `text` as `[3, 4]` or with wildcards, `[*, 4, *]`
/// (`None` for `*`, any size).
pub(crate) fn shapes_in(text: &str) -> Vec<Vec<Option<usize>>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else { break };
        let inner = rest[..close].trim();
        let dims: Option<Vec<Option<usize>>> = if inner.is_empty() {
            Some(Vec::new())
        } else {
            inner
                .split(',')
                .map(|d| match d.trim() {
                    "*" => Some(None),
                    n => n.parse().ok().map(Some),
                })
                .collect()
        };
        out.extend(dims);
    }
    out
}

/// Whether the pattern (from [`shapes_in`]) describes `shape`.
pub(crate) fn matches(pattern: &[Option<usize>], shape: &[usize]) -> bool {
    pattern.len() == shape.len() && pattern.iter().zip(shape).all(|(p, &d)| p.is_none_or(|p| p == d))
}

/// Whether the pattern describes `sample` after any number of axes of any
/// size (the batch and other leading axes): `[*, 4]` and `[*, *, 4]` both
/// describe the per-sample shape `[4]`.
pub(crate) fn matches_with_leading_axes(pattern: &[Option<usize>], sample: &[usize]) -> bool {
    (0..=pattern.len()).any(|lead| pattern[..lead].iter().all(Option::is_none) && matches(&pattern[lead..], sample))
}

/// A flat index as a multi-index of `shape`, e.g. `[2, 1]`.
pub(crate) fn index(mut flat: usize, shape: &[usize]) -> String {
    let mut idx = vec![0; shape.len()];
    for (slot, &d) in idx.iter_mut().zip(shape).rev() {
        if d > 0 {
            *slot = flat % d;
            flat /= d;
        }
    }
    format!("{idx:?}")
}

/// A number with three significant digits: `1.98`, `-0.412`, `3.2e-5`.
pub(crate) fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if (1e-3..1e5).contains(&a) {
        let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{x:.decimals$}");
        if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
    } else {
        format!("{x:.2e}")
    }
}

/// Element-wise bitwise equality (so `-0.0 != 0.0` and NaNs compare by payload).
pub(crate) fn bitwise_eq(a: &Tensor, b: &Tensor) -> bool {
    a.shape() == b.shape() && a.data().iter().zip(b.data()).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// The first element where `a` and `b` differ bitwise, as `(index, a, b)`.
pub(crate) fn first_difference(a: &Tensor, b: &Tensor) -> Option<(String, f32, f32)> {
    a.data()
        .iter()
        .zip(b.data())
        .enumerate()
        .find(|(_, (x, y))| x.to_bits() != y.to_bits())
        .map(|(i, (&x, &y))| (index(i, a.shape()), x, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_three_significant_digits() {
        assert_eq!(num(1.984), "1.98");
        assert_eq!(num(-0.41234), "-0.412");
        assert_eq!(num(2.0), "2");
        assert_eq!(num(123.4), "123");
        assert_eq!(num(3.21e-5), "3.21e-5");
        assert_eq!(num(0.0), "0");
    }

    #[test]
    fn shapes_are_found_in_messages() {
        let found = shapes_in("layer 'conv2d': expected input of shape [*, 4, *, *], got [3, 5] (see [x])");
        assert_eq!(found, [vec![None, Some(4), None, None], vec![Some(3), Some(5)]]);
        assert!(matches(&found[0], &[3, 4, 12, 12]));
        assert!(!matches(&found[0], &[3, 5, 12, 12]));
        assert!(!matches(&found[1], &[3, 4]));
        assert!(matches_with_leading_axes(&[None, None, Some(4)], &[4]));
        assert!(matches_with_leading_axes(&[None, Some(4)], &[4]));
        assert!(!matches_with_leading_axes(&[Some(3), Some(4)], &[4]));
    }

    #[test]
    fn rounding_to_three_digits() {
        assert_eq!(round3(1.99996), 2.0);
        assert_eq!(round3(0.0012345), 0.00123);
        assert_eq!(round3(f64::INFINITY), f64::INFINITY);
    }

    #[test]
    fn flat_indices_become_multi_indices() {
        assert_eq!(index(7, &[3, 4]), "[1, 3]");
        assert_eq!(index(5, &[2, 3, 1]), "[1, 2, 0]");
        assert_eq!(index(0, &[]), "[]");
    }

    #[test]
    fn relative_error_is_absolute_below_atol_over_rtol() {
        let tol = Tolerance { rtol: 1e-2, atol: 1e-3, step: 1e-2 };
        // |a - n| = 0.82, scale max(0.41, 0.41, 0.1) = 0.41: 2.
        assert!((tol.relative_error_above(-0.41, 0.41, tol.atol / tol.rtol) - 2.0).abs() < 1e-12);
        // Below 0.1 the scale is 0.1: |1e-4 - 2e-4| / 0.1 = 1e-3.
        assert!((tol.relative_error_above(1e-4, 2e-4, tol.atol / tol.rtol) - 1e-3).abs() < 1e-12);
        assert_eq!(tol.relative_error_above(f64::NAN, 1.0, tol.atol / tol.rtol), f64::INFINITY);
    }
}
