//! Each built-in callback does what Keras documents for its namesake; user
//! callbacks see every event and can stop training.

use crate::common::{blobs, model, trainer};
use std::sync::{Arc, Mutex};
use strata_io::SavedModel;
use strata_layers::state_dict;
use strata_training::{
    BatchLogs, Callback, CallbackContext, CallbackResult, CsvLogger, EarlyStopping, EpochRecord, FitConfig,
    ModelCheckpoint, Monitor, Progress, ReduceLrOnPlateau, TerminateOnNaN, TrainingError,
};

fn config(epochs: usize, batch_size: usize) -> FitConfig {
    FitConfig { epochs, batch_size, progress: Progress::Silent, ..FitConfig::default() }
}

/// Records every event it sees, in order.
#[derive(Default, Clone)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Callback for Recorder {
    fn on_train_begin(&mut self, _: &mut CallbackContext<'_>) -> CallbackResult {
        self.0.lock().unwrap().push("train_begin".into());
        Ok(())
    }
    fn on_epoch_begin(&mut self, _: &mut CallbackContext<'_>, epoch: usize) -> CallbackResult {
        self.0.lock().unwrap().push(format!("epoch_begin {epoch}"));
        Ok(())
    }
    fn on_batch_begin(&mut self, _: &mut CallbackContext<'_>, batch: usize) -> CallbackResult {
        self.0.lock().unwrap().push(format!("batch_begin {batch}"));
        Ok(())
    }
    fn on_batch_end(&mut self, _: &mut CallbackContext<'_>, logs: &BatchLogs) -> CallbackResult {
        self.0.lock().unwrap().push(format!("batch_end {} {}", logs.epoch, logs.batch));
        Ok(())
    }
    fn on_epoch_end(&mut self, ctx: &mut CallbackContext<'_>, r: &EpochRecord) -> CallbackResult {
        assert_eq!(ctx.history().last().map(|l| l.epoch), Some(r.epoch), "the record is in the history already");
        self.0.lock().unwrap().push(format!("epoch_end {}", r.epoch));
        Ok(())
    }
    fn on_train_end(&mut self, _: &mut CallbackContext<'_>) -> CallbackResult {
        self.0.lock().unwrap().push("train_end".into());
        Ok(())
    }
}

#[test]
fn a_callback_sees_every_event_in_order() {
    let rec = Recorder::default();
    let mut t = trainer(config(2, 10), 0.01);
    t.add_callback(rec.clone()).unwrap();
    t.fit(model(1).as_mut(), &blobs(20, 1), None).unwrap();
    let want = [
        "train_begin",
        "epoch_begin 1",
        "batch_begin 1",
        "batch_end 1 1",
        "batch_begin 2",
        "batch_end 1 2",
        "epoch_end 1",
        "epoch_begin 2",
        "batch_begin 1",
        "batch_end 2 1",
        "batch_begin 2",
        "batch_end 2 2",
        "epoch_end 2",
        "train_end",
    ];
    assert_eq!(*rec.0.lock().unwrap(), want);
}

#[test]
fn two_callbacks_of_one_name_are_refused() {
    let mut t = trainer(config(1, 10), 0.01);
    t.add_callback(TerminateOnNaN).unwrap();
    let err = t.add_callback(TerminateOnNaN).unwrap_err();
    assert!(matches!(&err, TrainingError::InvalidConfig(m) if m.contains("'terminate_on_nan' is already added")));
}

/// Stops after a given batch of a given epoch.
struct StopAt(usize, usize);

impl Callback for StopAt {
    fn on_batch_end(&mut self, ctx: &mut CallbackContext<'_>, logs: &BatchLogs) -> CallbackResult {
        if (logs.epoch, logs.batch) == (self.0, self.1) {
            ctx.stop_training("asked to");
        }
        Ok(())
    }
}

#[test]
fn stopping_inside_an_epoch_records_the_partial_epoch_and_where() {
    // Keras's fit loop checks `stop_training` after each batch, then still
    // validates and records the epoch.
    let mut t = trainer(config(5, 10), 0.01);
    t.add_callback(StopAt(2, 3)).unwrap();
    let val = blobs(20, 2);
    let h = t.fit(model(2).as_mut(), &blobs(60, 3), Some(&val)).unwrap();
    assert_eq!(h.epochs.len(), 2);
    assert_eq!(h.epochs[1].batches, 3, "60 samples / 10 = 6 batches, stopped after 3");
    assert!(h.epochs[1].validation.is_some());
    let stop = h.stopped.unwrap();
    assert_eq!(
        (stop.epoch, stop.batch, stop.callback.as_str(), stop.reason.as_str()),
        (2, Some(3), "StopAt", "asked to")
    );
    assert_eq!(t.state().step, 6 + 3);
}

