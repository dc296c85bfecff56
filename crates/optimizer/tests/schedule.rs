//! Learning-rate schedules at specific steps.

use crate::common::assert_close;
use strata_optimizer::{Optimizer, OptimizerError, Schedule, Sgd, SgdConfig};

#[test]
fn constant_is_the_base() {
    assert_eq!(Schedule::default(), Schedule::Constant);
    assert_eq!(Schedule::Constant.lr_at(0.3, 0), 0.3);
    assert_eq!(Schedule::Constant.lr_at(0.3, 1_000_000), 0.3);
}

#[test]
fn step_decay() {
    let s = Schedule::Step { step_size: 10, gamma: 0.5 };
    // base * 0.5^(step / 10)
    assert_eq!(s.lr_at(1.0, 0), 1.0);
    assert_eq!(s.lr_at(1.0, 9), 1.0);
    assert_eq!(s.lr_at(1.0, 10), 0.5);
    assert_eq!(s.lr_at(1.0, 25), 0.25);
    assert_eq!(s.lr_at(0.8, 30), 0.1);
}

#[test]
fn cosine_at_start_half_and_end() {
    let s = Schedule::Cosine { total_steps: 100, min_lr: 0.1 };
    // min + (base - min) (1 + cos(pi t / T)) / 2 with base 1, min 0.1:
    // t = 0: cos 0 = 1 -> 1; t = 50: cos(pi/2) = 0 -> 0.1 + 0.45 = 0.55; t = 100: cos(pi) = -1 -> 0.1
    assert_close(&[s.lr_at(1.0, 0)], &[1.0], 0.0);
    assert_close(&[s.lr_at(1.0, 50)], &[0.55], 1e-7);
    assert_close(&[s.lr_at(1.0, 100)], &[0.1], 0.0);
    // t = 25: cos(pi/4) = 0.7071068 -> 0.1 + 0.9 * 1.7071068 / 2 = 0.868198
    assert_close(&[s.lr_at(1.0, 25)], &[0.868198], 1e-6);
    // constant after the end
    assert_eq!(s.lr_at(1.0, 1000), 0.1);
}

#[test]
fn cosine_decreases_monotonically() {
    let s = Schedule::Cosine { total_steps: 37, min_lr: 0.0 };
    let lrs: Vec<f32> = (0..=40).map(|t| s.lr_at(2.0, t)).collect();
    assert!(lrs.windows(2).all(|w| w[1] <= w[0]), "{lrs:?}");
}

#[test]
fn linear_warmup_ramps_then_hands_over() {
    let s = Schedule::LinearWarmup { warmup_steps: 4, then: Box::new(Schedule::Step { step_size: 2, gamma: 0.1 }) };
    // ramp: base * (t + 1) / 4 = 0.25, 0.5, 0.75, 1 (times base 2)
    let ramp: Vec<f32> = (0..4).map(|t| s.lr_at(2.0, t)).collect();
    assert_eq!(ramp, [0.5, 1.0, 1.5, 2.0]);
    // then the step schedule from its own step 0: steps 4, 5 -> 2; 6, 7 -> 0.2
    assert_eq!(s.lr_at(2.0, 4), 2.0);
    assert_eq!(s.lr_at(2.0, 5), 2.0);
    assert_close(&[s.lr_at(2.0, 6), s.lr_at(2.0, 7)], &[0.2, 0.2], 1e-7);
}

#[test]
fn warmup_then_cosine() {
    let s =
        Schedule::LinearWarmup { warmup_steps: 10, then: Box::new(Schedule::Cosine { total_steps: 20, min_lr: 0.0 }) };
    assert_close(&[s.lr_at(1.0, 0)], &[0.1], 1e-7); // 1/10 of the base: small, not 0
    assert_eq!(s.lr_at(1.0, 10), 1.0); // cosine's step 0
    assert_close(&[s.lr_at(1.0, 20)], &[0.5], 1e-7); // cosine's step 10 of 20
    assert_eq!(s.lr_at(1.0, 30), 0.0);
}

#[test]
fn zero_warmup_is_the_inner_schedule() {
    let s = Schedule::LinearWarmup { warmup_steps: 0, then: Box::new(Schedule::Constant) };
    assert_eq!(s.lr_at(0.5, 0), 0.5);
}

#[test]
fn apply_sets_the_learning_rate() {
    let mut opt = Sgd::new(SgdConfig::default()).unwrap();
    let s = Schedule::Step { step_size: 1, gamma: 0.5 };
    // 0.4 * 0.5^3 = 0.05
    assert_eq!(s.apply(&mut opt, 0.4, 3), 0.05);
    assert_eq!(opt.learning_rate(), 0.05);
}

#[test]
fn validation() {
    let bad = [
        (Schedule::Step { step_size: 0, gamma: 0.5 }, "step_size"),
        (Schedule::Step { step_size: 1, gamma: 0.0 }, "gamma"),
        (Schedule::Step { step_size: 1, gamma: f32::NAN }, "gamma"),
        (Schedule::Cosine { total_steps: 0, min_lr: 0.0 }, "total_steps"),
        (Schedule::Cosine { total_steps: 10, min_lr: -1.0 }, "min_lr"),
        (
            Schedule::LinearWarmup {
                warmup_steps: 3,
                then: Box::new(Schedule::Cosine { total_steps: 0, min_lr: 0.0 }),
            },
            "total_steps",
        ),
    ];
    for (s, field) in bad {
        let err = s.validate().unwrap_err();
        assert!(matches!(err, OptimizerError::InvalidHyperParameter { name, .. } if name == field), "{s:?}: {err:?}");
        // lr_at never panics, even unvalidated.
        let _ = s.lr_at(1.0, 5);
    }
    assert!(Schedule::Step { step_size: 3, gamma: 0.9 }.validate().is_ok());
}

#[test]
fn serde_round_trip_and_tags() {
    let s = Schedule::LinearWarmup { warmup_steps: 5, then: Box::new(Schedule::Step { step_size: 2, gamma: 0.5 }) };
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(json, r#"{"kind":"linear_warmup","warmup_steps":5,"then":{"kind":"step","step_size":2,"gamma":0.5}}"#);
    assert_eq!(serde_json::from_str::<Schedule>(&json).unwrap(), s);
    assert_eq!(serde_json::from_str::<Schedule>(r#"{"kind":"constant"}"#).unwrap(), Schedule::Constant);
    assert!(serde_json::from_str::<Schedule>(r#"{"kind":"cosine","total_steps":3,"min_lr":0,"x":1}"#).is_err());
}
