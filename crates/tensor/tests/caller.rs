//! Products called from a thread outside rayon's pool, as a user's own
//! `main` calls them: the caller computes a piece while the pool computes
//! the others (or, when no cut keeps the kernel's arithmetic, hands the
//! whole product to the pool). Either way the result is the one a single
//! thread computes, bit for bit. A process of its own: the global pool is
//! built here with 3 threads, so that pieces have uneven bounds.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;
mod views;

use strata_tensor::{MatMut, StrataRng, Tensor, gemm, gemm_stats};
use views::op_views;

/// Builds the global pool once, before any test uses it.
fn global_pool() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| rayon::ThreadPoolBuilder::new().num_threads(3).build_global().unwrap());
}

#[allow(clippy::too_many_arguments)]
fn product(
    alpha: f32,
    a: &Tensor,
    ta: bool,
    b: &Tensor,
    tb: bool,
    beta: f32,
    c: &mut [f32],
    (m, k, n): (usize, usize, usize),
) {
    let (av, bv) = op_views(a.data(), ta, b.data(), tb, (m, k, n));
    gemm(alpha, av, bv, beta, MatMut::new(c, m, n).unwrap()).unwrap();
}

#[test]
fn products_from_outside_the_pool_equal_one_thread_bit_for_bit() {
    global_pool();
    assert!(rayon::current_thread_index().is_none(), "the test thread is not one of the pool's");
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let mut rng = StrataRng::seed_from_u64(3);
    // Cut by rows (W1-mlp's shape; 200 rows in 3 pieces: 64, 64, 72), by
    // columns (70 rows, 300 columns), neither (both sides at most 64:
    // handed whole to the pool), one piece per thread at the smallest cut
    // (96 rows in 3 pieces of 32), and one above the size up to which
    // products are cut (600x400x600: whole to the pool).
    let shapes = [(256, 784, 256), (200, 300, 100), (70, 500, 300), (64, 4096, 64), (96, 1500, 65), (600, 400, 600)];
    for (m, k, n) in shapes {
        for (ta, tb) in [(false, false), (true, false), (false, true)] {
            for (alpha, beta) in [(1.0f32, 0.0f32), (0.5, 2.0)] {
                let a = Tensor::random_normal(&[m * k], 0.0, 1.0, &mut rng).unwrap();
                let b = Tensor::random_normal(&[k * n], 0.0, 1.0, &mut rng).unwrap();
                // With beta 0, C is not read: NaN must not leak in.
                let c0: Vec<f32> =
                    if beta == 0.0 { vec![f32::NAN; m * n] } else { (0..m * n).map(|i| i as f32).collect() };
                let before = gemm_stats().parallel_calls;
                let mut outside = c0.clone();
                product(alpha, &a, ta, &b, tb, beta, &mut outside, (m, k, n));
                assert_eq!(gemm_stats().parallel_calls, before + 1, "{m}x{k}x{n} ran on the pool's threads");
                let mut single = c0.clone();
                one.install(|| product(alpha, &a, ta, &b, tb, beta, &mut single, (m, k, n)));
                let same = outside.iter().zip(&single).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "{m}x{k}x{n} ta{ta} tb{tb} alpha{alpha} beta{beta}");
                assert!(outside.iter().all(|x| x.is_finite()), "{m}x{k}x{n}");
            }
        }
    }
}
