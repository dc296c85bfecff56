//! The built-in callbacks, each with the behaviour Keras documents for its
//! namesake.

mod csv_logger;
mod early_stopping;
mod model_checkpoint;
mod reduce_lr;
mod terminate_on_nan;

pub use csv_logger::CsvLogger;
pub use early_stopping::EarlyStopping;
pub use model_checkpoint::{CheckpointSink, ModelCheckpoint};
pub use reduce_lr::ReduceLrOnPlateau;
pub use terminate_on_nan::TerminateOnNaN;

use crate::callback::BoxError;
use serde::{Deserialize, Serialize};
use strata_tensor::Tensor;

/// Tensors by name with their exact bits, for callback states in JSON (a
/// float written as text could come back one bit off; NaN not at all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TensorBits(Vec<(String, Vec<usize>, Vec<u32>)>);

impl TensorBits {
    pub fn from_tensors(tensors: &[(String, Tensor)]) -> Self {
        TensorBits(
            tensors
                .iter()
                .map(|(n, t)| (n.clone(), t.shape().to_vec(), t.data().iter().map(|x| x.to_bits()).collect()))
                .collect(),
        )
    }

    pub fn to_tensors(&self) -> Result<Vec<(String, Tensor)>, BoxError> {
        self.0
            .iter()
            .map(|(n, shape, bits)| {
                let data = bits.iter().map(|&b| f32::from_bits(b)).collect();
                Ok((n.clone(), Tensor::from_vec(shape, data)?))
            })
            .collect()
    }
}

/// A state for a callback's [`crate::Callback::state`].
pub(crate) fn to_state(value: &impl Serialize) -> Option<serde_json::Value> {
    serde_json::to_value(value).ok()
}

/// Parse a callback's state.
pub(crate) fn from_state<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, BoxError> {
    Ok(serde_json::from_value(value)?)
}
