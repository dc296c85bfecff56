//! The container every Strata file shares (format version 2): a fixed
//! header, a JSON document, and a binary blob with the tensors' values.
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic: `STRATA\0M` (model file) or `STRATA\0C` (checkpoint) |
//! | 4 | format version, `u32` little-endian (2) |
//! | 16 | the writer, ASCII, zero-padded (`strata 0.1.0`) |
//! | 8 | JSON length `j`, `u64` LE |
//! | 8 | blob length `b`, `u64` LE |
//! | 4 | CRC-32 (IEEE) of the 44 header bytes before it and the `j + b` bytes after it, `u32` LE |
//! | j | the JSON document (tensors in it as `{"shape": [..], "at": offset}`) |
//! | b | the blob: every tensor's values, `f32` little-endian |
//!
//! Format version 1 (model files only, before checkpoints) is read by
//! `legacy.rs`.

use crate::error::{FormatProblem, IoError, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// The kinds of Strata file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A model: architecture, weights, metadata.
    Model,
    /// A checkpoint: a model's whole training state.
    Checkpoint,
}

impl FileKind {
    /// The file's first eight bytes.
    pub const fn magic(self) -> [u8; 8] {
        match self {
            FileKind::Model => *b"STRATA\0M",
            FileKind::Checkpoint => *b"STRATA\0C",
        }
    }

    /// The kind's name in messages.
    pub const fn name(self) -> &'static str {
        match self {
            FileKind::Model => "Strata model file",
            FileKind::Checkpoint => "Strata checkpoint",
        }
    }

    fn from_magic(magic: &[u8]) -> Option<FileKind> {
        [FileKind::Model, FileKind::Checkpoint].into_iter().find(|k| k.magic() == magic)
    }
}

/// The format version this build writes (it reads this one and every earlier one).
pub const FORMAT_VERSION: u32 = 2;
/// Header length of format version 2.
pub const HEADER_LEN: usize = 8 + 4 + 16 + 8 + 8 + 4;
const WRITER_LEN: usize = 16;

/// What a file's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The kind of file.
    pub kind: FileKind,
    /// Its format version.
    pub version: u32,
    /// The program that wrote it (empty in format version 1).
    pub writer: String,
}

/// This build, as the header names it.
pub fn writer() -> String {
    format!("strata {}", env!("CARGO_PKG_VERSION"))
}

/// Encode `value` as a file of `kind`.
pub fn encode<T: Serialize>(kind: FileKind, value: &T) -> Result<Vec<u8>> {
    let (json, blob) = strata_tensor::blob::write_blob(|| serde_json::to_vec(value));
    let json = json.map_err(|e| IoError::Unsupported { operation: "encode", reason: e.to_string() })?;
    let mut out = Vec::with_capacity(HEADER_LEN + json.len() + blob.len());
    out.extend_from_slice(&kind.magic());
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let mut name = [0u8; WRITER_LEN];
    let w = writer();
    let n = w.len().min(WRITER_LEN);
    name[..n].copy_from_slice(&w.as_bytes()[..n]);
    out.extend_from_slice(&name);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&(blob.len() as u64).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out);
    crc.update(&json);
    crc.update(&blob);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&blob);
    Ok(out)
}

/// The header of a file's bytes, checked: magic, kind, version.
pub fn header(bytes: &[u8], expected: FileKind, path: &Path) -> Result<Header> {
    let bad = |problem| IoError::Format { path: path.to_path_buf(), expected: expected.name(), problem };
    let Some(kind) = bytes.get(..8).and_then(FileKind::from_magic) else {
        return Err(bad(FormatProblem::OtherFormat { found: sniff(bytes) }));
    };
    if kind != expected {
        return Err(bad(FormatProblem::WrongKind { found: kind.name() }));
    }
    let Some(version) = bytes.get(8..12) else {
        return Err(bad(FormatProblem::Truncated { expected: HEADER_LEN as u64, actual: bytes.len() as u64 }));
    };
    let version = u32::from_le_bytes([version[0], version[1], version[2], version[3]]);
    let writer = match bytes.get(12..12 + WRITER_LEN) {
        Some(w) if version >= 2 => String::from_utf8_lossy(w).trim_end_matches('\0').to_string(),
        _ => String::new(),
    };
    if version > FORMAT_VERSION {
        return Err(bad(FormatProblem::NewerVersion { version, supported: FORMAT_VERSION, writer }));
    }
    if version == 0 {
        return Err(bad(FormatProblem::Payload("format version 0 does not exist".into())));
    }
    Ok(Header { kind, version, writer })
}

