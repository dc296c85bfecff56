//! Forward values against hand calculations, stability, and buffer reuse.

use crate::all_activations;
use strata_activation::{Activation, Gelu, GeluErf, Identity, LeakyRelu, Relu, Sigmoid, Softmax, Tanh, sigmoid};
use strata_tensor::{StrataRng, Tensor};

fn assert_close(actual: &[f32], expected: &[f32], tol: f32) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() <= tol, "element {i}: {a} vs {e} (tol {tol})");
    }
}

#[test]
fn identity_relu_leaky_relu_values() {
    let x = Tensor::from_slice(&[-2.0, -0.5, 0.0, 1.5]);
    assert_eq!(Identity.apply(&x).unwrap().data(), x.data());
    assert_eq!(Relu.apply(&x).unwrap().data(), &[0.0, 0.0, 0.0, 1.5]);
    // slope 0.2: -2 * 0.2 = -0.4, -0.5 * 0.2 = -0.1.
    assert_close(LeakyRelu { slope: 0.2 }.apply(&x).unwrap().data(), &[-0.4, -0.1, 0.0, 1.5], 1e-7);
    assert_eq!(LeakyRelu::default().slope, 0.01);
}

#[test]
fn sigmoid_values_and_stability() {
    // sigmoid(0) = 1 / (1 + 1) = 0.5 exactly; sigmoid(2) = 1 / (1 + e^-2) = 0.880797078 (Python math.exp).
    let y = Sigmoid.apply(&Tensor::from_slice(&[0.0, 2.0, -2.0])).unwrap();
    assert_eq!(y.data()[0], 0.5);
    assert_close(&y.data()[1..], &[0.880_797_1, 1.0 - 0.880_797_1], 1e-6);
    // No overflow: e^1000 would be inf in f32, the stable form never computes it.
    let y = Sigmoid.apply(&Tensor::from_slice(&[-1000.0, 1000.0, -88.0, 89.0])).unwrap();
    assert!(y.is_finite());
    assert_eq!(y.data()[0], 0.0);
    assert_eq!(y.data()[1], 1.0);
    assert_eq!(sigmoid(f32::MAX), 1.0);
    assert_eq!(sigmoid(f32::MIN), 0.0);
    // The gradient at the saturated ends is 0, not NaN.
    let x = Tensor::from_slice(&[-1000.0, 1000.0]);
    let mut dx = Tensor::default();
    Sigmoid.backward(&x, &Sigmoid.apply(&x).unwrap(), &Tensor::from_slice(&[1.0, 1.0]), &mut dx).unwrap();
    assert_eq!(dx.data(), &[0.0, 0.0]);
}

#[test]
fn tanh_values() {
    // tanh(1) = 0.761594156, tanh(0.5) = 0.462117157 (Python math.tanh); odd function.
    let y = Tanh.apply(&Tensor::from_slice(&[0.0, 1.0, -0.5, 1e4])).unwrap();
    assert_close(y.data(), &[0.0, 0.761_594_2, -0.462_117_16, 1.0], 1e-6);
}

#[test]
fn gelu_values() {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³))) evaluated in Python (f64):
    // x = 1 -> 0.841191991, x = -1 -> -0.158808009, x = 2 -> 1.954597694, x = -3 -> -0.003637392.
    let y = Gelu.apply(&Tensor::from_slice(&[0.0, 1.0, -1.0, 2.0, -3.0])).unwrap();
    assert_close(y.data(), &[0.0, 0.841_192, -0.158_808, 1.954_597_7, -0.003_637_392], 2e-6);
    // The tanh form satisfies gelu(x) - gelu(-x) = x.
    assert!((y.data()[1] - y.data()[2] - 1.0).abs() < 1e-6);
    // Huge inputs: identity on the right, zero on the left, finite gradients (x³ overflows to inf).
    let x = Tensor::from_slice(&[1e20, -1e20, 50.0, -50.0]);
    let y = Gelu.apply(&x).unwrap();
    assert_eq!(y.data(), &[1e20, 0.0, 50.0, 0.0]);
    let mut dx = Tensor::default();
    Gelu.backward(&x, &y, &Tensor::ones(&[4]), &mut dx).unwrap();
    assert_eq!(dx.data(), &[1.0, 0.0, 1.0, 0.0]);
}

