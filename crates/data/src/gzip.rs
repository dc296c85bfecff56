//! Gzip detection by magic bytes.

use crate::error::{DataError, Result};
use flate2::bufread::MultiGzDecoder;
use std::borrow::Cow;
use std::io::Read;

/// The two bytes every gzip stream starts with.
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// True when `bytes` start like a gzip stream.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// `bytes` decompressed when they are gzip (one or more members), borrowed otherwise.
pub(crate) fn maybe_gunzip<'a>(bytes: &'a [u8], file: &str) -> Result<Cow<'a, [u8]>> {
    if !is_gzip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|source| DataError::Gzip { file: file.to_owned(), source })?;
    Ok(Cow::Owned(out))
}
