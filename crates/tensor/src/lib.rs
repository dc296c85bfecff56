//! # strata-tensor
//!
//! The n-dimensional `f32` tensor every other Strata crate computes with: a
//! shape and a contiguous row-major buffer, with creation (zeros, checked
//! `from_vec`, seeded normal/uniform draws, Xavier/He initialisers),
//! element-wise arithmetic, a bias row added to every row, sums and means
//! along an axis, argmax, reshape, row slicing and gathering for mini-batches,
//! and one matrix multiply.
//!
//! **The design decision:** there is exactly one matrix-multiply entry point,
//! [`gemm`](fn@gemm) (`C = alpha * op(A) * op(B) + beta * C` with transpose flags on
//! the views), so the kernel behind it can be swapped for a faster one
//! without changing any caller. Shape errors are values, not panics: every
//! fallible operation returns [`Result`] with a [`TensorError`] naming the
//! operation and both shapes.
//!
//! Randomness comes from [`StrataRng`], a small serializable generator, so
//! one seed fixes every draw on every platform.
//!
//! ```
//! use strata_tensor::{Init, StrataRng, Tensor};
//!
//! let mut rng = StrataRng::seed_from_u64(42);
//! let w = Init::HeNormal.sample(&[3, 2], 3, 2, &mut rng)?;   // weights [in, out]
//! let b = Tensor::from_slice(&[0.5, -0.5]);                  // bias [out]
//! let x = Tensor::from_vec(&[4, 3], vec![1.0; 12])?;         // batch of 4 rows
//! let mut y = x.matmul(&w)?;                                 // [4, 2]
//! y.add_row_assign(&b)?;
//! assert_eq!(y.shape(), &[4, 2]);
//!
//! // A shape error names the operation and both shapes.
//! let err = x.matmul(&x).unwrap_err();
//! assert_eq!(err.to_string(), "matmul: shapes do not match: left [4, 3], right [4, 3]");
//! # Ok::<(), strata_tensor::TensorError>(())
//! ```
#![warn(missing_docs)]

// First: the macro is used by the modules below.
#[macro_use]
mod simd;

mod batched;
pub mod blob;
mod dots;
mod error;
mod init;
mod linalg;
mod memory;
pub mod par;
mod params;
mod rng;
mod tensor;

pub use batched::{BatchMut, BatchRef, gemm_batched};
pub use error::{Result, TensorError};
pub use init::Init;
pub use linalg::{GemmStats, MatMut, MatRef, PARALLEL_THRESHOLD, SHARED_PRODUCTS_FROM, gemm, gemm_stats};
pub use memory::machine_memory;
pub use params::{ParamRef, ParamVisitor};
pub use rng::{StrataRng, splitmix64};
pub use simd::{SimdPath, simd_forced, simd_path};
pub use tensor::{Tensor, argmax, checked_numel, first_failing, sum_lanes};

/// Every integer up to this one (2^24) is exact in `f32`: the most token ids
/// or class labels that can be stored as `f32`.
pub const MAX_EXACT_INT: usize = 1 << 24;

/// Whether this crate was compiled with optimisations. A debug build of a
/// crate that depends on Strata compiles Strata unoptimised unless its
/// `Cargo.toml` says `[profile.dev.package."*"] opt-level = 3`; the kernels
/// then run tens of times slower, and the trainer says so.
pub const OPTIMIZED: bool = !cfg!(strata_unoptimized);
