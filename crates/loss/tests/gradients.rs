//! Analytic gradients vs central finite differences, through the conformance
//! kit (`strata-testkit`): `check_loss` compares `gradient` with finite
//! differences of `value` (each prediction element perturbed on its own),
//! checks that value and gradient are finite, that `value_and_gradient`
//! returns exactly `value` and `gradient`, and that mismatched shapes are
//! errors naming the loss.
//!
//! Step and tolerance: the kit's step (`1e-2`, refined where needed) with
//! `rtol = 1e-2` and `atol = 1e-4` (relative error `|a - n| / max(|a|, |n|,
//! atol / rtol)` at most `rtol`). Losses are means over the batch, so their
//! gradients are small (~`1/B`) and `atol` is ten times tighter than the
//! kit's layer default. The loss value is accumulated in `f64` and rounded
//! once to `f32`, an error of about `ε_f32 · L ≈ 6e-8 · 2`, which the
//! difference quotient turns into `≈ 1e-7 / (2h) ≈ 6e-6`; the truncation
//! error `h² |L'''| / 6` is about `2e-5 · |L'''|` (0 for MSE, which is
//! quadratic; `|L'''| ≤ 1/B` for the softmax/sigmoid losses). Any wrong
//! factor (a forgotten `1/B` or the 2 of MSE) or sign still fails by orders
//! of magnitude.

use strata_loss::{BinaryCrossEntropy, CrossEntropy, Loss, LossKind, MeanSquaredError};
use strata_tensor::{StrataRng, Tensor};
use strata_testkit::{CheckOptions, Report, assert_loss_conforms};

/// The kit's defaults with the tighter absolute tolerance of a mean.
fn opts() -> CheckOptions {
    CheckOptions::default().with_tolerance(1e-2, 1e-4)
}

/// Run the kit on `(prediction, target)` from `draw`, and require the worst
/// element to stay under `2e-3`, five times inside the tolerance (the
/// largest relative error measured across these tests is 5.8e-4,
/// cross-entropy with confident logits; `Report::max_gradient_error`).
fn conforms(name: &str, loss: &dyn Loss, draw: impl Fn(&mut StrataRng) -> (Tensor, Tensor)) -> Report {
    let report = assert_loss_conforms(name, loss, draw, &opts());
    let worst = report.max_gradient_error.unwrap();
    assert!(worst < 2e-3, "{name}: largest relative error {worst}\n{report}");
    report
}

fn normal(shape: &[usize], std: f32, rng: &mut StrataRng) -> Tensor {
    Tensor::random_normal(shape, 0.0, std, rng).unwrap()
}

/// Random class indices in `0..classes` as f32.
fn labels(batch: usize, classes: usize, rng: &mut StrataRng) -> Vec<f32> {
    (0..batch).map(|_| rng.below(classes) as f32).collect()
}

/// Random rows of probabilities (a softmax of normal draws).
fn distributions(batch: usize, classes: usize, rng: &mut StrataRng) -> Tensor {
    let mut t = normal(&[batch, classes], 1.0, rng);
    for row in t.data_mut().chunks_mut(classes) {
        let s: f32 = row.iter().map(|x| x.exp()).sum();
        for x in row.iter_mut() {
            *x = x.exp() / s;
        }
    }
    t
}

/// Logits `[batch, classes]` with one-hot probability targets.
fn onehot(batch: usize, classes: usize, rng: &mut StrataRng) -> (Tensor, Tensor) {
    let p = normal(&[batch, classes], 1.0, rng);
    let mut t = Tensor::zeros(&[batch, classes]);
    for r in 0..batch {
        t.data_mut()[r * classes + rng.below(classes)] = 1.0;
    }
    (p, t)
}

#[test]
fn mse_conforms() {
    for shape in [&[4, 3][..], &[10], &[2, 2, 3]] {
        conforms(&format!("mse {shape:?}"), &MeanSquaredError, |rng| {
            (normal(shape, 1.0, rng), normal(shape, 1.0, rng))
        });
    }
}

