//! Helpers shared by the element-wise activations.

use crate::{ActivationError, Result};
use strata_tensor::Tensor;
use strata_tensor::par::par_rows_mut;

/// Check that `output` and `grad_output` have `input`'s shape.
pub(crate) fn check_backward(name: &'static str, input: &Tensor, output: &Tensor, grad_output: &Tensor) -> Result<()> {
    for other in [output, grad_output] {
        if other.shape() != input.shape() {
            return Err(ActivationError::ShapeMismatch {
                activation: name,
                op: "backward",
                expected: input.shape().to_vec(),
                actual: other.shape().to_vec(),
            });
        }
    }
    Ok(())
}

/// `output = f(input)` element by element, reusing `output`'s allocation
/// (large tensors split between threads: `strata_tensor::par`).
pub(crate) fn map_into(input: &Tensor, output: &mut Tensor, f: impl Fn(f32) -> f32 + Sync + Send) {
    map_pieces(input, output, |xs, ys| {
        for (y, &x) in ys.iter_mut().zip(xs) {
            *y = f(x);
        }
    });
}

/// [`map_into`] with a kernel over whole pieces, `kernel(xs, ys)` with
/// `ys.len() <= xs.len()`: for activations with a kernel compiled for each
/// SIMD path (`strata_tensor::simd_kernel!`), which a per-element closure
/// cannot be.
pub(crate) fn map_pieces(input: &Tensor, output: &mut Tensor, kernel: impl Fn(&[f32], &mut [f32]) + Sync + Send) {
    output.resize(input.shape());
    let xs = input.data();
    par_rows_mut(output.data_mut(), 1, |start, ys| kernel(&xs[start..], ys));
}

/// `grad_input = grad_output * d(x, y)` element by element, where `d` is the
/// local derivative given the input `x` and output `y`. Checks the shapes first.
pub(crate) fn backward_into(
    name: &'static str,
    input: &Tensor,
    output: &Tensor,
    grad_output: &Tensor,
    grad_input: &mut Tensor,
    d: impl Fn(f32, f32) -> f32 + Sync + Send,
) -> Result<()> {
    backward_pieces(name, [input, output, grad_output], grad_input, |x, y, g, gis| {
        let xs = x.iter().zip(y).zip(g);
        for (gi, ((&x, &y), &g)) in gis.iter_mut().zip(xs) {
            *gi = g * d(x, y);
        }
    })
}

/// [`backward_into`] with a kernel over whole pieces, `kernel(x, y, g,
/// grad_input)` (each of the first three at least as long as the last).
pub(crate) fn backward_pieces(
    name: &'static str,
    [input, output, grad_output]: [&Tensor; 3],
    grad_input: &mut Tensor,
    kernel: impl Fn(&[f32], &[f32], &[f32], &mut [f32]) + Sync + Send,
) -> Result<()> {
    check_backward(name, input, output, grad_output)?;
    grad_input.resize(input.shape());
    let (x, y, g) = (input.data(), output.data(), grad_output.data());
    par_rows_mut(grad_input.data_mut(), 1, |start, gis| kernel(&x[start..], &y[start..], &g[start..], gis));
    Ok(())
}
