//! Values and gradients against hand calculations, stability, buffer reuse.

use std::f32::consts::LN_2;
use strata_loss::{BinaryCrossEntropy, CrossEntropy, Loss, MeanSquaredError};
use strata_tensor::{StrataRng, Tensor};

fn assert_close(actual: &[f32], expected: &[f32], tol: f32) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() <= tol, "element {i}: {a} vs {e} (tol {tol})");
    }
}

#[test]
fn mse_known_values() {
    // p = [1, 2, 3, 4], t = 0: (1 + 4 + 9 + 16) / 4 = 7.5; grad = 2 (p - t) / 4 = p / 2.
    let p = Tensor::from_slice(&[1.0, 2.0, 3.0, 4.0]);
    let t = Tensor::zeros(&[4]);
    let mut g = Tensor::default();
    assert_eq!(MeanSquaredError.value_and_gradient(&p, &t, &mut g).unwrap(), 7.5);
    assert_eq!(g.data(), &[0.5, 1.0, 1.5, 2.0]);
    // The mean is over ALL elements (PyTorch MSELoss()), not over rows: [2, 2] gives 7.5 too, not 15.
    let p = p.reshape(&[2, 2]).unwrap();
    let t = Tensor::zeros(&[2, 2]);
    assert_eq!(MeanSquaredError.value(&p, &t).unwrap(), 7.5);
    // Equal tensors: zero loss, zero gradient.
    assert_eq!(MeanSquaredError.value(&p, &p).unwrap(), 0.0);
    MeanSquaredError.gradient(&p, &p, &mut g).unwrap();
    assert_eq!(g.data(), &[0.0; 4]);
}

#[test]
fn cross_entropy_of_uniform_logits_is_ln_2() {
    // Logits [0, 0]: softmax = [1/2, 1/2]; -ln(1/2) = ln 2 = 0.693147...
    // Gradient (softmax - onehot(1)) / 1 = [0.5, -0.5].
    let logits = Tensor::from_vec(&[1, 2], vec![0.0, 0.0]).unwrap();
    let mut g = Tensor::default();
    let loss = CrossEntropy::new().value_and_gradient(&logits, &Tensor::from_slice(&[1.0]), &mut g).unwrap();
    assert!((loss - LN_2).abs() < 1e-7, "{loss}");
    assert_eq!(g.data(), &[0.5, -0.5]);
}

#[test]
fn cross_entropy_known_value_and_batch_mean() {
    // Logits [1, 2, 3], label 2: ln(e + e² + e³) - 3 = ln(1 + e^-1 + e^-2) = 0.407605964 (Python math).
    // Logits [0, 0, 0], label 0: ln 3 = 1.098612289. Mean over the 2 rows: 0.753109127.
    let logits = Tensor::from_vec(&[2, 3], vec![1.0, 2.0, 3.0, 0.0, 0.0, 0.0]).unwrap();
    let labels = Tensor::from_slice(&[2.0, 0.0]);
    let loss = CrossEntropy::new().value(&logits, &labels).unwrap();
    assert!((loss - 0.753_109_1).abs() < 1e-6, "{loss}");
    // Gradient row 1: ([1/3, 1/3, 1/3] - [1, 0, 0]) / 2.
    let mut g = Tensor::default();
    CrossEntropy::new().gradient(&logits, &labels, &mut g).unwrap();
    assert_close(&g.data()[3..], &[-1.0 / 3.0, 1.0 / 6.0, 1.0 / 6.0], 1e-7);
    // Gradient rows sum to 0 (softmax and one-hot both sum to 1).
    assert!(g.data()[..3].iter().sum::<f32>().abs() < 1e-7);
}

