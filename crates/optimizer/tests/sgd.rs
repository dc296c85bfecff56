//! SGD: plain, momentum, Nesterov, weight decay, each by hand.

use crate::common::{assert_close, t, update};
use strata_optimizer::{Optimizer, Sgd, SgdConfig};

#[test]
fn one_plain_step() {
    let mut opt = Sgd::new(SgdConfig { lr: 0.1, ..SgdConfig::default() }).unwrap();
    let mut p = t(&[1.0, -2.0, 0.0]);
    update(&mut opt, &mut p, &[0.5, 1.0, -4.0]);
    // p -= lr * g: 1 - 0.05 = 0.95, -2 - 0.1 = -2.1, 0 + 0.4 = 0.4
    assert_close(p.data(), &[0.95, -2.1, 0.4], 1e-7);
    assert!(opt.momentum_buffer("p").is_none(), "plain SGD keeps no state");
}

#[test]
fn default_hyper_parameters_are_pytorch_like() {
    assert_eq!(SgdConfig::default(), SgdConfig { lr: 0.01, momentum: 0.0, nesterov: false, weight_decay: 0.0 });
}

#[test]
fn momentum_over_two_steps() {
    let mut opt = Sgd::new(SgdConfig { lr: 0.1, momentum: 0.9, ..SgdConfig::default() }).unwrap();
    let mut p = t(&[1.0]);
    // step 1: buf = g = 1; p = 1 - 0.1 * 1 = 0.9
    update(&mut opt, &mut p, &[1.0]);
    assert_close(p.data(), &[0.9], 1e-7);
    assert_close(opt.momentum_buffer("p").unwrap().data(), &[1.0], 0.0);
    // step 2: buf = 0.9 * 1 + 1 = 1.9; p = 0.9 - 0.1 * 1.9 = 0.71
    update(&mut opt, &mut p, &[1.0]);
    assert_close(opt.momentum_buffer("p").unwrap().data(), &[1.9], 1e-7);
    assert_close(p.data(), &[0.71], 1e-6);
}

#[test]
fn nesterov_over_two_steps() {
    let cfg = SgdConfig { lr: 0.1, momentum: 0.9, nesterov: true, ..SgdConfig::default() };
    let mut opt = Sgd::new(cfg).unwrap();
    let mut p = t(&[1.0]);
    // step 1: buf = 1; d = g + 0.9 * buf = 1.9; p = 1 - 0.19 = 0.81
    update(&mut opt, &mut p, &[1.0]);
    assert_close(p.data(), &[0.81], 1e-6);
    // step 2: buf = 0.9 * 1 + 1 = 1.9; d = 1 + 0.9 * 1.9 = 2.71; p = 0.81 - 0.271 = 0.539
    update(&mut opt, &mut p, &[1.0]);
    assert_close(p.data(), &[0.539], 1e-6);
}

#[test]
fn weight_decay_is_added_to_the_gradient() {
    let mut opt = Sgd::new(SgdConfig { lr: 0.5, weight_decay: 0.1, ..SgdConfig::default() }).unwrap();
    let mut p = t(&[2.0, -1.0]);
    // g' = g + 0.1 * p = [1 + 0.2, 0 - 0.1] = [1.2, -0.1]; p -= 0.5 * g' = [1.4, -0.95]
    update(&mut opt, &mut p, &[1.0, 0.0]);
    assert_close(p.data(), &[1.4, -0.95], 1e-6);
}

#[test]
fn weight_decay_enters_the_momentum_buffer() {
    let cfg = SgdConfig { lr: 0.5, momentum: 0.5, weight_decay: 0.1, ..SgdConfig::default() };
    let mut opt = Sgd::new(cfg).unwrap();
    let mut p = t(&[2.0]);
    // step 1: g' = 1 + 0.2 = 1.2 = buf; p = 2 - 0.6 = 1.4
    update(&mut opt, &mut p, &[1.0]);
    // step 2: g' = 1 + 0.14 = 1.14; buf = 0.5 * 1.2 + 1.14 = 1.74; p = 1.4 - 0.87 = 0.53
    update(&mut opt, &mut p, &[1.0]);
    assert_close(opt.momentum_buffer("p").unwrap().data(), &[1.74], 1e-6);
    assert_close(p.data(), &[0.53], 1e-6);
}

#[test]
fn learning_rate_can_be_changed() {
    let mut opt = Sgd::new(SgdConfig::default()).unwrap();
    assert_eq!(opt.learning_rate(), 0.01);
    opt.set_learning_rate(1.0);
    assert_eq!(opt.learning_rate(), 1.0);
    let mut p = t(&[1.0]);
    // p = 1 - 1.0 * 0.25
    update(&mut opt, &mut p, &[0.25]);
    assert_eq!(p.data(), &[0.75]);
}

#[test]
fn clear_state_restarts_momentum() {
    let mut opt = Sgd::new(SgdConfig { lr: 0.1, momentum: 0.9, ..SgdConfig::default() }).unwrap();
    let mut p = t(&[1.0]);
    update(&mut opt, &mut p, &[1.0]);
    assert!(opt.remove_state("p"));
    assert!(!opt.remove_state("p"));
    // fresh buffer: buf = g = 1 again, p = 0.9 - 0.1 = 0.8
    update(&mut opt, &mut p, &[1.0]);
    assert_close(p.data(), &[0.8], 1e-6);
    opt.clear_state();
    assert!(opt.momentum_buffer("p").is_none());
}
