use crate::error::Result;
use crate::layer::Layer;
use crate::shape::{Dim, ShapeDisplay};
use std::collections::HashMap;
use strata_tensor::ParamVisitor;

/// A Keras-style table of a model: one row per top-level layer (name and
/// kind, output shape with `None` for the batch axis and for axes of any
/// size, trainable parameter count), then the total.
///
/// ```
/// use strata_layers::{dims, summary, Dense, DenseConfig, Sequential, Flatten};
/// use strata_tensor::StrataRng;
/// let mut rng = StrataRng::seed_from_u64(0);
/// let mut model = Sequential::new(&[2, 2], vec![
///     Box::new(Flatten::new()),
///     Box::new(Dense::new(DenseConfig::new(4, 3), &mut rng)?),
/// ])?;
/// let table = summary(&mut model, &dims(&[2, 2]))?;
/// assert!(table.contains("dense_1 (dense)"));
/// assert!(table.contains("[None, 3]"));
/// assert!(table.ends_with("Total params: 15\n"));  // 4 * 3 weights + 3 biases
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
pub fn summary(model: &mut dyn Layer, input_shape: &[Dim]) -> Result<String> {
    // Trainable scalars per top-level name (the first segment of the parameter path).
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut total = 0;
    let mut path = String::new();
    let mut f = |p: strata_tensor::ParamRef<'_>| {
        if p.grad.is_some() {
            let top = p.name.split('.').next().unwrap_or("").to_string();
            *counts.entry(top).or_insert(0) += p.value.len();
            total += p.value.len();
        }
    };
    model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));

    let show = |shape: &[Dim]| {
        let mut full = vec![Dim::Any];
        full.extend_from_slice(shape);
        ShapeDisplay(&full).to_string().replace('*', "None")
    };
    let mut rows = Vec::new();
    let children = model.children();
    if children.is_empty() {
        rows.push((format!("({})", model.kind()), show(&model.output_shape(input_shape)?), total.to_string()));
    } else {
        let mut shape = input_shape.to_vec();
        for (name, child) in children {
            shape = child.output_shape(&shape)?;
            let n = counts.get(name).copied().unwrap_or(0);
            rows.push((format!("{name} ({})", child.kind()), show(&shape), n.to_string()));
        }
    }
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max("Layer (type)".len()) + 2;
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max("Output Shape".len()) + 2;
    let w2 = rows.iter().map(|r| r.2.len()).max().unwrap_or(0).max("Param #".len());
    let width = w0 + w1 + w2;
    let mut s = format!("{:<w0$}{:<w1$}{:>w2$}\n{}\n", "Layer (type)", "Output Shape", "Param #", "=".repeat(width));
    for (a, b, c) in rows {
        s.push_str(&format!("{a:<w0$}{b:<w1$}{c:>w2$}\n"));
    }
    s.push_str(&format!("{}\nTotal params: {total}\n", "-".repeat(width)));
    Ok(s)
}