#[test]
fn cross_entropy_target_layouts_agree() {
    // Indices [batch], indices [batch, 1] and one-hot [batch, classes] are the same loss.
    let mut rng = StrataRng::seed_from_u64(7);
    let logits = Tensor::random_normal(&[3, 4], 0.0, 2.0, &mut rng).unwrap();
    let idx = Tensor::from_slice(&[3.0, 0.0, 2.0]);
    let idx_col = idx.reshape(&[3, 1]).unwrap();
    let mut onehot = Tensor::zeros(&[3, 4]);
    for (r, c) in [(0, 3), (1, 0), (2, 2)] {
        onehot.data_mut()[r * 4 + c] = 1.0;
    }
    let (mut g1, mut g2, mut g3) = (Tensor::default(), Tensor::default(), Tensor::default());
    let v1 = CrossEntropy::new().value_and_gradient(&logits, &idx, &mut g1).unwrap();
    let v2 = CrossEntropy::new().value_and_gradient(&logits, &idx_col, &mut g2).unwrap();
    let v3 = CrossEntropy::new().value_and_gradient(&logits, &onehot, &mut g3).unwrap();
    assert_eq!(v1, v2);
    assert!((v1 - v3).abs() < 1e-6);
    assert_eq!(g1, g2);
    assert!(g1.max_abs_diff(&g3).unwrap() < 1e-7);
}

#[test]
fn cross_entropy_soft_targets() {
    // Logits [0, 0], target [1/2, 1/2]: -(1/2 ln 1/2 + 1/2 ln 1/2) = ln 2; gradient softmax - t = 0.
    let logits = Tensor::from_vec(&[1, 2], vec![0.0, 0.0]).unwrap();
    let t = Tensor::from_vec(&[1, 2], vec![0.5, 0.5]).unwrap();
    let mut g = Tensor::default();
    let loss = CrossEntropy::new().value_and_gradient(&logits, &t, &mut g).unwrap();
    assert!((loss - LN_2).abs() < 1e-7);
    assert_eq!(g.data(), &[0.0, 0.0]);
}

#[test]
fn cross_entropy_is_stable_for_huge_logits() {
    // Without log-sum-exp, e^10000 overflows. Right and confident: loss 0;
    // wrong and confident: lse - x_label = 10000 - (-10000) = 20000.
    let logits = Tensor::from_vec(&[2, 2], vec![1e4, -1e4, 1e4, -1e4]).unwrap();
    let mut g = Tensor::default();
    let right = CrossEntropy::new().value(&logits.slice_rows(0, 1).unwrap(), &Tensor::from_slice(&[0.0])).unwrap();
    assert_eq!(right, 0.0);
    let loss = CrossEntropy::new().value_and_gradient(&logits, &Tensor::from_slice(&[0.0, 1.0]), &mut g).unwrap();
    assert!(loss.is_finite());
    assert_eq!(loss, 1e4); // (0 + 20000) / 2
    assert!(g.is_finite());
    assert_eq!(g.data(), &[0.0, 0.0, 0.5, -0.5]);
    // Extreme finite logits stay finite too.
    let logits = Tensor::from_vec(&[1, 3], vec![1e30, 0.0, -1e30]).unwrap();
    let loss = CrossEntropy::new().value(&logits, &Tensor::from_slice(&[1.0])).unwrap();
    assert!(loss.is_finite() && (loss - 1e30).abs() <= 1e24);
}

#[test]
fn binary_cross_entropy_known_values() {
    // x = 0: σ = 1/2, loss -ln(1/2) = ln 2 for t = 1, t = 0 and t = 1/2 alike.
    let x = Tensor::zeros(&[3]);
    let t = Tensor::from_slice(&[1.0, 0.0, 0.5]);
    let mut g = Tensor::default();
    let loss = BinaryCrossEntropy.value_and_gradient(&x, &t, &mut g).unwrap();
    assert!((loss - LN_2).abs() < 1e-7);
    // (σ(0) - t) / 3.
    assert_close(g.data(), &[-0.5 / 3.0, 0.5 / 3.0, 0.0], 1e-7);
    // x = 2, t = 1: -ln σ(2) = ln(1 + e^-2) = 0.126928011 (Python math).
    let loss = BinaryCrossEntropy.value(&Tensor::from_slice(&[2.0]), &Tensor::from_slice(&[1.0])).unwrap();
    assert!((loss - 0.126_928_01).abs() < 1e-7);
}

