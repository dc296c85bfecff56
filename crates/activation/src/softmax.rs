//! Row-wise softmax.

use crate::util::check_backward;
use crate::{Activation, ActivationError, Result};
use strata_tensor::Tensor;

/// Softmax over the last axis: every row `x` (the last axis of a tensor of
/// any rank ≥ 1) becomes `y_j = e^(x_j - m) / Σ_k e^(x_k - m)` with
/// `m = max_k x_k`. Subtracting the maximum keeps every exponent ≤ 0, so
/// logits like `[1000, 0]` give `[1, 0]` instead of `NaN`; the normalising sum
/// is accumulated in `f64`.
///
/// The backward reads the output: for each row, `dx = y ⊙ (g - Σ_j g_j y_j)`
/// (the Jacobian-vector product of `diag(y) - y yᵀ`).
///
/// **Masks.** An entry of `-inf` (a masked position, as attention masks
/// write them) gets probability 0 and passes no gradient. A row in which
/// *every* entry is `-inf` becomes all zeros, with a zero gradient (PyTorch's
/// `softmax` returns NaN there, from `0 / 0`); a NaN entry makes its row NaN.
///
/// A rank-0 tensor has no axis to normalise over and is an
/// [`ActivationError::ShapeMismatch`]. For classification, prefer the
/// cross-entropy loss on logits (it fuses this softmax and is more stable).
///
/// ```
/// use strata_activation::{Activation, Softmax};
/// use strata_tensor::Tensor;
/// let y = Softmax.apply(&Tensor::from_vec(&[2, 2], vec![0.0, 0.0, 1000.0, 0.0])?)?;
/// assert_eq!(y.data(), &[0.5, 0.5, 1.0, 0.0]);
/// # Ok::<(), strata_activation::ActivationError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Softmax;

/// Width of the rows softmax works on, or an error for a rank-0 tensor.
fn row_width(op: &'static str, t: &Tensor) -> Result<usize> {
    t.shape().last().copied().ok_or_else(|| ActivationError::ShapeMismatch {
        activation: "softmax",
        op,
        expected: vec![1],
        actual: t.shape().to_vec(),
    })
}

impl Activation for Softmax {
    fn name(&self) -> &'static str {
        "softmax"
    }

    fn forward(&self, input: &Tensor, output: &mut Tensor) -> Result<()> {
        let w = row_width("forward", input)?;
        output.resize(input.shape());
        if w == 0 {
            return Ok(());
        }
        for (x, y) in input.data().chunks_exact(w).zip(output.data_mut().chunks_exact_mut(w)) {
            let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            if m == f32::NEG_INFINITY {
                // Every entry masked: no distribution to speak of; zeros
                // (and so a zero gradient) rather than 0/0.
                y.fill(0.0);
                continue;
            }
            let mut sum = 0.0f64;
            for (yj, &xj) in y.iter_mut().zip(x) {
                *yj = (xj - m).exp();
                sum += f64::from(*yj);
            }
            let inv = (1.0 / sum) as f32;
            for yj in y.iter_mut() {
                *yj *= inv;
            }
        }
        Ok(())
    }

    fn uses_input(&self) -> bool {
        false
    }

    fn backward(&self, input: &Tensor, output: &Tensor, grad_output: &Tensor, grad_input: &mut Tensor) -> Result<()> {
        let w = row_width("backward", input)?;
        check_backward(self.name(), input, output, grad_output)?;
        grad_input.resize(input.shape());
        if w == 0 {
            return Ok(());
        }
        let rows = output.data().chunks_exact(w).zip(grad_output.data().chunks_exact(w));
        for ((y, g), gi) in rows.zip(grad_input.data_mut().chunks_exact_mut(w)) {
            let dot: f64 = y.iter().zip(g).map(|(&yj, &gj)| f64::from(yj) * f64::from(gj)).sum();
            let dot = dot as f32;
            for ((d, &yj), &gj) in gi.iter_mut().zip(y).zip(g) {
                *d = yj * (gj - dot);
            }
        }
        Ok(())
    }
}
