//! Gzip detection by magic bytes.

use crate::error::{DataError, Result};
use flate2::bufread::MultiGzDecoder;
use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

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
    let limit = crate::csv::MAX_DATA_BYTES.min(crate::memory::data_budget());
    let text = |reason| DataError::Text { file: file.to_owned(), line: 0, reason };
    let (mut out, mut chunk) = (Vec::new(), vec![0u8; 1 << 20]);
    let mut decoder = MultiGzDecoder::new(bytes);
    loop {
        let n = decoder.read(&mut chunk).map_err(|source| DataError::Gzip { file: file.to_owned(), source })?;
        if n == 0 {
            return Ok(Cow::Owned(out));
        }
        if (out.len() + n) as u64 > limit {
            return Err(text(format!(
                "the data goes on beyond {limit} bytes once decompressed, the most Strata reads"
            )));
        }
        crate::memory::room(&mut out, n, "bytes").map_err(text)?;
        out.extend_from_slice(&chunk[..n]);
    }
}

/// Call `line(number, bytes)` for every line of `reader` (its 1-based number,
/// its bytes with the line end), plain or gzipped (told by the magic bytes),
/// stopping at the first error. Read errors are [`DataError::Io`] at `path`,
/// or [`DataError::Gzip`] naming `source` for compressed data; with a
/// `limit`, text that goes on beyond it (after decompression) is a
/// [`DataError::Text`] before it fills the memory.
pub(crate) fn for_each_line<R: BufRead>(
    mut reader: R,
    (source, path): (&str, &Path),
    limit: Option<u64>,
    mut line: impl FnMut(usize, &[u8]) -> Result<()>,
) -> Result<()> {
    let io = |e: std::io::Error| DataError::Io { path: path.to_path_buf(), source: e };
    let gz = is_gzip(reader.fill_buf().map_err(io)?);
    let cap = limit.map_or(u64::MAX, |l| l.saturating_add(1));
    let mut lines: Box<dyn BufRead> = if gz {
        Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(reader)).take(cap))
    } else {
        Box::new(reader.take(cap))
    };
    let (mut buf, mut total, mut number) = (Vec::new(), 0u64, 0usize);
    loop {
        buf.clear();
        let n = lines
            .read_until(b'\n', &mut buf)
            .map_err(|e| if gz { DataError::Gzip { file: source.to_owned(), source: e } } else { io(e) })?;
        if n == 0 {
            return Ok(());
        }
        (total, number) = (total + n as u64, number + 1);
        if let Some(limit) = limit.filter(|&l| total > l) {
            let reason = format!("the text goes on beyond {limit} bytes, the most Strata reads");
            return Err(DataError::Text { file: source.to_owned(), line: number, reason });
        }
        line(number, &buf)?;
    }
}
