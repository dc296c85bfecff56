//! Stochastic gradient descent with optional momentum, Nesterov momentum and
//! L2 weight decay.

use crate::kernels::{self, Slices, on_halves};
use crate::state::{self, Parts, StateMap};
use crate::{Optimizer, OptimizerError, Result};
use serde::{Deserialize, Serialize};
use strata_tensor::Tensor;

const NAME: &str = "SGD";

/// Hyper-parameters of [`Sgd`]. Missing fields take their defaults when
/// deserialized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SgdConfig {
    /// Learning rate, `>= 0` (default 0.01).
    pub lr: f32,
    /// Momentum factor, `>= 0` (default 0: plain SGD, no state kept).
    pub momentum: f32,
    /// Nesterov momentum (needs `momentum > 0`; default false).
    pub nesterov: bool,
    /// L2 penalty added to the gradient, `>= 0` (default 0).
    pub weight_decay: f32,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig { lr: 0.01, momentum: 0.0, nesterov: false, weight_decay: 0.0 }
    }
}

impl SgdConfig {
    /// Check every hyper-parameter.
    pub fn validate(&self) -> Result<()> {
        state::non_negative(NAME, "lr", self.lr)?;
        state::non_negative(NAME, "momentum", self.momentum)?;
        state::non_negative(NAME, "weight_decay", self.weight_decay)?;
        if self.nesterov && self.momentum <= 0.0 {
            return Err(OptimizerError::InvalidHyperParameter {
                optimizer: NAME,
                name: "momentum",
                value: f64::from(self.momentum),
                reason: "Nesterov momentum needs momentum > 0",
            });
        }
        Ok(())
    }
}

/// Stochastic gradient descent, with PyTorch's `torch.optim.SGD` semantics
/// (no dampening):
///
/// ```text
/// g = grad + weight_decay * p
/// if momentum != 0:
///     buf = momentum * buf + g          (first step: buf = g)
///     g   = g + momentum * buf  if nesterov  else  buf
/// p -= lr * g
/// ```
///
/// The momentum buffer of each parameter is kept under its name. It starts
/// at zero, which makes the first step's `buf = momentum * 0 + g` exactly `g`.
///
/// ```
/// use strata_optimizer::{Optimizer, Sgd, SgdConfig};
/// use strata_tensor::Tensor;
/// let mut sgd = Sgd::new(SgdConfig { lr: 0.1, ..SgdConfig::default() })?;
/// let mut p = Tensor::from_slice(&[1.0, -2.0]);
/// sgd.update("p", &mut p, &Tensor::from_slice(&[0.5, 1.0]))?;
/// assert_eq!(p.data(), &[1.0 - 0.1 * 0.5, -2.0 - 0.1 * 1.0]);
/// # Ok::<(), strata_optimizer::OptimizerError>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "Parts<SgdConfig, Tensor>")]
pub struct Sgd {
    config: SgdConfig,
    /// Momentum buffers by parameter name (empty without momentum).
    state: StateMap<Tensor>,
}

optimizer_common!(Sgd, SgdConfig, Tensor, "SGD");

impl Sgd {
    /// The momentum buffer kept for `name`, if any.
    pub fn momentum_buffer(&self, name: &str) -> Option<&Tensor> {
        self.state.get(name)
    }
}

impl Optimizer for Sgd {
    fn update(&mut self, name: &str, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        let SgdConfig { lr, momentum, nesterov, weight_decay: wd } = self.config;
        if momentum == 0.0 {
            state::check_grad(NAME, name, param, grad)?;
            let s = Slices { ps: param.data_mut(), gs: grad.data(), a: &mut [], b: &mut [] };
            on_halves(s, |s| kernels::sgd(s.ps, s.gs, lr, wd));
            return Ok(());
        }
        state::update_with_state(NAME, &mut self.state, name, param, grad, Tensor::try_zeros, |buf, ps, gs| {
            on_halves(Slices { ps, gs, a: buf.data_mut(), b: &mut [] }, |s| {
                kernels::sgd_momentum(s.ps, s.gs, s.a, lr, wd, momentum, nesterov);
            });
        })
    }

    fn learning_rate(&self) -> f32 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f32) {
        self.config.lr = lr;
    }
}
