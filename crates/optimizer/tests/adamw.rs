//! AdamW: decoupled weight decay versus Adam's L2 penalty.

use crate::common::{assert_close, t, update};
use strata_optimizer::{Adam, AdamConfig, AdamW, AdamWConfig};

#[test]
fn default_weight_decay_is_one_hundredth() {
    let c = AdamWConfig::default();
    assert_eq!((c.lr, c.beta1, c.beta2, c.eps, c.weight_decay), (1e-3, 0.9, 0.999, 1e-8, 1e-2));
}

#[test]
fn decoupled_decay_is_added_to_the_adam_step() {
    let (lr, wd) = (0.1, 0.1);
    let mut adamw = AdamW::new(AdamWConfig { lr, weight_decay: wd, ..AdamWConfig::default() }).unwrap();
    let mut adam_l2 = Adam::new(AdamConfig { lr, weight_decay: wd, ..AdamConfig::default() }).unwrap();
    let (mut p_w, mut p_l2) = (t(&[1.0]), t(&[1.0]));
    update(&mut adamw, &mut p_w, &[1.0]);
    update(&mut adam_l2, &mut p_l2, &[1.0]);
    // AdamW: p = 1 * (1 - 0.1 * 0.1) = 0.99, then the Adam step lr * sign(1) = 0.1: 0.89
    assert_close(p_w.data(), &[0.89], 1e-6);
    // Adam + L2: g' = 1 + 0.1 = 1.1, first step lr * sign(1.1) = 0.1: 0.9 (the decay vanished)
    assert_close(p_l2.data(), &[0.9], 1e-6);
    // The difference is exactly the decoupled term lr * wd * p = 0.01.
    assert_close(&[p_l2.data()[0] - p_w.data()[0]], &[0.01], 1e-6);
}

#[test]
fn with_zero_gradient_only_the_decay_acts() {
    // AdamW, g = 0: p *= 1 - lr * wd = 1 - 0.1 * 0.5 = 0.95, and m = v = 0 adds nothing.
    let mut adamw = AdamW::new(AdamWConfig { lr: 0.1, weight_decay: 0.5, ..AdamWConfig::default() }).unwrap();
    let mut p = t(&[2.0, -4.0]);
    update(&mut adamw, &mut p, &[0.0, 0.0]);
    assert_close(p.data(), &[1.9, -3.8], 1e-6);
    assert_close(adamw.state("p").unwrap().exp_avg.data(), &[0.0, 0.0], 0.0);
    // Adam + L2 with the same numbers takes a full lr step towards 0 instead:
    // g' = 0.5 * p, first step lr * sign(p) = 0.1.
    let mut adam = Adam::new(AdamConfig { lr: 0.1, weight_decay: 0.5, ..AdamConfig::default() }).unwrap();
    let mut q = t(&[2.0, -4.0]);
    update(&mut adam, &mut q, &[0.0, 0.0]);
    assert_close(q.data(), &[1.9, -3.9], 1e-6);
}

#[test]
fn without_decay_adamw_is_adam() {
    let mut adamw = AdamW::new(AdamWConfig { lr: 0.05, weight_decay: 0.0, ..AdamWConfig::default() }).unwrap();
    let mut adam = Adam::new(AdamConfig { lr: 0.05, ..AdamConfig::default() }).unwrap();
    let (mut a, mut b) = (t(&[1.0, -2.0]), t(&[1.0, -2.0]));
    for g in [[0.3, -1.0], [0.1, 2.0], [-0.5, 0.25]] {
        update(&mut adamw, &mut a, &g);
        update(&mut adam, &mut b, &g);
    }
    assert_eq!(a.data(), b.data());
}
