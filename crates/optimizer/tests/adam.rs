//! Adam: the first step is `lr * sign(g)`, two steps by hand, L2 decay.

use crate::common::{assert_close, t, update};
use strata_optimizer::{Adam, AdamConfig, Optimizer};

#[test]
fn default_hyper_parameters_are_pytorch_like() {
    let c = AdamConfig::default();
    assert_eq!((c.lr, c.beta1, c.beta2, c.eps, c.weight_decay), (1e-3, 0.9, 0.999, 1e-8, 0.0));
}

#[test]
fn first_step_moves_each_element_by_lr_against_the_gradient_sign() {
    // t = 1: m = (1 - b1) g, v = (1 - b2) g^2, so m_hat = g and v_hat = g^2 and
    // the step is lr * g / (|g| + eps) = lr * sign(g) (up to eps / |g| <= 1e-5 here),
    // whatever the gradient's scale.
    let lr = 0.01;
    let mut opt = Adam::new(AdamConfig { lr, ..AdamConfig::default() }).unwrap();
    let start = [1.0, -2.0, 0.5, 3.0, 0.0];
    let grad = [0.5, -3.0, 1e-3, 250.0, -7.0];
    let mut p = t(&start);
    update(&mut opt, &mut p, &grad);
    for ((&p1, &p0), &g) in p.data().iter().zip(&start).zip(&grad) {
        let moved = p1 - p0;
        assert!((moved + lr * g.signum()).abs() < lr * 1e-4, "g = {g}: moved {moved}, expected {}", -lr * g.signum());
    }
    assert_eq!(opt.state("p").unwrap().step, 1);
}

#[test]
fn two_steps_by_hand() {
    let mut opt = Adam::new(AdamConfig { lr: 0.1, ..AdamConfig::default() }).unwrap();
    let mut p = t(&[1.0]);
    // step 1, g = 1: m = 0.1, v = 0.001, m_hat = 1, v_hat = 1, p = 1 - 0.1 * 1 / (1 + 1e-8) = 0.9
    update(&mut opt, &mut p, &[1.0]);
    assert_close(p.data(), &[0.9], 1e-6);
    // step 2, g = 0.5:
    //   m = 0.9 * 0.1 + 0.1 * 0.5 = 0.14
    //   v = 0.999 * 0.001 + 0.001 * 0.25 = 0.001249
    //   m_hat = 0.14 / (1 - 0.9^2) = 0.14 / 0.19 = 0.736842
    //   v_hat = 0.001249 / (1 - 0.999^2) = 0.001249 / 0.001999 = 0.624812, sqrt = 0.790451
    //   p = 0.9 - 0.1 * 0.736842 / 0.790451 = 0.9 - 0.0932180 = 0.806782
    update(&mut opt, &mut p, &[0.5]);
    let s = opt.state("p").unwrap();
    assert_eq!(s.step, 2);
    assert_close(s.exp_avg.data(), &[0.14], 1e-6);
    // (1 - 0.999f32 = 0.00099998713: beta2 is an f32, so v is off by ~1e-5 relative)
    assert_close(s.exp_avg_sq.data(), &[0.001249], 1e-7);
    assert_close(p.data(), &[0.806782], 2e-6);
}

#[test]
fn l2_weight_decay_enters_the_gradient_and_is_normalised_away() {
    // Adam's L2 decay is added to g before the moments: with g = 0 and p = 1,
    // g' = 0.1 * 1 = 0.1 and the first step is still lr * sign(g') = 0.1.
    let mut opt = Adam::new(AdamConfig { lr: 0.1, weight_decay: 0.1, ..AdamConfig::default() }).unwrap();
    let mut p = t(&[1.0, -1.0]);
    update(&mut opt, &mut p, &[0.0, 0.0]);
    assert_close(p.data(), &[0.9, -0.9], 1e-6);
    // The moments saw g' = [0.1, -0.1]: m = 0.1 * g'.
    assert_close(opt.state("p").unwrap().exp_avg.data(), &[0.01, -0.01], 1e-8);
}

#[test]
fn step_counts_are_per_parameter() {
    // PyTorch keeps state['step'] per parameter: a parameter first updated later
    // gets bias correction for its own t = 1 (a full lr-sized first step).
    let mut opt = Adam::new(AdamConfig { lr: 0.1, ..AdamConfig::default() }).unwrap();
    let (mut a, mut b) = (t(&[0.0]), t(&[0.0]));
    for _ in 0..5 {
        opt.update("a", &mut a, &t(&[1.0])).unwrap();
    }
    opt.update("b", &mut b, &t(&[1.0])).unwrap();
    assert_eq!(opt.state("a").unwrap().step, 5);
    assert_eq!(opt.state("b").unwrap().step, 1);
    assert_close(b.data(), &[-0.1], 1e-6);
}

#[test]
fn zero_gradient_from_the_start_does_not_move() {
    // m = v = 0: m_hat / (sqrt(v_hat) + eps) = 0 / eps = 0.
    let mut opt = Adam::new(AdamConfig::default()).unwrap();
    let mut p = t(&[1.5]);
    update(&mut opt, &mut p, &[0.0]);
    assert_eq!(p.data(), &[1.5]);
    assert_eq!(opt.learning_rate(), 1e-3);
}
