use crate::error::{LayerError, Result};
use crate::layer::{Layer, Mode, check_grad};
use crate::registry::LayerSpec;
use crate::shape::{Dim, ShapeDisplay, dims};
use strata_tensor::{ParamVisitor, Tensor};

/// A skip connection: `y = x + f(x)`, where `f` is any layer (usually a
/// [`crate::Sequential`]) whose output shape equals its input shape.
///
/// The gradient reaching `x` is `dy + df/dx^T dy`: the identity path carries
/// the upstream gradient unchanged, which is why deep residual networks do
/// not suffer from vanishing gradients the way plain stacks do.
///
/// Naming is transparent: `f`'s parameters keep their own names under the
/// residual's (`residual_1.dense_1.weight`).
///
/// # Shapes
/// - input: `[batch, ..s]`
/// - output: `[batch, ..s]` (`f` must map `s` to `s`)
#[derive(Debug)]
pub struct Residual {
    inner: Box<dyn Layer>,
    output: Tensor,
    grad_input: Tensor,
    input_gradient: bool,
}

impl Residual {
    /// `x + inner(x)`.
    pub fn new(inner: Box<dyn Layer>) -> Self {
        Residual { inner, output: Tensor::default(), grad_input: Tensor::default(), input_gradient: true }
    }

    /// The wrapped layer.
    pub fn inner(&self) -> &dyn Layer {
        self.inner.as_ref()
    }
}

impl Layer for Residual {
    fn forward(&mut self, input: &Tensor, mode: Mode) -> Result<&Tensor> {
        let fx = self.inner.forward(input, mode)?;
        if fx.shape() != input.shape() {
            return Err(LayerError::ShapeMismatch {
                layer: "residual".into(),
                expected: dims(input.shape()),
                actual: dims(fx.shape()),
            });
        }
        self.output.copy_from(fx);
        self.output.add_assign(input)?;
        Ok(&self.output)
    }

    fn backward(&mut self, grad_output: &Tensor) -> Result<&Tensor> {
        check_grad("residual", grad_output, self.output.shape())?;
        let g_inner = self.inner.backward(grad_output)?;
        if !self.input_gradient {
            return Ok(g_inner);
        }
        self.grad_input.copy_from(g_inner);
        self.grad_input.add_assign(grad_output)?;
        Ok(&self.grad_input)
    }

    fn output_shape(&self, input_shape: &[Dim]) -> Result<Vec<Dim>> {
        let out = self.inner.output_shape(input_shape)?;
        if out != input_shape {
            return Err(LayerError::InvalidConfig {
                layer: "residual".into(),
                reason: format!(
                    "the inner layer maps {} to {}; a skip connection needs equal shapes",
                    ShapeDisplay(input_shape),
                    ShapeDisplay(&out)
                ),
            });
        }
        Ok(out)
    }

    fn kind(&self) -> &str {
        "residual"
    }

    fn visit_parameters(&mut self, visitor: &mut ParamVisitor<'_>) {
        self.inner.visit_parameters(visitor);
    }

    fn spec(&self) -> Result<LayerSpec> {
        let inner = self.inner.spec()?;
        LayerSpec::new("residual", &serde_json::json!({ "inner": inner }))
    }

    fn children(&self) -> Vec<(&str, &dyn Layer)> {
        vec![("inner", self.inner.as_ref())]
    }

    fn set_input_gradient(&mut self, needed: bool) {
        self.input_gradient = needed;
        self.inner.set_input_gradient(needed);
    }

    fn zero_grad(&mut self) {
        self.inner.zero_grad();
    }
}
