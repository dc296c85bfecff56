//! `strata train --checkpoint-every N --checkpoint-dir DIR` and
//! `strata train --resume DIR`: the run's arguments travel in its
//! checkpoints, so a resumed run rebuilds the same data, model and trainer
//! and continues where the newest checkpoint stands.

use crate::args::{Cli, Command, TrainArgs};
use crate::distributed::Session;
use clap::Parser;
use std::path::PathBuf;
use strata::data::InMemoryDataset;
use strata::layers::{Layer, Registry};
use strata::training::{Checkpoint, Every, ModelCheckpoint, Monitor, Snapshot, Trainer};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The metadata key of the `strata train` arguments in a checkpoint.
pub(crate) const TRAIN_ARGS: &str = "strata.train_args";

/// The metadata key of the training part's fingerprint in a checkpoint
/// ([`strata::data::InMemoryDataset::fingerprint`], in hexadecimal).
pub(crate) const TRAIN_DATA: &str = "strata.train_data";

/// A training run: its arguments as given, and where it resumes from.
pub(crate) struct Run {
    /// The arguments after `train`, stored in every checkpoint.
    pub argv: Vec<String>,
    /// The state to continue from.
    pub snapshot: Option<Snapshot>,
    /// This process's place in a data-parallel run (`--distributed`).
    pub session: Option<Session>,
    /// The fingerprint of the training part the resumed run started on, when
    /// its checkpoint holds one (written since the sixteenth session).
    pub train_data: Option<String>,
    /// The checkpoint resumed from (named in the errors of its restore).
    pub from: Option<PathBuf>,
}

impl Run {
    /// Restore the snapshot to resume from, if any, into `trainer` and
    /// `model`; an error names the checkpoint.
    pub fn restore(&mut self, trainer: &mut Trainer, model: &mut dyn Layer, keep: impl Fn(&str) -> bool) -> Result<()> {
        let Some(mut snapshot) = self.snapshot.take() else { return Ok(()) };
        snapshot.callbacks.retain(|name, _| keep(name));
        trainer.restore(model, &snapshot).map_err(|e| {
            let from = self.from.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default();
            format!("{from}{e}").into()
        })
    }
}

/// `strata train`, resuming when asked to. `--distributed` is not stored
/// with the run: a run resumes on any number of ranks.
pub fn train(a: TrainArgs, registry: &Registry, argv: Vec<String>) -> Result<()> {
    let session = if a.distributed { Some(Session::start()?) } else { None };
    let argv: Vec<String> = argv.into_iter().filter(|a| a != "--distributed").collect();
    // A folder this run creates for its checkpoints and leaves empty (it
    // failed before the first) is removed with the failure.
    let new_folder = a.checkpoint_dir.clone().filter(|d| a.resume.is_none() && !d.exists());
    let result = match a.resume.clone() {
        Some(dir) => resume(dir, a.quiet, &argv, registry, session.clone()),
        None => crate::run::train(
            a,
            registry,
            Run { argv, snapshot: None, session: session.clone(), train_data: None, from: None },
        ),
    };
    if let (Err(_), Some(dir)) = (&result, new_folder) {
        let _ = std::fs::remove_dir(dir);
    }
    match (result, session) {
        (Err(e), Some(session)) => session.fail(e),
        (result, _) => result,
    }
}

