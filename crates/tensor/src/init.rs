//! Weight initialisers (Glorot/Xavier and He/Kaiming).

use crate::error::Result;
use crate::rng::StrataRng;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// How to draw a layer's initial weights from its fan-in and fan-out.
///
/// | variant | distribution | reference |
/// |---|---|---|
/// | `XavierUniform` | `U(-a, a)`, `a = sqrt(6 / (fan_in + fan_out))` | Glorot & Bengio 2010 |
/// | `XavierNormal` | `N(0, 2 / (fan_in + fan_out))` | Glorot & Bengio 2010 |
/// | `HeNormal` | `N(0, 2 / fan_in)` | He et al. 2015, for ReLU |
/// | `HeUniform` | `U(-a, a)`, `a = sqrt(6 / fan_in)` | He et al. 2015 |
/// | `Zeros` | all zero | |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// Glorot uniform: keeps activation variance for tanh/sigmoid layers.
    XavierUniform,
    /// Glorot normal.
    XavierNormal,
    /// He normal: keeps activation variance for ReLU layers.
    #[default]
    HeNormal,
    /// He uniform.
    HeUniform,
    /// All zeros (for biases, or tests).
    Zeros,
}

impl Init {
    /// A tensor of `shape` drawn from this initialiser.
    pub fn sample(self, shape: &[usize], fan_in: usize, fan_out: usize, rng: &mut StrataRng) -> Result<Tensor> {
        let (fi, fo) = (fan_in.max(1) as f32, fan_out.max(1) as f32);
        match self {
            Init::XavierUniform => {
                let a = (6.0 / (fi + fo)).sqrt();
                Tensor::random_uniform(shape, -a, a, rng)
            }
            Init::XavierNormal => Tensor::random_normal(shape, 0.0, (2.0 / (fi + fo)).sqrt(), rng),
            Init::HeNormal => Tensor::random_normal(shape, 0.0, (2.0 / fi).sqrt(), rng),
            Init::HeUniform => {
                let a = (6.0 / fi).sqrt();
                Tensor::random_uniform(shape, -a, a, rng)
            }
            Init::Zeros => Tensor::try_zeros(shape),
        }
    }
}

impl std::str::FromStr for Init {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "xavier" | "xavier_uniform" | "glorot" | "glorot_uniform" => Ok(Init::XavierUniform),
            "xavier_normal" | "glorot_normal" => Ok(Init::XavierNormal),
            "he" | "he_normal" | "kaiming" | "kaiming_normal" => Ok(Init::HeNormal),
            "he_uniform" | "kaiming_uniform" => Ok(Init::HeUniform),
            "zeros" | "zero" => Ok(Init::Zeros),
            other => Err(format!(
                "unknown initialiser '{other}' (xavier_uniform, xavier_normal, he_normal, he_uniform, zeros)"
            )),
        }
    }
}
