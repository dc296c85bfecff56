//! History, early stopping, the learning-rate schedule, accuracy counting.

use strata_activation::ActivationKind;
use strata_data::InMemoryDataset;
use strata_layers::{Layer, Registry, state_dict};
use strata_loss::LossKind;
use strata_optimizer::{OptimizerConfig, Schedule};
use strata_tensor::{StrataRng, Tensor};
use strata_training::{EarlyStopping, FitConfig, Progress, Trainer, TrainingError, count_correct, presets};

/// Two Gaussian blobs, 2-D, labels 0 and 1, drawn from `seed`.
fn blobs(n: usize, seed: u64) -> InMemoryDataset {
    let mut rng = StrataRng::seed_from_u64(seed);
    let noise = Tensor::random_normal(&[n, 2], 0.0, 0.5, &mut rng).unwrap();
    let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let x: Vec<f32> = noise
        .data()
        .chunks(2)
        .zip(&labels)
        .flat_map(|(p, &l)| {
            let c = if l == 0 { -1.0 } else { 1.0 };
            [p[0] + c, p[1] + c]
        })
        .collect();
    InMemoryDataset::from_labels(Tensor::from_vec(&[n, 2], x).unwrap(), &labels).unwrap()
}

fn model(seed: u64) -> Box<dyn Layer> {
    let spec = presets::mlp(&[2, 8, 2], ActivationKind::Relu, 0.0).unwrap();
    Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(seed)).unwrap()
}

fn trainer(config: FitConfig, lr: f32) -> Trainer {
    Trainer::new(
        config,
        Box::new(LossKind::CrossEntropy),
        OptimizerConfig::from_name("adam", lr).unwrap().build().unwrap(),
    )
    .unwrap()
}

#[test]
fn history_records_every_epoch_and_the_loss_falls() {
    let (train, val) = (blobs(200, 1), blobs(100, 2));
    let mut m = model(1);
    let config = FitConfig { epochs: 15, batch_size: 20, progress: Progress::Silent, ..FitConfig::default() };
    let mut t = trainer(config, 0.02);
    let h = t.fit(m.as_mut(), &train, Some(&val)).unwrap();
    assert_eq!(h.epochs.len(), 15);
    assert_eq!(t.state().epoch, 15);
    assert_eq!(t.state().step, 15 * 10, "200 samples / batch 20 = 10 steps per epoch");
    let (first, last) = (&h.epochs[0], h.epochs.last().unwrap());
    assert!(last.train_loss < first.train_loss * 0.6, "{} -> {}", first.train_loss, last.train_loss);
    // Blobs 2.8 standard deviations apart: about 97-98% separable.
    assert!(last.validation.unwrap().accuracy.unwrap() > 0.9, "{last:?}");
    // Gradient norms are tracked per parameter: 2 dense layers x (weight, bias).
    let names: Vec<&str> = last.grad_norms.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["dense_1.weight", "dense_1.bias", "dense_2.weight", "dense_2.bias"]);
    assert!(last.grad_norms.iter().all(|(_, g)| g.is_finite() && *g > 0.0));
}

#[test]
fn early_stopping_stops_and_restores_the_best_weights() {
    // Improvements under 0.001 do not count, so training soon stops improving.
    let (train, val) = (blobs(200, 3), blobs(60, 4));
    let mut m = model(2);
    let es = EarlyStopping { patience: 2, min_delta: 1e-3, restore_best: true };
    let config = FitConfig {
        epochs: 200,
        batch_size: 10,
        early_stopping: Some(es),
        progress: Progress::Silent,
        ..FitConfig::default()
    };
    let mut t = trainer(config, 0.05);
    let h = t.fit(m.as_mut(), &train, Some(&val)).unwrap();
    assert!(h.stopped_early, "ran all {} epochs", h.epochs.len());
    let best = h.best_epoch.unwrap();
    // Patience 2: training ran exactly two epochs past the best one.
    assert_eq!(h.epochs.len(), best + 2);
    // The restored weights give the best epoch's validation loss again.
    let best_loss = h.epochs[best - 1].validation.unwrap().loss;
    let now = t.evaluate(m.as_mut(), &val).unwrap().loss;
    assert!((now - best_loss).abs() < 1e-6, "{now} vs {best_loss}");
    // No epoch improved on the restored one by more than min_delta (Keras's
    // rule: smaller improvements do not count).
    let min = h.epochs.iter().map(|e| e.validation.unwrap().loss).fold(f32::INFINITY, f32::min);
    assert!(best_loss <= min + 1e-3, "best {best_loss}, minimum {min}");
}

