//! Analytic gradients vs central finite differences.
//!
//! Each element of the prediction is perturbed by `±H` and
//! `(L(p + H e_i) - L(p - H e_i)) / (2H)` is compared with the analytic
//! gradient. `L` runs in `f32` (the code under test) and the difference is
//! taken in `f64`, divided by the step actually taken in `f32`.
//!
//! Step and tolerance: logits are ~N(0, 1), so the truncation error
//! `H² |L'''| / 6` is about `2e-5 · |L'''|` (exactly 0 for MSE, which is
//! quadratic; `|L'''| ≤ 1/B` for the softmax/sigmoid losses). The loss value is
//! accumulated in `f64` and rounded once to `f32`, an error of about
//! `ε_f32 · L ≈ 6e-8 · 2`, which the difference quotient turns into
//! `≈ 1e-7 / (2H) ≈ 6e-6`. The check `|a - n| ≤ ATOL + RTOL · max(|a|, |n|)`
//! with `RTOL = 1e-2`, `ATOL = 1e-4` leaves about a factor 10 of margin (the
//! worst case seen with these seeds is 10 % of the tolerance, an MSE gradient
//! near 0 where `ATOL` dominates and the `f32` rounding of `L` is all that
//! remains), and still fails on any wrong factor (e.g. forgetting the `1/B`
//! or the 2 of MSE) or sign.

use strata_loss::{BinaryCrossEntropy, CrossEntropy, Loss, LossKind, MeanSquaredError};
use strata_tensor::{StrataRng, Tensor};

const H: f32 = 1e-2;
const RTOL: f64 = 1e-2;
const ATOL: f64 = 1e-4;

/// Compare `gradient` and `value_and_gradient` with finite differences of `value`.
fn check_gradient(loss: &dyn Loss, prediction: &Tensor, target: &Tensor) {
    let mut grad = Tensor::default();
    loss.gradient(prediction, target, &mut grad).unwrap();
    assert_eq!(grad.shape(), prediction.shape());

    // The fused path gives the same value and gradient.
    let mut fused = Tensor::default();
    let v = loss.value_and_gradient(prediction, target, &mut fused).unwrap();
    assert_eq!(v, loss.value(prediction, target).unwrap(), "{}", loss.name());
    assert_eq!(fused, grad, "{}", loss.name());

    let mut p = prediction.clone();
    for i in 0..p.len() {
        let pi = prediction.data()[i];
        p.data_mut()[i] = pi + H;
        let (plus, step_plus) = (f64::from(loss.value(&p, target).unwrap()), f64::from(p.data()[i]));
        p.data_mut()[i] = pi - H;
        let (minus, step_minus) = (f64::from(loss.value(&p, target).unwrap()), f64::from(p.data()[i]));
        p.data_mut()[i] = pi;
        let numeric = (plus - minus) / (step_plus - step_minus);
        let analytic = f64::from(grad.data()[i]);
        assert!(
            (analytic - numeric).abs() <= ATOL + RTOL * analytic.abs().max(numeric.abs()),
            "{} {:?}: element {i}: analytic {analytic}, numeric {numeric}",
            loss.name(),
            prediction.shape()
        );
    }
}

/// Random class indices in `0..classes` as f32.
fn labels(batch: usize, classes: usize, rng: &mut StrataRng) -> Vec<f32> {
    (0..batch).map(|_| rng.below(classes) as f32).collect()
}

/// Random rows of probabilities (a softmax of normal draws).
fn distributions(batch: usize, classes: usize, rng: &mut StrataRng) -> Tensor {
    let mut t = Tensor::random_normal(&[batch, classes], 0.0, 1.0, rng).unwrap();
    for row in t.data_mut().chunks_mut(classes) {
        let s: f32 = row.iter().map(|x| x.exp()).sum();
        for x in row.iter_mut() {
            *x = x.exp() / s;
        }
    }
    t
}

#[test]
fn mse_matches_finite_differences() {
    let mut rng = StrataRng::seed_from_u64(1);
    for shape in [&[4, 3][..], &[10], &[2, 2, 3]] {
        let p = Tensor::random_normal(shape, 0.0, 1.0, &mut rng).unwrap();
        let t = Tensor::random_normal(shape, 0.0, 1.0, &mut rng).unwrap();
        check_gradient(&MeanSquaredError, &p, &t);
    }
}

#[test]
fn cross_entropy_with_class_indices_matches_finite_differences() {
    let mut rng = StrataRng::seed_from_u64(2);
    let (batch, classes) = (6, 4);
    let p = Tensor::random_normal(&[batch, classes], 0.0, 1.0, &mut rng).unwrap();
    let l = labels(batch, classes, &mut rng);
    check_gradient(&CrossEntropy, &p, &Tensor::from_vec(&[batch], l.clone()).unwrap());
    check_gradient(&CrossEntropy, &p, &Tensor::from_vec(&[batch, 1], l).unwrap());
    // Larger logits: a confident classifier.
    let p = Tensor::random_normal(&[batch, classes], 0.0, 4.0, &mut rng).unwrap();
    check_gradient(&CrossEntropy, &p, &Tensor::from_vec(&[batch], labels(batch, classes, &mut rng)).unwrap());
}

#[test]
fn cross_entropy_with_probabilities_matches_finite_differences() {
    let mut rng = StrataRng::seed_from_u64(3);
    let p = Tensor::random_normal(&[5, 3], 0.0, 1.0, &mut rng).unwrap();
    check_gradient(&CrossEntropy, &p, &distributions(5, 3, &mut rng));
    // One-hot rows.
    let mut onehot = Tensor::zeros(&[5, 3]);
    for r in 0..5 {
        onehot.data_mut()[r * 3 + rng.below(3)] = 1.0;
    }
    check_gradient(&CrossEntropy, &p, &onehot);
    // Unnormalised non-negative targets: the gradient is softmax · Σt - t.
    let t = Tensor::random_uniform(&[5, 3], 0.0, 2.0, &mut rng).unwrap();
    check_gradient(&CrossEntropy, &p, &t);
}

#[test]
fn binary_cross_entropy_matches_finite_differences() {
    let mut rng = StrataRng::seed_from_u64(4);
    let p = Tensor::random_normal(&[4, 3], 0.0, 1.0, &mut rng).unwrap();
    // Soft targets in [0, 1).
    check_gradient(&BinaryCrossEntropy, &p, &Tensor::random_uniform(&[4, 3], 0.0, 1.0, &mut rng).unwrap());
    // Hard 0/1 targets, wider logits.
    let p = Tensor::random_normal(&[12], 0.0, 3.0, &mut rng).unwrap();
    let t = Tensor::from_vec(&[12], (0..12).map(|_| rng.below(2) as f32).collect()).unwrap();
    check_gradient(&BinaryCrossEntropy, &p, &t);
}

#[test]
fn loss_kinds_match_finite_differences() {
    let mut rng = StrataRng::seed_from_u64(5);
    let p = Tensor::random_normal(&[4, 3], 0.0, 1.0, &mut rng).unwrap();
    check_gradient(&LossKind::Mse, &p, &Tensor::random_normal(&[4, 3], 0.0, 1.0, &mut rng).unwrap());
    check_gradient(&LossKind::CrossEntropy, &p, &Tensor::from_vec(&[4], labels(4, 3, &mut rng)).unwrap());
    check_gradient(&LossKind::BinaryCrossEntropy, &p, &Tensor::random_uniform(&[4, 3], 0.0, 1.0, &mut rng).unwrap());
}
