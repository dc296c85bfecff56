//! Each rule of the diagnosis on a history written out by hand: the figures
//! of runs the audit of the report made (`strata train ...`, seed 0, as
//! printed per epoch), so that a rule is judged on exactly the curve that
//! misled it. The thresholds are those of `Thresholds::default()`.

use strata_report::{ActivationStats, Diagnosis, Evidence, Finding, Observations, Thresholds, Verdict, diagnose};
use strata_training::{EpochRecord, History, Metrics, StopRecord};

/// `ln 10` (2.3026): the loss of predicting the class frequencies of ten balanced classes (MNIST, the digits).
const LN_10: f32 = std::f32::consts::LN_10;

/// Healthy weight-gradient norms (first and last weight within 3x, as the MNIST MLP's).
const FLOWING: &[(&str, f32)] = &[("dense_1.weight", 0.05), ("dense_3.weight", 0.1)];

/// A run's per-epoch figures; empty slices are figures the run did not have.
#[derive(Default)]
struct Curves<'a> {
    train: &'a [f32],
    /// Training accuracies in percent (empty: a regression).
    accuracy: &'a [f32],
    val: &'a [f32],
    /// Learning rate per epoch (empty: 1e-3 throughout).
    lr: &'a [f32],
    /// Every epoch's weight-gradient norms (empty: `FLOWING`).
    grads: &'a [(&'a str, f32)],
}

fn history(c: &Curves<'_>) -> History {
    let grads = if c.grads.is_empty() { FLOWING } else { c.grads };
    let epochs = c
        .train
        .iter()
        .enumerate()
        .map(|(i, &train_loss)| EpochRecord {
            epoch: i + 1,
            batches: 57,
            train_loss,
            train_accuracy: c.accuracy.get(i).map(|a| a / 100.0),
            validation: c.val.get(i).map(|&loss| Metrics { loss, accuracy: None, n_samples: 400 }),
            learning_rate: c.lr.get(i).copied().unwrap_or(1e-3),
            seconds: 0.1,
            grad_norms: grads.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        })
        .collect();
    History { epochs, best_epoch: None, stopped: None }
}

/// The observations of a run: the first batch's loss and the last probe's activation layers.
fn observed(initial_loss: f32, activations: Vec<ActivationStats>) -> Observations {
    Observations { initial_loss: Some(initial_loss), activations: vec![activations], ..Observations::default() }
}

fn judge(history: &History, observations: Option<&Observations>, baseline: f32) -> Diagnosis {
    diagnose(&Evidence { history, observations, baseline_loss: Some(baseline) }, &Thresholds::default())
}

fn relu(layer: &str, units: usize, dead_share: f32) -> ActivationStats {
    ActivationStats {
        layer: layer.into(),
        activation: "relu".into(),
        units,
        dead_share: Some(dead_share),
        saturated_share: None,
    }
}

fn finding(d: &Diagnosis, verdict: Verdict) -> &Finding {
    d.findings.iter().find(|f| f.verdict == verdict).unwrap_or_else(|| panic!("no {verdict:?} in {d}"))
}

/// Every weight's gradient norm 0: what a network whose ReLU units all died gets.
const SILENT: &[(&str, f32)] = &[("dense_1.weight", 0.0), ("dense_2.weight", 0.0), ("dense_3.weight", 0.0)];

#[test]
fn dead_units_that_leave_every_weight_without_gradient_are_not_vanishing_gradients() {
    // The audit's probe `dead`: 784-256-128-10, dense_1.bias = -10, Adam 1e-3, 5 epochs at 2.3026 each.
    let h = history(&Curves { train: &[LN_10; 5], accuracy: &[10.0; 5], grads: SILENT, ..Curves::default() });
    let o = observed(LN_10, vec![relu("relu_1", 256, 1.0), relu("relu_2", 128, 1.0)]);
    let d = judge(&h, Some(&o), LN_10);
    // 0 >= 100 * 0 called this "vanishing gradients, infx smaller"; and a loss that cannot move is not a slow rate.
    assert_eq!(d.warnings(), vec![Verdict::DeadUnits], "{d}");
    assert!(
        finding(&d, Verdict::DeadUnits)
            .evidence
            .ends_with("; no gradient reaches any weight (every weight's gradient norm is 0 in the last epoch)"),
        "{d}"
    );
}

