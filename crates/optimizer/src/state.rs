//! What every optimizer shares: the per-name state map, the shape checks
//! around a per-parameter rule, and hyper-parameter validation.

use crate::{OptimizerError, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use strata_tensor::Tensor;

/// State per parameter name. A `BTreeMap` rather than a `HashMap`: lookups
/// by `&str` allocate nothing either way, and an ordered map serializes the
/// same state to the same bytes on every run (reproducible checkpoints).
pub(crate) type StateMap<S> = BTreeMap<String, S>;

/// Per-parameter state whose tensors must all have the parameter's shape.
pub(crate) trait ParamState {
    /// The shape of the first tensor of the state that differs from `shape`.
    fn mismatch(&self, shape: &[usize]) -> Option<&[usize]>;

    /// The first value no update reaches, described (a state read from a
    /// file is checked with it).
    fn invalid(&self) -> Option<String>;
}

impl ParamState for Tensor {
    fn mismatch(&self, shape: &[usize]) -> Option<&[usize]> {
        (self.shape() != shape).then_some(self.shape())
    }

    fn invalid(&self) -> Option<String> {
        finite("momentum_buffer", self)
    }
}

/// `what` at its first value that is not finite.
pub(crate) fn finite(what: &str, t: &Tensor) -> Option<String> {
    let (i, x) = strata_tensor::first_failing(t.data(), f32::is_finite)?;
    Some(format!("{what} {x} at index {i}, where a finite number belongs"))
}

/// `what` at its first value that is not finite and at least 0 (a running
/// average of squares).
pub(crate) fn finite_non_negative(what: &str, t: &Tensor) -> Option<String> {
    let (i, x) = strata_tensor::first_failing(t.data(), |x| (0.0..f32::INFINITY).contains(&x))?;
    Some(format!("{what} {x} at index {i}, where a finite number of at least 0 belongs"))
}

/// The first value that is not zero in state no step has written yet (a
/// saved `step` of 0 beside moments that are not zero contradict each other).
pub(crate) fn zero_before_a_step(tensors: &[(&str, &Tensor)]) -> Option<String> {
    tensors.iter().find_map(|(what, t)| {
        let (i, x) = strata_tensor::first_failing(t.data(), |x| x == 0.0)?;
        Some(format!("{what} {x} at index {i} with step 0, where no step has written a value yet"))
    })
}

/// Check that `grad` has `param`'s shape.
pub(crate) fn check_grad(optimizer: &'static str, name: &str, param: &Tensor, grad: &Tensor) -> Result<()> {
    if param.shape() == grad.shape() {
        Ok(())
    } else {
        Err(OptimizerError::ShapeMismatch {
            optimizer,
            name: name.to_owned(),
            param: param.shape().to_vec(),
            grad: grad.shape().to_vec(),
        })
    }
}

/// Apply a per-parameter `rule` to `param`, `grad` and the state kept under
/// `name` (created by `init` from the parameter's shape on first sight).
///
/// Checks both shapes first, so `rule` may zip the slices freely. Allocates
/// only the first time a name is seen.
pub(crate) fn update_with_state<S: ParamState>(
    optimizer: &'static str,
    states: &mut StateMap<S>,
    name: &str,
    param: &mut Tensor,
    grad: &Tensor,
    init: impl FnOnce(&[usize]) -> strata_tensor::Result<S>,
    rule: impl FnOnce(&mut S, &mut [f32], &[f32]),
) -> Result<()> {
    check_grad(optimizer, name, param, grad)?;
    if let Some(state) = states.get_mut(name) {
        if let Some(bad) = state.mismatch(param.shape()) {
            return Err(OptimizerError::ShapeMismatch {
                optimizer,
                name: name.to_owned(),
                param: param.shape().to_vec(),
                grad: bad.to_vec(),
            });
        }
        rule(state, param.data_mut(), grad.data());
        return Ok(());
    }
    // Fallibly: a parameter the memory held may leave no room for its state.
    let mut state = init(param.shape())?;
    rule(&mut state, param.data_mut(), grad.data());
    states.insert(name.to_owned(), state);
    Ok(())
}

/// The serialized form of every optimizer: its config and its state map.
/// Deserializing an optimizer goes through this and re-validates the config.
#[derive(Deserialize)]
pub(crate) struct Parts<C, S> {
    pub(crate) config: C,
    pub(crate) state: StateMap<S>,
}

fn invalid(optimizer: &'static str, name: &'static str, value: f32, reason: &'static str) -> OptimizerError {
    OptimizerError::InvalidHyperParameter { optimizer, name, value: f64::from(value), reason }
}

/// `value` must be finite and `>= 0`.
pub(crate) fn non_negative(optimizer: &'static str, name: &'static str, value: f32) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(optimizer, name, value, "must be finite and >= 0"))
    }
}

