//! Shared by the test binaries `tests` and `caller`: the views of a product.

use strata_tensor::MatRef;

/// `op(A)` (`m x k`) and `op(B)` (`k x n`) over row-major storage that holds
/// `A` as `k x m` when `ta` (and `B` as `n x k` when `tb`), used transposed.
pub fn op_views<'a>(
    a: &'a [f32],
    ta: bool,
    b: &'a [f32],
    tb: bool,
    (m, k, n): (usize, usize, usize),
) -> (MatRef<'a>, MatRef<'a>) {
    let av = if ta { MatRef::new(a, k, m).unwrap().t() } else { MatRef::new(a, m, k).unwrap() };
    let bv = if tb { MatRef::new(b, n, k).unwrap().t() } else { MatRef::new(b, k, n).unwrap() };
    (av, bv)
}
