//! A model's state by name: its tensors ([`state_dict`], [`load_state_dict`])
//! and its counters ([`counters`], [`load_counters`]). Files are `strata-io`'s.

use crate::error::{LayerError, Result};
use crate::layer::Layer;
use std::collections::HashMap;
use strata_tensor::{ParamVisitor, Tensor};

/// Every parameter and buffer of a model, cloned, by name.
pub fn state_dict(model: &mut dyn Layer) -> Vec<(String, Tensor)> {
    let mut out = Vec::new();
    let mut path = String::new();
    let mut f = |p: strata_tensor::ParamRef<'_>| out.push((p.name.to_string(), p.value.clone()));
    model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    out
}

/// Every counter of a model (dropout's call count, batch norm's batch
/// count), by name, in visit order: the integer state a training snapshot
/// restores exactly (see [`strata_tensor::ParamVisitor::counter`]).
pub fn counters(model: &mut dyn Layer) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut path = String::new();
    let mut tensors = |_: strata_tensor::ParamRef<'_>| {};
    let mut f = |name: &str, value: &mut u64| out.push((name.to_string(), *value));
    model.visit_parameters(&mut ParamVisitor::with_counters(&mut path, &mut tensors, &mut f));
    out
}

/// Set a model's counters by name. Every counter of the model must be
/// present, and every given counter must be used.
pub fn load_counters(model: &mut dyn Layer, values: &[(String, u64)]) -> Result<()> {
    let mut by_name: HashMap<&str, u64> = HashMap::with_capacity(values.len());
    for (n, v) in values {
        if by_name.insert(n.as_str(), *v).is_some() {
            return Err(LayerError::DuplicateCounter { name: n.clone() });
        }
    }
    let mut missing = None;
    let mut path = String::new();
    let mut tensors = |_: strata_tensor::ParamRef<'_>| {};
    let mut f = |name: &str, value: &mut u64| match by_name.remove(name) {
        Some(v) => *value = v,
        None => {
            missing.get_or_insert_with(|| name.to_string());
        }
    };
    model.visit_parameters(&mut ParamVisitor::with_counters(&mut path, &mut tensors, &mut f));
    if let Some(name) = missing {
        return Err(LayerError::Counter { name, missing: true });
    }
    if let Some(name) = by_name.keys().min() {
        return Err(LayerError::Counter { name: name.to_string(), missing: false });
    }
    Ok(())
}

/// The first tensor value of `model` that is not finite, or negative in a
/// running variance, as an error naming the tensor (parameters and buffers,
/// in visit order): [`LayerError::NonFiniteWeight`],
/// [`LayerError::NegativeVariance`].
pub fn check_finite(model: &mut dyn Layer) -> Result<()> {
    let mut found = Ok(());
    let mut path = String::new();
    let mut f = |p: strata_tensor::ParamRef<'_>| {
        if found.is_ok() {
            found = check_values(p.name, p.value.data(), p.non_negative);
        }
    };
    model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    found
}

/// [`check_finite`] for tensors about to be loaded into `model` with
/// [`load_state_dict`] (a snapshot's weights): each is checked as the
/// model's tensor of its name would be, and the model is left unchanged.
pub fn check_named(model: &mut dyn Layer, tensors: &[(String, Tensor)]) -> Result<()> {
    let mut variances = std::collections::HashSet::new();
    let mut path = String::new();
    let mut f = |p: strata_tensor::ParamRef<'_>| {
        if p.non_negative {
            variances.insert(p.name.to_string());
        }
    };
    model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    tensors.iter().try_for_each(|(name, t)| check_values(name, t.data(), variances.contains(name)))
}

/// Finite values, and at least 0 where `non_negative`.
fn check_values(name: &str, values: &[f32], non_negative: bool) -> Result<()> {
    if let Some((index, value)) = strata_tensor::first_failing(values, f32::is_finite) {
        return Err(LayerError::NonFiniteWeight { name: name.to_string(), index, value });
    }
    match non_negative.then(|| strata_tensor::first_failing(values, |x| x >= 0.0)).flatten() {
        Some((index, value)) => Err(LayerError::NegativeVariance { name: name.to_string(), index, value }),
        None => Ok(()),
    }
}

/// Copy tensors into a model by name. Every parameter and buffer of the model
/// must be present with its shape, and every tensor must be used
/// ([`check_state_dict`]); the model is written only once all of them fit.
pub fn load_state_dict(model: &mut dyn Layer, tensors: &[(String, Tensor)]) -> Result<()> {
    let by_name = check_state_dict(model, tensors)?;
    let mut path = String::new();
    let mut f = |p: strata_tensor::ParamRef<'_>| {
        if let Some(t) = by_name.get(p.name) {
            p.value.copy_from(t);
        }
    };
    model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    Ok(())
}

/// What [`load_state_dict`] checks, without writing the model: no name
/// twice, every parameter and buffer present with its shape, every tensor
/// used. Returns the tensors by name.
pub fn check_state_dict<'t>(
    model: &mut dyn Layer,
    tensors: &'t [(String, Tensor)],
) -> Result<HashMap<&'t str, &'t Tensor>> {
    let mut by_name: HashMap<&str, &Tensor> = HashMap::with_capacity(tensors.len());
    for (n, t) in tensors {
        if by_name.insert(n.as_str(), t).is_some() {
            return Err(LayerError::DuplicateWeight { name: n.clone() });
        }
    }
    // Each tensor the model has moves from `by_name` to `used`: what stays
    // behind is unused.
    let mut used: HashMap<&str, &Tensor> = HashMap::with_capacity(tensors.len());
    let mut first_err = None;
    let mut path = String::new();
    let mut f = |p: strata_tensor::ParamRef<'_>| {
        if first_err.is_some() {
            return;
        }
        match by_name.remove_entry(p.name) {
            None => first_err = Some(LayerError::MissingWeight { name: p.name.to_string() }),
            Some((_, t)) if t.shape() != p.value.shape() => {
                first_err = Some(LayerError::WeightShape {
                    name: p.name.to_string(),
                    expected: p.value.shape().to_vec(),
                    actual: t.shape().to_vec(),
                })
            }
            Some((name, t)) => {
                used.insert(name, t);
            }
        }
    };
    model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    if let Some(e) = first_err {
        return Err(e);
    }
    if let Some(name) = by_name.keys().min() {
        return Err(LayerError::UnexpectedWeight { name: name.to_string() });
    }
    Ok(used)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dense::{Dense, DenseConfig};

    /// A tensor that does not fit (here the second, the bias) leaves the
    /// model as it was: the first, which fits, was copied in before the
    /// check reached the second.
    #[test]
    fn a_load_that_does_not_fit_writes_nothing() {
        let mut rng = strata_tensor::StrataRng::seed_from_u64(1);
        let mut dense = Dense::new(DenseConfig::new(2, 3), &mut rng).unwrap();
        let before = state_dict(&mut dense);
        let weight = before.iter().find(|(n, _)| n == "weight").unwrap().1.shape().to_vec();
        let tensors =
            vec![("weight".to_string(), Tensor::full(&weight, 7.0)), ("bias".to_string(), Tensor::zeros(&[4]))];
        let err = load_state_dict(&mut dense, &tensors).unwrap_err();
        assert!(matches!(err, LayerError::WeightShape { ref name, .. } if name == "bias"), "{err}");
        assert_eq!(state_dict(&mut dense), before);
    }
}
