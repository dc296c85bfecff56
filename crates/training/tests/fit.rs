//! History, the learning-rate schedule, `fit` called again, the split step
//! and its gradient hook, evaluation without an optimizer, bad settings.

use crate::common::{blobs, model, trainer};

use strata_data::InMemoryDataset;
use strata_layers::{Dim, Layer, state_dict};
use strata_loss::LossKind;
use strata_optimizer::{OptimizerConfig, Schedule};
use strata_tensor::Tensor;
use strata_training::{
    BatchFigures, BoxError, FitConfig, GradientHook, Progress, StepInfo, Trainer, TrainingError, evaluate,
};

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
    assert_eq!(rates.len(), want.len());
    for (r, w) in rates.iter().zip(want) {
        assert!((r - w).abs() < 1e-7, "{rates:?}");
    }
}

#[test]
fn invalid_settings_are_errors() {
    let adam = || OptimizerConfig::from_name("adam", 0.1).unwrap();
    let bad = [
        FitConfig { epochs: 0, ..FitConfig::default() },
        FitConfig { batch_size: 0, ..FitConfig::default() },
        FitConfig { clip_grad_norm: Some(-1.0), ..FitConfig::default() },
    ];
    for config in bad {
        let err = Trainer::new(config, LossKind::CrossEntropy, adam()).unwrap_err();
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
    assert!(
        matches!(&err, TrainingError::InputShape { data, model, .. } if data == &[3] && model == &[Dim::Fixed(2)]),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "the training dataset's samples have shape [3], but the model expects [2]");
    assert_eq!(before, state_dict(m.as_mut()));
}

fn bits(m: &mut dyn Layer) -> Vec<(String, Vec<u32>)> {
    state_dict(m).into_iter().map(|(n, t)| (n, t.data().iter().map(|x| x.to_bits()).collect())).collect()
}

#[test]
fn fit_called_twice_continues_and_equals_one_fit_with_the_epochs_summed() {
    let train = blobs(60, 8);
    let config =
        |epochs| FitConfig { epochs, batch_size: 16, seed: 5, progress: Progress::Silent, ..FitConfig::default() };
    let (mut once, mut twice) = (crate::common::model_with_dropout(9, 0.3), crate::common::model_with_dropout(9, 0.3));
    let mut t1 = trainer(config(6), 0.02);
    let h = t1.fit(once.as_mut(), &train, None).unwrap();
    assert_eq!(h.epochs.len(), 6);
    let mut t2 = trainer(config(3), 0.02);
    let first = t2.fit(twice.as_mut(), &train, None).unwrap();
    let second = t2.fit(twice.as_mut(), &train, None).unwrap();
    // Keras's semantics: each call runs its epochs, numbered on from the last.
    assert_eq!(first.epochs.iter().map(|r| r.epoch).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(second.epochs.iter().map(|r| r.epoch).collect::<Vec<_>>(), [4, 5, 6]);
    assert_eq!((t2.state().epoch, t2.state().step), (6, 6 * 4), "60 samples / batch 16 = 4 steps per epoch");
    assert_eq!(bits(once.as_mut()), bits(twice.as_mut()), "3 + 3 epochs must equal 6 epochs bit for bit");
    for (a, b) in h.epochs.iter().zip(first.epochs.iter().chain(&second.epochs)) {
        assert_eq!(a.train_loss.to_bits(), b.train_loss.to_bits(), "epoch {}", a.epoch);
    }
}

#[test]
fn compute_gradients_then_apply_update_is_one_train_step() {
    let train = blobs(16, 10);
    let (mut x, mut y) = (Tensor::default(), Tensor::default());
    strata_data::Dataset::fill_batch(&train, &(0..16).collect::<Vec<_>>(), &mut x, &mut y).unwrap();
    let config = || FitConfig { progress: Progress::Silent, ..FitConfig::default() };
    let (mut a, mut b) = (model(11), model(11));
    let (mut ta, mut tb) = (trainer(config(), 0.05), trainer(config(), 0.05));
    for _ in 0..3 {
        let step = ta.train_step(a.as_mut(), &x, &y).unwrap();
        let g = tb.compute_gradients(b.as_mut(), &x, &y).unwrap();
        let lr = tb.apply_update(b.as_mut()).unwrap();
        assert_eq!((step.loss, step.correct, step.learning_rate), (g.loss, g.correct, lr));
    }
    assert_eq!(bits(a.as_mut()), bits(b.as_mut()));
}

#[test]
fn a_gradient_hook_runs_between_backward_and_the_update() {
    // A hook that zeroes every gradient: the update then changes nothing (Adam
    // with a zero gradient keeps its moments at zero and moves by 0 / (0 + eps)).
    let train = blobs(32, 12);
    let mut m = model(13);
    let before = bits(m.as_mut());
    let mut t =
        trainer(FitConfig { epochs: 2, batch_size: 8, progress: Progress::Silent, ..FitConfig::default() }, 0.1);
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = calls.clone();
    t.add_gradient_hook(move |model: &mut dyn Layer, info: &StepInfo| -> Result<(), BoxError> {
        seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(info.batch_size, 8);
        let mut nonzero = false;
        let mut path = String::new();
        let mut f = |p: strata_tensor::ParamRef<'_>| {
            if let Some(g) = p.grad {
                nonzero |= g.data().iter().any(|&v| v != 0.0);
                g.fill(0.0);
            }
        };
        model.visit_parameters(&mut strata_tensor::ParamVisitor::new(&mut path, &mut f));
        if nonzero { Ok(()) } else { Err("the hook saw no gradient".into()) }
    });
    t.fit(m.as_mut(), &train, None).unwrap();
    assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 2 * 4, "one call per step: 2 epochs x 4 batches");
    assert_eq!(bits(m.as_mut()), before);
}

