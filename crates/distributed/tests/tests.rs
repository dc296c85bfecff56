//! Sharding without MPI; with the `mpi` feature, data-parallel training
//! under `mpirun -np 2` against one process.

mod shard;

#[cfg(feature = "mpi")]
mod equivalence;