#[test]
fn a_gradient_norm_that_is_not_finite_gives_no_ratio() {
    let grads = [("dense_1.weight", f32::INFINITY), ("dense_3.weight", 0.1)];
    let train = [1.0, 0.4, 0.2, 0.1, 0.05];
    let h = history(&Curves {
        train: &train,
        accuracy: &[70.0, 88.0, 94.0, 97.0, 99.0],
        grads: &grads,
        ..Curves::default()
    });
    let d = judge(&h, None, LN_10);
    assert!(!d.has(Verdict::ExplodingGradients) && !d.has(Verdict::VanishingGradients), "{d}");
}

#[test]
fn a_loss_that_jumped_far_above_its_start_and_sank_back_to_the_baseline_diverged() {
    // `strata train --lr 10 --epochs 10`: the cosine schedule lets the dead network's loss sink back to ln 10.
    let train = [154.3322, 2308.4688, 3.0148, 2.6186, 2.4709, 15.1076, 9.7791, 2.3932, 2.3365, 2.3086];
    let val = [232.8652, 68.1004, 80.9991, 80.9178, 80.6732, 297.1893, 169.2318, 168.2447, 168.2135, 168.2069];
    let h = history(&Curves { train: &train, accuracy: &[10.0; 10], val: &val, grads: SILENT, ..Curves::default() });
    // The first batch's loss, 2.50 (the audit's probe).
    let o = observed(2.5, vec![relu("relu_1", 256, 1.0), relu("relu_2", 128, 1.0)]);
    let d = judge(&h, Some(&o), LN_10);
    assert_eq!(d.warnings(), vec![Verdict::LearningRateTooLarge, Verdict::DeadUnits], "{d}");
    assert!(!d.findings[1].evidence.contains("no gradient reaches"), "said once: {d}");
    let evidence = &d.findings[0].evidence;
    // 168.2069 / 2.3026 = 73.05.
    assert!(
        evidence.starts_with(
            "the training loss diverged: it jumped from 2.5000 at the start to 2308.4688 in epoch 2 and ends at \
             2.3086, no better than the 2.3026 of predicting without the inputs; the validation loss ends at \
             168.2069, 73x the baseline; no gradient reaches any weight"
        ),
        "{evidence}"
    );
}

#[test]
fn a_validation_loss_far_above_the_baseline_is_divergence() {
    // The shape of `strata train --lr 10` (40 epochs): training loss back at ln 10, validation loss 89.
    let train = [2.45, 2.35, 2.32, 2.31, 2.3030];
    let val = [80.0, 85.0, 88.0, 89.0, 89.0];
    let h = history(&Curves { train: &train, accuracy: &[10.0; 5], val: &val, ..Curves::default() });
    let d = judge(&h, Some(&observed(2.5, vec![])), LN_10);
    assert_eq!(d.warnings(), vec![Verdict::LearningRateTooLarge], "{d}");
    // 89 / 2.3026 = 38.65.
    let evidence = &d.findings[0].evidence;
    assert!(
        evidence.starts_with(
            "the validation loss ends at 89.0000, 39x the baseline, while the training loss ends at 2.3030"
        ),
        "{evidence}"
    );
}