#[test]
fn a_failing_hook_stops_training_before_the_update_and_names_itself() {
    let train = blobs(16, 14);
    let mut m = model(15);
    let before = bits(m.as_mut());
    let mut t = trainer(FitConfig { progress: Progress::Silent, ..FitConfig::default() }, 0.1);
    t.add_gradient_hook(|_: &mut dyn Layer, _: &StepInfo| -> Result<(), BoxError> { Err("peer lost".into()) });
    let err = t.fit(m.as_mut(), &train, None).unwrap_err();
    assert!(matches!(&err, TrainingError::Hook { epoch: 1, batch: 1, .. }), "{err:?}");
    assert_eq!(err.to_string(), "gradient hook 'closure' failed at epoch 1, batch 1: peer lost");
    assert_eq!(bits(m.as_mut()), before);
}

/// A hook that reports every batch's figures as twice the loss and all its
/// predictions right, or as a non-finite loss: what a distributed hook does
/// with the sums over processes.
struct Figures {
    nan_at_step: Option<usize>,
}

impl GradientHook for Figures {
    fn on_gradients(&mut self, _: &mut dyn Layer, _: &StepInfo) -> Result<(), BoxError> {
        Ok(())
    }

    fn on_batch_figures(&mut self, figures: &mut BatchFigures, info: &StepInfo) -> Result<(), BoxError> {
        figures.loss = if self.nan_at_step == Some(info.step) { f32::NAN } else { 2.0 * figures.loss };
        figures.correct = figures.correct.map(|(_, n)| (n, n));
        Ok(())
    }
}

#[test]
fn the_batch_figures_a_hook_reports_are_the_epochs_record_and_decide_the_non_finite_check() {
    let train = blobs(32, 18);
    let config = FitConfig { epochs: 1, batch_size: 8, progress: Progress::Silent, ..FitConfig::default() };
    let (mut plain, mut doubled) = (model(19), model(19));
    let h = trainer(config.clone(), 0.1).fit(plain.as_mut(), &train, None).unwrap();
    let mut t = trainer(config.clone(), 0.1);
    t.add_gradient_hook(Figures { nan_at_step: None });
    let d = t.fit(doubled.as_mut(), &train, None).unwrap();
    // Same weights (the hook leaves the gradients alone), twice the recorded loss, every prediction right.
    assert_eq!(bits(plain.as_mut()), bits(doubled.as_mut()));
    assert_eq!(d.epochs[0].train_loss, 2.0 * h.epochs[0].train_loss);
    assert_eq!(d.epochs[0].train_accuracy, Some(1.0));
    // A loss the hook reports as NaN stops training before the update, as a NaN loss does.
    let mut m = model(19);
    let mut t = trainer(config, 0.1);
    t.add_gradient_hook(Figures { nan_at_step: Some(2) });
    let err = t.fit(m.as_mut(), &train, None).unwrap_err();
    assert!(matches!(err, TrainingError::NonFiniteLoss { epoch: 1, batch: 3, .. }), "{err:?}");
}