/// `value` must be finite and `> 0`.
pub(crate) fn positive(optimizer: &'static str, name: &'static str, value: f32) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(invalid(optimizer, name, value, "must be finite and > 0"))
    }
}

/// `value` must lie in `[0, 1)`.
pub(crate) fn unit_interval(optimizer: &'static str, name: &'static str, value: f32) -> Result<()> {
    if (0.0..1.0).contains(&value) { Ok(()) } else { Err(invalid(optimizer, name, value, "must be in [0, 1)")) }
}

/// A count that must be `> 0`.
pub(crate) fn positive_count(optimizer: &'static str, name: &'static str, value: usize) -> Result<()> {
    if value > 0 {
        Ok(())
    } else {
        Err(OptimizerError::InvalidHyperParameter { optimizer, name, value: value as f64, reason: "must be > 0" })
    }
}

/// `base^exponent` in `f64` for a step count (saturating the exponent).
pub(crate) fn powi(base: f32, exponent: u64) -> f64 {
    f64::from(base).powi(i32::try_from(exponent).unwrap_or(i32::MAX))
}

/// What every optimizer type has besides its update rule: validation when
/// it is deserialized, a short `Debug`, `new`, `config`, `remove_state` and
/// `clear_state`. `$Type { config: $Config, state: StateMap<$State> }`.
macro_rules! optimizer_common {
    ($Type:ident, $Config:ty, $State:ty, $label:literal) => {
        impl TryFrom<$crate::state::Parts<$Config, $State>> for $Type {
            type Error = $crate::OptimizerError;
            fn try_from(parts: $crate::state::Parts<$Config, $State>) -> $crate::Result<Self> {
                parts.config.validate()?;
                for (name, state) in &parts.state {
                    if let Some(what) = $crate::state::ParamState::invalid(state) {
                        return Err($crate::OptimizerError::InvalidState { optimizer: NAME, name: name.clone(), what });
                    }
                }
                Ok($Type { config: parts.config, state: parts.state })
            }
        }

        impl std::fmt::Debug for $Type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($Type)).field("config", &self.config).field("params", &self.state.len()).finish()
            }
        }

        impl $Type {
            #[doc = concat!("A new ", $label, " optimizer; fails with [`OptimizerError::InvalidHyperParameter`](crate::OptimizerError::InvalidHyperParameter).")]
            pub fn new(config: $Config) -> $crate::Result<Self> {
                config.validate()?;
                Ok($Type { config, state: $crate::state::StateMap::new() })
            }

            /// The hyper-parameters (with the current learning rate).
            pub fn config(&self) -> &$Config {
                &self.config
            }

            /// The names of the parameters it keeps state for (sorted).
            pub fn state_names(&self) -> impl Iterator<Item = &str> {
                self.state.keys().map(String::as_str)
            }

            /// The shape of the first tensor of `name`'s state that differs
            /// from `shape`, the parameter's (a state read from a file is
            /// checked with it before its first step).
            pub fn state_mismatch(&self, name: &str, shape: &[usize]) -> Option<Vec<usize>> {
                self.state.get(name).and_then(|s| $crate::state::ParamState::mismatch(s, shape)).map(<[usize]>::to_vec)
            }

            /// Forget the state of one parameter; true if there was any.
            pub fn remove_state(&mut self, name: &str) -> bool {
                self.state.remove(name).is_some()
            }

            /// Forget all state (moments, buffers and step counts restart).
            pub fn clear_state(&mut self) {
                self.state.clear();
            }
        }
    };
}