#[test]
fn a_tiny_rise_of_a_tiny_regression_loss_is_overfitting_not_divergence() {
    // The shape of the audit's diabetes run (10-512-512-1, no dropout, 200 epochs, constant rate): the training
    // loss went 0.0015 -> 0.0050 (0.35% of the baseline 1.0) while the validation loss rose from 0.6682.
    let train = [
        2.1, 1.5, 0.8, 0.39, 0.35, 0.27, 0.21, 0.15, 0.11, 0.08, 0.05, 0.03, 0.02, 0.01, 0.006, 0.004, 0.003, 0.0015,
        0.0030, 0.0050,
    ];
    let val = [
        2.95, 1.06, 0.73, 0.76, 0.69, 0.6682, 0.70, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76, 0.77, 0.78, 0.79, 0.80, 0.80,
        0.81, 0.8077,
    ];
    let h = history(&Curves { train: &train, val: &val, ..Curves::default() });
    let d = judge(&h, Some(&observed(2.2019, vec![])), 1.0);
    assert_eq!(d.warnings(), vec![Verdict::Overfitting], "{d}");
    // 0.8077 / 0.6682 - 1 = 20.9%.
    assert!(d.findings[0].evidence.starts_with("the validation loss rose 21% after epoch 6"), "{d}");
}

#[test]
fn a_rise_large_against_the_baseline_is_still_divergence() {
    // The regression above, its last loss 0.15 instead of 0.005: 0.1485 above its best, 15% of the baseline.
    let train = [
        2.1, 1.5, 0.8, 0.39, 0.35, 0.27, 0.21, 0.15, 0.11, 0.08, 0.05, 0.03, 0.02, 0.01, 0.006, 0.004, 0.003, 0.0015,
        0.0030, 0.15,
    ];
    let h = history(&Curves { train: &train, ..Curves::default() });
    let d = judge(&h, Some(&observed(2.2019, vec![])), 1.0);
    assert_eq!(d.warnings(), vec![Verdict::LearningRateTooLarge], "{d}");
    assert!(d.findings[0].evidence.contains("0.0015 in epoch 18 (its best)"), "{d}");
}

#[test]
fn training_figures_lowered_by_dropout_are_not_underfitting_when_validation_fits() {
    // `strata train --data digits.csv --normalize none` (dropout 0.3), epochs 32-40: training 93.3%, validation
    // loss 0.1398 (6% of the baseline) below the training loss; test 98.05%.
    let train = [0.1556, 0.1942, 0.1735, 0.1761, 0.1964, 0.1726, 0.1925, 0.1797, 0.1877];
    let accuracy = [94.66, 93.50, 94.12, 94.82, 93.97, 93.97, 93.27, 94.28, 93.35];
    let val = [0.1404, 0.1424, 0.1429, 0.1408, 0.1398, 0.1399, 0.1398, 0.1398, 0.1398];
    let h = history(&Curves { train: &train, accuracy: &accuracy, val: &val, ..Curves::default() });
    let d = judge(&h, None, LN_10); // the digits: 2.3025
    assert!(d.findings.is_empty(), "{d}");
}

#[test]
fn a_small_model_whose_validation_loss_is_high_too_still_underfits() {
    // `strata train --layers 784,2,10 --epochs 20` (dropout 0.3), epochs 12-20: the validation loss is below
    // the training loss but 75% of the baseline.
    let train = [1.8616, 1.8820, 1.8719, 1.8494, 1.8840, 1.8603, 1.8545, 1.8582, 1.8658];
    let accuracy = [29.86, 28.17, 28.97, 29.19, 27.75, 28.58, 29.36, 29.44, 28.67];
    let val = [1.7420, 1.7369, 1.7265, 1.7224, 1.7222, 1.7195, 1.7192, 1.7186, 1.7186];
    let h = history(&Curves { train: &train, accuracy: &accuracy, val: &val, ..Curves::default() });
    let d = judge(&h, Some(&observed(LN_10, vec![])), LN_10);
    assert_eq!(d.warnings(), vec![Verdict::Underfitting], "{d}");
}

