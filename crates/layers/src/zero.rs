//! Gradients declared zero instead of written zero (PyTorch's
//! `zero_grad(set_to_none=True)`, its default since 2.0): the next backward
//! writes them instead of adding to them, which saves one pass over every
//! gradient and the products' reads of the old values.

use strata_tensor::Tensor;

/// Whether a layer's parameter gradients are zero by declaration.
///
/// A layer that keeps one overrides [`crate::Layer::zero_grad`] with
/// [`DeferredZero::defer`], computes its parameter gradients in `backward`
/// with [`DeferredZero::beta`] and [`DeferredZero::accumulate`] and calls
/// [`DeferredZero::written`] after them, and calls [`DeferredZero::settle`]
/// on its gradients first thing in `visit_parameters`. Whoever looks at the
/// gradients between `zero_grad` and `backward` then reads zeros, as if they
/// had been written.
///
/// ```
/// use strata_layers::DeferredZero;
/// use strata_tensor::Tensor;
/// let mut grad = Tensor::ones(&[3]);
/// let mut zero = DeferredZero::default();
/// zero.defer();
/// assert_eq!((zero.beta(), zero.accumulate()), (0.0, false)); // backward would write
/// zero.settle(&mut [&mut grad]);                                // someone looks first
/// assert_eq!(grad.data(), [0.0; 3]);
/// assert_eq!((zero.beta(), zero.accumulate()), (1.0, true));    // now backward adds
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeferredZero {
    pending: bool,
}

impl DeferredZero {
    /// Declare the gradients zero (from `zero_grad`).
    pub fn defer(&mut self) {
        self.pending = true;
    }

    /// The `beta` of a gradient product `dW = x^T dy + beta * dW`: 0 while
    /// the gradients are declared zero, else 1.
    pub fn beta(&self) -> f32 {
        if self.pending { 0.0 } else { 1.0 }
    }

    /// Whether a gradient sum adds to the old value (`false` while the
    /// gradients are declared zero).
    pub fn accumulate(&self) -> bool {
        !self.pending
    }

    /// Backward has written every parameter gradient: the next one adds.
    pub fn written(&mut self) {
        self.pending = false;
    }

    /// Write the declared zeros into `grads` (before anyone else sees them).
    pub fn settle(&mut self, grads: &mut [&mut Tensor]) {
        if self.pending {
            for g in grads {
                g.fill(0.0);
            }
            self.pending = false;
        }
    }
}
