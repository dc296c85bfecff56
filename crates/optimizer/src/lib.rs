//! # strata-optimizer
//!
//! The update rules that turn a model's gradients into new weights: [`Sgd`]
//! (momentum, Nesterov, weight decay), [`Adam`], [`AdamW`] and [`RmsProp`],
//! each with PyTorch's semantics and defaults; learning-rate [`Schedule`]s
//! (constant, step decay, cosine annealing, linear warm-up); and gradient
//! clipping by global norm ([`clip_grad_norm`], [`global_grad_norm`]).
//!
//! **The design decision:** optimizer state (momentum buffers, moment
//! estimates, per-parameter step counts) is kept in a map keyed by each
//! parameter's stable dotted name (`dense_1.weight`, as built by
//! [`ParamVisitor`]), not by position or by pointer. An optimizer author
//! writes only the per-parameter rule, [`Optimizer::update`]`(name, param,
//! grad)`; the provided [`Optimizer::step`] walks any model through its
//! [`ParamVisitor`], skipping buffers (the same split as burn's
//! `SimpleOptimizer` behind its optimizer adapter). Keying by name means the
//! state survives a checkpoint (every optimizer is `serde` and `Clone`),
//! does not care in which order a model reports its parameters, and a name
//! reused with another shape is caught as [`OptimizerError::ShapeMismatch`]
//! instead of silently corrupting a moment estimate. Lookups take a `&str`,
//! so once every parameter has been seen a step allocates nothing.
//!
//! Hyper-parameters are checked when an optimizer or schedule is built
//! ([`OptimizerError::InvalidHyperParameter`]); shape errors are values, never
//! panics.
//!
//! ```
//! use strata_optimizer::{Optimizer, OptimizerConfig, Schedule, clip_grad_norm};
//! use strata_tensor::{ParamVisitor, Tensor};
//!
//! // A one-tensor "model": minimise f(w) = sum((w - 3)^2).
//! let mut w = Tensor::from_slice(&[0.0, 1.0]);
//! let mut grad = Tensor::zeros(&[2]);
//!
//! // `--optimizer adam --lr 0.1` on a command line becomes:
//! let mut opt = OptimizerConfig::from_name("adam", 0.1)?.build()?;
//! let schedule = Schedule::LinearWarmup {
//!     warmup_steps: 10,
//!     then: Box::new(Schedule::Cosine { total_steps: 290, min_lr: 0.0 }),
//! };
//! schedule.validate()?;
//!
//! let mut path = String::new(); // scratch for parameter names, reused every step
//! for step in 0..300 {
//!     for (g, &x) in grad.data_mut().iter_mut().zip(w.data()) {
//!         *g = 2.0 * (x - 3.0); // df/dw
//!     }
//!     let mut model = |v: &mut ParamVisitor<'_>| v.param("w", &mut w, &mut grad);
//!     clip_grad_norm(&mut model, &mut path, 1.0);
//!     opt.set_learning_rate(schedule.lr_at(0.1, step));
//!     opt.step(&mut model, &mut path)?; // state kept under the name "w"
//! }
//! assert!(w.data().iter().all(|&x| (x - 3.0).abs() < 1e-2), "{w:?}");
//! # Ok::<(), strata_optimizer::OptimizerError>(())
//! ```
#![warn(missing_docs)]

#[macro_use]
mod state;

mod adam;
mod adamw;
mod clip;
mod config;
mod kernels;
mod rmsprop;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamConfig, AdamState};
pub use adamw::{AdamW, AdamWConfig};
pub use clip::{clip_grad_norm, global_grad_norm};
pub use config::{AnyOptimizer, OptimizerConfig};
pub use rmsprop::{RmsProp, RmsPropConfig, RmsPropState};
pub use schedule::Schedule;
pub use sgd::{Sgd, SgdConfig};

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
    /// Saved state whose values no update reaches (a NaN moment, a negative
    /// running average of squares): refused when it is read.
    #[error("{optimizer}: the saved state of '{name}' holds {what}")]
    InvalidState {
        /// The optimizer.
        optimizer: &'static str,
        /// Parameter name.
        name: String,
        /// What is wrong (`exp_avg_sq -1 at index 3, where a finite number of at least 0 belongs`).
        what: String,
    },
    /// An optimizer name that [`OptimizerConfig::from_name`] does not know.
    #[error("unknown optimizer '{name}' (expected one of: sgd, adam, adamw, rmsprop)")]
    UnknownOptimizer {
        /// The name as given.
        name: String,
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
            if let Some(g) = p.grad
                && let Err(e) = self.update(p.name, p.value, g)
            {
                first_err = Some(e);
            }
        };
        let mut v = ParamVisitor::new(path, &mut f);
        visit(&mut v);
        first_err.map_or(Ok(()), Err)
    }
}
