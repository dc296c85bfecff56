//! The whole training state round-trips: a snapshot taken inside an epoch,
//! restored into a fresh model and trainer, continues to bit-identical
//! weights.

use crate::common::{blobs, model_with_dropout};
use std::sync::{Arc, Mutex};
use strata_layers::{Layer, Registry, counters, state_dict};
use strata_loss::LossKind;
use strata_optimizer::{OptimizerConfig, Schedule};
use strata_training::{
    BatchLogs, Callback, CallbackContext, CallbackResult, Checkpoint, EarlyStopping, Every, FitConfig, ModelCheckpoint,
    Monitor, Progress, ReduceLrOnPlateau, Snapshot, Trainer, TrainingError,
};

/// Asks for a snapshot after a given batch of a given epoch and keeps it.
#[derive(Clone, Default)]
struct SnapshotAt {
    at: (usize, usize),
    taken: Arc<Mutex<Option<Snapshot>>>,
}

impl Callback for SnapshotAt {
    fn on_batch_end(&mut self, ctx: &mut CallbackContext<'_>, logs: &BatchLogs) -> CallbackResult {
        if (logs.epoch, logs.batch) == self.at {
            ctx.request_snapshot();
        }
        Ok(())
    }

    fn on_snapshot(&mut self, snapshot: &Snapshot) -> CallbackResult {
        *self.taken.lock().unwrap() = Some(snapshot.clone());
        Ok(())
    }
}

/// A trainer with everything that has state: Adam's moments, a warm-up and
/// cosine schedule, shuffling, and two callbacks that keep state.
fn trainer() -> Trainer {
    let config = FitConfig {
        epochs: 5,
        batch_size: 7,
        seed: 21,
        schedule: Schedule::LinearWarmup {
            warmup_steps: 6,
            then: Box::new(Schedule::Cosine { total_steps: 30, min_lr: 1e-4 }),
        },
        clip_grad_norm: Some(1.0),
        progress: Progress::Silent,
        ..FitConfig::default()
    };
    let mut t =
        Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name("adam", 0.03).unwrap()).unwrap();
    t.add_callback(EarlyStopping::new(50).restore_best_weights(true)).unwrap();
    t.add_callback(ReduceLrOnPlateau::new().with_monitor(Monitor::Loss).with_patience(1).with_factor(0.7)).unwrap();
    t
}

fn bits(m: &mut dyn Layer) -> Vec<(String, Vec<u32>)> {
    state_dict(m).into_iter().map(|(n, t)| (n, t.data().iter().map(|x| x.to_bits()).collect())).collect()
}

#[test]
fn a_snapshot_taken_inside_an_epoch_resumes_to_bit_identical_weights() {
    let (train, val) = (blobs(45, 30), blobs(20, 31));
    // The uninterrupted run, which takes a snapshot after batch 4 of epoch 3
    // (45 samples / batch 7: 7 batches per epoch) and goes on.
    let taker = SnapshotAt { at: (3, 4), ..SnapshotAt::default() };
    let mut a = model_with_dropout(40, 0.25);
    let mut ta = trainer();
    ta.add_callback(taker.clone()).unwrap();
    let ha = ta.fit(a.as_mut(), &train, Some(&val)).unwrap();
    let snapshot = taker.taken.lock().unwrap().take().unwrap();
    assert_eq!(snapshot.state.step, 2 * 7 + 4);
    assert_eq!(snapshot.state.run.as_ref().unwrap().position.as_ref().unwrap().batches, 4);
    assert_eq!(snapshot.counters, [("dropout_1.calls".to_string(), 18)], "one dropout mask per training forward");
    assert!(snapshot.callbacks.contains_key("early_stopping"));

    // Through text and back, as a checkpoint file would carry it.
    let snapshot: Snapshot = serde_json::from_str(&serde_json::to_string(&snapshot).unwrap()).unwrap();

    // A fresh model built from the snapshot and a fresh trainer, restored.
    let mut b = snapshot.build_model(&Registry::with_builtins()).unwrap();
    let mut tb = trainer();
    tb.add_callback(SnapshotAt::default()).unwrap();
    tb.restore(b.as_mut(), &snapshot).unwrap();
    assert_eq!(counters(b.as_mut()), snapshot.counters);
    let hb = tb.fit(b.as_mut(), &train, Some(&val)).unwrap();

    assert_eq!(bits(a.as_mut()), bits(b.as_mut()), "resumed weights differ from the uninterrupted run's");
    assert_eq!(ta.state().step, tb.state().step);
    assert_eq!(ta.state().rng, tb.state().rng);
    assert_eq!(ta.state().base_lr.to_bits(), tb.state().base_lr.to_bits(), "the plateau callback acted alike");
    assert_eq!(ha.best_epoch, hb.best_epoch);
    // The resumed call returns the whole run's epochs, figures bit-identical
    // (the interrupted epoch's running sums travelled in the snapshot).
    assert_eq!(hb.epochs.len(), 5);
    for (x, y) in ha.epochs.iter().zip(&hb.epochs) {
        assert_eq!((x.epoch, x.batches), (y.epoch, y.batches));
        assert_eq!(x.train_loss.to_bits(), y.train_loss.to_bits(), "epoch {}", x.epoch);
        assert_eq!(x.train_accuracy, y.train_accuracy, "epoch {}", x.epoch);
        assert_eq!(x.validation, y.validation, "epoch {}", x.epoch);
        assert_eq!(x.grad_norms, y.grad_norms, "epoch {}", x.epoch);
    }
}

