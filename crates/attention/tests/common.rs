//! Helpers shared by the test modules.

use strata_layers::Layer;
use strata_tensor::{ParamRef, ParamVisitor, Tensor};

/// The gradient of every trainable parameter of `layer`, by name, in visit order.
pub fn grads(layer: &mut dyn Layer) -> Vec<(String, Tensor)> {
    let mut out = Vec::new();
    let mut path = String::new();
    let mut f = |p: ParamRef<'_>| {
        if let Some(g) = p.grad {
            out.push((p.name.to_string(), g.clone()));
        }
    };
    layer.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    out
}
