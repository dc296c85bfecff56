//! The one error type of `strata-distributed`.

/// Results of this crate.
pub type Result<T, E = DistributedError> = std::result::Result<T, E>;

/// What stops a data-parallel run. Every variant is decided alike by every
/// rank (each compares the same gathered figures), so all ranks stop
/// together instead of waiting for one another.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DistributedError {
    /// MPI could not be started (it already was, in this process).
    #[error("{operation}: MPI is already initialised in this process (one Communicator per process)")]
    AlreadyInitialized {
        /// What was being done.
        operation: &'static str,
    },
    /// Ranks built different models: the hashes of their parameter names
    /// and shapes differ from rank 0's.
    #[error(
        "{operation}: rank(s) {ranks:?} built another architecture than rank 0 (hash of parameter names and shapes: \
         rank 0 has {expected:016x}, they have {actual})",
        actual = hex_list(actual)
    )]
    ArchitectureMismatch {
        /// What was being done (`synchronize the model`).
        operation: &'static str,
        /// The ranks that differ from rank 0.
        ranks: Vec<usize>,
        /// Rank 0's hash.
        expected: u64,
        /// Each differing rank's hash, in the order of `ranks`.
        actual: Vec<u64>,
    },
    /// The ranks' weights are no longer identical (a rank trained with
    /// other settings, or a non-deterministic reduction).
    #[error(
        "{operation}: the weights of rank(s) {ranks:?} differ from rank 0's (hash of the weights: rank 0 has \
         {expected:016x}, they have {actual}); every rank must run the same command",
        actual = hex_list(actual)
    )]
    WeightsDiverged {
        /// When it was found (`epoch 3`).
        operation: String,
        /// The ranks that differ from rank 0.
        ranks: Vec<usize>,
        /// Rank 0's hash.
        expected: u64,
        /// Each differing rank's hash.
        actual: Vec<u64>,
    },
    /// A model with more tensors or counters than MPI's element count can
    /// describe in one message.
    #[error("{operation}: {actual} values do not fit one MPI message (at most {expected})")]
    TooLarge {
        /// What was being done.
        operation: &'static str,
        /// The largest count one message can carry.
        expected: usize,
        /// The count asked for.
        actual: usize,
    },
}

fn hex_list(hashes: &[u64]) -> String {
    let parts: Vec<String> = hashes.iter().map(|h| format!("{h:016x}")).collect();
    parts.join(", ")
}