#[test]
fn a_snapshot_between_fit_calls_continues_like_one_longer_fit() {
    let train = blobs(30, 32);
    let mut a = model_with_dropout(41, 0.2);
    let mut ta = Trainer::new(
        FitConfig { epochs: 4, batch_size: 7, seed: 3, progress: Progress::Silent, ..FitConfig::default() },
        LossKind::CrossEntropy,
        OptimizerConfig::from_name("adam", 0.02).unwrap(),
    )
    .unwrap();
    ta.fit(a.as_mut(), &train, None).unwrap();
    let snapshot = ta.snapshot(a.as_mut()).unwrap();
    assert!(snapshot.state.run.is_none(), "no fit call in progress");
    ta.fit(a.as_mut(), &train, None).unwrap();

    let mut b = snapshot.build_model(&Registry::with_builtins()).unwrap();
    let mut tb = Trainer::new(
        FitConfig { epochs: 4, batch_size: 7, seed: 999, progress: Progress::Silent, ..FitConfig::default() },
        LossKind::CrossEntropy,
        OptimizerConfig::from_name("sgd", 0.5).unwrap(),
    )
    .unwrap();
    // The snapshot's optimizer (Adam) and shuffling stream replace the fresh ones.
    tb.restore(b.as_mut(), &snapshot).unwrap();
    tb.fit(b.as_mut(), &train, None).unwrap();
    assert_eq!(bits(a.as_mut()), bits(b.as_mut()));
    assert_eq!(tb.state().epoch, 8);
}

#[test]
fn a_snapshot_that_does_not_fit_is_refused_and_changes_nothing() {
    let train = blobs(30, 33);
    let mut a = model_with_dropout(42, 0.2);
    let mut ta = trainer();
    ta.fit(a.as_mut(), &train, Some(&train)).unwrap();
    let snapshot = ta.snapshot(a.as_mut()).unwrap();

    // A trainer without the callbacks whose state the snapshot holds.
    let mut plain = Trainer::new(FitConfig::default(), LossKind::CrossEntropy, OptimizerConfig::default()).unwrap();
    let mut b = model_with_dropout(43, 0.2);
    let before = bits(b.as_mut());
    let err = plain.restore(b.as_mut(), &snapshot).unwrap_err();
    assert!(matches!(&err, TrainingError::Restore(m) if m.contains("callback 'early_stopping'")), "{err}");
    assert_eq!(bits(b.as_mut()), before);
    assert_eq!(plain.state().step, 0);

    // A model without dropout: the snapshot's counter has nowhere to go.
    let mut c = model_with_dropout(44, 0.0);
    let before = bits(c.as_mut());
    let err = trainer().restore(c.as_mut(), &snapshot).unwrap_err();
    assert!(err.to_string().contains("dropout_1.calls"), "{err}");
    assert_eq!(bits(c.as_mut()), before, "a failed restore leaves the weights as they were");
}

