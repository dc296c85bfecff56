//! Tensors stored beside a text document: while [`write_blob`] runs, a
//! tensor serialized in a text format (JSON) writes its values into a binary
//! blob and itself as `{"shape": [..], "at": offset}`; while [`read_blob`]
//! runs, such a reference is read back from the blob. This is how a
//! checkpoint keeps its structure readable (and tolerant of added fields)
//! while its numbers stay compact and exact (see `docs/formats.md`).
//!
//! ```
//! use strata_tensor::{Tensor, blob};
//! let t = Tensor::from_vec(&[2], vec![1.5, -0.0]).unwrap();
//! let (json, bytes) = blob::write_blob(|| serde_json::to_string(&t).unwrap());
//! assert_eq!(json, r#"{"shape":[2],"at":0}"#);
//! assert_eq!(bytes.len(), 8);
//! let (back, _) = blob::read_blob(bytes, 0, || serde_json::from_str::<Tensor>(&json));
//! assert_eq!(back.unwrap(), t);
//! ```

use std::cell::RefCell;

thread_local! {
    static WRITER: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
    static READER: RefCell<Option<(Vec<u8>, usize)>> = const { RefCell::new(None) };
}

/// Run `f` with tensors serialized in text formats going to a blob; returns
/// what `f` returned and the blob (values as little-endian `f32`s).
pub fn write_blob<R>(f: impl FnOnce() -> R) -> (R, Vec<u8>) {
    let outer = WRITER.with(|w| w.borrow_mut().replace(Vec::new()));
    let result = f();
    let bytes = WRITER.with(|w| std::mem::replace(&mut *w.borrow_mut(), outer)).unwrap_or_default();
    (result, bytes)
}

/// Run `f` with tensor references read from `bytes[base..]`; returns what
/// `f` returned and `bytes`, handed back.
pub fn read_blob<R>(bytes: Vec<u8>, base: usize, f: impl FnOnce() -> R) -> (R, Vec<u8>) {
    let outer = READER.with(|r| r.borrow_mut().replace((bytes, base)));
    let result = f();
    let (bytes, _) = READER.with(|r| std::mem::replace(&mut *r.borrow_mut(), outer)).unwrap_or_default();
    (result, bytes)
}

/// Append `data` to the active blob: its offset, or `None` without one.
pub(crate) fn push(data: &[f32]) -> Option<u64> {
    WRITER.with(|w| {
        let mut w = w.borrow_mut();
        let blob = w.as_mut()?;
        let at = blob.len() as u64;
        blob.reserve(data.len() * 4);
        for x in data {
            blob.extend_from_slice(&x.to_le_bytes());
        }
        Some(at)
    })
}

/// Read `n` values at offset `at` of the active blob. The range is checked
/// against the blob before anything is allocated.
pub(crate) fn take(at: u64, n: usize) -> Result<Vec<f32>, String> {
    READER.with(|r| {
        let r = r.borrow();
        let (bytes, base) = r.as_ref().ok_or("a tensor refers to a binary blob, but none is being read")?;
        let blob = &bytes[(*base).min(bytes.len())..];
        // Strata writes each tensor at a multiple of 4 bytes; another offset
        // (a hand-edited file) would read values shifted across their bytes.
        if !at.is_multiple_of(4) {
            return Err(format!("a tensor at byte {at} of the blob is not at a multiple of 4 bytes, as each value"));
        }
        let start = usize::try_from(at).ok().filter(|&s| s <= blob.len());
        let range = start.and_then(|s| Some(s..s.checked_add(n.checked_mul(4)?)?)).filter(|r| r.end <= blob.len());
        let range = range.ok_or_else(|| {
            format!("a tensor of {n} values at byte {at} runs past the end of the {}-byte blob", blob.len())
        })?;
        Ok(blob[range].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    })
}
