//! Adam, with optional L2 weight decay added to the gradient.

use crate::state::{self, ParamState, Parts, StateMap};
use crate::{Optimizer, Result};
use serde::{Deserialize, Serialize};
use strata_tensor::Tensor;

const NAME: &str = "Adam";

/// Hyper-parameters of [`Adam`]. Missing fields take their defaults when
/// deserialized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate, `>= 0` (default 1e-3).
    pub lr: f32,
    /// Decay of the first-moment estimate, in `[0, 1)` (default 0.9).
    pub beta1: f32,
    /// Decay of the second-moment estimate, in `[0, 1)` (default 0.999).
    pub beta2: f32,
    /// Added to the denominator, `> 0` (default 1e-8).
    pub eps: f32,
    /// L2 penalty added to the gradient, `>= 0` (default 0). For decoupled
    /// weight decay use [`crate::AdamW`].
    pub weight_decay: f32,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
}

impl AdamConfig {
    /// Check every hyper-parameter.
    pub fn validate(&self) -> Result<()> {
        validate(NAME, self.lr, self.beta1, self.beta2, self.eps, self.weight_decay)
    }
}

/// The checks Adam and AdamW share.
pub(crate) fn validate(optimizer: &'static str, lr: f32, beta1: f32, beta2: f32, eps: f32, wd: f32) -> Result<()> {
    state::non_negative(optimizer, "lr", lr)?;
    state::unit_interval(optimizer, "beta1", beta1)?;
    state::unit_interval(optimizer, "beta2", beta2)?;
    state::positive(optimizer, "eps", eps)?;
    state::non_negative(optimizer, "weight_decay", wd)
}

/// What [`Adam`] and [`crate::AdamW`] keep per parameter (PyTorch's
/// `state['step']`, `exp_avg` and `exp_avg_sq`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdamState {
    /// Number of updates this parameter has had (the `t` of bias correction).
    pub step: u64,
    /// First-moment estimate `m`.
    pub exp_avg: Tensor,
    /// Second-moment estimate `v`.
    pub exp_avg_sq: Tensor,
}

impl AdamState {
    /// Fresh state: no step taken, both moments zero.
    pub fn zeros(shape: &[usize]) -> Self {
        AdamState { step: 0, exp_avg: Tensor::zeros(shape), exp_avg_sq: Tensor::zeros(shape) }
    }

    /// [`AdamState::zeros`], an allocation the machine refuses being
    /// [`strata_tensor::TensorError::Alloc`].
    pub fn try_zeros(shape: &[usize]) -> strata_tensor::Result<Self> {
        Ok(AdamState { step: 0, exp_avg: Tensor::try_zeros(shape)?, exp_avg_sq: Tensor::try_zeros(shape)? })
    }
}

impl ParamState for AdamState {
    fn mismatch(&self, shape: &[usize]) -> Option<&[usize]> {
        self.exp_avg.mismatch(shape).or_else(|| self.exp_avg_sq.mismatch(shape))
    }

    fn invalid(&self) -> Option<String> {
        state::finite("exp_avg", &self.exp_avg)
            .or_else(|| state::finite_non_negative("exp_avg_sq", &self.exp_avg_sq))
            .or_else(|| {
                (self.step == 0)
                    .then(|| state::zero_before_a_step(&[("exp_avg", &self.exp_avg), ("exp_avg_sq", &self.exp_avg_sq)]))
                    .flatten()
            })
    }
}

/// Hyper-parameters of one Adam update as the shared rule sees them.
#[derive(Clone, Copy)]
pub(crate) struct AdamRule {
    pub(crate) lr: f32,
    pub(crate) beta1: f32,
    pub(crate) beta2: f32,
    pub(crate) eps: f32,
    /// L2 coefficient added to the gradient (Adam), 0 for AdamW.
    pub(crate) l2: f32,
    /// Factor the parameter is multiplied by first: `1 - lr * wd` (AdamW), 1 for Adam.
    pub(crate) decay: f32,
}

impl AdamRule {
    /// One Adam step of one parameter in `f32`, the bias corrections folded
    /// into two scalars as PyTorch does (`step_size = lr / (1 - beta1^t)`,
    /// `1 / sqrt(1 - beta2^t)`, computed in `f64` as PyTorch's Python
    /// floats): one division and one square root an element.
    pub(crate) fn apply(self, state: &mut AdamState, ps: &mut [f32], gs: &[f32]) {
        state.step = state.step.saturating_add(1);
        let bc1 = 1.0 - state::powi(self.beta1, state.step);
        let bc2 = 1.0 - state::powi(self.beta2, state.step);
        let step = ((f64::from(self.lr) / bc1) as f32, (1.0 / bc2.sqrt()) as f32);
        let AdamState { exp_avg, exp_avg_sq, .. } = state;
        crate::kernels::adam_split(ps, gs, exp_avg.data_mut(), exp_avg_sq.data_mut(), self, step);
    }
}

/// Adam (Kingma & Ba), with PyTorch's `torch.optim.Adam` semantics:
///
/// ```text
/// g = grad + weight_decay * p           (L2, folded into the moments)
/// t += 1                                (per parameter)
/// m = beta1 * m + (1 - beta1) * g
/// v = beta2 * v + (1 - beta2) * g^2
/// m_hat = m / (1 - beta1^t)
/// v_hat = v / (1 - beta2^t)
/// p -= lr * m_hat / (sqrt(v_hat) + eps)
/// ```
///
/// On the first step `m_hat / sqrt(v_hat) = g / |g|`, so every element moves
/// by about `lr` against the sign of its gradient.
///
/// ```
/// use strata_optimizer::{Adam, AdamConfig, Optimizer};
/// use strata_tensor::Tensor;
/// let mut adam = Adam::new(AdamConfig { lr: 0.1, ..AdamConfig::default() })?;
/// let mut p = Tensor::from_slice(&[1.0, 1.0]);
/// adam.update("p", &mut p, &Tensor::from_slice(&[100.0, -0.01]))?;
/// assert!((p.data()[0] - 0.9).abs() < 1e-6 && (p.data()[1] - 1.1).abs() < 1e-6);
/// assert_eq!(adam.state("p").map(|s| s.step), Some(1));
/// # Ok::<(), strata_optimizer::OptimizerError>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "Parts<AdamConfig, AdamState>")]
pub struct Adam {
    config: AdamConfig,
    state: StateMap<AdamState>,
}

optimizer_common!(Adam, AdamConfig, AdamState, "Adam");

impl Adam {
    /// The state kept for `name`, if it has been updated.
    pub fn state(&self, name: &str) -> Option<&AdamState> {
        self.state.get(name)
    }
}

impl Optimizer for Adam {
    fn update(&mut self, name: &str, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        let c = &self.config;
        let rule = AdamRule { lr: c.lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, l2: c.weight_decay, decay: 1.0 };
        state::update_with_state(NAME, &mut self.state, name, param, grad, AdamState::try_zeros, |s, p, g| {
            rule.apply(s, p, g)
        })
    }

    fn learning_rate(&self) -> f32 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f32) {
        self.config.lr = lr;
    }
}