/// Decode a format-version-2 file of `kind`: lengths checked against the
/// file before anything is allocated, then the checksum, then the JSON
/// with its tensors read from the blob.
pub fn decode<T: DeserializeOwned>(bytes: Vec<u8>, kind: FileKind, path: &Path) -> Result<T> {
    let bad = |problem| IoError::Format { path: path.to_path_buf(), expected: kind.name(), problem };
    let actual = bytes.len() as u64;
    if bytes.len() < HEADER_LEN {
        return Err(bad(FormatProblem::Truncated { expected: HEADER_LEN as u64, actual }));
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
    let (json_len, blob_len) = (word(28), word(36));
    let stored = u32::from_le_bytes(bytes[44..48].try_into().unwrap_or([0; 4]));
    let expected = (HEADER_LEN as u64).checked_add(json_len).and_then(|n| n.checked_add(blob_len));
    if expected != Some(actual) {
        return Err(match expected {
            Some(e) if e > actual => bad(FormatProblem::Truncated { expected: e, actual }),
            _ => bad(FormatProblem::Payload(format!(
                "the header announces {json_len} + {blob_len} bytes after it, the file holds {}",
                actual - HEADER_LEN as u64
            ))),
        });
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(&bytes[..HEADER_LEN - 4]);
    crc.update(&bytes[HEADER_LEN..]);
    let computed = crc.finalize();
    if computed != stored {
        return Err(bad(FormatProblem::Checksum { stored: stored.into(), computed: computed.into() }));
    }
    let json_end = HEADER_LEN + json_len as usize;
    let json = bytes[HEADER_LEN..json_end].to_vec();
    strata_layers::unique_keys(&json).map_err(|e| bad(FormatProblem::Payload(e.to_string())))?;
    let (value, _) = strata_tensor::blob::read_blob(bytes, json_end, || serde_json::from_slice::<T>(&json));
    value.map_err(|e| bad(FormatProblem::Payload(e.to_string())))
}

/// What a file that is not a Strata file looks like.
pub(crate) fn sniff(bytes: &[u8]) -> String {
    identify(bytes).unwrap_or("not a Strata file (wrong magic bytes)").to_string()
}

/// The kind of file `bytes` start like, when it is one this crate can name.
pub(crate) fn identify(bytes: &[u8]) -> Option<&'static str> {
    let starts = |p: &[u8]| bytes.starts_with(p);
    Some(if bytes.is_empty() {
        "an empty file"
    } else if starts(b"PK\x03\x04") {
        "a zip archive (a PyTorch .pt/.pth file? export its state_dict with safetensors)"
    } else if starts(&[0x1f, 0x8b]) {
        "a gzip file"
    } else if bytes.get(8) == Some(&b'{') {
        "a safetensors file (use `strata import`)"
    } else if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        "a JSON file (a model spec?)"
    } else if is_onnx(bytes) {
        "an ONNX model (Strata writes ONNX but does not read it; give the weights as a safetensors file)"
    } else if starts(&FileKind::Model.magic()) {
        "a Strata model file"
    } else if starts(&FileKind::Checkpoint.magic()) {
        "a Strata checkpoint"
    } else if starts(b"STRATA") {
        "a Strata file of an unknown kind"
    } else {
        return None;
    })
}

/// Whether `bytes` open as an ONNX `ModelProto` does when serialized in field
/// order (as PyTorch's exporter and Strata's write it): field 1, `ir_version`,
/// a one-byte varint, then the tag of one of the fields 2 to 8
/// (`producer_name` ... `opset_import`).
fn is_onnx(bytes: &[u8]) -> bool {
    matches!(bytes, [0x08, 1..=0x7f, 0x12 | 0x1a | 0x22 | 0x28 | 0x32 | 0x3a | 0x42, ..])
}
