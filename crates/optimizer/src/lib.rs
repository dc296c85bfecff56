//! # strata-optimizer
//!
//! (crate doc: to be completed by the implementer)
#![warn(missing_docs)]

use strata_tensor::{ParamVisitor, Tensor, TensorError};
use thiserror::Error;

/// Errors of optimizers.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum OptimizerError {
    /// A gradient's shape differs from its parameter's, or from the state kept for that name.
    #[error("{optimizer}: parameter '{name}' has shape {param:?} but its gradient (or saved state) has shape {grad:?}")]
    ShapeMismatch {
        /// The optimizer.
        optimizer: &'static str,
        /// Parameter name.
        name: String,
        /// Parameter shape.
        param: Vec<usize>,
        /// Gradient or state shape.
        grad: Vec<usize>,
    },
    /// A hyper-parameter outside its domain (negative learning rate, beta >= 1, ...).
    #[error("{optimizer}: invalid hyper-parameter {name} = {value}: {reason}")]
    InvalidHyperParameter {
        /// The optimizer or schedule.
        optimizer: &'static str,
        /// The hyper-parameter.
        name: &'static str,
        /// Its value.
        value: f64,
        /// The allowed range.
        reason: &'static str,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

/// `Result` with [`OptimizerError`].
pub type Result<T, E = OptimizerError> = std::result::Result<T, E>;

/// An update rule. The optimizer author writes [`Optimizer::update`] for one
/// named parameter; [`Optimizer::step`] walks a whole model. State (momenta,
/// moments, step counts) is keyed by the parameter's name.
pub trait Optimizer: Send + std::fmt::Debug {
    /// Update `param` in place from `grad`, keeping state under `name`.
    fn update(&mut self, name: &str, param: &mut Tensor, grad: &Tensor) -> Result<()>;

    /// The current learning rate.
    fn learning_rate(&self) -> f32;

    /// Set the learning rate (a schedule calls this before each step).
    fn set_learning_rate(&mut self, lr: f32);

    /// Update every trainable parameter that `visit` reports (buffers, whose
    /// `grad` is `None`, are skipped). Stops at the first error.
    fn step(&mut self, visit: &mut dyn FnMut(&mut ParamVisitor<'_>), path: &mut String) -> Result<()> {
        let mut first_err = None;
        let mut f = |p: strata_tensor::ParamRef<'_>| {
            if first_err.is_some() {
                return;
            }
            if let Some(g) = p.grad {
                if let Err(e) = self.update(p.name, p.value, g) {
                    first_err = Some(e);
                }
            }
        };
        let mut v = ParamVisitor::new(path, &mut f);
        visit(&mut v);
        first_err.map_or(Ok(()), Err)
    }
}
