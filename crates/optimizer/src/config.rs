//! Choosing an optimizer by configuration: [`OptimizerConfig`] (serde, or a
//! name on the command line) and [`AnyOptimizer`], the serializable result.

use crate::{Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, OptimizerError, Result, RmsProp, RmsPropConfig};
use crate::{Sgd, SgdConfig};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use strata_tensor::Tensor;

/// Which optimizer to use, with its hyper-parameters.
///
/// Serialized with a `kind` tag (`sgd`, `adam`, `adamw`, `rmsprop`) beside
/// the fields of its config; missing fields take their defaults and unknown
/// ones are rejected:
///
/// ```
/// use strata_optimizer::{AdamWConfig, OptimizerConfig};
/// let c: OptimizerConfig = serde_json::from_str(r#"{"kind": "adamw", "lr": 0.01}"#).unwrap();
/// assert_eq!(c, OptimizerConfig::AdamW(AdamWConfig { lr: 0.01, ..AdamWConfig::default() }));
/// assert!(serde_json::from_str::<OptimizerConfig>(r#"{"kind": "adam", "learning_rate": 0.01}"#).is_err());
/// ```
///
/// On a command line, [`OptimizerConfig::from_name`] (or [`str::parse`], for
/// the default learning rate) takes the name alone:
///
/// ```
/// use strata_optimizer::{Optimizer, OptimizerConfig};
/// let opt = OptimizerConfig::from_name("rmsprop", 0.005)?.build()?;
/// assert_eq!(opt.learning_rate(), 0.005);
/// let sgd: OptimizerConfig = "sgd".parse()?;
/// assert_eq!(sgd.lr(), 0.01);
/// # Ok::<(), strata_optimizer::OptimizerError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OptimizerConfig {
    /// [`Sgd`].
    Sgd(SgdConfig),
    /// [`Adam`].
    Adam(AdamConfig),
    /// [`AdamW`].
    AdamW(AdamWConfig),
    /// [`RmsProp`].
    RmsProp(RmsPropConfig),
}

impl Default for OptimizerConfig {
    /// Adam with its defaults.
    fn default() -> Self {
        OptimizerConfig::Adam(AdamConfig::default())
    }
}

impl OptimizerConfig {
    /// The names [`OptimizerConfig::from_name`] accepts.
    pub const NAMES: [&'static str; 4] = ["sgd", "adam", "adamw", "rmsprop"];

    /// The optimizer called `name` (`sgd`, `adam`, `adamw`, `rmsprop`; ASCII
    /// case ignored) with default hyper-parameters and learning rate `lr`.
    /// Fails with [`OptimizerError::UnknownOptimizer`] or, for a bad `lr`,
    /// [`OptimizerError::InvalidHyperParameter`].
    pub fn from_name(name: &str, lr: f32) -> Result<Self> {
        let mut config: OptimizerConfig = name.parse()?;
        config.set_lr(lr);
        config.validate()?;
        Ok(config)
    }

    /// The tag: `sgd`, `adam`, `adamw` or `rmsprop`.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerConfig::Sgd(_) => "sgd",
            OptimizerConfig::Adam(_) => "adam",
            OptimizerConfig::AdamW(_) => "adamw",
            OptimizerConfig::RmsProp(_) => "rmsprop",
        }
    }

    /// The learning rate.
    pub fn lr(&self) -> f32 {
        match self {
            OptimizerConfig::Sgd(c) => c.lr,
            OptimizerConfig::Adam(c) => c.lr,
            OptimizerConfig::AdamW(c) => c.lr,
            OptimizerConfig::RmsProp(c) => c.lr,
        }
    }

    /// Set the learning rate (checked by [`OptimizerConfig::validate`] and
    /// [`OptimizerConfig::build`]).
    pub fn set_lr(&mut self, lr: f32) {
        match self {
            OptimizerConfig::Sgd(c) => c.lr = lr,
            OptimizerConfig::Adam(c) => c.lr = lr,
            OptimizerConfig::AdamW(c) => c.lr = lr,
            OptimizerConfig::RmsProp(c) => c.lr = lr,
        }
    }

    /// Check every hyper-parameter.
    pub fn validate(&self) -> Result<()> {
        match self {
            OptimizerConfig::Sgd(c) => c.validate(),
            OptimizerConfig::Adam(c) => c.validate(),
            OptimizerConfig::AdamW(c) => c.validate(),
            OptimizerConfig::RmsProp(c) => c.validate(),
        }
    }

    /// The optimizer, behind the [`Optimizer`] trait.
    pub fn build(self) -> Result<Box<dyn Optimizer>> {
        Ok(Box::new(self.build_any()?))
    }

    /// The optimizer as an [`AnyOptimizer`], which can also be serialized
    /// (checkpointed) with its state.
    pub fn build_any(self) -> Result<AnyOptimizer> {
        Ok(match self {
            OptimizerConfig::Sgd(c) => AnyOptimizer::Sgd(Sgd::new(c)?),
            OptimizerConfig::Adam(c) => AnyOptimizer::Adam(Adam::new(c)?),
            OptimizerConfig::AdamW(c) => AnyOptimizer::AdamW(AdamW::new(c)?),
            OptimizerConfig::RmsProp(c) => AnyOptimizer::RmsProp(RmsProp::new(c)?),
        })
    }
}

impl FromStr for OptimizerConfig {
    type Err = OptimizerError;

