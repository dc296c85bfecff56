//! Analytic backward vs central finite differences.
//!
//! For an activation `y = f(x)` and a random upstream gradient `g`, the scalar
//! `s(x) = Σ_i g_i f(x)_i` has `ds/dx = backward(g)`. Each element of `x` is
//! perturbed by `±H` and `(s(x+H e_i) - s(x-H e_i)) / (2H)` is compared with
//! the analytic gradient. `f` runs in `f32` (the code under test); `s` and the
//! difference are accumulated in `f64`, so the unperturbed elements cancel
//! exactly.
//!
//! Step and tolerance: inputs are ~N(0, 1), so the truncation error of the
//! central difference is `H² |f'''| / 6 ≈ 2e-5 · |f'''|` with `|f'''| ≲ 2` for
//! these functions, and the `f32` rounding of the outputs contributes about
//! `ε_f32 · |g y| / H ≈ 6e-8 · 3 / 1e-2 ≈ 2e-5` (a smaller `H` would make this
//! term grow, a larger one the truncation term). Both are far below the
//! tolerance `|a - n| ≤ ATOL + RTOL · max(|a|, |n|)` with `RTOL = 1e-2` and
//! `ATOL = 1e-3`, which still catches any wrong factor or sign (those give
//! errors of order 1 in relative terms). With these seeds the largest error
//! seen is 4 % of the tolerance (GELU on N(0, 3²) inputs, truncation error);
//! for N(0, 1) inputs the test asserts it stays below 20 %.

use crate::{all_activations, all_kinds};
use strata_activation::{Activation, LeakyRelu, Relu, Softmax};
use strata_tensor::{StrataRng, Tensor};

const H: f32 = 1e-2;
const RTOL: f64 = 1e-2;
const ATOL: f64 = 1e-3;

/// `Σ_i g_i f(x)_i` in f64.
fn weighted_sum(act: &dyn Activation, x: &Tensor, g: &Tensor) -> f64 {
    let y = act.apply(x).unwrap();
    y.data().iter().zip(g.data()).map(|(&y, &g)| f64::from(y) * f64::from(g)).sum()
}

/// Compare backward with finite differences at `x`; returns the largest
/// scaled error `|a - n| / (ATOL + RTOL max(|a|, |n|))` (must be < 1).
fn check_gradient(act: &dyn Activation, x: &Tensor, rng: &mut StrataRng) -> f64 {
    let g = Tensor::random_normal(x.shape(), 0.0, 1.0, rng).unwrap();
    let mut y = Tensor::default();
    act.forward(x, &mut y).unwrap();
    let mut dx = Tensor::default();
    act.backward(x, &y, &g, &mut dx).unwrap();
    assert_eq!(dx.shape(), x.shape());

    let mut worst = 0.0f64;
    let mut xp = x.clone();
    for i in 0..x.len() {
        let xi = x.data()[i];
        xp.data_mut()[i] = xi + H;
        let plus = weighted_sum(act, &xp, &g);
        let step_plus = f64::from(xp.data()[i]);
        xp.data_mut()[i] = xi - H;
        let minus = weighted_sum(act, &xp, &g);
        let step_minus = f64::from(xp.data()[i]);
        xp.data_mut()[i] = xi;
        // Divide by the step actually taken in f32.
        let numeric = (plus - minus) / (step_plus - step_minus);
        let analytic = f64::from(dx.data()[i]);
        let scaled = (analytic - numeric).abs() / (ATOL + RTOL * analytic.abs().max(numeric.abs()));
        assert!(scaled < 1.0, "{}: element {i} (x = {xi}): analytic {analytic}, numeric {numeric}", act.name());
        worst = worst.max(scaled);
    }
    worst
}

/// N(0, 1) inputs moved away from 0 (|x| > 3H), so ReLU-type kinks are never
/// inside the `±H` stencil.
fn away_from_kink(shape: &[usize], rng: &mut StrataRng) -> Tensor {
    let mut x = Tensor::random_normal(shape, 0.0, 1.0, rng).unwrap();
    x.map_inplace(|v| if v < 0.0 { v - 3.0 * H } else { v + 3.0 * H });
    x
}

#[test]
fn every_activation_matches_finite_differences() {
    let mut rng = StrataRng::seed_from_u64(1);
    for (label, act) in all_activations() {
        for shape in [&[4, 5][..], &[2, 3, 4], &[7]] {
            let x = away_from_kink(shape, &mut rng);
            let worst = check_gradient(act.as_ref(), &x, &mut rng);
            // The observed error is an order of magnitude inside the tolerance.
            assert!(worst < 0.2, "{label} {shape:?}: worst scaled error {worst}");
        }
    }
}

#[test]
fn every_activation_kind_matches_finite_differences() {
    let mut rng = StrataRng::seed_from_u64(2);
    for kind in all_kinds() {
        let x = away_from_kink(&[3, 6], &mut rng);
        check_gradient(&kind, &x, &mut rng);
    }
}

#[test]
fn smooth_activations_match_finite_differences_on_wide_inputs() {
    // N(0, 3²) reaches the saturated tails of sigmoid/tanh/GELU and large
    // softmax logits; no kink-avoidance needed for smooth functions.
    let mut rng = StrataRng::seed_from_u64(3);
    for (label, act) in all_activations() {
        if matches!(label, "relu" | "leaky_relu") {
            continue;
        }
        let x = Tensor::random_normal(&[6, 8], 0.0, 3.0, &mut rng).unwrap();
        check_gradient(act.as_ref(), &x, &mut rng);
    }
}

#[test]
fn relu_family_with_negative_and_large_slopes() {
    let mut rng = StrataRng::seed_from_u64(4);
    for act in [LeakyRelu { slope: -0.5 }, LeakyRelu { slope: 3.0 }, LeakyRelu { slope: 0.0 }] {
        let x = away_from_kink(&[5, 5], &mut rng);
        check_gradient(&act, &x, &mut rng);
    }
    let x = away_from_kink(&[5, 5], &mut rng);
    check_gradient(&Relu, &x, &mut rng);
}

#[test]
fn softmax_backward_is_the_jacobian_product() {
    // Full Jacobian J = diag(y) - y yᵀ for one row, built by hand, times g.
    let x = Tensor::from_vec(&[1, 3], vec![0.5, -1.0, 2.0]).unwrap();
    let y = Softmax.apply(&x).unwrap();
    let g = Tensor::from_vec(&[1, 3], vec![1.0, -2.0, 0.5]).unwrap();
    let mut dx = Tensor::default();
    Softmax.backward(&x, &y, &g, &mut dx).unwrap();
    let yd = y.data();
    for i in 0..3 {
        let expected: f32 = (0..3).map(|j| (if i == j { yd[i] } else { 0.0 } - yd[i] * yd[j]) * g.data()[j]).sum();
        assert!((dx.data()[i] - expected).abs() < 1e-6, "{i}: {} vs {expected}", dx.data()[i]);
    }
}
