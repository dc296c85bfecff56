//! Tests of the strata command.
