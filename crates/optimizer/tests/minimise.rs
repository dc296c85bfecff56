//! Behaviour: every optimizer minimises f(p) = sum((p - c)^2) through
//! `Optimizer::step` over a visitor (with a buffer that must be skipped).

use strata_optimizer::{AdamConfig, AdamWConfig, OptimizerConfig, RmsPropConfig, Schedule, SgdConfig, clip_grad_norm};
use strata_tensor::{ParamVisitor, StrataRng, Tensor};

/// f(p) = sum((p - c)^2).
fn loss(p: &Tensor, c: &Tensor) -> f32 {
    p.sub(c).unwrap().sum_squares() as f32
}

/// Run `steps` steps of `config` from a seeded start; return (f at start, f at end).
/// The gradient of f is 2 (p - c). With `clip`, gradients are clipped to norm 1
/// first, and with `schedule` the learning rate follows it.
fn minimise(config: OptimizerConfig, steps: usize, clip: bool, schedule: &Schedule) -> (f32, f32) {
    let mut rng = StrataRng::seed_from_u64(7);
    let mut p = Tensor::random_normal(&[4, 3], 0.0, 1.0, &mut rng).unwrap();
    let c = Tensor::random_uniform(&[4, 3], -2.0, 2.0, &mut rng).unwrap();
    let mut bias = Tensor::random_normal(&[3], 0.0, 1.0, &mut rng).unwrap();
    let mut running = Tensor::from_slice(&[1.0, 2.0]);
    let mut grad = Tensor::zeros(&[4, 3]);
    let mut bias_grad = Tensor::zeros(&[3]);
    let base_lr = config.lr();
    let mut opt = config.build().unwrap();
    let start = loss(&p, &c) + bias.sum_squares() as f32;
    let mut path = String::new();
    for step in 0..steps {
        for ((g, &x), &y) in grad.data_mut().iter_mut().zip(p.data()).zip(c.data()) {
            *g = 2.0 * (x - y);
        }
        // A second parameter: f += sum(bias^2), minimum at 0.
        for (g, &b) in bias_grad.data_mut().iter_mut().zip(bias.data()) {
            *g = 2.0 * b;
        }
        let mut model = |v: &mut ParamVisitor<'_>| {
            v.scope("layer", |v| {
                v.param("weight", &mut p, &mut grad);
                v.param("bias", &mut bias, &mut bias_grad);
                v.buffer("running_mean", &mut running);
            });
        };
        if clip {
            clip_grad_norm(&mut model, &mut path, 1.0);
        }
        schedule.apply(opt.as_mut(), base_lr, step);
        opt.step(&mut model, &mut path).unwrap();
    }
    assert_eq!(running.data(), &[1.0, 2.0], "the buffer must not be touched");
    (start, loss(&p, &c) + bias.sum_squares() as f32)
}

#[track_caller]
fn check(config: OptimizerConfig, steps: usize, tol: f32) {
    let name = config.name();
    let (start, end) = minimise(config, steps, false, &Schedule::Constant);
    assert!(start > 5.0, "{name}: the seeded start should be far from the minimum, f = {start}");
    eprintln!("{name}: f {start} -> {end} in {steps} steps (tolerance {tol})");
    assert!(end < tol, "{name}: f went from {start} to {end} in {steps} steps, expected < {tol}");
}

#[test]
fn sgd_minimises_a_quadratic() {
    // p - c shrinks by (1 - 2 lr) = 0.8 per step: 0.8^(2*100) ~ 4e-20 of the start.
    check(OptimizerConfig::Sgd(SgdConfig { lr: 0.1, ..SgdConfig::default() }), 100, 1e-8);
}

#[test]
fn sgd_with_momentum_minimises_a_quadratic() {
    let cfg = SgdConfig { lr: 0.05, momentum: 0.9, ..SgdConfig::default() };
    check(OptimizerConfig::Sgd(cfg), 300, 1e-6);
}

#[test]
fn sgd_with_nesterov_minimises_a_quadratic() {
    let cfg = SgdConfig { lr: 0.05, momentum: 0.9, nesterov: true, ..SgdConfig::default() };
    check(OptimizerConfig::Sgd(cfg), 300, 1e-6);
}

#[test]
fn adam_minimises_a_quadratic() {
    check(OptimizerConfig::Adam(AdamConfig { lr: 0.05, ..AdamConfig::default() }), 500, 1e-6);
}

#[test]
fn adamw_minimises_a_quadratic() {
    // The decay pulls the minimum slightly towards 0: a looser tolerance.
    check(OptimizerConfig::AdamW(AdamWConfig { lr: 0.05, ..AdamWConfig::default() }), 500, 1e-3);
}

#[test]
fn rmsprop_minimises_a_quadratic() {
    check(OptimizerConfig::RmsProp(RmsPropConfig::default()), 500, 1e-4);
}

#[test]
fn rmsprop_with_momentum_minimises_a_quadratic() {
    let cfg = RmsPropConfig { lr: 1e-3, momentum: 0.9, ..RmsPropConfig::default() };
    check(OptimizerConfig::RmsProp(cfg), 500, 1e-5);
}

#[test]
fn clipping_and_a_schedule_still_converge() {
    let schedule =
        Schedule::LinearWarmup { warmup_steps: 20, then: Box::new(Schedule::Cosine { total_steps: 980, min_lr: 0.0 }) };
    let cfg = OptimizerConfig::Adam(AdamConfig { lr: 0.05, ..AdamConfig::default() });
    let (start, end) = minimise(cfg, 1000, true, &schedule);
    assert!(end < 1e-3, "f went from {start} to {end}");
}