#[test]
fn binary_cross_entropy_is_stable_for_huge_logits() {
    // Confident and wrong: -ln σ(-1000) = 1000 (the naive form gives ln 0 = -inf).
    let x = Tensor::from_slice(&[1000.0, -1000.0, 1000.0, -1000.0]);
    let t = Tensor::from_slice(&[0.0, 1.0, 1.0, 0.0]);
    let mut g = Tensor::default();
    let loss = BinaryCrossEntropy.value_and_gradient(&x, &t, &mut g).unwrap();
    assert_eq!(loss, 500.0); // (1000 + 1000 + 0 + 0) / 4
    assert_eq!(g.data(), &[0.25, -0.25, 0.0, 0.0]);
}

#[test]
fn gradient_buffer_is_reused_once_warm() {
    let mut rng = StrataRng::seed_from_u64(8);
    let p = Tensor::random_normal(&[16, 5], 0.0, 1.0, &mut rng).unwrap();
    let labels = Tensor::from_vec(&[16], (0..16).map(|i| (i % 5) as f32).collect()).unwrap();
    let probs = Tensor::random_uniform(&[16, 5], 0.0, 1.0, &mut rng).unwrap();
    let mut g = Tensor::default();
    CrossEntropy::new().value_and_gradient(&p, &labels, &mut g).unwrap();
    let ptr = g.data().as_ptr();
    for (loss, target) in [
        (&CrossEntropy::new() as &dyn Loss, &labels),
        (&CrossEntropy::new(), &probs),
        (&MeanSquaredError, &probs),
        (&BinaryCrossEntropy, &probs),
    ] {
        loss.value_and_gradient(&p, target, &mut g).unwrap();
        loss.gradient(&p, target, &mut g).unwrap();
        assert_eq!(g.data().as_ptr(), ptr, "{} reallocated the gradient", loss.name());
    }
    // A stale, wrongly shaped buffer is resized and fully overwritten.
    let mut g = Tensor::full(&[3, 3], f32::NAN);
    CrossEntropy::new().gradient(&p, &labels, &mut g).unwrap();
    assert_eq!(g.shape(), &[16, 5]);
    assert!(g.is_finite());
}

#[test]
fn cross_entropy_over_leading_axes_equals_the_rows_reshaped() {
    let mut rng = StrataRng::seed_from_u64(31);
    let logits = Tensor::random_normal(&[2, 3, 5], 0.0, 2.0, &mut rng).unwrap();
    let ids = Tensor::from_vec(&[2, 3], vec![0., 4., 2., 1., 3., 3.]).unwrap();
    let (mut g3, mut g2) = (Tensor::default(), Tensor::default());
    let l3 = CrossEntropy::new().value_and_gradient(&logits, &ids, &mut g3).unwrap();
    let flat = logits.reshape(&[6, 5]).unwrap();
    let l2 = CrossEntropy::new().value_and_gradient(&flat, &ids.reshape(&[6]).unwrap(), &mut g2).unwrap();
    assert_eq!(l3.to_bits(), l2.to_bits());
    assert_eq!(g3.shape(), &[2, 3, 5]);
    assert_eq!(g3.data(), g2.data());
}

