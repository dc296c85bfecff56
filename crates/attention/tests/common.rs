//! Helpers shared by the test modules.

use strata_layers::{Layer, Registry, load_state_dict, state_dict};
use strata_tensor::{ParamRef, ParamVisitor, Tensor};

/// The built-in kinds plus layer norm's and this crate's.
pub fn registry() -> Registry {
    let mut registry = Registry::with_builtins();
    strata_normalization::register(&mut registry).unwrap();
    strata_attention::register(&mut registry).unwrap();
    registry
}

/// A tensor of `shape` holding `data`.
pub fn tensor(shape: &[usize], data: &[f32]) -> Tensor {
    Tensor::from_vec(shape, data.to_vec()).unwrap()
}

/// Every element of `got` within `tol` of `want`.
#[track_caller]
pub fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "element {i}: got {g}, want {w} (tolerance {tol})");
    }
}

/// Overwrite the tensor called `name`.
pub fn set_tensor(layer: &mut dyn Layer, name: &str, values: &[f32]) {
    let mut tensors = state_dict(layer);
    let slot = tensors.iter_mut().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no tensor '{name}'"));
    slot.1 = Tensor::from_vec(slot.1.shape(), values.to_vec()).unwrap();
    load_state_dict(layer, &tensors).unwrap();
}

/// The gradient of the parameter called `name`.
pub fn get_grad(layer: &mut dyn Layer, name: &str) -> Tensor {
    let mut out = None;
    let mut path = String::new();
    let mut f = |p: ParamRef<'_>| {
        if p.name == name {
            out = p.grad.map(|g| g.clone());
        }
    };
    layer.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    out.unwrap_or_else(|| panic!("no parameter '{name}'"))
}

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
