use thiserror::Error;

/// Everything that can go wrong in a tensor operation.
///
/// Every variant names the operation; shape errors carry both shapes, so a
/// message reads like `matmul: inner dimensions differ: left [2, 3], right [4, 5]`.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum TensorError {
    /// The memory a tensor needs cannot be allocated.
    #[error("{op}: a tensor of shape {shape:?} needs {bytes} bytes, more than this machine can allocate")]
    Alloc {
        /// The operation.
        op: &'static str,
        /// The shape asked for.
        shape: Vec<usize>,
        /// Bytes it needs.
        bytes: u64,
    },
    /// Two operands have shapes the operation cannot combine.
    #[error("{op}: shapes do not match: left {left:?}, right {right:?}")]
    ShapeMismatch {
        /// The operation, e.g. `add`.
        op: &'static str,
        /// Shape of the left (or first) operand.
        left: Vec<usize>,
        /// Shape of the right (or second) operand.
        right: Vec<usize>,
    },
    /// A buffer's length does not match the number of elements of a shape.
    #[error("{op}: {len} values do not fill shape {shape:?} ({expected} elements)")]
    DataLength {
        /// The operation, e.g. `from_vec`.
        op: &'static str,
        /// The requested shape.
        shape: Vec<usize>,
        /// Number of elements the shape holds.
        expected: usize,
        /// Number of values supplied.
        len: usize,
    },
    /// The operation needs a tensor of another rank.
    #[error("{op}: expected a rank-{expected} tensor, got shape {shape:?}")]
    Rank {
        /// The operation.
        op: &'static str,
        /// The rank the operation needs.
        expected: usize,
        /// The shape it got.
        shape: Vec<usize>,
    },
    /// An axis or index lies outside the tensor.
    #[error("{op}: index {index} out of range for shape {shape:?}")]
    OutOfRange {
        /// The operation.
        op: &'static str,
        /// The offending axis, row or element index.
        index: usize,
        /// The shape it was applied to.
        shape: Vec<usize>,
    },
    /// An argument outside its domain (a negative standard deviation, an empty range, ...).
    #[error("{op}: invalid argument: {reason}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// `Result` with [`TensorError`].
pub type Result<T, E = TensorError> = std::result::Result<T, E>;
