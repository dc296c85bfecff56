//! The learning-rate range test on the MNIST MLP with Adam: the suggestion
//! lies in [3e-4, 3e-3] (the range the issue sets), training with it reaches
//! at least 93% on the test set, and the sweep leaves the weights alone.

use crate::common::{mlp, mnist};
use strata_activation::ActivationKind;
use strata_layers::state_dict;
use strata_loss::LossKind;
use strata_optimizer::{OptimizerConfig, Schedule};
use strata_report::{LrFindConfig, ReportError, lr_find};
use strata_training::{FitConfig, Progress, Trainer, evaluate};

#[test]
fn the_suggestion_for_the_mnist_mlp_with_adam_trains_to_93_percent() {
    let (train, test) = mnist();
    let mut model = mlp(&[784, 256, 128, 10], ActivationKind::Relu, 0.0, 0);
    let before = state_dict(model.as_mut());
    let sweep = lr_find(model.as_mut(), &train, LossKind::CrossEntropy, &LrFindConfig::default()).expect("sweep");
    assert_eq!(state_dict(model.as_mut()), before, "the sweep must put the weights back");
    let lr = sweep.suggestion.expect("a suggestion");
    assert!((3e-4..=3e-3).contains(&lr), "suggested {lr:e}; sweep stopped: {:?}", sweep.stopped);
    assert!(sweep.rates.windows(2).all(|w| w[1] > w[0]), "rates grow");
    // As `strata train` trains the MLP: one epoch of warm-up, then cosine decay, over 20 epochs.
    let steps = train.len().div_ceil(64);
    let schedule = Schedule::LinearWarmup {
        warmup_steps: steps,
        then: Box::new(Schedule::Cosine { total_steps: 19 * steps, min_lr: 0.0 }),
    };
    let config = FitConfig { epochs: 20, batch_size: 64, schedule, progress: Progress::Silent, ..FitConfig::default() };
    let mut trainer =
        Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name("adam", lr).expect("adam"))
            .expect("trainer");
    trainer.fit(model.as_mut(), &train, None).expect("trains");
    let accuracy =
        evaluate(model.as_mut(), &test, &LossKind::CrossEntropy).expect("evaluates").accuracy.expect("accuracy");
    assert!(accuracy >= 0.93, "test accuracy {accuracy} with lr {lr:e}");
}

#[test]
fn a_bad_range_is_refused_with_both_numbers() {
    let (train, _) = mnist();
    let mut model = mlp(&[784, 10], ActivationKind::Relu, 0.0, 0);
    let config = LrFindConfig { start: 1.0, end: 0.1, ..LrFindConfig::default() };
    let err = lr_find(model.as_mut(), &train, LossKind::CrossEntropy, &config).expect_err("end below start");
    assert!(matches!(err, ReportError::Mismatch { operation: "lr-find", .. }));
    assert_eq!(err.to_string(), "lr-find: expected 0 < start < end, got start 1 and end 0.1");
}

#[test]
fn a_sweep_of_too_many_steps_is_refused_and_a_wide_one_stays_finite() {
    let (train, _) = mnist();
    let mut model = mlp(&[784, 10], ActivationKind::Relu, 0.0, 0);
    let config = LrFindConfig { steps: usize::MAX, ..LrFindConfig::default() };
    let err = lr_find(model.as_mut(), &train, LossKind::CrossEntropy, &config).expect_err("endless sweep");
    assert_eq!(err.to_string(), format!("lr-find: expected 10 to 100000 steps, got {}", usize::MAX));
    // 1e-7 to 1e38: the ratio, 1e45, is beyond f32; every rate swept is finite.
    let config = LrFindConfig { end: 1e38, steps: 20, ..LrFindConfig::default() };
    let sweep = lr_find(model.as_mut(), &train, LossKind::CrossEntropy, &config).expect("sweep");
    assert!(sweep.rates.iter().all(|r| r.is_finite() && *r > 0.0), "{:?}", sweep.rates);
}
