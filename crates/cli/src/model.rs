//! What the command line adds to a model file: how the data was read.

use strata::model::Model;

/// Metadata key of the label column the training data used (`last`,
/// `first`, `none` or an index), so `evaluate` and `predict` read files the
/// same way by default.
pub const LABEL_COLUMN: &str = "strata.cli.label_column";

/// The label column a model was trained with (`last` when not recorded).
pub fn label_column(model: &Model) -> &str {
    model.metadata().get(LABEL_COLUMN).map_or("last", String::as_str)
}

/// Metadata key of what the model predicts: `regression` (absent: classes).
pub const TASK: &str = "strata.cli.task";

/// Whether a model was trained by `--task regression`.
pub fn is_regression(model: &Model) -> bool {
    model.metadata().get(TASK).is_some_and(|t| t == "regression")
}
