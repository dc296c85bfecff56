//! Each test runs twice: as the parent, it launches
//! `mpirun --allow-run-as-root --oversubscribe -np 2` on this test binary,
//! running only itself, and reads what rank 0 wrote; as a child (the
//! variable `STRATA_MPI_CHILD` names the folder to write to), it is one
//! rank. Without `mpirun` the parent prints why and returns.

use std::path::{Path, PathBuf};
use std::process::Command;
use strata_activation::ActivationKind;
use strata_data::{Dataset, InMemoryDataset};
use strata_distributed::{Communicator, DataParallel, Shard};
use strata_layers::{Layer, LayerSpec, Registry, state_dict};
use strata_loss::LossKind;
use strata_optimizer::OptimizerConfig;
use strata_tensor::{StrataRng, Tensor};
use strata_training::{FitConfig, History, Progress, Trainer, presets};

const CHILD: &str = "STRATA_MPI_CHILD";

/// 193 samples of 3 Gaussian blobs in 8 dimensions: with global batches of
/// 64 the last batch holds 1 sample, so rank 0's slice of it is empty.
fn blobs() -> InMemoryDataset {
    let n = 193;
    let mut rng = StrataRng::seed_from_u64(11);
    let mut x = Tensor::random_normal(&[n, 8], 0.0, 1.0, &mut rng).expect("shape");
    let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
    for (row, &label) in x.data_mut().chunks_mut(8).zip(&labels) {
        row[label] += 2.5;
    }
    InMemoryDataset::from_labels(x, &labels).expect("labels")
}

fn config() -> FitConfig {
    FitConfig { epochs: 3, batch_size: 64, seed: 7, progress: Progress::Silent, ..FitConfig::default() }
}

fn model(spec: &LayerSpec) -> Box<dyn Layer> {
    Registry::with_builtins().build(spec, &mut StrataRng::seed_from_u64(3)).expect("builds")
}

fn mlp() -> LayerSpec {
    presets::mlp(&[8, 16, 3], ActivationKind::Tanh, 0.0).expect("spec")
}

/// Train `model` on `data` for `config()`, with plain SGD (its update is
/// linear in the gradient, so the ranks' different sum order stays a
/// rounding difference), on this rank's shard when `comm` is given.
fn train(model: &mut dyn Layer, data: &InMemoryDataset, comm: Option<&Communicator>) -> History {
    let optimizer = OptimizerConfig::from_name("sgd", 0.1).expect("sgd");
    let mut trainer = Trainer::new(config(), LossKind::CrossEntropy, optimizer).expect("trainer");
    match comm {
        Some(comm) => {
            trainer.add_gradient_hook(DataParallel::new(comm.clone()));
            trainer.fit(model, &Shard::new(data, comm.rank(), comm.size()), None).expect("trains")
        }
        None => trainer.fit(model, data as &dyn Dataset, None).expect("trains"),
    }
}

fn weights(model: &mut dyn Layer) -> Vec<f32> {
    state_dict(model).into_iter().flat_map(|(_, t)| t.into_vec()).collect()
}

/// Write floats one a line, as their bits.
fn write(path: &Path, values: &[f32]) {
    let text: String = values.iter().map(|v| format!("{}\n", v.to_bits())).collect();
    std::fs::write(path, text).expect("writable");
}

fn read(path: &Path) -> Vec<f32> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| f32::from_bits(l.parse().expect("bits"))).collect()
}

/// Run `test` (this module's test of that name) on 2 ranks; `None` when
/// `mpirun` is not installed.
fn launch(test: &str) -> Option<PathBuf> {
    if Command::new("mpirun").arg("--version").output().is_err() {
        eprintln!("skipped: mpirun not found (Debian: apt-get install openmpi-bin libopenmpi-dev)");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("strata-mpi-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-np", "2", "-x", CHILD])
        .arg(exe)
        .args([&format!("equivalence::{test}"), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, &dir)
        .output()
        .expect("mpirun starts");
    assert!(
        out.status.success(),
        "mpirun failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(dir)
}

#[test]
fn two_ranks_train_the_weights_of_one_process_with_the_global_batch() {
    if let Some(dir) = std::env::var_os(CHILD) {
        let comm = Communicator::init().expect("MPI starts");
        let mut m = model(&mlp());
        comm.synchronize_model(m.as_mut()).expect("same architecture");
        let history = train(m.as_mut(), &blobs(), Some(&comm));
        comm.check_same_weights(m.as_mut(), "after training").expect("identical on every rank");
        if comm.is_root() {
            let dir = PathBuf::from(dir);
            write(&dir.join("weights"), &weights(m.as_mut()));
            let figures: Vec<f32> =
                history.epochs.iter().flat_map(|r| [r.train_loss, r.train_accuracy.unwrap_or(f32::NAN)]).collect();
            write(&dir.join("figures"), &figures);
        }
        return;
    }
    let Some(dir) = launch("two_ranks_train_the_weights_of_one_process_with_the_global_batch") else { return };
    let mut m = model(&mlp());
    let history = train(m.as_mut(), &blobs(), None);
    let (one, two) = (weights(m.as_mut()), read(&dir.join("weights")));
    assert_eq!(one.len(), two.len());
    // The ranks sum the same gradient terms in another order (two means over
    // 32 samples, each halved, instead of one mean over 64): a few units in
    // the last place per step. Over 12 SGD steps at lr 0.1 on weights of
    // magnitude about 1 that stays far below 1e-5 (measured: about 1e-7).
    let worst = one.iter().zip(&two).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    eprintln!("largest difference between 2 ranks and 1 process: {worst:e}");
    assert!(worst < 1e-5, "largest difference {worst}");
    assert_ne!(one, weights(model(&mlp()).as_mut()), "training moved the weights");
    // The epochs' records are the whole batch's figures on every rank: loss
    // to the same rounding, accuracy (counts) exactly.
    let figures = read(&dir.join("figures"));
    for (record, pair) in history.epochs.iter().zip(figures.chunks(2)) {
        assert!((record.train_loss - pair[0]).abs() < 1e-5, "{} vs {}", record.train_loss, pair[0]);
        assert_eq!(record.train_accuracy, Some(pair[1]));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ranks_that_built_different_architectures_fail_alike_naming_the_rank_and_both_hashes() {
    // Rank 1 builds a hidden layer of 17 instead of 16.
    let spec = |rank: usize| presets::mlp(&[8, 16 + rank, 3], ActivationKind::Tanh, 0.0).expect("spec");
    if let Some(dir) = std::env::var_os(CHILD) {
        let comm = Communicator::init().expect("MPI starts");
        let mut m = model(&spec(comm.rank()));
        let err = comm.synchronize_model(m.as_mut()).expect_err("architectures differ");
        std::fs::write(PathBuf::from(dir).join(format!("error-{}", comm.rank())), err.to_string()).expect("writable");
        return;
    }
    let Some(dir) = launch("ranks_that_built_different_architectures_fail_alike_naming_the_rank_and_both_hashes")
    else {
        return;
    };
    let hash = |rank| strata_distributed::architecture_hash(model(&spec(rank)).as_mut());
    let expected = format!(
        "synchronize the model: rank(s) [1] built another architecture than rank 0 (hash of parameter names and \
         shapes: rank 0 has {:016x}, they have {:016x})",
        hash(0),
        hash(1)
    );
    for rank in 0..2 {
        let message = std::fs::read_to_string(dir.join(format!("error-{rank}"))).expect("each rank wrote its error");
        assert_eq!(message, expected, "rank {rank}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