#[test]
fn early_stopping_stops_after_patience_epochs_without_improvement_and_restores_the_best_weights() {
    // Keras: `wait` counts epochs since the best; training stops once it
    // reaches `patience`; `restore_best_weights` puts the best epoch's
    // weights back at the end. min_delta 1e-3: smaller gains do not count.
    let (train, val) = (blobs(200, 3), blobs(60, 4));
    let mut m = model(2);
    let mut t = trainer(config(200, 10), 0.05);
    t.add_callback(EarlyStopping::new(2).with_min_delta(1e-3).restore_best_weights(true)).unwrap();
    let h = t.fit(m.as_mut(), &train, Some(&val)).unwrap();
    assert!(h.stopped_early(), "ran all {} epochs", h.epochs.len());
    let best = h.best_epoch.unwrap();
    assert_eq!(h.epochs.len(), best + 2, "patience 2: two epochs past the best one");
    let best_loss = h.epochs[best - 1].validation.unwrap().loss;
    let now = t.evaluate(m.as_mut(), &val).unwrap().loss;
    assert_eq!(now.to_bits(), best_loss.to_bits(), "the restored weights give the best epoch's loss");
    let min = h.epochs.iter().map(|e| e.validation.unwrap().loss).fold(f32::INFINITY, f32::min);
    assert!(best_loss <= min + 1e-3, "best {best_loss}, minimum {min}");
}

#[test]
fn early_stopping_with_patience_0_stops_at_the_first_epoch_that_does_not_improve() {
    // Keras: wait += 1 every epoch, reset on improvement, stop when wait >=
    // patience (and not on the first epoch). On the training loss of an
    // easy problem with a tiny learning rate, min_delta 1 never counts as
    // improvement: training stops at epoch 2.
    let mut t = trainer(config(50, 10), 1e-4);
    t.add_callback(EarlyStopping::new(0).with_monitor(Monitor::Loss).with_min_delta(1.0)).unwrap();
    let h = t.fit(model(3).as_mut(), &blobs(40, 5), None).unwrap();
    assert_eq!(h.epochs.len(), 2);
    assert_eq!(h.best_epoch, None, "no restore asked for");
}

#[test]
fn early_stopping_on_validation_without_validation_data_is_an_error() {
    let mut t = trainer(config(3, 10), 0.01);
    t.add_callback(EarlyStopping::new(2)).unwrap();
    let err = t.fit(model(4).as_mut(), &blobs(20, 6), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "callback 'early_stopping' failed: it monitors val_loss but fit has no validation data"
    );
}

type Saved = Arc<Mutex<Vec<(usize, Vec<u8>)>>>;

fn checkpoint_to(saved: &Saved) -> ModelCheckpoint {
    let sink = saved.clone();
    ModelCheckpoint::to_writer(move |epoch: usize, bytes: &[u8]| {
        sink.lock().unwrap().push((epoch, bytes.to_vec()));
        Ok(())
    })
}

#[test]
fn model_checkpoint_saves_every_epoch_a_model_file_that_loads() {
    let saved = Saved::default();
    let mut t = trainer(config(3, 10), 0.01);
    t.add_callback(checkpoint_to(&saved)).unwrap();
    let mut m = model(5);
    t.fit(m.as_mut(), &blobs(20, 7), None).unwrap();
    let saved = saved.lock().unwrap();
    assert_eq!(saved.iter().map(|(e, _)| *e).collect::<Vec<_>>(), [1, 2, 3]);
    let last = SavedModel::from_bytes(&saved[2].1, std::path::Path::new("epoch 3")).unwrap();
    assert_eq!(last.tensors, state_dict(m.as_mut()), "the last file holds the final weights");
}

#[test]
fn model_checkpoint_with_save_best_only_saves_exactly_the_improving_epochs() {
    let saved = Saved::default();
    let (train, val) = (blobs(100, 8), blobs(40, 9));
    let mut t = trainer(config(12, 10), 0.2);
    t.add_callback(checkpoint_to(&saved).save_best_only(Monitor::ValLoss)).unwrap();
    let h = t.fit(model(6).as_mut(), &train, Some(&val)).unwrap();
    let mut best = f32::INFINITY;
    let improving: Vec<usize> = h
        .epochs
        .iter()
        .filter(|r| {
            let loss = r.validation.unwrap().loss;
            let better = loss < best;
            best = best.min(loss);
            better
        })
        .map(|r| r.epoch)
        .collect();
    assert_eq!(saved.lock().unwrap().iter().map(|(e, _)| *e).collect::<Vec<_>>(), improving);
    assert!(improving.len() < 12, "lr 0.2 oscillates: some epochs do not improve");
}

