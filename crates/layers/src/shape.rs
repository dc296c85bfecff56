//! Shapes in shape inference: axes of a fixed size, or of any size (a
//! variable sequence length).

use serde::{Deserialize, Serialize};

/// One axis of a per-sample shape as shape inference sees it: a fixed size,
/// or [`Dim::Any`] for an axis whose size is only known when data flows (the
/// length of a sequence). Model specs write a fixed axis as a number and an
/// axis of any size as `null`: `"input_shape": [null, 28]`.
///
/// A tensor's own shape is always concrete (`&[usize]`); `Dim` appears where a
/// model is checked before any data flows ([`crate::Layer::output_shape`],
/// [`crate::Sequential`]) and in error messages, which print `*` for it.
///
/// ```
/// use strata_layers::{Dim, dims};
/// let shape = vec![Dim::Any, Dim::Fixed(28)];
/// assert_eq!(serde_json::to_string(&shape).unwrap(), "[null,28]");
/// assert_eq!(dims(&[5, 28]), [Dim::Fixed(5), Dim::Fixed(28)]);
/// assert!(Dim::Any.accepts(5) && Dim::Fixed(28).accepts(28) && !Dim::Fixed(28).accepts(27));
/// assert_eq!(format!("{}", strata_layers::ShapeDisplay(&shape)), "[*, 28]");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "Option<usize>", into = "Option<usize>")]
pub enum Dim {
    /// An axis of this size.
    Fixed(usize),
    /// An axis of any size, known only when data flows.
    Any,
}

impl Dim {
    /// The size, if fixed.
    pub const fn fixed(self) -> Option<usize> {
        match self {
            Dim::Fixed(n) => Some(n),
            Dim::Any => None,
        }
    }

    /// Whether an actual axis of size `n` fits this one.
    pub const fn accepts(self, n: usize) -> bool {
        match self {
            Dim::Fixed(m) => m == n,
            Dim::Any => true,
        }
    }

    /// Whether every size this axis may take fits `expected`: a fixed size
    /// that `expected` accepts, or any size where `expected` is any size.
    pub const fn fits(self, expected: Dim) -> bool {
        match (self, expected) {
            (_, Dim::Any) => true,
            (Dim::Fixed(n), Dim::Fixed(m)) => n == m,
            (Dim::Any, Dim::Fixed(_)) => false,
        }
    }
}

impl From<usize> for Dim {
    fn from(n: usize) -> Self {
        Dim::Fixed(n)
    }
}

impl From<Option<usize>> for Dim {
    fn from(n: Option<usize>) -> Self {
        n.map_or(Dim::Any, Dim::Fixed)
    }
}

impl From<Dim> for Option<usize> {
    fn from(d: Dim) -> Self {
        d.fixed()
    }
}

impl PartialEq<usize> for Dim {
    fn eq(&self, other: &usize) -> bool {
        *self == Dim::Fixed(*other)
    }
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Any => f.write_str("*"),
        }
    }
}

/// A concrete shape as fixed dims.
pub fn dims(shape: &[usize]) -> Vec<Dim> {
    shape.iter().map(|&n| Dim::Fixed(n)).collect()
}

/// The concrete shape, if every axis is fixed.
pub fn fixed_shape(shape: &[Dim]) -> Option<Vec<usize>> {
    shape.iter().map(|d| d.fixed()).collect()
}

/// Whether a concrete shape fits a pattern of dims (same rank, every axis accepted).
pub fn shape_accepts(pattern: &[Dim], shape: &[usize]) -> bool {
    pattern.len() == shape.len() && pattern.iter().zip(shape).all(|(d, &n)| d.accepts(n))
}

/// Formats a shape of dims as `[*, 28]`.
#[derive(Debug, Clone, Copy)]
pub struct ShapeDisplay<'a>(pub &'a [Dim]);

impl std::fmt::Display for ShapeDisplay<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}
