//! `strata train --distributed`: the command's side of data-parallel
//! training (`strata-distributed`). Every rank runs the same command under
//! `mpirun`; rank 0 alone prints, writes checkpoints and the model. Without
//! the `distributed` feature, `--distributed` is an error that says how to
//! rebuild.

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The test-only fault injection: `RANK:STEP` makes that rank exit (code 3,
/// without a word to the others) before its step STEP (counted from 0), as
/// a crashed process would.
#[cfg_attr(not(feature = "distributed"), allow(dead_code))]
const EXIT_AT: &str = "STRATA_TEST_EXIT_RANK_AT_STEP";

#[cfg(feature = "distributed")]
mod imp {
    use super::{EXIT_AT, Result};
    use std::path::{Path, PathBuf};
    use strata::data::Dataset;
    use strata::distributed::{Communicator, DataParallel, Shard, local_range};
    use strata::layers::Layer;
    use strata::training::{BoxError, Checkpoint, History, StepInfo, Trainer};

    /// This process's place in the MPI job.
    #[derive(Debug, Clone)]
    pub(crate) struct Session {
        comm: Communicator,
    }

    impl Session {
        pub fn start() -> Result<Session> {
            Ok(Session { comm: Communicator::init()? })
        }

        pub fn is_root(&self) -> bool {
            self.comm.is_root()
        }

        /// `distributed: 2 ranks (MPI), global batch 64 = 32 per rank; rank 0 writes`.
        pub fn describe(&self, batch_size: usize) -> String {
            let (smallest, largest) = (
                local_range(batch_size, self.comm.size() - 1, self.comm.size()).len(),
                local_range(batch_size, 0, self.comm.size()).len().max(1),
            );
            let per_rank = if smallest == largest { format!("{largest}") } else { format!("{smallest}-{largest}") };
            format!(
                "distributed: {} ranks (MPI), global batch {batch_size} = {per_rank} per rank; rank 0 reports and writes",
                self.comm.size()
            )
        }

        /// Rank 0's newest checkpoint in `dir`, on every rank (only rank 0
        /// reads the folder).
        pub fn latest_checkpoint(&self, dir: &Path) -> Result<Option<(Checkpoint, PathBuf)>> {
            let mut bytes = Vec::new();
            let mut path = dir.to_path_buf();
            if self.is_root()
                && let Some((checkpoint, p)) = crate::checkpoint::latest_valid(dir)?
            {
                bytes = checkpoint.to_bytes()?;
                path = p;
            }
            self.comm.broadcast_bytes(&mut bytes)?;
            if bytes.is_empty() {
                return Ok(None);
            }
            Ok(Some((Checkpoint::from_bytes(bytes, &path)?, path)))
        }

        /// Rank 0's weights everywhere (after a check that every rank built
        /// the same architecture), then `fit` on this rank's shard with the
        /// gradient all-reduce.
        pub fn fit(
            &self,
            trainer: &mut Trainer,
            model: &mut dyn Layer,
            train: &dyn Dataset,
            validation: Option<&dyn Dataset>,
        ) -> Result<History> {
            self.comm.synchronize_model(model)?;
            if let Some((rank, step)) = exit_at()? {
                let mine = rank == self.comm.rank();
                trainer.add_gradient_hook(
                    move |_: &mut dyn Layer, info: &StepInfo| -> std::result::Result<(), BoxError> {
                        if mine && info.step == step {
                            errln!("rank {rank}: exiting before step {step} ({EXIT_AT})");
                            std::process::exit(3);
                        }
                        Ok(())
                    },
                );
            }
            trainer.add_gradient_hook(DataParallel::new(self.comm.clone()));
            let shard = Shard::new(train, self.comm.rank(), self.comm.size());
            Ok(trainer.fit(model, &shard, validation)?)
        }

        /// An error on one rank: print it and end the whole job
        /// (`MPI_Abort`), so that no rank waits for this one. A job of one
        /// rank returns the error as a plain run does.
        pub fn fail(&self, error: Box<dyn std::error::Error>) -> Result<()> {
            if self.comm.size() == 1 {
                return Err(error);
            }
            errln!("error: rank {} of {}: {error}", self.comm.rank(), self.comm.size());
            self.comm.abort(1)
        }
    }

    fn exit_at() -> Result<Option<(usize, usize)>> {
        let Ok(value) = std::env::var(EXIT_AT) else { return Ok(None) };
        let parsed = value.split_once(':').and_then(|(r, s)| Some((r.parse().ok()?, s.parse().ok()?)));
        Ok(Some(parsed.ok_or_else(|| format!("{EXIT_AT} must be RANK:STEP, got '{value}'"))?))
    }
}

#[cfg(not(feature = "distributed"))]
mod imp {
    use super::Result;
    use std::path::{Path, PathBuf};
    use strata::data::Dataset;
    use strata::layers::Layer;
    use strata::training::{Checkpoint, History, Trainer};

    /// No session can exist in a build without the feature.
    #[derive(Debug, Clone)]
    pub(crate) enum Session {}

    impl Session {
        pub fn start() -> Result<Session> {
            Err("--distributed: this strata was built without the `distributed` feature; rebuild with \
                 --features distributed (it needs MPI: docs/distributed.md)"
                .into())
        }

        pub fn is_root(&self) -> bool {
            match *self {}
        }

        pub fn describe(&self, _: usize) -> String {
            match *self {}
        }

        pub fn latest_checkpoint(&self, _: &Path) -> Result<Option<(Checkpoint, PathBuf)>> {
            match *self {}
        }

        pub fn fit(
            &self,
            _: &mut Trainer,
            _: &mut dyn Layer,
            _: &dyn Dataset,
            _: Option<&dyn Dataset>,
        ) -> Result<History> {
            match *self {}
        }

        pub fn fail(&self, _: Box<dyn std::error::Error>) -> Result<()> {
            match *self {}
        }
    }
}

pub(crate) use imp::Session;