    /// `sgd`, `adam`, `adamw` or `rmsprop` (ASCII case ignored), with every
    /// hyper-parameter at its default.
    fn from_str(name: &str) -> Result<Self> {
        let name = name.trim();
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("sgd") {
            Ok(OptimizerConfig::Sgd(SgdConfig::default()))
        } else if is("adam") {
            Ok(OptimizerConfig::Adam(AdamConfig::default()))
        } else if is("adamw") {
            Ok(OptimizerConfig::AdamW(AdamWConfig::default()))
        } else if is("rmsprop") {
            Ok(OptimizerConfig::RmsProp(RmsPropConfig::default()))
        } else {
            Err(OptimizerError::UnknownOptimizer { name: name.to_owned() })
        }
    }
}

impl fmt::Display for OptimizerConfig {
    /// The name, as [`FromStr`] reads it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Any optimizer of this crate, with its state: what a trainer that picks
/// the optimizer from a configuration keeps when it must also checkpoint it.
/// Serialized with the same `kind` tag as [`OptimizerConfig`].
///
/// ```
/// use strata_optimizer::{AnyOptimizer, Optimizer, OptimizerConfig};
/// use strata_tensor::Tensor;
/// let mut opt = OptimizerConfig::from_name("adam", 0.1)?.build_any()?;
/// let mut p = Tensor::from_slice(&[1.0]);
/// opt.update("p", &mut p, &Tensor::from_slice(&[1.0]))?;
/// let saved = serde_json::to_string(&opt).unwrap();
/// let restored: AnyOptimizer = serde_json::from_str(&saved).unwrap();
/// assert_eq!(serde_json::to_string(&restored).unwrap(), saved);
/// # Ok::<(), strata_optimizer::OptimizerError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AnyOptimizer {
    /// [`Sgd`].
    Sgd(Sgd),
    /// [`Adam`].
    Adam(Adam),
    /// [`AdamW`].
    AdamW(AdamW),
    /// [`RmsProp`].
    RmsProp(RmsProp),
}

impl AnyOptimizer {
    /// The optimizer behind the trait.
    pub fn as_dyn(&self) -> &dyn Optimizer {
        match self {
            AnyOptimizer::Sgd(o) => o,
            AnyOptimizer::Adam(o) => o,
            AnyOptimizer::AdamW(o) => o,
            AnyOptimizer::RmsProp(o) => o,
        }
    }

    /// The names of the parameters it keeps state for (sorted).
    pub fn state_names(&self) -> Vec<&str> {
        match self {
            AnyOptimizer::Sgd(o) => o.state_names().collect(),
            AnyOptimizer::Adam(o) => o.state_names().collect(),
            AnyOptimizer::AdamW(o) => o.state_names().collect(),
            AnyOptimizer::RmsProp(o) => o.state_names().collect(),
        }
    }

    /// The shape of `name`'s state where it is not `shape`, the parameter's.
    pub fn state_mismatch(&self, name: &str, shape: &[usize]) -> Option<Vec<usize>> {
        match self {
            AnyOptimizer::Sgd(o) => o.state_mismatch(name, shape),
            AnyOptimizer::Adam(o) => o.state_mismatch(name, shape),
            AnyOptimizer::AdamW(o) => o.state_mismatch(name, shape),
            AnyOptimizer::RmsProp(o) => o.state_mismatch(name, shape),
        }
    }

    /// Whether its first step gives every parameter state (moments, a
    /// momentum buffer): all but SGD without momentum.
    pub fn keeps_state(&self) -> bool {
        match self {
            AnyOptimizer::Sgd(o) => o.config().momentum != 0.0,
            _ => true,
        }
    }

    /// The optimizer behind the trait, mutable.
    pub fn as_dyn_mut(&mut self) -> &mut dyn Optimizer {
        match self {
            AnyOptimizer::Sgd(o) => o,
            AnyOptimizer::Adam(o) => o,
            AnyOptimizer::AdamW(o) => o,
            AnyOptimizer::RmsProp(o) => o,
        }
    }

    /// The tag: `sgd`, `adam`, `adamw` or `rmsprop`.
    pub fn name(&self) -> &'static str {
        match self {
            AnyOptimizer::Sgd(_) => "sgd",
            AnyOptimizer::Adam(_) => "adam",
            AnyOptimizer::AdamW(_) => "adamw",
            AnyOptimizer::RmsProp(_) => "rmsprop",
        }
    }

    /// The configuration (with the current learning rate), without the state.
    pub fn config(&self) -> OptimizerConfig {
        match self {
            AnyOptimizer::Sgd(o) => OptimizerConfig::Sgd(o.config().clone()),
            AnyOptimizer::Adam(o) => OptimizerConfig::Adam(o.config().clone()),
            AnyOptimizer::AdamW(o) => OptimizerConfig::AdamW(o.config().clone()),
            AnyOptimizer::RmsProp(o) => OptimizerConfig::RmsProp(o.config().clone()),
        }
    }
}

impl Optimizer for AnyOptimizer {
    fn update(&mut self, name: &str, param: &mut Tensor, grad: &Tensor) -> Result<()> {
        self.as_dyn_mut().update(name, param, grad)
    }

    fn learning_rate(&self) -> f32 {
        self.as_dyn().learning_rate()
    }

    fn set_learning_rate(&mut self, lr: f32) {
        self.as_dyn_mut().set_learning_rate(lr);
    }
}
