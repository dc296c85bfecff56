//! Two layer checks: gradients accumulate until `zero_grad`
//! ([`Check::Accumulation`]), and an extra leading axis is a batch axis
//! ([`Check::LeadingAxes`]).
//!
//! [`Check::Accumulation`]: crate::Check::Accumulation
//! [`Check::LeadingAxes`]: crate::Check::LeadingAxes

use crate::layer::{ParamInfo, Subject, params};
use crate::numeric::{index, num, shape};
use crate::report::Outcome;
use strata_layers::{Dim, Layer, Mode, ShapeDisplay, dims};
use strata_tensor::{StrataRng, Tensor};

/// Stream of the leading-axes check's data.
const AXES_STREAM: u64 = 0x6178_6573_5f64_6174;

/// Inference output, training output, input gradient and parameter
/// gradients of one forward and backward.
type Run = (Tensor, Tensor, Tensor, Vec<(String, Tensor)>);

/// The size of the extra leading axis.
const K: usize = 2;

/// The largest mixed difference `|a - b| / max(1, scale)` of two tensors of
/// one shape, where `scale` is the larger tensor's largest magnitude; with
/// the index where it occurs.
fn mixed_difference(a: &Tensor, b: &Tensor) -> (f64, usize) {
    let scale = a.data().iter().chain(b.data()).fold(0f64, |m, &x| m.max(f64::from(x).abs())).max(1.0);
    let mut worst = (0.0, 0);
    for (i, (&x, &y)) in a.data().iter().zip(b.data()).enumerate() {
        let d = (f64::from(x) - f64::from(y)).abs() / scale;
        let d = if d.is_nan() { f64::INFINITY } else { d };
        if d > worst.0 {
            worst = (d, i);
        }
    }
    worst
}

