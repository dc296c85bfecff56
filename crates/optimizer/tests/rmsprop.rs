//! RMSprop by hand.

use crate::common::{assert_close, t, update};
use strata_optimizer::{RmsProp, RmsPropConfig};

#[test]
fn default_hyper_parameters_are_pytorch_like() {
    let c = RmsPropConfig::default();
    assert_eq!((c.lr, c.alpha, c.eps, c.momentum, c.weight_decay), (1e-2, 0.99, 1e-8, 0.0, 0.0));
}

#[test]
fn one_step_by_hand() {
    let mut opt = RmsProp::new(RmsPropConfig::default()).unwrap();
    let mut p = t(&[1.0, 0.0]);
    // square_avg = 0.99 * 0 + 0.01 * g^2 = [0.04, 0.0001]; avg = sqrt + eps = [0.2, 0.01]
    // p -= 0.01 * g / avg: [1 - 0.01 * 2 / 0.2, 0 + 0.01 * 0.1 / 0.01] = [0.9, 0.1]
    update(&mut opt, &mut p, &[2.0, -0.1]);
    // (1 - 0.99f32 = 0.00999999: alpha is an f32, hence the 1e-7 tolerance)
    assert_close(opt.state("p").unwrap().square_avg.data(), &[0.04, 0.0001], 1e-7);
    assert_close(p.data(), &[0.9, 0.1], 1e-6);
    assert!(opt.state("p").unwrap().momentum_buffer.is_none());
}

#[test]
fn momentum_over_two_steps_by_hand() {
    let mut opt = RmsProp::new(RmsPropConfig { momentum: 0.9, ..RmsPropConfig::default() }).unwrap();
    let mut p = t(&[1.0]);
    // step 1, g = 2: square_avg = 0.04, avg = 0.2, buf = 2 / 0.2 = 10, p = 1 - 0.01 * 10 = 0.9
    update(&mut opt, &mut p, &[2.0]);
    assert_close(p.data(), &[0.9], 1e-6);
    // step 2, g = 2: square_avg = 0.99 * 0.04 + 0.01 * 4 = 0.0796, avg = 0.282135,
    // buf = 0.9 * 10 + 2 / 0.282135 = 9 + 7.088812 = 16.088812, p = 0.9 - 0.160888 = 0.739112
    update(&mut opt, &mut p, &[2.0]);
    assert_close(opt.state("p").unwrap().momentum_buffer.as_ref().unwrap().data(), &[16.088812], 1e-4);
    assert_close(p.data(), &[0.739112], 1e-6);
}

#[test]
fn weight_decay_is_added_to_the_gradient() {
    let mut opt = RmsProp::new(RmsPropConfig { weight_decay: 1.0, ..RmsPropConfig::default() }).unwrap();
    let mut p = t(&[1.0]);
    // g' = 1 + 1 * 1 = 2: the same as one_step_by_hand's first element, p = 0.9
    update(&mut opt, &mut p, &[1.0]);
    assert_close(p.data(), &[0.9], 1e-6);
}