#[test]
fn a_loss_ending_above_the_baseline_after_a_huge_start_says_to_scale_the_inputs() {
    // `strata train --normalize none --epochs 5` (MNIST pixels 0-255); the first batch's loss was 238.
    let train = [100.5672, 16.0567, 8.7108, 6.4310, 5.5114];
    let accuracy = [30.06, 62.64, 71.33, 74.89, 77.22];
    let val = [6.3744, 3.3674, 2.4187, 2.1969, 2.1011];
    let lr = [1e-3, 8.58e-4, 5.07e-4, 1.51e-4, 4.75e-8];
    let h = history(&Curves { train: &train, accuracy: &accuracy, val: &val, lr: &lr, ..Curves::default() });
    let d = judge(&h, Some(&observed(238.0, vec![])), LN_10);
    assert_eq!(d.warnings(), vec![Verdict::WorseThanBaseline], "{d}");
    let f = &d.findings[0];
    // 5.5114 / 2.3026 = 2.39; 238 / 2.3026 = 103.4.
    assert_eq!(
        f.evidence,
        "the training loss ends at 5.5114, 2.4x the 2.3026 of predicting without the inputs; the loss at the start \
         was 238.0000 (103x the baseline): the inputs are likely not scaled, or the initialisation is too large"
    );
    assert!(f.suggestion.starts_with("scale the inputs (--normalize standard) and run `strata doctor`"), "{d}");
}

#[test]
fn a_regression_ending_far_above_the_variance_is_not_underfitting() {
    // `strata train --data diabetes.csv --header --task regression --normalize none`, epochs 37-40 (baseline 1.0).
    let h = history(&Curves {
        train: &[15.2427, 15.2369, 15.2326, 15.2317],
        val: &[11.0630, 11.0634, 11.0626, 11.0626],
        ..Curves::default()
    });
    let d = judge(&h, None, 1.0);
    assert_eq!(d.warnings(), vec![Verdict::WorseThanBaseline], "{d}");
    assert!(d.findings[0].evidence.starts_with("the training loss ends at 15.2317, 15.2x the 1.0000"), "{d}");
}

/// `strata train --lr 1e-4 --epochs 5`: 62% training accuracy, test 76.9% (the default run: 94.2%).
fn stopped_while_falling() -> History {
    let train = [2.3647, 1.9774, 1.6299, 1.4435, 1.3631];
    let accuracy = [12.56, 33.36, 52.11, 58.17, 61.97];
    let val = [2.0709, 1.6243, 1.3070, 1.1843, 1.1654];
    let lr = [1e-4, 8.58e-5, 5.07e-5, 1.51e-5, 4.75e-9];
    history(&Curves { train: &train, accuracy: &accuracy, val: &val, lr: &lr, ..Curves::default() })
}

#[test]
fn a_loss_still_falling_when_training_stopped_is_said() {
    let d = judge(&stopped_while_falling(), Some(&observed(LN_10, vec![])), LN_10);
    assert_eq!(d.warnings(), vec![Verdict::StillImproving], "{d}");
    let f = &d.findings[0];
    // (1.4435 - 1.3631) / 1.4435 = 5.6%; 1.3631 / 2.3026 = 59%.
    assert_eq!(
        f.evidence,
        "the training loss was still falling 6% in the last epoch (1.4435 to 1.3631), ending at 59% of the 2.3026 \
         of predicting without the inputs, training accuracy 62.0%"
    );
    assert!(f.suggestion.starts_with("more epochs or a higher learning rate"), "{d}");
    // `strata train --epochs 2`: 1.8167 then 0.6735 (79.3%).
    let h = history(&Curves {
        train: &[1.8167, 0.6735],
        accuracy: &[39.78, 79.28],
        val: &[0.6530, 0.3963],
        ..Curves::default()
    });
    assert_eq!(judge(&h, Some(&observed(LN_10, vec![])), LN_10).warnings(), vec![Verdict::StillImproving]);
}

#[test]
fn a_loss_still_falling_is_not_said_when_a_callback_stopped_training() {
    let mut h = stopped_while_falling();
    h.stopped =
        Some(StopRecord { epoch: 5, batch: None, callback: "early_stopping".into(), reason: "patience".into() });
    let d = judge(&h, Some(&observed(LN_10, vec![])), LN_10);
    assert!(!d.has(Verdict::StillImproving), "{d}");
}

