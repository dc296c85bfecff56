//! The binary codec behind model files: the only module that names `bincode`
//! (pinned at 2.0.1; 3.0.0 is a non-compiling tombstone and the crate is
//! unmaintained), so replacing it touches this file alone.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Upper bound on what a decode may allocate, so a corrupt length prefix
/// cannot ask for more memory than any real model needs.
const LIMIT: usize = 1 << 34;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_little_endian().with_fixed_int_encoding().with_limit::<LIMIT>()
}

/// Encode a value.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| e.to_string())
}

/// Decode a value that must fill `bytes` exactly.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, config()).map_err(|e| e.to_string())?;
    if used != bytes.len() {
        return Err(format!("{} trailing bytes after the payload", bytes.len() - used));
    }
    Ok(value)
}