#[test]
fn softmax_rows_sum_to_one() {
    let mut rng = StrataRng::seed_from_u64(10);
    let x = Tensor::random_normal(&[5, 7], 0.0, 4.0, &mut rng).unwrap();
    let y = Softmax.apply(&x).unwrap();
    for r in 0..5 {
        let row = y.row(r).unwrap();
        assert!(row.iter().all(|&p| p > 0.0 && p < 1.0));
        let s: f32 = row.iter().sum();
        assert!((s - 1.0).abs() < 1e-6, "row {r} sums to {s}");
    }
}

#[test]
fn softmax_known_values() {
    // [0, ln 3] -> [1, 3] / 4 = [0.25, 0.75]; [0, 0, 0] -> 1/3 each.
    let x = Tensor::from_vec(&[2, 3], vec![0.0, 3f32.ln(), f32::NEG_INFINITY, 0.0, 0.0, 0.0]).unwrap();
    let y = Softmax.apply(&x).unwrap();
    assert_close(y.data(), &[0.25, 0.75, 0.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0], 1e-6);
    // Shift invariance: adding a constant to a row changes nothing.
    let shifted = Softmax.apply(&x.add_scalar(100.0)).unwrap();
    assert_close(shifted.data(), y.data(), 1e-6);
}

#[test]
fn softmax_is_stable_for_huge_logits() {
    // Without max-subtraction e^1000 = inf and inf/inf = NaN.
    let y = Softmax.apply(&Tensor::from_vec(&[2, 2], vec![1000.0, 0.0, -1000.0, -1000.0]).unwrap()).unwrap();
    assert!(y.is_finite());
    assert_eq!(y.data(), &[1.0, 0.0, 0.5, 0.5]);
    let y = Softmax.apply(&Tensor::from_slice(&[f32::MAX, f32::MAX])).unwrap();
    assert_eq!(y.data(), &[0.5, 0.5]);
}

#[test]
fn softmax_works_on_the_last_axis_of_any_rank() {
    // [2, 2, 3]: four rows of three, each normalised on its own.
    let x = Tensor::from_vec(&[2, 2, 3], (0..12).map(|i| i as f32).collect()).unwrap();
    let y = Softmax.apply(&x).unwrap();
    assert_eq!(y.shape(), &[2, 2, 3]);
    // Every row is [0, 1, 2] + c: e^[0,1,2] / (1 + e + e²) = [0.090031, 0.244728, 0.665241].
    for chunk in y.data().chunks(3) {
        assert_close(chunk, &[0.090_030_57, 0.244_728_47, 0.665_240_94], 1e-6);
    }
    // A rank-1 tensor is one row.
    let y = Softmax.apply(&Tensor::from_slice(&[0.0, 1.0, 2.0])).unwrap();
    assert_close(y.data(), &[0.090_030_57, 0.244_728_47, 0.665_240_94], 1e-6);
    // Empty rows are fine.
    assert_eq!(Softmax.apply(&Tensor::zeros(&[3, 0])).unwrap().shape(), &[3, 0]);
}

#[test]
fn elementwise_activations_accept_scalars() {
    for (label, act) in all_activations() {
        if label == "softmax" {
            continue;
        }
        let x = Tensor::scalar(0.5);
        let y = act.apply(&x).unwrap();
        assert_eq!(y.shape(), &[] as &[usize], "{label}");
        let mut dx = Tensor::default();
        act.backward(&x, &y, &Tensor::scalar(1.0), &mut dx).unwrap();
        assert_eq!(dx.shape(), &[] as &[usize], "{label}");
    }
}

#[test]
fn buffers_are_reused_once_warm() {
    let mut rng = StrataRng::seed_from_u64(11);
    for (label, act) in all_activations() {
        let (mut y, mut dx) = (Tensor::default(), Tensor::default());
        let x = Tensor::random_normal(&[8, 4], 0.0, 1.0, &mut rng).unwrap();
        let g = Tensor::random_normal(&[8, 4], 0.0, 1.0, &mut rng).unwrap();
        act.forward(&x, &mut y).unwrap();
        act.backward(&x, &y, &g, &mut dx).unwrap();
        let (py, pdx) = (y.data().as_ptr(), dx.data().as_ptr());
        // A second step with a new batch of the same shape writes in place.
        let x2 = Tensor::random_normal(&[8, 4], 0.0, 1.0, &mut rng).unwrap();
        act.forward(&x2, &mut y).unwrap();
        act.backward(&x2, &y, &g, &mut dx).unwrap();
        assert_eq!(y.data().as_ptr(), py, "{label} forward reallocated");
        assert_eq!(dx.data().as_ptr(), pdx, "{label} backward reallocated");
        assert_eq!(y, act.apply(&x2).unwrap(), "{label}: reused buffer holds stale values");
        // A smaller batch (the last one of an epoch) shrinks without reallocating.
        let x3 = Tensor::random_normal(&[2, 4], 0.0, 1.0, &mut rng).unwrap();
        act.forward(&x3, &mut y).unwrap();
        assert_eq!(y.shape(), &[2, 4]);
        assert_eq!(y.data().as_ptr(), py, "{label} forward reallocated on shrink");
    }
}

