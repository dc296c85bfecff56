//! What the data of one file may take in memory once read: a small gzip
//! file can inflate to gigabytes, and a byte of text can become four bytes
//! of `f32` or a whole `String`. Growth is checked before it happens, so
//! such a file is an error naming it, not an aborted process.

/// The bytes the values read from one file may take by default: a quarter
/// of this machine's memory ([`strata_tensor::machine_memory`]); 2 GiB
/// where it cannot be read.
pub fn data_budget() -> u64 {
    strata_tensor::machine_memory().map_or(2 << 30, |bytes| bytes / 4)
}

/// The `f32` values [`data_budget`] holds.
pub(crate) fn default_max_values() -> usize {
    usize::try_from(data_budget() / 4).unwrap_or(usize::MAX)
}

/// Make room in `v` for `extra` more items (fallibly: memory the machine
/// refuses is a sentence, not an abort).
pub(crate) fn room<T>(v: &mut Vec<T>, extra: usize, what: &str) -> Result<(), String> {
    v.try_reserve(extra).map_err(|_| {
        let need = (v.len() as u64).saturating_add(extra as u64);
        let bytes = need.saturating_mul(std::mem::size_of::<T>() as u64);
        format!("{need} {what} need {bytes} bytes, more than this machine can allocate")
    })
}

/// The sentence for data beyond `max` of `what`.
pub(crate) fn beyond(max: impl std::fmt::Display, what: &str) -> String {
    format!("the data holds more than {max} {what}, the most Strata keeps in memory from one file")
}