#[test]
fn csv_logger_writes_a_header_and_one_row_per_epoch_and_appends_when_asked() {
    let path = std::env::temp_dir().join(format!("strata-csv-logger-{}.csv", std::process::id()));
    let (train, val) = (blobs(20, 10), blobs(10, 11));
    let mut t = trainer(config(2, 10), 0.01);
    t.add_callback(CsvLogger::new(&path)).unwrap();
    let h = t.fit(model(7).as_mut(), &train, Some(&val)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds");
    assert_eq!(lines.len(), 3);
    let cells: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(cells[0], "2");
    assert_eq!(cells[1].parse::<f32>().unwrap(), h.epochs[1].train_loss);
    assert_eq!(cells[3].parse::<f32>().unwrap(), h.epochs[1].validation.unwrap().loss);

    // A second trainer appending: no second header, two more rows.
    let mut t = trainer(config(2, 10), 0.01);
    t.add_callback(CsvLogger::new(&path).append(true)).unwrap();
    t.fit(model(7).as_mut(), &train, None).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(text.lines().count(), 5);
    assert_eq!(text.lines().filter(|l| l.starts_with("epoch,")).count(), 1);
    assert!(text.lines().last().unwrap().contains(",,,"), "no validation: empty val cells: {text}");
}

/// Records the learning rate of every epoch.
#[derive(Clone, Default)]
struct Rates(Arc<Mutex<Vec<f32>>>);

impl Callback for Rates {
    fn on_epoch_end(&mut self, _: &mut CallbackContext<'_>, r: &EpochRecord) -> CallbackResult {
        self.0.lock().unwrap().push(r.learning_rate);
        Ok(())
    }
}

#[test]
fn reduce_lr_on_plateau_lowers_the_rate_after_patience_epochs_then_cools_down() {
    // A training loss that cannot improve by min_delta 10: every epoch after
    // the first is a non-improvement. Keras: after `patience` (2) such epochs
    // lr *= factor (0.5), wait restarts and the cooldown (2) counts down at
    // each epoch's start, so one epoch does not count; never below min_lr
    // (0.02).
    let rates = Rates::default();
    let mut t = trainer(config(9, 10), 0.1);
    let mut plateau = ReduceLrOnPlateau::new().with_monitor(Monitor::Loss).with_patience(2).with_factor(0.5);
    plateau.min_delta = 10.0;
    t.add_callback(plateau.with_cooldown(2).with_min_lr(0.02)).unwrap();
    t.add_callback(rates.clone()).unwrap();
    t.fit(model(8).as_mut(), &blobs(20, 12), None).unwrap();
    // Epoch 1 sets the best; 2, 3 wait (reduce after 3: 0.05); 4 in cooldown;
    // 5, 6 wait (reduce after 6: 0.025); 7 in cooldown; 8, 9 wait (0.0125 is
    // below min_lr: 0.02 after 9). A rate shows in the epoch after the change.
    let want = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025];
    let got = rates.0.lock().unwrap().clone();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-7, "{got:?}");
    }
    assert!((t.state().base_lr - 0.02).abs() < 1e-7, "{}", t.state().base_lr);
}

#[test]
fn terminate_on_nan_stops_training_and_keeps_the_weights_from_before_the_bad_batch() {
    // A learning rate of 1e30 sends the loss to infinity within a few steps.
    let data = blobs(40, 13);
    let run = |with_callback: bool| {
        let mut m = model(9);
        let mut t = trainer(config(5, 10), 1e30);
        if with_callback {
            t.add_callback(TerminateOnNaN).unwrap();
        }
        let result = t.fit(m.as_mut(), &data, None);
        (result, state_dict(m.as_mut()))
    };
    let (without, _) = run(false);
    let err = without.unwrap_err();
    assert!(matches!(err, TrainingError::NonFiniteLoss { .. } | TrainingError::NonFiniteGradient { .. }), "{err}");
    let (with, weights) = run(true);
    let h = with.unwrap();
    let stop = h.stopped.unwrap();
    assert_eq!(stop.callback, "terminate_on_nan");
    assert!(stop.reason.contains("update was not applied"), "{}", stop.reason);
    // Adam's first steps move each weight by about lr, so the weights are huge
    // but finite: the non-finite batch's update was never applied.
    assert!(weights.iter().all(|(_, t)| t.is_finite()), "{weights:?}");
}

#[test]
fn a_callback_error_stops_fit_and_names_the_callback() {
    struct Fails;
    impl Callback for Fails {
        fn name(&self) -> &str {
            "fails"
        }
        fn on_epoch_begin(&mut self, _: &mut CallbackContext<'_>, epoch: usize) -> CallbackResult {
            if epoch == 2 { Err("disk full".into()) } else { Ok(()) }
        }
    }
    let mut t = trainer(config(3, 10), 0.01);
    t.add_callback(Fails).unwrap();
    let err = t.fit(model(10).as_mut(), &blobs(20, 14), None).unwrap_err();
    assert_eq!(err.to_string(), "callback 'fails' failed: disk full");
    assert_eq!(t.state().epoch, 1);
}