#[test]
fn the_schedule_sets_the_learning_rate_of_every_step() {
    let train = blobs(40, 5);
    let mut m = model(3);
    // Warm-up over 4 steps to 0.1 (step k gets 0.1 * (k + 1) / 4), then constant.
    let schedule = Schedule::LinearWarmup { warmup_steps: 4, then: Box::new(Schedule::Constant) };
    let config = FitConfig { epochs: 1, batch_size: 10, schedule, progress: Progress::Silent, ..FitConfig::default() };
    let mut t = trainer(config, 0.1);
    let mut rates = Vec::new();
    for chunk in (0..40).collect::<Vec<_>>().chunks(10) {
        let (mut x, mut y) = (Tensor::default(), Tensor::default());
        strata_data::Dataset::fill_batch(&train, chunk, &mut x, &mut y).unwrap();
        rates.push(t.train_step(m.as_mut(), &x, &y).unwrap().learning_rate);
    }
    let want = [0.025, 0.05, 0.075, 0.1];
    for (r, w) in rates.iter().zip(want) {
        assert!((r - w).abs() < 1e-7, "{rates:?}");
    }
}

#[test]
fn invalid_settings_are_errors() {
    let adam = || OptimizerConfig::from_name("adam", 0.1).unwrap().build().unwrap();
    let bad = [
        FitConfig { epochs: 0, ..FitConfig::default() },
        FitConfig { batch_size: 0, ..FitConfig::default() },
        FitConfig { clip_grad_norm: Some(-1.0), ..FitConfig::default() },
    ];
    for config in bad {
        let err = Trainer::new(config, Box::new(LossKind::CrossEntropy), adam()).unwrap_err();
        assert!(matches!(err, TrainingError::InvalidConfig(_)), "{err:?}");
    }
}

#[test]
fn data_that_does_not_fit_the_model_is_refused_before_training() {
    let three_features = InMemoryDataset::from_labels(Tensor::zeros(&[4, 3]), &[0, 1, 0, 1]).unwrap();
    let mut m = model(4);
    let before = state_dict(m.as_mut());
    let mut t = trainer(FitConfig { progress: Progress::Silent, ..FitConfig::default() }, 0.1);
    let err = t.fit(m.as_mut(), &three_features, None).unwrap_err();
    assert!(matches!(&err, TrainingError::InputShape { data, model, .. } if data == &[3] && model == &[2]), "{err:?}");
    assert_eq!(before, state_dict(m.as_mut()));
}

#[test]
fn count_correct_handles_indices_one_hot_and_binary_targets() {
    let out = Tensor::from_vec(&[3, 2], vec![0.1, 0.9, 0.8, 0.2, 0.3, 0.7]).unwrap(); // argmax 1, 0, 1
    assert_eq!(count_correct(&out, &Tensor::from_slice(&[1.0, 0.0, 0.0])), Some(2));
    let one_hot = Tensor::from_vec(&[3, 2], vec![0., 1., 1., 0., 1., 0.]).unwrap();
    assert_eq!(count_correct(&out, &one_hot), Some(2));
    let logits = Tensor::from_vec(&[3, 1], vec![2.0, -1.0, 0.5]).unwrap(); // > 0: class 1
    assert_eq!(count_correct(&logits, &Tensor::from_vec(&[3, 1], vec![1., 0., 0.]).unwrap()), Some(2));
    // Regression targets of another width: no accuracy.
    assert_eq!(count_correct(&out, &Tensor::zeros(&[3, 5])), None);
}
