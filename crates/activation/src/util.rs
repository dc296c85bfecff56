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
    output.resize(input.shape());
    let xs = input.data();
    par_rows_mut(output.data_mut(), 1, |start, ys| {
        for (y, &x) in ys.iter_mut().zip(&xs[start..]) {
            *y = f(x);
        }
    });
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
    check_backward(name, input, output, grad_output)?;
    grad_input.resize(input.shape());
    let (x, y, g) = (input.data(), output.data(), grad_output.data());
    par_rows_mut(grad_input.data_mut(), 1, |start, gis| {
        let xs = x[start..].iter().zip(&y[start..]).zip(&g[start..]);
        for (gi, ((&x, &y), &g)) in gis.iter_mut().zip(xs) {
            *gi = g * d(x, y);
        }
    });
    Ok(())
}