/// An activation that says its backward does not read the input must give
/// the same gradient when the input is replaced by anything of its shape
/// (layers rely on this to skip keeping a copy of the input).
#[test]
fn uses_input_false_means_backward_ignores_the_input() {
    use strata_activation::{Activation, ActivationKind};
    use strata_tensor::{StrataRng, Tensor};
    let mut rng = StrataRng::seed_from_u64(3);
    let x = Tensor::random_normal(&[4, 6], 0.0, 1.0, &mut rng).unwrap();
    let g = Tensor::random_normal(&[4, 6], 0.0, 1.0, &mut rng).unwrap();
    let junk = Tensor::random_normal(&[4, 6], 5.0, 3.0, &mut rng).unwrap();
    for name in ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax"] {
        let act: ActivationKind = name.parse().unwrap();
        if act.uses_input() {
            continue;
        }
        let y = act.apply(&x).unwrap();
        let (mut with_x, mut with_junk) = (Tensor::default(), Tensor::default());
        act.backward(&x, &y, &g, &mut with_x).unwrap();
        act.backward(&junk, &y, &g, &mut with_junk).unwrap();
        assert_eq!(with_x, with_junk, "{name}");
    }
}

#[test]
fn softmax_gives_masked_entries_probability_and_gradient_zero() {
    // Row [0, -inf, ln 3]: the unmasked entries share the mass as [1/4, 3/4].
    let ninf = f32::NEG_INFINITY;
    let x = Tensor::from_vec(&[3, 3], vec![0.0, ninf, 3f32.ln(), ninf, ninf, ninf, 1.0, f32::NAN, 0.0]).unwrap();
    let y = Softmax.apply(&x).unwrap();
    assert_close(&y.data()[0..3], &[0.25, 0.0, 0.75], 1e-6);
    // A fully masked row (every key masked in attention): zeros, not NaN.
    assert_eq!(&y.data()[3..6], &[0.0, 0.0, 0.0]);
    // A NaN propagates to its row.
    assert!(y.data()[6..9].iter().all(|v| v.is_nan()), "{y:?}");
    // Backward: no gradient reaches a masked entry or a fully masked row.
    let g = Tensor::from_vec(&[3, 3], vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 0.0, 0.0, 0.0]).unwrap();
    let mut dx = Tensor::default();
    Softmax.backward(&x, &y, &g, &mut dx).unwrap();
    // dx = y (g - Σ y g): Σ y g = 0.25 + 2.25 = 2.5, so dx = [0.25 (1 - 2.5), 0, 0.75 (3 - 2.5)].
    assert_close(&dx.data()[0..3], &[-0.375, 0.0, 0.375], 1e-6);
    assert_eq!(&dx.data()[3..6], &[0.0, 0.0, 0.0]);
}

#[test]
fn gelu_erf_values_against_the_normal_distribution() {
    // x Φ(x) with Φ from tables: Φ(0.5) = 0.6914625, Φ(1) = 0.8413447,
    // Φ(2) = 0.9772499, Φ(-1) = 0.1586553.
    let y = GeluErf.apply(&Tensor::from_slice(&[0.5, 1.0, 2.0, -1.0, 0.0])).unwrap();
    assert_close(y.data(), &[0.345_731_2, 0.841_344_7, 1.954_499_8, -0.158_655_3, 0.0], 1e-6);
    // The tanh form differs from it by at most about 5e-4 (at |x| near 2).
    let t = Gelu.apply(&Tensor::from_slice(&[0.5, 1.0, 2.0, -1.0])).unwrap();
    for (a, b) in y.data().iter().zip(t.data()) {
        assert!((a - b).abs() < 1e-3 && a != b, "{a} vs {b}");
    }
}