#[test]
fn healthy_runs_raise_no_alarm() {
    // `strata train --preset cnn` (15 epochs, constant rate, test 95.3%).
    let cnn = [
        1.2891, 0.4426, 0.3226, 0.2595, 0.2331, 0.1889, 0.1647, 0.1421, 0.1293, 0.1142, 0.0986, 0.0861, 0.0778, 0.0688,
        0.0578,
    ];
    let cnn_accuracy =
        [60.18, 87.28, 90.38, 92.30, 92.98, 94.67, 95.28, 95.78, 96.28, 96.78, 97.22, 97.43, 97.70, 97.93, 98.47];
    // `strata train --preset transformer --epochs 8` (test 93.8%).
    let transformer = [1.6944, 0.4813, 0.2804, 0.2355, 0.1825, 0.1491, 0.1366, 0.1129];
    let transformer_accuracy = [41.75, 84.60, 91.58, 93.45, 94.27, 95.50, 95.78, 96.82];
    for (train, accuracy) in [(&cnn[..], &cnn_accuracy[..]), (&transformer[..], &transformer_accuracy[..])] {
        let h = history(&Curves { train, accuracy, ..Curves::default() });
        let d = judge(&h, Some(&observed(LN_10, vec![relu("relu_1", 8, 0.0)])), LN_10);
        assert!(d.findings.is_empty(), "{d}");
    }
}

#[test]
fn underfitting_suggests_more_epochs_and_lr_find_before_a_larger_model() {
    // `strata train --lr 2e-5 --epochs 20`: the cosine schedule ends at 4.2e-11.
    let train = [
        2.4499, 2.3616, 2.2433, 2.1446, 2.0442, 1.9717, 1.8920, 1.8189, 1.7496, 1.7044, 1.6610, 1.6268, 1.6025, 1.5782,
        1.5477, 1.5444, 1.5280, 1.5386, 1.5243, 1.5234,
    ];
    let accuracy = [
        9.94, 13.69, 17.33, 22.75, 28.75, 32.81, 38.19, 43.14, 45.89, 47.97, 48.94, 51.42, 52.56, 53.69, 54.97, 54.83,
        55.92, 54.97, 55.97, 55.58,
    ];
    let val = [
        2.3135, 2.1895, 2.0810, 1.9835, 1.8899, 1.8030, 1.7217, 1.6471, 1.5815, 1.5237, 1.4761, 1.4371, 1.4062, 1.3828,
        1.3658, 1.3543, 1.3473, 1.3436, 1.3422, 1.3420,
    ];
    let lr = [
        2.00e-5, 1.99e-5, 1.95e-5, 1.88e-5, 1.79e-5, 1.68e-5, 1.55e-5, 1.40e-5, 1.25e-5, 1.09e-5, 9.20e-6, 7.57e-6,
        6.01e-6, 4.55e-6, 3.25e-6, 2.13e-6, 1.22e-6, 5.51e-7, 1.41e-7, 4.21e-11,
    ];
    let h = history(&Curves { train: &train, accuracy: &accuracy, val: &val, lr: &lr, ..Curves::default() });
    let d = judge(&h, Some(&observed(LN_10, vec![])), LN_10);
    assert_eq!(d.warnings(), vec![Verdict::Underfitting], "{d}");
    let f = &d.findings[0];
    assert!(
        f.evidence.ends_with(
            "; the schedule had brought the learning rate to 4.2e-11 (from 2.0e-5), which flattens the curve by itself"
        ),
        "{d}"
    );
    let at = |words: &str| f.suggestion.find(words).unwrap_or_else(|| panic!("{words:?} in {}", f.suggestion));
    assert!(f.suggestion.starts_with("more epochs") && at("strata lr-find") < at("a larger model"), "{d}");
}

