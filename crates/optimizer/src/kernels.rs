//! The optimizers' element-wise update loops, compiled for the CPU's widest
//! vectors at run time (`strata_tensor::simd_kernel!`). Each is the formula
//! its optimizer documents, in the same order of operations.

use strata_tensor::{par, simd_kernel};

/// Tensors with at least this many elements are updated by two threads, each
/// taking one half (the update is element-wise, so the result is the same).
const PARALLEL_ELEMENTS: usize = 1 << 15;

/// Adam on two threads for large tensors (see [`adam`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn adam_split(
    ps: &mut [f32],
    gs: &[f32],
    ms: &mut [f32],
    vs: &mut [f32],
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    bc1: f32,
    bc2: f32,
    l2: f32,
    decay: f32,
) {
    if ps.len() < PARALLEL_ELEMENTS.saturating_mul(par::split_scale()) || par::threads() < 2 {
        return adam(ps, gs, ms, vs, lr, beta1, beta2, eps, bc1, bc2, l2, decay);
    }
    let mid = ps.len() / 2;
    let (p0, p1) = ps.split_at_mut(mid);
    let (g0, g1) = gs.split_at(mid);
    let (m0, m1) = ms.split_at_mut(mid);
    let (v0, v1) = vs.split_at_mut(mid);
    rayon::join(
        || adam(p0, g0, m0, v0, lr, beta1, beta2, eps, bc1, bc2, l2, decay),
        || adam(p1, g1, m1, v1, lr, beta1, beta2, eps, bc1, bc2, l2, decay),
    );
}

simd_kernel! {
    /// Adam/AdamW for one parameter: `bc1`, `bc2` are the bias corrections
    /// `1 - beta^t`; `l2` is folded into the gradient (Adam), `decay`
    /// multiplies the parameter first (AdamW's `1 - lr * wd`).
    pub(crate) fn adam(
        ps: &mut [f32], gs: &[f32], ms: &mut [f32], vs: &mut [f32],
        lr: f32, beta1: f32, beta2: f32, eps: f32, bc1: f32, bc2: f32, l2: f32, decay: f32,
    ) {
        let moments = ms.iter_mut().zip(vs.iter_mut());
        if l2 == 0.0 && decay == 1.0 {
            // The common case without per-element branches, so it vectorises.
            for ((p, &g), (m, v)) in ps.iter_mut().zip(gs).zip(moments) {
                *m = beta1 * *m + (1.0 - beta1) * g;
                *v = beta2 * *v + (1.0 - beta2) * g * g;
                *p -= lr * (*m / bc1) / ((*v / bc2).sqrt() + eps);
            }
            return;
        }
        for ((p, &g), (m, v)) in ps.iter_mut().zip(gs).zip(moments) {
            let g = g + l2 * *p;
            *p *= decay;
            *m = beta1 * *m + (1.0 - beta1) * g;
            *v = beta2 * *v + (1.0 - beta2) * g * g;
            *p -= lr * (*m / bc1) / ((*v / bc2).sqrt() + eps);
        }
    }
}

simd_kernel! {
    /// Plain SGD: `p -= lr * (g + wd * p)`.
    pub(crate) fn sgd(ps: &mut [f32], gs: &[f32], lr: f32, wd: f32) {
        for (p, &g) in ps.iter_mut().zip(gs) {
            *p -= lr * (g + wd * *p);
        }
    }
}

simd_kernel! {
    /// SGD with momentum (PyTorch's rule; `nesterov` looks ahead).
    pub(crate) fn sgd_momentum(ps: &mut [f32], gs: &[f32], bufs: &mut [f32], lr: f32, wd: f32, momentum: f32, nesterov: bool) {
        for ((p, &g), b) in ps.iter_mut().zip(gs).zip(bufs.iter_mut()) {
            let g = g + wd * *p;
            *b = momentum * *b + g;
            let d = if nesterov { g + momentum * *b } else { *b };
            *p -= lr * d;
        }
    }
}

simd_kernel! {
    /// RMSprop without momentum.
    pub(crate) fn rmsprop(ps: &mut [f32], gs: &[f32], sq: &mut [f32], lr: f32, alpha: f32, eps: f32, wd: f32) {
        for ((p, &g), a) in ps.iter_mut().zip(gs).zip(sq.iter_mut()) {
            let g = g + wd * *p;
            *a = alpha * *a + (1.0 - alpha) * g * g;
            *p -= lr * (g / (a.sqrt() + eps));
        }
    }
}

simd_kernel! {
    /// RMSprop with a momentum buffer.
    pub(crate) fn rmsprop_momentum(
        ps: &mut [f32], gs: &[f32], sq: &mut [f32], bufs: &mut [f32],
        lr: f32, alpha: f32, eps: f32, wd: f32, momentum: f32,
    ) {
        for (((p, &g), a), b) in ps.iter_mut().zip(gs).zip(sq.iter_mut()).zip(bufs.iter_mut()) {
            let g = g + wd * *p;
            *a = alpha * *a + (1.0 - alpha) * g * g;
            *b = momentum * *b + g / (a.sqrt() + eps);
            *p -= lr * *b;
        }
    }
}