#[test]
fn evaluation_needs_no_optimizer() {
    // 600 samples: two evaluation batches (512 and 88), weighted by their sizes.
    let data = blobs(600, 16);
    let mut m = model(17);
    let free = evaluate(m.as_mut(), &data, &LossKind::CrossEntropy).unwrap();
    let mut t = trainer(FitConfig::default(), 0.1);
    let with_trainer = t.evaluate(m.as_mut(), &data).unwrap();
    assert_eq!(free, with_trainer);
    assert_eq!(free.n_samples, 600);
    // The mean cross-entropy over all 600, by hand (f64) from one forward.
    let logits = m.forward(data.features(), strata_layers::Mode::Eval).unwrap().clone();
    let labels = data.labels().unwrap();
    let terms = logits.data().chunks(2).zip(&labels).map(|(z, &label)| {
        let (a, b) = (f64::from(z[0]), f64::from(z[1]));
        let top = a.max(b);
        top + ((a - top).exp() + (b - top).exp()).ln() - f64::from(z[label])
    });
    let want = terms.sum::<f64>() / 600.0;
    assert!((f64::from(free.loss) - want).abs() < 1e-5, "{} against {want}", free.loss);
    let right = logits.data().chunks(2).zip(&labels).filter(|(z, l)| usize::from(z[1] > z[0]) == **l).count();
    assert_eq!(free.accuracy, Some(right as f32 / 600.0));
}

#[test]
fn a_dataset_claiming_more_samples_than_memory_holds_is_an_error_not_an_abort() {
    // A user's Dataset whose len() is 2^61: the epoch's order of sample
    // indices alone would need 2^64 bytes.
    let mut m = model(1);
    let config = FitConfig { epochs: 1, batch_size: 4, progress: Progress::Silent, ..FitConfig::default() };
    let err = trainer(config, 0.01).fit(m.as_mut(), &Claims(1 << 61, vec![2]), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "fit: the epoch's order of samples: a tensor of shape [2305843009213693952] needs 18446744073709551615 bytes, \
         more than this machine can allocate"
    );
}

#[test]
fn batches_whose_outputs_the_memory_cannot_hold_are_refused_before_training() {
    // A user's Dataset of 2^40 samples in batches of 2^40: the 2-8-2 MLP's
    // hidden layer alone would output 8 * 2^40 values (a quarter of any
    // machine's memory holds far fewer), and its allocation would abort.
    let mut m = model(1);
    let config = FitConfig { epochs: 1, batch_size: 1 << 40, progress: Progress::Silent, ..FitConfig::default() };
    let err = trainer(config, 0.01).fit(m.as_mut(), &Claims(1 << 40, vec![2]), None).unwrap_err();
    assert!(
        matches!(
            &err,
            TrainingError::Layer(strata_layers::LayerError::TooManyActivations(e))
                if e.layer == "dense_1" && e.batch == 1 << 40
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(
            "a batch of 1099511627776 samples would make layer 'dense_1' (dense) output [1099511627776, 8] \
             (8796093022208 values), more than the budget of "
        ),
        "{err}"
    );
    // The same data evaluated: batches of 512, within the budget; the data's error is then the first.
    let err = evaluate(m.as_mut(), &Claims(1 << 40, vec![2]), &LossKind::CrossEntropy).unwrap_err();
    assert_eq!(err.to_string(), "never read holds no data");
}

/// A user's Dataset that claims `.0` samples of shape `.1` and reads none.
#[derive(Debug)]
struct Claims(usize, Vec<usize>);

impl strata_data::Dataset for Claims {
    fn len(&self) -> usize {
        self.0
    }
    fn feature_shape(&self) -> &[usize] {
        &self.1
    }
    fn fill_batch(&self, _: &[usize], _: &mut Tensor, _: &mut Tensor) -> strata_data::Result<()> {
        Err(strata_data::DataError::Empty { what: "never read".into() })
    }
}