#[test]
fn cross_entropy_with_class_indices_conforms() {
    let (batch, classes) = (6, 4);
    // Labels as [batch] and as [batch, 1].
    for target_shape in [&[batch][..], &[batch, 1]] {
        conforms(&format!("cross_entropy labels {target_shape:?}"), &CrossEntropy::new(), |rng| {
            let p = normal(&[batch, classes], 1.0, rng);
            (p, Tensor::from_vec(target_shape, labels(batch, classes, rng)).unwrap())
        });
    }
    // Larger logits: a confident classifier.
    conforms("cross_entropy confident", &CrossEntropy::new(), |rng| {
        let p = normal(&[batch, classes], 4.0, rng);
        (p, Tensor::from_slice(&labels(batch, classes, rng)))
    });
}

#[test]
fn cross_entropy_with_probabilities_conforms() {
    conforms("cross_entropy soft", &CrossEntropy::new(), |rng| (normal(&[5, 3], 1.0, rng), distributions(5, 3, rng)));
    conforms("cross_entropy one-hot", &CrossEntropy::new(), |rng| onehot(5, 3, rng));
    // Unnormalised non-negative targets: the gradient is softmax · Σt - t.
    conforms("cross_entropy unnormalised", &CrossEntropy::new(), |rng| {
        (normal(&[5, 3], 1.0, rng), Tensor::random_uniform(&[5, 3], 0.0, 2.0, rng).unwrap())
    });
}

#[test]
fn binary_cross_entropy_conforms() {
    // Soft targets in [0, 1).
    conforms("bce soft", &BinaryCrossEntropy, |rng| {
        (normal(&[4, 3], 1.0, rng), Tensor::random_uniform(&[4, 3], 0.0, 1.0, rng).unwrap())
    });
    // Hard 0/1 targets, wider logits.
    conforms("bce hard", &BinaryCrossEntropy, |rng| {
        let p = normal(&[12], 3.0, rng);
        (p, Tensor::from_vec(&[12], (0..12).map(|_| rng.below(2) as f32).collect()).unwrap())
    });
}

/// Draws a prediction and a target.
type Draw = dyn Fn(&mut StrataRng) -> (Tensor, Tensor);

/// Data for every `LossKind`: the match is exhaustive, so a new kind does not
/// compile until it has data here and is checked below. Cross-entropy gets
/// both target forms.
fn draws(kind: LossKind) -> Vec<(&'static str, Box<Draw>)> {
    match kind {
        LossKind::Mse => vec![("mse", Box::new(|rng| (normal(&[4, 3], 1.0, rng), normal(&[4, 3], 1.0, rng))))],
        LossKind::CrossEntropy => vec![
            ("class indices", Box::new(|rng| (normal(&[4, 3], 1.0, rng), Tensor::from_slice(&labels(4, 3, rng))))),
            ("probabilities", Box::new(|rng| (normal(&[4, 3], 1.0, rng), distributions(4, 3, rng)))),
        ],
        // Differences of both signs on both sides of delta = 1: the quadratic and the linear parts.
        LossKind::Huber => vec![("huber", Box::new(|rng| (normal(&[4, 3], 2.0, rng), normal(&[4, 3], 1.0, rng))))],
        LossKind::BinaryCrossEntropy => vec![(
            "bce",
            Box::new(|rng| (normal(&[4, 3], 1.0, rng), Tensor::random_uniform(&[4, 3], 0.0, 1.0, rng).unwrap())),
        )],
    }
}

#[test]
fn every_loss_kind_conforms() {
    for kind in LossKind::ALL {
        for (label, draw) in draws(kind) {
            conforms(&format!("{kind} ({label})"), &kind, draw);
        }
    }
}

#[test]
fn cross_entropy_over_sequences_with_an_ignore_index_conforms() {
    // A language model's logits [batch, sequence, vocab] against next-token
    // ids [batch, sequence], where id 0 is padding: the padded positions
    // count for nothing (their gradient is 0, as their finite differences).
    let (batch, seq, vocab) = (2, 5, 4);
    let loss = CrossEntropy::new().with_ignore_index(0);
    conforms("cross_entropy sequences, ignore 0", &loss, |rng| {
        let p = normal(&[batch, seq, vocab], 1.0, rng);
        let mut ids = labels(batch * seq, vocab, rng);
        ids[seq - 1] = 0.0; // the first sequence ends in padding
        ids[2 * seq - 1] = 0.0;
        ids[0] = 1.0; // at least one position counts
        (p, Tensor::from_vec(&[batch, seq], ids).unwrap())
    });
}