#[test]
fn huge_gradient_ratios_are_printed_in_scientific_form() {
    // The 20-layer sigmoid network on the digits: 9.42e-14 against 0.5082 (a ratio of 5.39e12).
    let grads = [("dense_1.weight", 9.42e-14), ("dense_21.weight", 0.5082)];
    let h = history(&Curves { train: &[2.32, 2.31, 2.31], accuracy: &[10.0; 3], grads: &grads, ..Curves::default() });
    let d = judge(&h, Some(&observed(LN_10, vec![])), LN_10);
    assert_eq!(d.warnings(), vec![Verdict::VanishingGradients], "{d}");
    assert!(d.findings[0].evidence.contains("(dense_1.weight: 9.42e-14) is 5.4e12x smaller than"), "{d}");
}

#[test]
fn a_diverged_loss_that_ends_at_its_lowest_shows_its_peak() {
    // `strata train --data diabetes.csv --header --task regression --lr 1 --epochs 20`: the loss fell every epoch
    // after 29760 in the first, and ends 4.6x the baseline.
    let train = [
        29_759.715, 592.4749, 36.6906, 126.1841, 63.1811, 33.4343, 10.9769, 9.2786, 8.4033, 7.5532, 6.8073, 6.1744,
        5.6781, 5.3035, 5.0238, 4.8265, 4.6958, 4.6201, 4.5826, 4.5705,
    ];
    let h = history(&Curves { train: &train, ..Curves::default() });
    let d = judge(&h, Some(&observed(1.2245, vec![])), 1.0);
    assert_eq!(d.warnings(), vec![Verdict::LearningRateTooLarge], "{d}");
    assert_eq!(
        d.findings[0].evidence,
        "the training loss diverged: 4.5705 in the last epoch, above the 1.2245 at the start and the 1.0000 of \
         predicting without the inputs; it peaked at 2.976e4 in epoch 1"
    );
}

#[test]
fn memorised_labels_that_the_inputs_do_not_predict_are_said() {
    // The shape of the audit's probe `shuffled` (MNIST labels shuffled): the training loss falls to memorisation
    // while the validation loss never goes below ln 10 and rises.
    let train = [2.31, 2.25, 2.0, 1.5, 0.9, 0.4, 0.15, 0.05];
    let accuracy = [10.0, 14.0, 25.0, 45.0, 70.0, 88.0, 97.0, 99.5];
    let val = [2.32, 2.33, 2.40, 2.60, 2.90, 3.30, 3.70, 4.00];
    let h = history(&Curves { train: &train, accuracy: &accuracy, val: &val, ..Curves::default() });
    let d = judge(&h, Some(&observed(LN_10, vec![])), LN_10);
    assert_eq!(d.warnings(), vec![Verdict::Overfitting], "{d}");
    let f = &d.findings[0];
    assert!(f.evidence.ends_with("; the validation loss was never below the 2.3026 of predicting without the inputs: nothing learned carries over, as when the labels do not match the inputs"), "{d}");
    assert!(f.suggestion.starts_with("check that the labels match the inputs (`strata doctor`"), "{d}");
}

#[test]
fn a_loss_that_rose_did_not_barely_move() {
    // `strata train --data iris.csv --model spec_bn.json --epochs 3 --batch-size 2` (a batch norm over pairs):
    // 1.0762 at the start, 1.2043 after 3 epochs. It was "learning rate too small: the training loss barely
    // moved ... (-11.9% lower)"; a rate too small keeps the loss where it was, it does not raise it.
    let train = [1.3596, 1.3394, 1.2043];
    let accuracy = [24.07, 18.52, 29.63];
    let val = [1.7153, 1.4106, 1.5722];
    let h = history(&Curves { train: &train, accuracy: &accuracy, val: &val, ..Curves::default() });
    let ln_3 = 3f32.ln(); // 1.0986: three balanced classes
    let d = judge(&h, Some(&observed(1.0762, vec![])), ln_3);
    assert_eq!(d.warnings(), vec![Verdict::WorseThanBaseline], "{d}");
    assert!(
        finding(&d, Verdict::WorseThanBaseline).evidence.starts_with(
            "the training loss ends at 1.2043, 1.1x the 1.0986 of predicting without the inputs, and above the \
             1.0762 it started at"
        ),
        "{d}"
    );
}
