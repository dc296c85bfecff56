//! The confusion matrix and its scores, against hand-computed values.

use strata_report::{Confusion, ReportError};

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("c{i}")).collect()
}

#[test]
fn scores_match_hand_computed_values() {
    // truth 0 0 0 1 1 2; predicted 0 0 1 1 2 2.
    let c = Confusion::new(names(3), &[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2]).expect("valid");
    assert_eq!(c.counts, vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]);
    // Class 1: precision 1/2 (predicted 1 twice), recall 1/2 (two samples), F1 1/2.
    let s = c.scores(1);
    assert_eq!((s.precision, s.recall, s.f1, s.support), (0.5, 0.5, 0.5, 2));
    // Class 0: precision 2/2, recall 2/3, F1 = 2 * 1 * 2/3 / (5/3) = 0.8.
    let s = c.scores(0);
    assert_eq!((s.precision, s.support), (1.0, 3));
    assert!((s.f1 - 0.8).abs() < 1e-6);
    assert_eq!(c.accuracy(), 4.0 / 6.0);
}

#[test]
fn an_index_out_of_range_is_refused_by_name() {
    let err = Confusion::new(names(2), &[0, 2], &[0, 1]).expect_err("class 2 of 2");
    assert!(matches!(err, ReportError::Mismatch { .. }));
    assert_eq!(err.to_string(), "confusion matrix: expected class indices below 2, got the pair (true 2, predicted 1)");
    let err = Confusion::new(names(2), &[0, 1], &[0]).expect_err("lengths");
    assert_eq!(err.to_string(), "confusion matrix: expected 2 predictions, one per label, got 1 predictions");
}