#[test]
fn every_checkpoint_a_folder_keeps_resumes_to_the_weights_of_the_uninterrupted_run() {
    let (train, val) = (blobs(45, 30), blobs(20, 31));
    let dir = std::env::temp_dir().join(format!("strata-training-ckpt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let checkpoints = |dir: &std::path::Path| {
        ModelCheckpoint::to_dir(dir).unwrap().every(Every::Steps(4)).keep_last(100).monitor(Monitor::ValLoss)
    };
    let mut a = model_with_dropout(40, 0.25);
    let mut ta = trainer();
    ta.add_callback(checkpoints(&dir)).unwrap();
    ta.fit(a.as_mut(), &train, Some(&val)).unwrap();
    let files = strata_io::CheckpointDir::open(&dir).unwrap().checkpoints().unwrap();
    // 5 epochs of 7 batches: steps 4, 8, ..., 32; the best (lowest validation loss) beside them.
    assert_eq!(files.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [4, 8, 12, 16, 20, 24, 28, 32]);
    assert!(dir.join("best.strata").is_file());

    // A crash after any of them: a fresh model and trainer, restored from the file, finish the run.
    for (step, path) in files {
        let checkpoint = Checkpoint::load(&path).unwrap();
        assert_eq!(checkpoint.snapshot.state.step as u64, step);
        let mut b = checkpoint.snapshot.build_model(&Registry::with_builtins()).unwrap();
        let mut tb = trainer();
        let resumed_dir = dir.join(format!("resumed-{step}"));
        tb.add_callback(checkpoints(&resumed_dir)).unwrap();
        tb.restore(b.as_mut(), &checkpoint.snapshot).unwrap();
        tb.fit(b.as_mut(), &train, Some(&val)).unwrap();
        assert_eq!(bits(a.as_mut()), bits(b.as_mut()), "resumed from step {step}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mutated_checkpoint_files_give_typed_errors_never_panics() {
    let mut model = model_with_dropout(40, 0.25);
    let t = trainer();
    let seed = Checkpoint::new(t.snapshot(model.as_mut()).unwrap()).to_bytes().unwrap();
    let mut rng = strata_tensor::StrataRng::seed_from_u64(13);
    let mut loaded = 0;
    for i in 0..1500 {
        let mut m = seed.clone();
        let at = (rng.next_u64() % m.len() as u64) as usize;
        match i % 3 {
            0 => m[at] ^= 1 << (rng.next_u64() % 8),
            1 => m.truncate(at),
            _ => drop(m.splice(at..at, [b'{', b'"', 0xff])),
        };
        if let Ok(c) = Checkpoint::from_bytes(m, std::path::Path::new("fuzz")) {
            loaded += 1;
            let _ = c.snapshot.build_model(&Registry::with_builtins());
        }
    }
    assert_eq!(loaded, 0, "every mutation is caught by the lengths or the checksum");
}

/// A snapshot whose counters a hostile or damaged file set (checksummed
/// again) is refused, or trains without overflowing: never a panic, never a
/// fit call that runs on for ever.
#[test]
fn a_snapshot_with_impossible_counters_is_refused_or_harmless() {
    let train = blobs(30, 33);
    let mut a = model_with_dropout(42, 0.2);
    let mut ta = trainer();
    ta.fit(a.as_mut(), &train, Some(&train)).unwrap();
    let snapshot = ta.snapshot(a.as_mut()).unwrap();

    // A fit call of 2^64 - 1 epochs, where this trainer runs 5 a call.
    let mut forever = snapshot.clone();
    forever.state.run = Some(strata_training::RunState { first_epoch: 1, last_epoch: usize::MAX, position: None });
    let err = trainer().restore(model_with_dropout(42, 0.2).as_mut(), &forever).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot restore the snapshot: it was taken in a fit call of epochs 1 to {} at epoch 5; this trainer runs \
             5 epochs a call",
            usize::MAX
        )
    );
    // Epoch and step counts at their limits: the next fit ends, saturated.
    let mut worn = snapshot.clone();
    worn.state.epoch = usize::MAX - 1;
    worn.state.step = usize::MAX;
    // Its history (epochs 1 to 5) renumbered to end there, as the restore's check asks.
    let renumbered = |epoch: usize| usize::MAX - 1 - (5 - epoch);
    for record in &mut worn.state.history.epochs {
        record.epoch = renumbered(record.epoch);
    }
    worn.state.history.best_epoch = worn.state.history.best_epoch.map(renumbered);
    let (mut b, mut tb) = (model_with_dropout(42, 0.2), trainer());
    tb.restore(b.as_mut(), &worn).unwrap();
    let history = tb.fit(b.as_mut(), &train, Some(&train)).unwrap();
    assert_eq!(history.epochs.len(), 1, "from epoch 2^64 - 2, one epoch is left before the count saturates");
    assert_eq!((tb.state().epoch, tb.state().step), (usize::MAX, usize::MAX));
}

#[test]
fn a_snapshot_that_contradicts_itself_is_refused_naming_the_contradiction() {
    // A snapshot inside epoch 3 (its position holds the epoch's figures so
    // far), then one change each, as an edited checkpoint could carry.
    let train = blobs(45, 34);
    let taker = SnapshotAt { at: (3, 4), ..SnapshotAt::default() };
    let mut a = model_with_dropout(43, 0.2);
    let mut ta = trainer();
    ta.add_callback(taker.clone()).unwrap();
    ta.fit(a.as_mut(), &train, Some(&train)).unwrap();
    let good = taker.taken.lock().unwrap().take().unwrap();
    let restore = |s: &Snapshot| {
        let mut t = trainer();
        t.add_callback(SnapshotAt::default()).unwrap();
        t.restore(model_with_dropout(43, 0.2).as_mut(), s).map_err(|e| e.to_string())
    };
    restore(&good).unwrap();
    fn position(s: &mut Snapshot) -> &mut strata_training::EpochPosition {
        s.state.run.as_mut().unwrap().position.as_mut().unwrap()
    }
    let optimizer_state = |s: &mut Snapshot, edit: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut json = serde_json::to_value(&s.optimizer).unwrap();
        edit(json["state"].as_object_mut().unwrap());
        s.optimizer = serde_json::from_value(json).unwrap();
    };
    let prefix = "cannot restore the snapshot: ";
    type Edit = Box<dyn Fn(&mut Snapshot)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("its epoch in progress counts 19 right predictions of 18", Box::new(|s| position(s).correct = Some((19, 18)))),
        (
            "its epoch in progress has a number of loss terms of -1, not a finite number of at least 0",
            Box::new(|s| position(s).terms = -1.0),
        ),
        (
            "its epoch in progress sums a gradient norm of 1 for 'dense_9.weight', which is not a trainable parameter \
             of the model or not a finite number of at least 0",
            Box::new(|s| position(s).grad_norms.push(("dense_9.weight".into(), 1.0))),
        ),
        (
            "its tensor 'dense_1.weight' holds NaN at index 2: a model's weights are finite numbers",
            Box::new(|s| s.weights[0].1.data_mut()[2] = f32::NAN),
        ),
        ("its base learning rate is -0.001, not a finite number of at least 0", Box::new(|s| s.state.base_lr = -0.001)),
        (
            "its history names epoch 50 the best, but holds epochs 1 to 2",
            Box::new(|s| s.state.history.best_epoch = Some(50)),
        ),
        ("its history holds no epoch, but it counts 2 epochs trained", Box::new(|s| s.state.history.epochs.clear())),
        (
            "its history ends at epoch 1, but it counts 2 epochs trained",
            Box::new(|s| {
                s.state.history.epochs.pop();
            }),
        ),
        ("its history records epoch 1 after epoch 1", Box::new(|s| s.state.history.epochs[1].epoch = 1)),
        (
            "its random stream's state is all zeros, from which the generator gives only zeros",
            Box::new(|s| {
                let mut json = serde_json::to_value(&s.state.rng).unwrap();
                json["s"] = serde_json::json!([0, 0, 0, 0]);
                s.state.rng = serde_json::from_value(json).unwrap();
            }),
        ),
        (
            "its optimizer holds state for 'dense_9.weight', which is not a parameter of the model",
            Box::new(move |s| {
                optimizer_state(s, &|m| {
                    let any = m.values().next().unwrap().clone();
                    m.insert("dense_9.weight".into(), any);
                })
            }),
        ),
        (
            // The shapes of the 2-8-2 network's first layer (common.rs).
            "its optimizer (adam) holds state of shape [2, 8] for 'dense_1.bias', a parameter of shape [8]",
            Box::new(move |s| {
                optimizer_state(s, &|m| {
                    let weight = m["dense_1.weight"].clone();
                    m.insert("dense_1.bias".into(), weight);
                })
            }),
        ),
        (
            "its optimizer (adam) has no state for 'dense_1.bias' after 18 steps",
            Box::new(move |s| {
                optimizer_state(s, &|m| {
                    m.remove("dense_1.bias");
                })
            }),
        ),
    ];
    for (expected, edit) in cases {
        let mut s = good.clone();
        edit(&mut s);
        assert_eq!(restore(&s).unwrap_err(), format!("{prefix}{expected}"));
    }
}

