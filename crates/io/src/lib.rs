//! `strata-io`: Strata's files. Model files and checkpoints share one
//! container (magic bytes, format version, writer, lengths, CRC-32, a JSON
//! document and a blob of tensor values; `docs/formats.md`), written
//! atomically; safetensors files carry weights to and from PyTorch in its
//! `state_dict` names and layouts.
//!
//! **The design decision:** a file's structure is JSON and its numbers are a
//! binary blob. JSON lets a later Strata read an earlier file (fields are
//! added with defaults, never renamed), and keeps every file inspectable; the
//! blob keeps the values exact and compact. Every length is checked against
//! the file before anything is allocated, and this build reads every format
//! version written before it (the corpus under `tests/corpus/` proves it).
//!
//! ```
//! use strata_io::SavedModel;
//! use strata_layers::{Dense, DenseConfig, Layer, Registry};
//! use strata_tensor::StrataRng;
//!
//! let mut layer = Dense::new(DenseConfig::new(3, 2), &mut StrataRng::seed_from_u64(0)).unwrap();
//! let saved = SavedModel::capture(&mut layer, Default::default()).unwrap();
//! let bytes = saved.to_bytes().unwrap();
//! let back = SavedModel::from_bytes(&bytes, "mem.strata".as_ref()).unwrap();
//! assert_eq!(back, saved);
//! let model = back.instantiate(&Registry::with_builtins()).unwrap();
//! assert_eq!(model.kind(), "dense");
//! ```

mod atomic;
pub mod container;
mod dir;
mod error;
mod image;
mod legacy;
mod model;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod safetensors;

pub use atomic::{atomic_write, atomic_write_with};
pub use container::{FORMAT_VERSION, FileKind, Header};
pub use dir::{BEST, CheckpointDir, checkpoint_step};
pub use error::{FormatProblem, IoError, Result};
pub use image::png_rgb;
pub use model::SavedModel;
