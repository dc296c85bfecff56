//! The optimizers' element-wise update loops, compiled for the CPU's widest
//! vectors at run time (`strata_tensor::simd_kernel!`). Each is the formula
//! its optimizer documents, in the same order of operations.

use crate::adam::AdamRule;
use strata_tensor::{par, simd_kernel};

/// Tensors with at least this many elements are updated by two threads, each
/// taking one half (the update is element-wise, so the result is the same).
const PARALLEL_ELEMENTS: usize = 1 << 15;

/// The slices of one parameter's element-wise update: its values, its
/// gradient and up to two state buffers of the same length (empty when the
/// optimizer keeps fewer).
pub(crate) struct Slices<'a> {
    pub ps: &'a mut [f32],
    pub gs: &'a [f32],
    pub a: &'a mut [f32],
    pub b: &'a mut [f32],
}

impl<'a> Slices<'a> {
    /// The first `mid` elements of every slice, and the rest.
    fn split_at(self, mid: usize) -> (Slices<'a>, Slices<'a>) {
        fn state(s: &mut [f32], mid: usize) -> (&mut [f32], &mut [f32]) {
            if s.is_empty() { (s, &mut []) } else { s.split_at_mut(mid) }
        }
        let (p0, p1) = self.ps.split_at_mut(mid);
        let (g0, g1) = self.gs.split_at(mid);
        let (a0, a1) = state(self.a, mid);
        let (b0, b1) = state(self.b, mid);
        (Slices { ps: p0, gs: g0, a: a0, b: b0 }, Slices { ps: p1, gs: g1, a: a1, b: b1 })
    }
}

/// Run `update` over `s`, on two threads for large tensors (each taking one
/// half, [`PARALLEL_ELEMENTS`] and `par::splits_at`): the update is
/// element-wise, so the result is the same.
pub(crate) fn on_halves(s: Slices<'_>, update: impl Fn(Slices<'_>) + Sync) {
    if !par::splits_at(s.ps.len(), PARALLEL_ELEMENTS, par::SHARED_ELEMENTS_FROM) || par::threads() < 2 {
        return update(s);
    }
    let mid = s.ps.len() / 2;
    let (first, second) = s.split_at(mid);
    rayon::join(|| update(first), || update(second));
}

/// Adam on two threads for large tensors (see [`adam`]).
pub(crate) fn adam_split(ps: &mut [f32], gs: &[f32], ms: &mut [f32], vs: &mut [f32], rule: AdamRule, bc: Corrections) {
    on_halves(Slices { ps, gs, a: ms, b: vs }, |s| adam(s.ps, s.gs, s.a, s.b, rule, bc));
}

/// Adam's bias corrections of one step folded into two scalars, PyTorch's
/// `(lr / (1 - beta1^t), 1 / sqrt(1 - beta2^t))`: one division and one
/// square root per element instead of three divisions, which are slow on
/// Intel cores (the Xeon profile: Adam 36% of W2's step).
pub(crate) type Corrections = (f32, f32);

/// Adam/AdamW for one parameter: `rule.l2` is folded into the gradient
/// (Adam), `rule.decay` multiplies the parameter first (AdamW's
/// `1 - lr * wd`), `bc` are the step's scalars ([`Corrections`]).
pub(crate) fn adam(ps: &mut [f32], gs: &[f32], ms: &mut [f32], vs: &mut [f32], rule: AdamRule, bc: Corrections) {
    #[cfg(target_arch = "x86_64")]
    if ps.len() >= strata_tensor::par::stream::STREAM_FROM && strata_tensor::par::stream::streaming() {
        // SAFETY: `streaming` checked that the CPU has AVX-512F.
        #[allow(unsafe_code)]
        return unsafe { adam_streamed(ps, gs, ms, vs, rule, bc) };
    }
    adam_kernel(ps, gs, ms, vs, rule, bc)
}

simd_kernel! {
    fn adam_kernel(ps: &mut [f32], gs: &[f32], ms: &mut [f32], vs: &mut [f32], rule: AdamRule, bc: Corrections) {
        adam_formula(ps, gs, ms, vs, rule, bc)
    }
}