/// Early stopping's saved state that contradicts itself or the model is
/// refused: at restore when the state alone tells (non-finite best
/// weights, a wait longer than the epochs seen), leaving the model
/// and the other callbacks as they were; at the start of `fit` when only
/// the model tells (best weights of another shape), before any epoch, not
/// when they are put back after the last one.
#[test]
fn early_stopping_state_that_contradicts_itself_or_the_model_is_refused_before_training() {
    let train = blobs(45, 35);
    let taker = SnapshotAt { at: (3, 4), ..SnapshotAt::default() };
    let mut a = model_with_dropout(44, 0.2);
    let mut ta = trainer();
    ta.add_callback(taker.clone()).unwrap();
    ta.fit(a.as_mut(), &train, Some(&train)).unwrap();
    let good = taker.taken.lock().unwrap().take().unwrap();
    let edited = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut s = good.clone();
        edit(s.callbacks.get_mut("early_stopping").unwrap());
        s
    };
    for (expected, edit) in [
        (
            // 0x7fc00000: the bits of a NaN, as a checkpoint's tensor holds them.
            "its best weights hold NaN in 'dense_1.weight' at index 0",
            &(|v: &mut serde_json::Value| v["best_weights"][0][1]["bits"][0] = serde_json::json!(0x7fc0_0000u32))
                as &dyn Fn(&mut serde_json::Value),
        ),
        ("it has waited 9 epochs of the 2 it has seen", &|v| v["wait"] = serde_json::json!(9)),
    ] {
        let s = edited(edit);
        let mut model = model_with_dropout(44, 0.2);
        let before = bits(model.as_mut());
        let mut t = trainer();
        t.add_callback(SnapshotAt::default()).unwrap();
        let err = t.restore(model.as_mut(), &s).unwrap_err().to_string();
        assert!(err.ends_with(expected), "{err}");
        assert_eq!(bits(model.as_mut()), before, "a refused snapshot changed the model");
    }
    // Best weights of another shape: refused when the resumed fit begins.
    let s = edited(&|v| {
        let weights = v["best_weights"].as_array_mut().unwrap();
        weights[1][1] = weights[0][1].clone();
    });
    let mut model = model_with_dropout(44, 0.2);
    let mut t = trainer();
    t.add_callback(SnapshotAt::default()).unwrap();
    t.restore(model.as_mut(), &s).unwrap();
    let restored = bits(model.as_mut());
    let err = t.fit(model.as_mut(), &train, Some(&train)).unwrap_err().to_string();
    assert!(err.contains("its best weights hold 'dense_1.bias' of shape [2, 8], the model's is [8]"), "{err}");
    assert_eq!(bits(model.as_mut()), restored, "no epoch ran");
}
