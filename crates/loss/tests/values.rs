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