fn resume(dir: PathBuf, quiet: bool, argv: &[String], registry: &Registry, session: Option<Session>) -> Result<()> {
    let allowed = |a: &&String| a.starts_with("--resume") || *a == "--quiet" || *a == "-q";
    if let Some(extra) = argv.iter().filter(|a| a.starts_with('-')).find(|a| !allowed(a)) {
        return Err(format!(
            "--resume continues a run with the arguments it was started with: give no other flag but --quiet \
             or --distributed (got {extra})"
        )
        .into());
    }
    if dir.is_file() {
        return Err(format!(
            "--resume {}: is a file; give the run's checkpoint folder (--checkpoint-dir)",
            dir.display()
        )
        .into());
    }
    let latest = match &session {
        Some(session) => session.latest_checkpoint(&dir)?,
        None => latest_valid(&dir)?,
    };
    let (checkpoint, path) =
        latest.ok_or_else(|| format!("{}: no checkpoint to resume from (checkpoint-*.strata)", dir.display()))?;
    let stored = checkpoint.metadata.get(TRAIN_ARGS).ok_or_else(|| {
        format!("{}: not written by `strata train` (no {TRAIN_ARGS} in its metadata)", path.display())
    })?;
    let stored: Vec<String> =
        serde_json::from_str(stored).map_err(|e| format!("{}: metadata {TRAIN_ARGS}: {e}", path.display()))?;
    let words = ["strata", "train"].into_iter().map(String::from).chain(stored.iter().cloned());
    let parsed = Cli::try_parse_from(words).map_err(|e| {
        let e = e.to_string();
        let first = e.lines().next().unwrap_or_default().trim_start_matches("error: ");
        format!("{}: metadata {TRAIN_ARGS} is not a train command line: {first}", path.display())
    })?;
    let Command::Train(mut a) = parsed.command else {
        return Err(format!("{}: metadata {TRAIN_ARGS} is not a train command", path.display()).into());
    };
    a.quiet = quiet || session.as_ref().is_some_and(|s| !s.is_root());
    crate::checks::flags(&a).map_err(|e| format!("{}: metadata {TRAIN_ARGS}: {e}", path.display()))?;
    a.checkpoint_dir = Some(dir);
    let done = complete(&a, &checkpoint.snapshot.state).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(done) = done {
        // PyTorch Lightning's `max_epochs` reached: nothing is trained or written.
        let saved =
            a.out.as_ref().map(|out| format!(" (its model was saved to {})", out.display())).unwrap_or_default();
        outln!("{}: {done}: nothing to resume{saved}", path.display());
        return Ok(());
    }
    if !a.quiet {
        let s = &checkpoint.snapshot.state;
        outln!("resuming from {} (epoch {} done, step {})", path.display(), s.epoch, s.step);
    }
    let train_data = checkpoint.metadata.get(TRAIN_DATA).cloned();
    let run = Run { argv: stored, snapshot: Some(checkpoint.snapshot), session, train_data, from: Some(path) };
    crate::run::train(*a, registry, run)
}

/// The newest checkpoint of `dir` that reads, with its path; each newer
/// one that does not (damaged on disk) is named in a warning.
pub(crate) fn latest_valid(dir: &std::path::Path) -> Result<Option<(Checkpoint, PathBuf)>> {
    Ok(Checkpoint::load_latest_valid(dir)?.map(|(checkpoint, path, skipped)| {
        for e in skipped {
            errln!("warning: {e}: resuming from the checkpoint before it");
        }
        (checkpoint, path)
    }))
}

/// How the run a checkpoint belongs to ended, if it did: its last epoch
/// done, or a callback stopped it. A resumed run finishes its own epochs;
/// it does not train more of them.
/// A checkpoint that says more epochs are done than its run has is refused:
/// no such file comes from `strata train`.
fn complete(a: &TrainArgs, state: &strata::training::TrainerState) -> Result<Option<String>> {
    let mut resolved = a.clone();
    resolved.resolve_defaults();
    let epochs = resolved.epochs.unwrap_or(0);
    if state.epoch > epochs {
        return Err(format!("its state says {} epochs are done, but its run has {epochs}", state.epoch).into());
    }
    if let Some(stop) = &state.history.stopped {
        return Ok(Some(format!("the run was stopped in epoch {} ({})", stop.epoch, stop.reason)));
    }
    let in_epoch = state.run.as_ref().is_some_and(|r| r.position.is_some());
    Ok((state.epoch == epochs && !in_epoch)
        .then(|| format!("the run is complete ({} of {epochs} epochs done)", state.epoch)))
}

