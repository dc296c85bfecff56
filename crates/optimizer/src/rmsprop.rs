//! RMSprop, with optional momentum and L2 weight decay.

use crate::kernels::{self, Slices, on_halves};
use crate::state::{self, ParamState, Parts, StateMap};
use crate::{Optimizer, Result};
use serde::{Deserialize, Serialize};
use strata_tensor::Tensor;

const NAME: &str = "RMSprop";

/// Hyper-parameters of [`RmsProp`]. Missing fields take their defaults when
/// deserialized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RmsPropConfig {
    /// Learning rate, `>= 0` (default 1e-2).
    pub lr: f32,
    /// Decay of the running average of squared gradients, in `[0, 1)` (default 0.99).
    pub alpha: f32,
    /// Added to the denominator, `> 0` (default 1e-8).
    pub eps: f32,
    /// Momentum factor, `>= 0` (default 0: no momentum buffer kept).
    pub momentum: f32,
    /// L2 penalty added to the gradient, `>= 0` (default 0).
    pub weight_decay: f32,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig { lr: 1e-2, alpha: 0.99, eps: 1e-8, momentum: 0.0, weight_decay: 0.0 }
    }
}

impl RmsPropConfig {
    /// Check every hyper-parameter.
    pub fn validate(&self) -> Result<()> {
        state::non_negative(NAME, "lr", self.lr)?;
        state::unit_interval(NAME, "alpha", self.alpha)?;
        state::positive(NAME, "eps", self.eps)?;
        state::non_negative(NAME, "momentum", self.momentum)?;
        state::non_negative(NAME, "weight_decay", self.weight_decay)
    }
}

/// What [`RmsProp`] keeps per parameter (PyTorch's `square_avg` and
/// `momentum_buffer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RmsPropState {
    /// Running average of squared gradients.
    pub square_avg: Tensor,
    /// Momentum buffer, present when `momentum > 0`.
    pub momentum_buffer: Option<Tensor>,
}

impl ParamState for RmsPropState {
    fn mismatch(&self, shape: &[usize]) -> Option<&[usize]> {
        self.square_avg.mismatch(shape).or_else(|| self.momentum_buffer.as_ref().and_then(|b| b.mismatch(shape)))
    }

    fn invalid(&self) -> Option<String> {
        state::finite_non_negative("square_avg", &self.square_avg)
            .or_else(|| self.momentum_buffer.as_ref().and_then(|b| state::finite("momentum_buffer", b)))
    }
}

/// RMSprop (Hinton), with PyTorch's `torch.optim.RMSprop` semantics (not
/// centered):
///
/// ```text
/// g = grad + weight_decay * p
/// square_avg = alpha * square_avg + (1 - alpha) * g^2     (starts at 0)
/// avg = sqrt(square_avg) + eps
/// if momentum > 0:
///     buf = momentum * buf + g / avg                      (starts at 0)
///     p -= lr * buf
/// else:
///     p -= lr * g / avg
/// ```
///
/// ```
/// use strata_optimizer::{Optimizer, RmsProp, RmsPropConfig};
/// use strata_tensor::Tensor;
/// let mut opt = RmsProp::new(RmsPropConfig::default())?;
/// let mut p = Tensor::from_slice(&[1.0]);
/// opt.update("p", &mut p, &Tensor::from_slice(&[2.0]))?;
/// // square_avg = 0.01 * 4 = 0.04, avg = 0.2, p = 1 - 0.01 * 2 / 0.2 = 0.9
/// assert!((p.data()[0] - 0.9).abs() < 1e-6);
/// # Ok::<(), strata_optimizer::OptimizerError>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "Parts<RmsPropConfig, RmsPropState>")]
pub struct RmsProp {
    config: RmsPropConfig,
    state: StateMap<RmsPropState>,
}

optimizer_common!(RmsProp, RmsPropConfig, RmsPropState, "RMSprop");

impl RmsProp {
    /// The state kept for `name`, if it has been updated.
    pub fn state(&self, name: &str) -> Option<&RmsPropState> {
        self.state.get(name)
    }
}

impl Optimizer for RmsProp {
    fn update(&mut self, name: &str, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        let RmsPropConfig { lr, alpha, eps, momentum, weight_decay: wd } = self.config;
        let init = |shape: &[usize]| {
            Ok(RmsPropState {
                square_avg: Tensor::try_zeros(shape)?,
                momentum_buffer: if momentum > 0.0 { Some(Tensor::try_zeros(shape)?) } else { None },
            })
        };
        state::update_with_state(NAME, &mut self.state, name, param, grad, init, |s, ps, gs| {
            if momentum > 0.0 {
                // Present unless the state was restored from a run without momentum.
                let buf = s.momentum_buffer.get_or_insert_with(|| Tensor::zeros(s.square_avg.shape()));
                on_halves(Slices { ps, gs, a: s.square_avg.data_mut(), b: buf.data_mut() }, |s| {
                    kernels::rmsprop_momentum(s.ps, s.gs, s.a, s.b, lr, alpha, eps, wd, momentum);
                });
            } else {
                on_halves(Slices { ps, gs, a: s.square_avg.data_mut(), b: &mut [] }, |s| {
                    kernels::rmsprop(s.ps, s.gs, s.a, lr, alpha, eps, wd);
                });
            }
        })
    }

    fn learning_rate(&self) -> f32 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f32) {
        self.config.lr = lr;
    }
}
