//! `strata train --distributed` under `mpirun -np 2` against one process;
//! a rank that dies; resuming on another number of ranks. With the
//! `distributed` feature only (and skipped, with a message, where `mpirun`
//! is not installed); without it, the flag's error.

#[cfg(not(feature = "distributed"))]
#[test]
fn train_distributed_in_a_build_without_the_feature_says_how_to_rebuild() {
    let out = crate::strata(&["train", "--distributed", "--epochs", "1"]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --distributed: this strata was built without the `distributed` feature; rebuild with --features \
         distributed (it needs MPI: docs/distributed.md)\n"
    );
}

#[cfg(feature = "distributed")]
mod with_mpi {
    use crate::{strata, temp_dir, text};
    use std::path::Path;
    use std::process::{Command, Output};
    use strata::io::SavedModel;
    use strata::training::Checkpoint;

    /// Two epochs of an MLP on the embedded MNIST sample (4000 training
    /// rows: 62 batches of 64 and one of 32 per epoch), plain SGD at a
    /// constant rate and no dropout, so that the only difference between
    /// ranks and one process is the order of floating-point sums.
    const RUN: &str = "train --layers 784,32,10 --epochs 2 --optimizer sgd --lr 0.05 --schedule constant \
                       --dropout 0 --val-fraction 0 --batch-size 64 --quiet";

    /// The largest difference allowed between the weights of 2 ranks and of
    /// one process. Per step the gradients differ by a few units in the
    /// last place (one product over 64 rows against two over 32, halved
    /// and summed); 126 SGD steps at lr 0.05 on weights of about 0.05 keep
    /// that near 1e-7 (measured: below 1e-7); 1e-5 leaves room for other
    /// CPUs' kernels, while a wrong weighting moves weights by 1e-2 or more.
    const TOLERANCE: f32 = 1e-5;

    fn run_args(out: &Path, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = RUN.split_whitespace().map(String::from).collect();
        args.extend(["--out".to_string(), out.display().to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// `mpirun -np 2 strata ARGS --distributed`, or `None` (with a message)
    /// when mpirun is not installed.
    fn mpirun(args: &[String], env: &[(&str, &str)]) -> Option<Output> {
        if Command::new("mpirun").arg("--version").output().is_err() {
            eprintln!("skipped: mpirun not found (Debian: apt-get install openmpi-bin libopenmpi-dev)");
            return None;
        }
        let mut command = Command::new("mpirun");
        command.args(["--allow-run-as-root", "--oversubscribe", "-np", "2"]);
        for (name, value) in env {
            command.args(["-x", name]).env(name, value);
        }
        Some(command.arg(env!("CARGO_BIN_EXE_strata")).args(args).arg("--distributed").output().expect("mpirun starts"))
    }

    fn weights(path: &Path) -> Vec<f32> {
        let saved = SavedModel::load(path).expect("a model file");
        saved.tensors.into_iter().flat_map(|(_, t)| t.into_vec()).collect()
    }

    fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    fn one_process(out: &Path) {
        let args = run_args(out, &[]);
        let o = strata(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{}", text(&o));
    }

    #[test]
    fn two_ranks_with_batch_32_each_reach_the_weights_of_one_process_with_batch_64() {
        let dir = temp_dir("mpi-equivalence");
        let Some(o) = mpirun(&run_args(&dir.join("two.strata"), &[]), &[]) else { return };
        assert!(o.status.success(), "{}", text(&o));
        // Rank 0 alone reports: one line of test accuracy.
        assert_eq!(text(&o).matches("test accuracy").count(), 1, "{}", text(&o));
        one_process(&dir.join("one.strata"));
        let (one, two) = (weights(&dir.join("one.strata")), weights(&dir.join("two.strata")));
        let worst = largest_difference(&one, &two);
        eprintln!("largest difference between 2 ranks and 1 process: {worst:e}");
        assert!(worst < TOLERANCE, "largest difference {worst}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_rank_that_dies_ends_the_job_and_rank_0s_checkpoint_resumes_on_one_rank() {
        let dir = temp_dir("mpi-rank-dies");
        let ckpt = dir.join("ck");
        let args = run_args(
            &dir.join("two.strata"),
            &["--checkpoint-every", "10steps", "--checkpoint-dir", &ckpt.display().to_string()],
        );
        // Rank 1 exits before step 45 (of 126): rank 0 waits for it in that
        // step's all-reduce and mpirun ends the job.
        let Some(o) = mpirun(&args, &[("STRATA_TEST_EXIT_RANK_AT_STEP", "1:45")]) else { return };
        let log = text(&o);
        assert!(!o.status.success(), "{log}");
        assert!(log.contains("rank 1: exiting before step 45"), "{log}");
        assert!(log.contains("exited with non-zero status"), "mpirun names the rank that failed: {log}");
        assert!(!dir.join("two.strata").exists(), "no model is written by a failed run");
        // Rank 0's newest checkpoint is whole: the one after step 40.
        let (checkpoint, path) = Checkpoint::load_latest(&ckpt).expect("loads").expect("a checkpoint");
        assert_eq!(checkpoint.snapshot.state.step, 40, "{}", path.display());
        // Resumed on one process (the stored arguments do not hold
        // --distributed), it ends with the weights of one uninterrupted process.
        let resumed = strata(&["train", "--resume", &ckpt.display().to_string(), "--quiet"]);
        assert!(resumed.status.success(), "{}", text(&resumed));
        one_process(&dir.join("one.strata"));
        let worst = largest_difference(&weights(&dir.join("one.strata")), &weights(&dir.join("two.strata")));
        assert!(worst < TOLERANCE, "largest difference {worst}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