/// [`adam`] writing the parameters with streaming stores, 16 at a time.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn adam_streamed(ps: &mut [f32], gs: &[f32], ms: &mut [f32], vs: &mut [f32], rule: AdamRule, bc: Corrections) {
    use strata_tensor::par::stream;
    let (a, b) = stream::aligned_blocks(ps);
    adam_formula(&mut ps[..a], &gs[..a], &mut ms[..a], &mut vs[..a], rule, bc);
    for i in (a..b).step_by(16) {
        let mut block = [0.0f32; 16];
        block.copy_from_slice(&ps[i..i + 16]);
        adam_formula(&mut block, &gs[i..i + 16], &mut ms[i..i + 16], &mut vs[i..i + 16], rule, bc);
        // SAFETY: `a..b` holds whole 64-byte aligned blocks of `ps`, and the
        // caller checked AVX-512F.
        unsafe { stream::store16(ps.as_mut_ptr().add(i), &block) };
    }
    adam_formula(&mut ps[b..], &gs[b..], &mut ms[b..], &mut vs[b..], rule, bc);
    stream::fence();
}

#[inline(always)]
fn adam_formula(ps: &mut [f32], gs: &[f32], ms: &mut [f32], vs: &mut [f32], rule: AdamRule, bc: Corrections) {
    let AdamRule { beta1, beta2, eps, l2, decay, .. } = rule;
    let (step_size, inv_bc2_sqrt) = bc;
    let moments = ms.iter_mut().zip(vs.iter_mut());
    if l2 == 0.0 && decay == 1.0 {
        // The common case without per-element branches, so it vectorises.
        for ((p, &g), (m, v)) in ps.iter_mut().zip(gs).zip(moments) {
            *m = beta1 * *m + (1.0 - beta1) * g;
            *v = beta2 * *v + (1.0 - beta2) * g * g;
            *p -= step_size * (*m / (v.sqrt() * inv_bc2_sqrt + eps));
        }
        return;
    }
    for ((p, &g), (m, v)) in ps.iter_mut().zip(gs).zip(moments) {
        let g = g + l2 * *p;
        *p *= decay;
        *m = beta1 * *m + (1.0 - beta1) * g;
        *v = beta2 * *v + (1.0 - beta2) * g * g;
        *p -= step_size * (*m / (v.sqrt() * inv_bc2_sqrt + eps));
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

#[cfg(test)]
mod tests {
    use super::*;
    use strata_tensor::par::stream::{STREAM_FROM, set_streaming};

    /// Adam and AdamW write the same bits with the parameters streamed past
    /// the caches or stored plainly, from every offset within a 64-byte line
    /// (so the unaligned head, the blocks and the tail all occur).
    #[test]
    fn streamed_adam_writes_the_same_bits() {
        let n = STREAM_FROM + 37;
        let value = |i: usize, scale: f32| ((i * 7919 % 1000) as f32 - 500.0) * scale;
        let run = |on: bool, start: usize, (l2, decay): (f32, f32)| {
            set_streaming(Some(on));
            let mut ps: Vec<f32> = (0..n + 16).map(|i| value(i, 1e-3)).collect();
            let gs: Vec<f32> = (0..n + 16).map(|i| value(i + 3, 2e-2)).collect();
            let (mut ms, mut vs) = (vec![0.0f32; n + 16], vec![0.0f32; n + 16]);
            for t in 1..=3 {
                let (bc1, bc2) = (1e-3 / (1.0 - 0.9f32.powi(t)), 1.0 / (1.0 - 0.999f32.powi(t)).sqrt());
                let r = start..start + n;
                let (p, g) = (&mut ps[r.clone()], &gs[r.clone()]);
                let rule = AdamRule { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, l2, decay };
                adam(p, g, &mut ms[r.clone()], &mut vs[r], rule, (bc1, bc2));
            }
            set_streaming(None);
            [ps, ms, vs].map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>())
        };
        for rule in [(0.0, 1.0), (1e-2, 1.0), (0.0, 1.0 - 1e-3 * 1e-2)] {
            for start in 0..16 {
                assert!(run(true, start, rule) == run(false, start, rule), "start {start}, (l2, decay) {rule:?}");
            }
        }
    }
}
