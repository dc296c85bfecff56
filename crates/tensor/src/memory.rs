//! How much memory this machine has: what the budgets of the other crates
//! (a model's parameters and activations, a file's data) are fractions of.

/// This machine's memory in bytes (`MemTotal` of `/proc/meminfo`), read once
/// a process (a read costs more than a batch-1 forward pass); `None` where
/// it cannot be read (not Linux).
///
/// ```
/// if let Some(bytes) = strata_tensor::machine_memory() {
///     assert!(bytes > 1 << 20);
/// }
/// ```
pub fn machine_memory() -> Option<u64> {
    static MEMORY: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *MEMORY.get_or_init(|| {
        let info = std::fs::read_to_string("/proc/meminfo").ok()?;
        let kb = info
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())?;
        Some(kb.saturating_mul(1024))
    })
}
