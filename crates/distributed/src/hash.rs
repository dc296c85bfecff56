//! Hashes that ranks compare: of a model's architecture (names and shapes)
//! and of its weights (their bits). FNV-1a, written out so that every build
//! on every machine computes the same number.

use strata_layers::Layer;
use strata_tensor::{ParamRef, ParamVisitor};

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// A hash of the model's kind, the name, shape and role (parameter or
/// buffer) of each tensor, and the name of each counter, in visiting order:
/// equal on two ranks exactly when they built the same architecture (the
/// values are not hashed).
///
/// ```
/// use strata_distributed::architecture_hash;
/// use strata_layers::{Dense, DenseConfig};
/// use strata_tensor::StrataRng;
/// let mut a = Dense::new(DenseConfig::new(4, 3), &mut StrataRng::seed_from_u64(1))?;
/// let mut b = Dense::new(DenseConfig::new(4, 3), &mut StrataRng::seed_from_u64(2))?;
/// let mut c = Dense::new(DenseConfig::new(4, 2), &mut StrataRng::seed_from_u64(1))?;
/// assert_eq!(architecture_hash(&mut a), architecture_hash(&mut b));
/// assert_ne!(architecture_hash(&mut a), architecture_hash(&mut c));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn architecture_hash(model: &mut dyn Layer) -> u64 {
    let mut hash = fnv(OFFSET, model.kind().as_bytes());
    let mut counters = Vec::new();
    let mut path = String::new();
    let mut tensors = |p: ParamRef<'_>| {
        hash = fnv(hash, p.name.as_bytes());
        hash = fnv(hash, if p.grad.is_some() { b"param" } else { b"buffer" });
        for &d in p.value.shape() {
            hash = fnv(hash, &(d as u64).to_le_bytes());
        }
    };
    let mut counter = |name: &str, _: &mut u64| counters.push(name.to_string());
    model.visit_parameters(&mut ParamVisitor::with_counters(&mut path, &mut tensors, &mut counter));
    counters.iter().fold(hash, |h, name| fnv(fnv(h, b"counter"), name.as_bytes()))
}

/// A hash of the bits of every tensor value and counter: equal on two ranks
/// when their weights are identical.
pub fn weights_hash(model: &mut dyn Layer) -> u64 {
    let mut hash = OFFSET;
    let mut path = String::new();
    let mut tensors = |p: ParamRef<'_>| {
        for v in p.value.data() {
            hash = fnv(hash, &v.to_bits().to_le_bytes());
        }
    };
    let mut values = Vec::new();
    let mut counter = |_: &str, v: &mut u64| values.push(*v);
    model.visit_parameters(&mut ParamVisitor::with_counters(&mut path, &mut tensors, &mut counter));
    values.iter().fold(hash, |h, v| fnv(h, &v.to_le_bytes()))
}
