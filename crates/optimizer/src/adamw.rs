//! AdamW: Adam with decoupled weight decay.

use crate::adam::{self, AdamRule, AdamState};
use crate::state::{self, Parts, StateMap};
use crate::{Optimizer, Result};
use serde::{Deserialize, Serialize};
use strata_tensor::Tensor;

const NAME: &str = "AdamW";

/// Hyper-parameters of [`AdamW`]: those of [`crate::AdamConfig`], with a
/// decoupled weight decay of 1e-2 by default. Missing fields take their
/// defaults when deserialized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWConfig {
    /// Learning rate, `>= 0` (default 1e-3).
    pub lr: f32,
    /// Decay of the first-moment estimate, in `[0, 1)` (default 0.9).
    pub beta1: f32,
    /// Decay of the second-moment estimate, in `[0, 1)` (default 0.999).
    pub beta2: f32,
    /// Added to the denominator, `> 0` (default 1e-8).
    pub eps: f32,
    /// Decoupled weight decay, `>= 0` (default 1e-2): each step first
    /// multiplies the parameter by `1 - lr * weight_decay`.
    pub weight_decay: f32,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 1e-2 }
    }
}

impl AdamWConfig {
    /// Check every hyper-parameter.
    pub fn validate(&self) -> Result<()> {
        adam::validate(NAME, self.lr, self.beta1, self.beta2, self.eps, self.weight_decay)
    }
}

/// AdamW (Loshchilov & Hutter), with PyTorch's `torch.optim.AdamW` semantics:
/// the weight decay shrinks the parameter directly instead of entering the
/// gradient, so it is not rescaled by the adaptive denominator:
///
/// ```text
/// p *= 1 - lr * weight_decay            (p -= lr * weight_decay * p)
/// then the Adam update, with the raw gradient
/// ```
///
/// The Adam update and the state are those of [`Adam`](crate::Adam).
///
/// ```
/// use strata_optimizer::{AdamW, AdamWConfig, Optimizer};
/// use strata_tensor::Tensor;
/// let mut opt = AdamW::new(AdamWConfig { lr: 0.1, weight_decay: 0.5, ..AdamWConfig::default() })?;
/// let mut p = Tensor::from_slice(&[2.0]);
/// opt.update("p", &mut p, &Tensor::from_slice(&[0.0]))?; // zero gradient: only the decay acts
/// assert_eq!(p.data(), &[2.0 * (1.0 - 0.1 * 0.5)]);
/// # Ok::<(), strata_optimizer::OptimizerError>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "Parts<AdamWConfig, AdamState>")]
pub struct AdamW {
    config: AdamWConfig,
    state: StateMap<AdamState>,
}

optimizer_common!(AdamW, AdamWConfig, AdamState, "AdamW");

impl AdamW {
    /// The state kept for `name`, if it has been updated.
    pub fn state(&self, name: &str) -> Option<&AdamState> {
        self.state.get(name)
    }
}

impl Optimizer for AdamW {
    fn update(&mut self, name: &str, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        let c = &self.config;
        let decay = 1.0 - c.lr * c.weight_decay;
        let rule = AdamRule { lr: c.lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, l2: 0.0, decay };
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
