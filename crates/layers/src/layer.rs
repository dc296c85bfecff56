use crate::error::{LayerError, Result};
use crate::registry::LayerSpec;
use crate::shape::{Dim, dims};
use strata_tensor::{ParamVisitor, Tensor};

/// Whether a forward pass is part of training (dropout active, batch
/// statistics updated, input kept for backward) or inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Training: the layer keeps what its backward needs.
    Train,
    /// Inference: deterministic, nothing kept for backward.
    #[default]
    Eval,
}

/// A layer: a function of its input and its parameters, with its derivative.
///
/// Three methods are required; the rest are provided. The trait is object
/// safe: models hold `Box<dyn Layer>`.
///
/// **Buffers.** `forward` and `backward` return references into buffers the
/// layer owns and reuses, so a training step allocates nothing once warm. The
/// layer keeps what its backward needs (usually a copy of the input) during a
/// [`Mode::Train`] forward.
///
/// **Gradients accumulate.** `backward` *adds* to the parameter gradients and
/// returns the gradient with respect to the input; [`Layer::zero_grad`]
/// clears them (the trainer calls it before each batch), by writing zeros or
/// by declaring them zero so that the next `backward` writes instead of adds
/// ([`crate::DeferredZero`]).
///
/// **Shapes.** The first axis of every tensor is the batch. `output_shape`
/// works on per-sample shapes (without the batch axis) so a model can check
/// that its layers fit before any data flows; an axis may be [`Dim::Any`]
/// (a sequence of any length). Layers that work on features (dense,
/// activations, dropout, layer norm) treat every axis but the last as a batch
/// axis: a `[batch, sequence, features]` tensor is `batch * sequence` rows.
pub trait Layer: Send + std::fmt::Debug {
    /// Compute the output for a batch.
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor>;

    /// Given `dL/doutput` for the last training forward, accumulate the
    /// parameter gradients and return `dL/dinput`.
    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor>;

    /// The per-sample output shape for a per-sample input shape, or a
    /// [`LayerError::ShapeMismatch`] if the layer cannot take that input.
    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>>;

    /// The layer's kind: its registry key (`dense`, `relu`, ...). Models name
    /// their layers `kind_n`. Defaults to the type's name.
    fn kind(&self) -> &str {
        let full = std::any::type_name::<Self>();
        full.rsplit("::").next().unwrap_or(full)
    }

    /// Report every parameter (with its gradient) and every saved buffer.
    /// Parameter-free layers keep the default.
    fn visit_parameters(&mut self, _visitor: &mut ParamVisitor<'_>) {}

    /// The layer's configuration, enough for a [`crate::Registry`] to rebuild
    /// it (weights travel separately, by name). Layers that cannot be saved
    /// keep the default, an error.
    fn spec(&self) -> Result<LayerSpec> {
        Err(LayerError::NotSerializable { layer: self.kind().to_string() })
    }

    /// Children of a composite, with the names they have in it (for
    /// summaries and diagnostics). Leaves have none.
    fn children(&self) -> Vec<(&str, &dyn Layer)> {
        Vec::new()
    }

    /// Whether `backward` must compute `dL/dinput`. A trainer turns it off for
    /// the duration of a step because a model's input is data: the first
    /// layer then skips that product (for a dense layer on MNIST, a quarter
    /// of the step's work). While it is off, `backward` may return an empty
    /// tensor. Layers that cannot skip anything keep the default.
    fn set_input_gradient(&mut self, _needed: bool) {}

    /// The layer as [`std::any::Any`], for code that knows a concrete layer
    /// type and finds it inside a model through [`Layer::children`] (the
    /// attention maps of `strata-attention`). Layers that offer nothing to
    /// read keep the default, `None`.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// Set every gradient to zero: whatever reads them next (through
    /// [`Layer::visit_parameters`]) reads zeros, and the next `backward`
    /// starts from zero. The default writes zeros; a layer may instead
    /// declare them zero with a [`crate::DeferredZero`], so that its next
    /// backward writes its gradients instead of adding to them. A composite
    /// calls its children's `zero_grad` (else they are written).
    fn zero_grad(&mut self) {
        let mut f = |p: strata_tensor::ParamRef<'_>| {
            if let Some(g) = p.grad {
                g.fill(0.0);
            }
        };
        with_scratch_path(|path| self.visit_parameters(&mut ParamVisitor::new(path, &mut f)));
    }

    /// Number of trainable scalars.
    fn n_parameters(&mut self) -> usize {
        let mut n = 0;
        let mut path = String::new();
        let mut f = |p: strata_tensor::ParamRef<'_>| {
            if p.grad.is_some() {
                n += p.value.len();
            }
        };
        self.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
        n
    }

    /// Inference on a batch, returning an owned tensor.
    fn predict(&mut self, input: &Tensor) -> Result<Tensor> {
        self.forward(input, Mode::Eval).cloned()
    }
}

impl<L: Layer + ?Sized> Layer for Box<L> {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        (**self).forward(input, mode)
    }
    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        (**self).backward(grad_output)
    }
    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        (**self).output_shape(input_shape)
    }
    fn kind(&self) -> &str {
        (**self).kind()
    }
    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        (**self).visit_parameters(visitor)
    }
    fn spec(&self) -> Result<LayerSpec> {
        (**self).spec()
    }
    fn children(&self) -> Vec<(&str, &dyn Layer)> {
        (**self).children()
    }
    fn set_input_gradient(&mut self, needed: bool) {
        (**self).set_input_gradient(needed)
    }
    fn zero_grad(&mut self) {
        (**self).zero_grad()
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        (**self).as_any()
    }
}

