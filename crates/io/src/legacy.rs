//! Format version 1 of model files (Strata before checkpoints): a bincode
//! payload with an FNV-1a checksum. Read, never written. The only module
//! that names `bincode` (pinned at 2.0.1).
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `STRATA\0M` |
//! | 4 | format version (1) |
//! | 8 | payload length |
//! | 8 | FNV-1a 64 checksum of the payload |
//! | n | bincode (standard, little-endian, fixed-width integers): spec JSON, tensors by name, metadata |

use crate::error::{FormatProblem, IoError, Result};
use crate::model::SavedModel;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::hash::Hasher;
use std::path::Path;
use strata_layers::LayerSpec;
use strata_tensor::Tensor;

const HEADER_LEN: usize = 8 + 4 + 8 + 8;
/// Upper bound on what a decode may allocate: a length field is believed
/// (and its buffer allocated) before the bytes behind it are read, so a
/// 36-byte file could ask for the whole bound. Version-1 files were written
/// by the first builds, of models far below 2 GiB.
const LIMIT: usize = 1 << 31;

#[derive(Deserialize)]
struct Payload {
    spec_json: String,
    tensors: Vec<(String, Tensor)>,
    metadata: BTreeMap<String, String>,
}

/// Parse a version-1 model file.
pub(crate) fn read_model_v1(bytes: &[u8], path: &Path) -> Result<SavedModel> {
    let bad = |problem| IoError::Format { path: path.to_path_buf(), expected: "Strata model file", problem };
    let actual = bytes.len() as u64;
    if bytes.len() < HEADER_LEN {
        return Err(bad(FormatProblem::Truncated { expected: HEADER_LEN as u64, actual }));
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
    let len = word(12);
    let body = &bytes[HEADER_LEN..];
    if body.len() as u64 != len {
        return Err(bad(FormatProblem::Truncated { expected: len.saturating_add(HEADER_LEN as u64), actual }));
    }
    let mut fnv = fnv::FnvHasher::default();
    fnv.write(body);
    if fnv.finish() != word(20) {
        return Err(bad(FormatProblem::Checksum { stored: word(20), computed: fnv.finish() }));
    }
    let config = bincode::config::standard().with_little_endian().with_fixed_int_encoding().with_limit::<LIMIT>();
    let (payload, used): (Payload, usize) =
        bincode::serde::decode_from_slice(body, config).map_err(|e| bad(FormatProblem::Payload(e.to_string())))?;
    if used != body.len() {
        return Err(bad(FormatProblem::Payload(format!("{} trailing bytes after the payload", body.len() - used))));
    }
    let spec = LayerSpec::from_json(&payload.spec_json).map_err(|e| bad(FormatProblem::Payload(e.to_string())))?;
    Ok(SavedModel { spec, tensors: payload.tensors, metadata: payload.metadata, counters: Vec::new() })
}
