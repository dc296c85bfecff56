//! Gradient clipping by global norm.

use strata_tensor::ParamVisitor;

/// The global L2 norm of every trainable gradient `visit` reports (buffers
/// are skipped): `sqrt(sum over all gradient elements of g^2)`, accumulated
/// in `f64` in visit order.
///
/// `path` is scratch space for parameter names, as in
/// [`Optimizer::step`](crate::Optimizer::step).
pub fn global_grad_norm(visit: &mut dyn FnMut(&mut ParamVisitor<'_>), path: &mut String) -> f32 {
    let mut sum = 0.0f64;
    let mut f = |p: strata_tensor::ParamRef<'_>| {
        if let Some(g) = p.grad {
            sum += g.sum_squares();
        }
    };
    visit(&mut ParamVisitor::new(path, &mut f));
    sum.sqrt() as f32
}

/// Clip gradients by their global norm, like PyTorch's
/// `torch.nn.utils.clip_grad_norm_`: compute the global L2 norm of every
/// trainable gradient ([`global_grad_norm`]); if it exceeds `max_norm`,
/// multiply every gradient by `max_norm / (norm + 1e-6)`. Returns the norm
/// before clipping.
///
/// Gradients are left untouched when the norm is not finite (the returned
/// NaN or infinity tells the caller to skip the step) and when `max_norm` is
/// negative or NaN.
///
/// ```
/// use strata_optimizer::clip_grad_norm;
/// use strata_tensor::{ParamVisitor, Tensor};
/// let (mut w, mut g) = (Tensor::zeros(&[2]), Tensor::from_slice(&[3.0, 4.0]));
/// let norm = clip_grad_norm(&mut |v: &mut ParamVisitor<'_>| v.param("w", &mut w, &mut g), &mut String::new(), 1.0);
/// assert_eq!(norm, 5.0);
/// assert!((g.data()[0] - 0.6).abs() < 1e-6 && (g.data()[1] - 0.8).abs() < 1e-6);
/// ```
pub fn clip_grad_norm(visit: &mut dyn FnMut(&mut ParamVisitor<'_>), path: &mut String, max_norm: f32) -> f32 {
    let norm = global_grad_norm(visit, path);
    if norm.is_finite() && max_norm >= 0.0 && norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        let mut f = |p: strata_tensor::ParamRef<'_>| {
            if let Some(g) = p.grad {
                g.scale_assign(scale);
            }
        };
        visit(&mut ParamVisitor::new(path, &mut f));
    }
    norm
}