/// Run `f` with this thread's scratch `String` for parameter names (so the
/// default [`Layer::zero_grad`] allocates nothing once warm), or with a new
/// one if it is in use already.
fn with_scratch_path<R>(f: impl FnOnce(&mut String) -> R) -> R {
    thread_local! {
        static PATH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    PATH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut path) => f(&mut path),
        Err(_) => f(&mut String::new()),
    })
}

/// Check that a batch's per-sample shape fits `expected` (the first axis is
/// the batch; [`Dim::Any`] accepts any size).
pub fn check_input(layer: &str, input: &Tensor, expected: &[Dim]) -> Result<()> {
    let s = input.shape();
    if s.len() != expected.len() + 1 || !crate::shape::shape_accepts(expected, &s[1..]) {
        let mut want = vec![Dim::Any];
        want.extend_from_slice(expected);
        return Err(LayerError::ShapeMismatch { layer: layer.to_string(), expected: want, actual: dims(s) });
    }
    Ok(())
}

/// Check an input of rank >= 2 whose last axis holds `n_features` values;
/// every axis before it is a batch axis. Returns the number of rows (the
/// product of the leading axes).
///
/// ```
/// use strata_layers::check_features;
/// use strata_tensor::Tensor;
/// assert_eq!(check_features("dense", &Tensor::zeros(&[2, 5, 4]), 4).unwrap(), 10);
/// let err = check_features("dense", &Tensor::zeros(&[2, 5, 3]), 4).unwrap_err();
/// assert_eq!(err.to_string(), "layer 'dense': expected input of shape [*, *, 4], got [2, 5, 3]");
/// ```
pub fn check_features(layer: &str, input: &Tensor, n_features: usize) -> Result<usize> {
    let s = input.shape();
    match s.split_last() {
        Some((&last, lead)) if !lead.is_empty() && last == n_features => Ok(lead.iter().product()),
        _ => {
            let mut want = vec![Dim::Any; s.len().max(2) - 1];
            want.push(Dim::Fixed(n_features));
            Err(LayerError::ShapeMismatch { layer: layer.to_string(), expected: want, actual: dims(s) })
        }
    }
}

/// Check a per-sample shape in `output_shape`: the same rank, and every
/// axis fits (an axis of any size fits only where `expected` takes any size).
pub fn check_sample_shape(layer: &str, input_shape: &[Dim], expected: &[Dim]) -> Result<()> {
    let fits = input_shape.len() == expected.len() && input_shape.iter().zip(expected).all(|(d, e)| d.fits(*e));
    if !fits {
        return Err(LayerError::ShapeMismatch {
            layer: layer.to_string(),
            expected: expected.to_vec(),
            actual: input_shape.to_vec(),
        });
    }
    Ok(())
}

/// `output_shape` of a layer on features (see [`check_features`]): the
/// per-sample shape must end in a fixed `n_inputs` (any axes before it);
/// the output has the same axes with `n_outputs` last.
pub fn features_output_shape(layer: &str, input_shape: &[Dim], n_inputs: usize, n_outputs: usize) -> Result<Vec<Dim>> {
    match input_shape.split_last() {
        Some((&last, lead)) if last == Dim::Fixed(n_inputs) => {
            let mut out = lead.to_vec();
            out.push(Dim::Fixed(n_outputs));
            Ok(out)
        }
        _ => {
            let mut expected = vec![Dim::Any; input_shape.len().max(1) - 1];
            expected.push(Dim::Fixed(n_inputs));
            Err(LayerError::ShapeMismatch { layer: layer.to_string(), expected, actual: input_shape.to_vec() })
        }
    }
}

/// `backward` needs the matching forward's batch shape; check a gradient against it.
pub fn check_grad(layer: &str, grad: &Tensor, expected: &[usize]) -> Result<()> {
    if grad.shape() != expected {
        return Err(LayerError::ShapeMismatch {
            layer: layer.to_string(),
            expected: dims(expected),
            actual: dims(grad.shape()),
        });
    }
    Ok(())
}

/// The token id an input value encodes: an integer in `0..vocab` (Strata
/// passes ids as `f32` tensors holding exact integers, see `strata-data`'s
/// sequence datasets), or `None`.
///
/// ```
/// use strata_layers::token_id;
/// assert_eq!(token_id(3.0, 10), Some(3));
/// assert_eq!(token_id(3.5, 10), None);
/// assert_eq!(token_id(10.0, 10), None);
/// assert_eq!(token_id(f32::NAN, 10), None);
/// ```
pub fn token_id(value: f32, vocab: usize) -> Option<usize> {
    // `value >= 0.0` is false for NaN; integers up to 2^24 are exact in f32,
    // and `as usize` saturates, so a huge value stays out of range.
    (value >= 0.0 && value.fract() == 0.0 && (value as usize) < vocab).then_some(value as usize)
}

/// Check that every element of `input` is a token id in `0..vocab`; the
/// error names the layer and the position and value of the first that is not.
pub fn check_token_ids(layer: &str, input: &Tensor, vocab: usize) -> Result<()> {
    match input.data().iter().position(|&v| token_id(v, vocab).is_none()) {
        None => Ok(()),
        Some(flat) => {
            let mut position = vec![0; input.rank()];
            let mut rest = flat;
            for (slot, &d) in position.iter_mut().zip(input.shape()).rev() {
                *slot = rest % d.max(1);
                rest /= d.max(1);
            }
            Err(LayerError::TokenId { layer: layer.to_string(), position, value: input.data()[flat], vocab })
        }
    }
}
