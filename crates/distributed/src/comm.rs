//! [`Communicator`]: this process's place among the ranks of an MPI job,
//! and the few collective operations data-parallel training needs.

use crate::buckets::{Buckets, DEFAULT_BUCKET_CAPACITY, Part};
use crate::error::{DistributedError, Result};
use crate::hash::{architecture_hash, weights_hash};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator as _, CommunicatorCollectives, Root};
use std::sync::Arc;
use strata_layers::Layer;
use strata_tensor::{ParamRef, ParamVisitor};

/// This process's rank in `MPI_COMM_WORLD` and the number of ranks. Cheap
/// to clone; MPI is finalised when the last clone is dropped.
///
/// MPI is started with `MPI_THREAD_SERIALIZED`: the trainer runs on one of
/// rayon's threads, not the main thread, but only one thread calls MPI at a
/// time.
#[derive(Clone)]
pub struct Communicator {
    _universe: Arc<Universe>,
    rank: usize,
    size: usize,
}

impl std::fmt::Debug for Communicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Communicator").field("rank", &self.rank).field("size", &self.size).finish_non_exhaustive()
    }
}

/// `MPI_COMM_WORLD`. rsmpi's handle is not `Send`; the world's is a
/// constant, so it is made where it is used.
fn world() -> SimpleCommunicator {
    SimpleCommunicator::world()
}

impl Communicator {
    /// Start MPI (once per process). Outside `mpirun` this is a job of one rank.
    pub fn init() -> Result<Communicator> {
        let (universe, _) = mpi::initialize_with_threading(mpi::Threading::Serialized)
            .ok_or(DistributedError::AlreadyInitialized { operation: "start MPI" })?;
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        Ok(Communicator { _universe: Arc::new(universe), rank, size })
    }

    /// This process's rank, from 0.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Rank 0: the one that writes checkpoints, reports and the model.
    pub fn is_root(&self) -> bool {
        self.rank == 0
    }

    /// End the whole job at once (`MPI_Abort`): what a rank does on an
    /// error the others cannot know of, so that they do not wait for it.
    pub fn abort(&self, code: i32) -> ! {
        world().abort(code)
    }

    /// Sum `values` over the ranks, in place.
    pub fn sum_f64(&self, values: &mut [f64]) {
        let send = values.to_vec();
        world().all_reduce_into(&send[..], values, SystemOperation::sum());
    }

    /// Every rank's `value`, in rank order.
    pub fn all_gather(&self, value: u64) -> Vec<u64> {
        let mut all = vec![0u64; self.size];
        world().all_gather_into(&value, &mut all[..]);
        all
    }

    /// Rank 0's bytes on every rank (the others pass anything; their bytes
    /// are replaced).
    pub fn broadcast_bytes(&self, bytes: &mut Vec<u8>) -> Result<()> {
        let world = world();
        let root = world.process_at_rank(0);
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        let len = usize::try_from(len).ok().filter(|&n| n <= i32::MAX as usize).ok_or(DistributedError::TooLarge {
            operation: "broadcast bytes",
            expected: i32::MAX as usize,
            actual: bytes.len(),
        })?;
        bytes.resize(len, 0);
        root.broadcast_into(&mut bytes[..]);
        Ok(())
    }

    /// Make every rank's model rank 0's: check that every rank built the
    /// same architecture ([`architecture_hash`], an error naming the ranks
    /// that differ and both hashes), then broadcast every parameter, buffer
    /// and counter from rank 0.
    pub fn synchronize_model(&self, model: &mut dyn Layer) -> Result<()> {
        self.compare_with_root(architecture_hash(model), |ranks, expected, actual| {
            DistributedError::ArchitectureMismatch { operation: "synchronize the model", ranks, expected, actual }
        })?;
        let world = world();
        let root = world.process_at_rank(0);
        Buckets::new(DEFAULT_BUCKET_CAPACITY).run(model, Part::Values, 1.0, |send, receive| {
            receive.copy_from_slice(send);
            root.broadcast_into(receive);
        });
        let mut counters = Vec::new();
        visit_counters(model, |_, v| counters.push(*v));
        root.broadcast_into(&mut counters[..]);
        let mut next = counters.into_iter();
        visit_counters(model, |_, v| *v = next.next().unwrap_or(*v));
        Ok(())
    }

    /// Check that every rank's weights are rank 0's, bit for bit
    /// ([`crate::weights_hash`]); `when` names the moment in the error.
    pub fn check_same_weights(&self, model: &mut dyn Layer, when: &str) -> Result<()> {
        self.compare_with_root(weights_hash(model), |ranks, expected, actual| DistributedError::WeightsDiverged {
            operation: when.to_string(),
            ranks,
            expected,
            actual,
        })
    }

    /// Gather every rank's `hash`; the ranks whose hash is not rank 0's make
    /// the error `make(ranks, rank 0's, theirs)`, on every rank alike.
    fn compare_with_root(
        &self,
        hash: u64,
        make: impl FnOnce(Vec<usize>, u64, Vec<u64>) -> DistributedError,
    ) -> Result<()> {
        let all = self.all_gather(hash);
        let expected = all[0];
        let (ranks, actual): (Vec<usize>, Vec<u64>) =
            all.iter().enumerate().filter(|&(_, &h)| h != expected).map(|(r, &h)| (r, h)).unzip();
        if ranks.is_empty() { Ok(()) } else { Err(make(ranks, expected, actual)) }
    }
}

fn visit_counters(model: &mut dyn Layer, mut f: impl FnMut(&str, &mut u64)) {
    let mut path = String::new();
    let mut tensors = |_: ParamRef<'_>| {};
    model.visit_parameters(&mut ParamVisitor::with_counters(&mut path, &mut tensors, &mut f));
}