/// The checkpoint callback the arguments ask for, if any; its checkpoints
/// carry the arguments and `train`'s fingerprint. A resumed run whose
/// training part is not the one it started on is refused.
pub(crate) fn callback(
    a: &TrainArgs,
    run: &Run,
    train: &InMemoryDataset,
    has_validation: bool,
) -> Result<Option<ModelCheckpoint>> {
    let every = a.checkpoint_every.as_deref().map(parse_every).transpose()?;
    if every.is_none() && a.checkpoint_dir.is_none() {
        return Ok(None);
    }
    let fingerprint = format!("{:08x}", train.fingerprint());
    check_resume(a, run, &fingerprint)?;
    let dir = a.checkpoint_dir.clone().unwrap_or_else(|| PathBuf::from("checkpoints"));
    if dir.exists() && !dir.is_dir() {
        return Err(format!("--checkpoint-dir {}: is a file; give a folder (made if missing)", dir.display()).into());
    }
    check_dir_is_ours(a, run, &dir)?;
    let monitor = if has_validation { Monitor::ValLoss } else { Monitor::Loss };
    let mut cb = ModelCheckpoint::to_dir(dir)?
        .every(every.unwrap_or(Every::Epochs(1)))
        .keep_last(a.keep_last.max(1))
        .monitor(monitor);
    cb.metadata.insert(TRAIN_ARGS.into(), serde_json::to_string(&run.argv)?);
    cb.metadata.insert(TRAIN_DATA.into(), fingerprint);
    Ok(Some(cb))
}

/// A new run's checkpoint folder holds no other run's checkpoints (its
/// rotation would delete them, its `best.strata` replace theirs, and
/// `--resume` would then continue this run instead), and `--out` is not one
/// of the folder's checkpoint files.
fn check_dir_is_ours(a: &TrainArgs, run: &Run, dir: &std::path::Path) -> Result<()> {
    if run.snapshot.is_none() && dir.is_dir() {
        let numbered = strata::io::CheckpointDir::open(dir)?.checkpoints()?;
        let held: Vec<String> = numbered
            .iter()
            .map(|(_, p)| p.clone())
            .chain(Some(dir.join(strata::io::BEST)).filter(|b| b.exists()))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        if !held.is_empty() {
            return Err(format!(
                "--checkpoint-dir {}: holds the checkpoints of an earlier run ({}); resume it with --resume {}, \
                 or give another folder (or empty this one)",
                dir.display(),
                held.join(", "),
                dir.display()
            )
            .into());
        }
    }
    let Some(out) = &a.out else { return Ok(()) };
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let in_dir = crate::checks::resolved(out)
        .zip(crate::checks::resolved(dir))
        .is_some_and(|(out, dir)| out.parent() == Some(dir.as_path()));
    if (name == strata::io::BEST || strata::io::checkpoint_step(&name).is_some()) && in_dir {
        return Err(format!(
            "--out {}: names a checkpoint file of --checkpoint-dir, which the checkpoints would overwrite or \
             the model replace; give another name",
            out.display()
        )
        .into());
    }
    Ok(())
}

/// A resumed run (`--resume` always names its checkpoint folder) goes on
/// with the training part and the optimizer it started with.
fn check_resume(a: &TrainArgs, run: &Run, fingerprint: &str) -> Result<()> {
    if let Some(started) = run.train_data.as_ref().filter(|f| f.as_str() != fingerprint) {
        return Err(format!(
            "--resume: the training data differs from the data the run started on (fingerprint {fingerprint}, \
             the checkpoint's {started}): the data file changed since; resume with the data the run was started \
             with, or start a new run"
        )
        .into());
    }
    if let Some(snapshot) = &run.snapshot {
        let asked = strata::optimizer::OptimizerConfig::from_name(&a.optimizer, 1e-3)?.name();
        if snapshot.optimizer.name() != asked {
            return Err(format!(
                "--resume: the checkpoint's arguments ask for --optimizer {asked}, but its optimizer state is {}'s: \
                 the checkpoint contradicts itself",
                snapshot.optimizer.name()
            )
            .into());
        }
    }
    Ok(())
}

/// `2`, `2epochs`, `100steps`.
fn parse_every(s: &str) -> Result<Every> {
    let bad = || format!("--checkpoint-every must be N, Nepochs or Nsteps with N at least 1, got '{s}'");
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: usize = n.parse().ok().filter(|&n| n > 0).ok_or_else(bad)?;
    match unit {
        "" | "epoch" | "epochs" => Ok(Every::Epochs(n)),
        "step" | "steps" => Ok(Every::Steps(n)),
        _ => Err(bad().into()),
    }
}