#[test]
fn an_ignored_index_counts_for_nothing_in_value_gradient_and_accuracy() {
    // Rows 1 and 3 are padding (id 0, ignored): the loss is the mean over rows
    // 0 and 2 only, the mean the unpadded rows alone give.
    let logits = Tensor::from_vec(&[4, 3], vec![1., 2., 3., 9., 9., 9., 0., 5., 1., -1., 7., 2.]).unwrap();
    let ids = Tensor::from_slice(&[2., 0., 1., 0.]);
    let loss = CrossEntropy::new().with_ignore_index(0);
    let mut g = Tensor::default();
    let value = loss.value_and_gradient(&logits, &ids, &mut g).unwrap();
    let kept = Tensor::from_vec(&[2, 3], vec![1., 2., 3., 0., 5., 1.]).unwrap();
    let mut g_kept = Tensor::default();
    let reference = CrossEntropy::new().value_and_gradient(&kept, &Tensor::from_slice(&[2., 1.]), &mut g_kept).unwrap();
    assert_eq!(value.to_bits(), reference.to_bits());
    assert_eq!(&g.data()[0..3], &g_kept.data()[0..3]);
    assert_eq!(&g.data()[6..9], &g_kept.data()[3..6]);
    assert!(g.data()[3..6].iter().chain(&g.data()[9..12]).all(|&x| x == 0.0), "{g:?}");
    assert_eq!(loss.n_terms(&logits, &ids), 2);
    // Row 0 predicts class 2 (right), row 2 class 1 (right); padding is not counted.
    assert_eq!(loss.correct(&logits, &ids), Some((2, 2)));
    // Without the ignore index, label 0 is a class like any other: row 1's
    // tie [9, 9, 9] goes to the first class, 0, its label; row 3 predicts 1.
    assert_eq!(CrossEntropy::new().correct(&logits, &ids), Some((3, 4)));
    // Every row ignored: loss 0 and gradient 0, not 0 / 0.
    let all_padding = Tensor::from_slice(&[0., 0., 0., 0.]);
    assert_eq!(loss.value_and_gradient(&logits, &all_padding, &mut g).unwrap(), 0.0);
    assert!(g.data().iter().all(|&x| x == 0.0));
}

#[test]
fn masked_logits_of_minus_infinity_have_probability_and_gradient_zero() {
    // Row [0, -inf, ln 3]: the softmax over the two unmasked entries is [1/4, 3/4].
    let logits = Tensor::from_vec(&[1, 3], vec![0.0, f32::NEG_INFINITY, 3f32.ln()]).unwrap();
    let mut g = Tensor::default();
    let value = CrossEntropy::new().value_and_gradient(&logits, &Tensor::from_slice(&[2.0]), &mut g).unwrap();
    assert!((value - (4f32 / 3.0).ln()).abs() < 1e-6, "{value}"); // -ln(3/4)
    assert!((g.data()[0] - 0.25).abs() < 1e-6 && g.data()[1] == 0.0 && (g.data()[2] + 0.25).abs() < 1e-6, "{g:?}");
    // With probability targets that give the masked class no weight.
    let t = Tensor::from_vec(&[1, 3], vec![0.5, 0.0, 0.5]).unwrap();
    assert!(CrossEntropy::new().value(&logits, &t).unwrap().is_finite());
    // A label on a masked class is impossible: loss +inf.
    assert_eq!(CrossEntropy::new().value(&logits, &Tensor::from_slice(&[1.0])).unwrap(), f32::INFINITY);
    // Every class masked: +inf, and no gradient.
    let masked = Tensor::from_vec(&[1, 2], vec![f32::NEG_INFINITY; 2]).unwrap();
    assert_eq!(
        CrossEntropy::new().value_and_gradient(&masked, &Tensor::from_slice(&[0.0]), &mut g).unwrap(),
        f32::INFINITY
    );
    assert_eq!(g.data(), &[0.0, 0.0]);
}

#[test]
fn accuracy_is_defined_by_the_loss() {
    let out = Tensor::from_vec(&[3, 2], vec![0.1, 0.9, 0.8, 0.2, 0.3, 0.7]).unwrap(); // argmax 1, 0, 1
    assert_eq!(CrossEntropy::new().correct(&out, &Tensor::from_slice(&[1.0, 0.0, 0.0])), Some((2, 3)));
    let one_hot = Tensor::from_vec(&[3, 2], vec![0., 1., 1., 0., 1., 0.]).unwrap();
    assert_eq!(CrossEntropy::new().correct(&out, &one_hot), Some((2, 3)));
    // A single logit against 0/1 targets: positive predicts 1.
    let logits = Tensor::from_vec(&[3, 1], vec![2.0, -1.0, 0.5]).unwrap();
    assert_eq!(
        BinaryCrossEntropy.correct(&logits, &Tensor::from_vec(&[3, 1], vec![1., 0., 0.]).unwrap()),
        Some((2, 3))
    );
    // Regression has no accuracy; targets the loss rejects have none either.
    assert_eq!(MeanSquaredError.correct(&out, &one_hot), None);
    assert_eq!(CrossEntropy::new().correct(&out, &Tensor::zeros(&[3, 5])), None);
}
