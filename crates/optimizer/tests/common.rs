//! Helpers shared by the test modules.

use strata_optimizer::Optimizer;
use strata_tensor::Tensor;

/// A rank-1 tensor.
pub fn t(values: &[f32]) -> Tensor {
    Tensor::from_slice(values)
}

/// Assert element-wise `|a - b| <= tol`.
#[track_caller]
pub fn assert_close(actual: &[f32], expected: &[f32], tol: f32) {
    assert_eq!(actual.len(), expected.len(), "lengths differ: {actual:?} vs {expected:?}");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() <= tol, "element {i}: got {a}, expected {e} (tol {tol}); {actual:?} vs {expected:?}");
    }
}

/// One `update` of the parameter named "p" with gradient `grad`.
#[track_caller]
pub fn update(opt: &mut dyn Optimizer, p: &mut Tensor, grad: &[f32]) {
    opt.update("p", p, &t(grad)).unwrap();
}