impl<L: Layer> Subject<'_, L> {
    /// Check: a second `backward` after one `forward` doubles every parameter
    /// gradient and returns the same input gradient; after `zero_grad` every
    /// gradient reads zero, and a `backward` right after it gives the first
    /// gradients again, bit for bit (see [`Subject::after_zero_grad`]).
    pub(crate) fn accumulation(&self) -> Outcome {
        let result = (|| -> Result<Outcome, String> {
            let mut layer = self.build()?;
            layer.zero_grad();
            self.forward(&mut layer, &self.x, Mode::Train)?;
            let backward = |layer: &mut L| {
                layer.backward(&self.w).cloned().map_err(|e| self.msg(format_args!("backward failed: {e}")))
            };
            let dx1 = backward(&mut layer)?;
            let first = params(&mut layer);
            let dx2 = backward(&mut layer)?;
            let second = params(&mut layer);
            let tol = self.opts.batch_tolerance.max(1e-5) * 10.0;
            let mut failures = Vec::new();
            for (p1, p2) in first.iter().zip(&second) {
                let (Some(g1), Some(g2)) = (&p1.grad, &p2.grad) else { continue };
                let twice = g1.scale(2.0);
                let (d, at) = mixed_difference(&twice, g2);
                if d > tol {
                    let (one, two) = (g1.data()[at], g2.data()[at]);
                    failures.push(self.msg(format_args!(
                        "the gradient of '{}' does not accumulate: after a second backward it is {} at {} where \
                         twice the first ({}) was expected (backward must add to parameter gradients, not \
                         overwrite them)",
                        p1.name,
                        num(f64::from(two)),
                        index(at, g1.shape()),
                        num(2.0 * f64::from(one))
                    )));
                }
            }
            if dx1.shape() == dx2.shape() {
                let (d, at) = mixed_difference(&dx1, &dx2);
                if d > tol {
                    failures.push(self.msg(format_args!(
                        "a second backward returns another input gradient: {} then {} at {}",
                        dx1.data()[at],
                        dx2.data()[at],
                        index(at, dx1.shape())
                    )));
                }
            }
            failures.extend(self.after_zero_grad(&mut layer, &first)?);
            if !failures.is_empty() {
                return Ok(Outcome::Failed(failures));
            }
            let n = first.iter().filter(|p| p.grad.is_some()).count();
            Ok(Outcome::Passed(format!(
                "a second backward doubles the {n} parameter gradients and repeats the input gradient; after \
                 zero_grad they read zero, and one backward gives the first ones again"
            )))
        })();
        result.unwrap_or_else(|e| Outcome::Failed(vec![e]))
    }

    /// `zero_grad` then `backward` (with the forward of `first`, the
    /// gradients of the first backward): the gradients must be `first`'s,
    /// bit for bit; `zero_grad` again: they must read zero. The two catch a
    /// layer that declares its gradients zero ([`strata_layers::DeferredZero`])
    /// but then adds to the old ones, or hands the old ones out.
    fn after_zero_grad(&self, layer: &mut L, first: &[ParamInfo]) -> Result<Vec<String>, String> {
        layer.zero_grad();
        layer.backward(&self.w).map_err(|e| self.msg(format_args!("backward failed: {e}")))?;
        let again = params(layer);
        layer.zero_grad();
        let zeroed = params(layer);
        let mut failures = Vec::new();
        for ((p1, p3), p0) in first.iter().zip(&again).zip(&zeroed) {
            let (Some(g1), Some(g3), Some(g0)) = (&p1.grad, &p3.grad, &p0.grad) else { continue };
            let differs = g1.data().iter().zip(g3.data()).position(|(a, b)| a.to_bits() != b.to_bits());
            if let Some(at) = differs {
                failures.push(self.msg(format_args!(
                    "after zero_grad and one backward the gradient of '{}' is {} at {} where the first backward \
                     gave {} (the backward after zero_grad must start from zero)",
                    p1.name,
                    g3.data()[at],
                    index(at, g1.shape()),
                    g1.data()[at]
                )));
            }
            if let Some(at) = g0.data().iter().position(|&x| x != 0.0) {
                failures.push(self.msg(format_args!(
                    "after zero_grad the gradient of '{}' reads {} at {}, not 0",
                    p0.name,
                    g0.data()[at],
                    index(at, g0.shape())
                )));
            }
        }
        Ok(failures)
    }

    /// Check: with an extra leading axis of size 2, forward and backward
    /// compute what they compute on the rows reshaped.
    pub(crate) fn leading_axes(&self) -> Outcome {
        let mut sample = vec![K];
        sample.extend_from_slice(self.input_shape);
        let claimed = match self.build() {
            Ok(layer) => layer.output_shape(&dims(&sample)),
            Err(e) => return Outcome::Failed(vec![e]),
        };
        let Ok(claimed) = claimed else {
            return Outcome::Skipped(format!(
                "the layer takes no extra leading axis (output_shape rejects {})",
                shape(&sample)
            ));
        };
        let mut expected = vec![Dim::Fixed(K)];
        expected.extend(dims(&self.output_shape));
        if claimed != expected {
            return Outcome::Skipped(format!(
                "the layer reads an extra leading axis as part of the sample, not as a batch axis \
                 (output_shape({}) = {}, not {})",
                shape(&sample),
                ShapeDisplay(&claimed),
                ShapeDisplay(&expected)
            ));
        }
        self.compare_leading_axes().unwrap_or_else(|e| Outcome::Failed(vec![e]))
    }

    fn compare_leading_axes(&self) -> Result<Outcome, String> {
        let b = self.opts.batch_size;
        let mut rng = StrataRng::seed_from_u64(self.opts.seed ^ AXES_STREAM);
        let mut in3 = vec![b, K];
        in3.extend_from_slice(self.input_shape);
        let mut out3 = vec![b, K];
        out3.extend_from_slice(&self.output_shape);
        let x3 = self.opts.sample_input(&in3, &mut rng);
        let w3 = Tensor::random_normal(&out3, 0.0, 1.0, &mut rng).map_err(|e| self.msg(e))?;
        let flat = |t: &Tensor| -> Result<Tensor, String> {
            let mut s = vec![b * K];
            s.extend_from_slice(&t.shape()[2..]);
            t.reshape(&s).map_err(|e| self.msg(e))
        };
        let (x2, w2) = (flat(&x3)?, flat(&w3)?);
        let run = |x: &Tensor, w: &Tensor| -> Result<Run, String> {
            let mut layer = self.build()?;
            let eval = self.forward(&mut layer, x, Mode::Eval)?;
            layer.zero_grad();
            let y = self.forward(&mut layer, x, Mode::Train)?;
            let dx = layer.backward(w).cloned().map_err(|e| self.msg(format_args!("backward failed: {e}")))?;
            let grads = params(&mut layer).into_iter().filter_map(|p| p.grad.map(|g| (p.name, g))).collect();
            Ok((eval, y, dx, grads))
        };
        let (e3, y3, dx3, g3) = run(&x3, &w3)?;
        let (e2, y2, dx2, g2) = run(&x2, &w2)?;
        let tol = self.opts.batch_tolerance;
        let mut failures = Vec::new();
        let mut check = |what: &str, rank3: &Tensor, rank2: &Tensor| {
            let reshaped = rank3.reshape(rank2.shape());
            match reshaped {
                Err(_) => failures.push(self.msg(format_args!(
                    "{what} has shape {} on the input {}, which does not reshape to {} (its shape on {})",
                    shape(rank3.shape()),
                    shape(&in3),
                    shape(rank2.shape()),
                    shape(x2.shape())
                ))),
                Ok(r) => {
                    let (d, at) = mixed_difference(&r, rank2);
                    if d > tol {
                        failures.push(self.msg(format_args!(
                            "{what} on {} differs from {what} on the rows reshaped to {}: {} against {} at {} \
                             (difference {}, tolerance {tol:e})",
                            shape(&in3),
                            shape(x2.shape()),
                            r.data()[at],
                            rank2.data()[at],
                            index(at, rank2.shape()),
                            num(d)
                        )));
                    }
                }
            }
        };
        check("the inference output", &e3, &e2);
        check("the training output", &y3, &y2);
        check("the input gradient", &dx3, &dx2);
        for ((name, a), (_, b2)) in g3.iter().zip(&g2) {
            check(&format!("the gradient of '{name}'"), a, b2);
        }
        if !failures.is_empty() {
            return Ok(Outcome::Failed(failures));
        }
        Ok(Outcome::Passed(format!(
            "on {} the outputs, the input gradient and {} parameter gradients equal those on the rows reshaped to {}",
            shape(&in3),
            g3.len(),
            shape(x2.shape())
        )))
    }
}
