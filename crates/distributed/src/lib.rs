//! # strata-distributed
//!
//! Data-parallel training over MPI (the `mpi` crate, rsmpi, over the
//! system's OpenMPI; Cargo feature `mpi`): every rank holds the whole model
//! and the whole training set, trains on its slice of each batch, and the
//! gradients are averaged over the ranks before every update, so the ranks'
//! weights stay identical. Rank 0 alone writes checkpoints, reports and the
//! trained model. `docs/distributed.md` describes the commands and the cost.
//!
//! **The design decision: the number of ranks is not a hyper-parameter.**
//! The trainer's batch size is the *global* batch. Every rank shuffles the
//! whole training set with the same seed and walks the same batches; a
//! [`Shard`] gives each rank its contiguous slice of each batch
//! ([`local_range`]), and [`DataParallel`] weighs each rank's gradient by
//! its share of the batch before summing. N ranks therefore train the model
//! one process trains with the same batch, up to the order of
//! floating-point sums; a checkpoint written by N ranks resumes on any
//! number of ranks (one included) exactly where it stood.
//!
//! Without the `mpi` feature the crate holds only what needs no MPI:
//! [`Shard`], [`local_range`], the hashes ranks compare, and the error type.
//!
//! ```no_run
//! # #[cfg(feature = "mpi")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Run as `mpirun -np 2 ./program`: each rank runs this same code.
//! use strata_data::InMemoryDataset;
//! use strata_distributed::{Communicator, DataParallel, Shard};
//! use strata_layers::{Dense, DenseConfig};
//! use strata_loss::LossKind;
//! use strata_optimizer::OptimizerConfig;
//! use strata_tensor::{StrataRng, Tensor};
//! use strata_training::{FitConfig, Progress, Trainer};
//!
//! let comm = Communicator::init()?;
//! let x = Tensor::from_vec(&[4, 2], vec![0., 0., 0., 1., 1., 0., 1., 1.])?;
//! let data = InMemoryDataset::from_labels(x, &[0, 1, 1, 0])?;
//! let mut model = Dense::new(DenseConfig::new(2, 2), &mut StrataRng::seed_from_u64(0))?;
//! comm.synchronize_model(&mut model)?; // same architecture everywhere, rank 0's weights
//! let progress = if comm.is_root() { Progress::Auto } else { Progress::Silent };
//! // The global batch: 4 samples, 2 per rank on 2 ranks.
//! let config = FitConfig { epochs: 5, batch_size: 4, progress, ..FitConfig::default() };
//! let mut trainer = Trainer::new(config, LossKind::CrossEntropy, OptimizerConfig::from_name("sgd", 0.5)?)?;
//! trainer.add_gradient_hook(DataParallel::new(comm.clone()));
//! trainer.fit(&mut model, &Shard::new(&data, comm.rank(), comm.size()), None)?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "mpi"))]
//! # fn main() {}
//! ```
#![warn(missing_docs)]

// The buckets' slicing is tested without MPI; only the MPI side uses it.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
mod buckets;
#[cfg(feature = "mpi")]
mod comm;
mod error;
mod hash;
#[cfg(feature = "mpi")]
mod hook;
mod shard;

pub use buckets::DEFAULT_BUCKET_CAPACITY;
#[cfg(feature = "mpi")]
pub use comm::Communicator;
pub use error::{DistributedError, Result};
pub use hash::{architecture_hash, weights_hash};
#[cfg(feature = "mpi")]
pub use hook::DataParallel;
pub use shard::{Shard, local_range};
