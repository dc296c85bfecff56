//! Integration tests of strata-conv.
