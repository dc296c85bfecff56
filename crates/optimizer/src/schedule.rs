//! Learning-rate schedules: the learning rate as a function of the step.

use crate::state;
use crate::{Optimizer, Result};
use serde::{Deserialize, Serialize};

const NAME: &str = "schedule";

/// A learning-rate schedule: [`Schedule::lr_at`] gives the learning rate of
/// step `step` (counted from 0 by the caller: per optimizer step, or per
/// epoch if the caller counts epochs) from the base learning rate.
///
/// Serialized with a `kind` tag (`constant`, `step`, `cosine`,
/// `linear_warmup`). Cosine annealing needs the run's length, so there is no
/// `FromStr`; build one in code or from a config file:
///
/// ```
/// use strata_optimizer::Schedule;
///
/// // Halve the learning rate every 1000 steps.
/// let decay = Schedule::Step { step_size: 1000, gamma: 0.5 };
/// assert_eq!(decay.lr_at(0.1, 999), 0.1);
/// assert_eq!(decay.lr_at(0.1, 2500), 0.025);
///
/// // 100 warm-up steps, then cosine annealing to 0 over the remaining 900.
/// let s = Schedule::LinearWarmup {
///     warmup_steps: 100,
///     then: Box::new(Schedule::Cosine { total_steps: 900, min_lr: 0.0 }),
/// };
/// s.validate()?;
/// assert_eq!(s.lr_at(1.0, 0), 0.01);   // 1/100 of the base
/// assert_eq!(s.lr_at(1.0, 99), 1.0);   // full base at the end of the ramp
/// assert!((s.lr_at(1.0, 550) - 0.5).abs() < 1e-6); // half-way through the cosine
/// assert_eq!(s.lr_at(1.0, 5000), 0.0);
///
/// // The same from a config file.
/// let json = r#"{"kind": "linear_warmup", "warmup_steps": 100,
///                "then": {"kind": "cosine", "total_steps": 900, "min_lr": 0.0}}"#;
/// assert_eq!(serde_json::from_str::<Schedule>(json).unwrap(), s);
/// # Ok::<(), strata_optimizer::OptimizerError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// The base learning rate at every step.
    #[default]
    Constant,
    /// Step decay: `base * gamma^(step / step_size)` (integer division), like
    /// PyTorch's `StepLR`.
    Step {
        /// Steps between two decays, `> 0`.
        step_size: usize,
        /// Factor applied at each decay, finite and `> 0` (usually `< 1`).
        gamma: f32,
    },
    /// Cosine annealing from the base learning rate to `min_lr` over
    /// `total_steps`, then `min_lr`: `min + (base - min) * (1 + cos(pi * step
    /// / total_steps)) / 2`, PyTorch's `CosineAnnealingLR` without restarts.
    Cosine {
        /// Length of the annealing, `> 0`.
        total_steps: usize,
        /// The final learning rate, finite and `>= 0`.
        min_lr: f32,
    },
    /// A linear ramp `base * (step + 1) / warmup_steps` over the first
    /// `warmup_steps` steps (from `base / warmup_steps` up to `base`), then
    /// `then`, started afresh: step `warmup_steps + k` gets `then`'s step `k`.
    LinearWarmup {
        /// Length of the ramp (0: no ramp).
        warmup_steps: usize,
        /// The schedule after the ramp.
        then: Box<Schedule>,
    },
}

impl Schedule {
    /// Check every parameter (recursively), with
    /// [`OptimizerError::InvalidHyperParameter`](crate::OptimizerError::InvalidHyperParameter).
    pub fn validate(&self) -> Result<()> {
        match self {
            Schedule::Constant => Ok(()),
            Schedule::Step { step_size, gamma } => {
                state::positive_count(NAME, "step_size", *step_size)?;
                state::positive(NAME, "gamma", *gamma)
            }
            Schedule::Cosine { total_steps, min_lr } => {
                state::positive_count(NAME, "total_steps", *total_steps)?;
                state::non_negative(NAME, "min_lr", *min_lr)
            }
            Schedule::LinearWarmup { then, .. } => then.validate(),
        }
    }

    /// The learning rate at `step` (from 0) for a base learning rate
    /// `base_lr`. Never panics, even on an unvalidated schedule (a zero
    /// `step_size` or `total_steps` then acts as no decay or as already
    /// annealed).
    pub fn lr_at(&self, base_lr: f32, step: usize) -> f32 {
        match self {
            Schedule::Constant => base_lr,
            Schedule::Step { step_size, gamma } => {
                let decays = step.checked_div(*step_size).unwrap_or(0);
                (f64::from(base_lr) * state::powi(*gamma, decays as u64)) as f32
            }
            Schedule::Cosine { total_steps, min_lr } => {
                if step >= *total_steps {
                    return *min_lr;
                }
                let (base, min) = (f64::from(base_lr), f64::from(*min_lr));
                let cos = (std::f64::consts::PI * step as f64 / *total_steps as f64).cos();
                (min + (base - min) * (1.0 + cos) / 2.0) as f32
            }
            Schedule::LinearWarmup { warmup_steps, then } => {
                if step < *warmup_steps {
                    (f64::from(base_lr) * (step + 1) as f64 / *warmup_steps as f64) as f32
                } else {
                    then.lr_at(base_lr, step - warmup_steps)
                }
            }
        }
    }

    /// Set `optimizer`'s learning rate to [`Schedule::lr_at`]`(base_lr, step)`
    /// and return it. Call before each step.
    pub fn apply(&self, optimizer: &mut dyn Optimizer, base_lr: f32, step: usize) -> f32 {
        let lr = self.lr_at(base_lr, step);
        optimizer.set_learning_rate(lr);
        lr
    }
}
