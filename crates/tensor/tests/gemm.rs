//! The GEMM entry point against a naive triple loop, for every transpose
//! combination and for thin and square shapes (both kernels behind it).

use crate::views::op_views;
use strata_tensor::{MatMut, MatRef, StrataRng, Tensor, TensorError, gemm};

/// Reference: C = alpha * op(A) * op(B) + beta * C, element by element in f64.
#[allow(clippy::too_many_arguments)]
fn naive(
    alpha: f32,
    a: &[f32],
    ta: bool,
    b: &[f32],
    tb: bool,
    beta: f32,
    c: &[f32],
    m: usize,
    n: usize,
    k: usize,
) -> Vec<f32> {
    let at = |i: usize, p: usize| if ta { a[p * m + i] } else { a[i * k + p] };
    let bt = |p: usize, j: usize| if tb { b[j * k + p] } else { b[p * n + j] };
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let dot: f64 = (0..k).map(|p| f64::from(at(i, p)) * f64::from(bt(p, j))).sum();
            out[i * n + j] = (f64::from(alpha) * dot + f64::from(beta) * f64::from(c[i * n + j])) as f32;
        }
    }
    out
}

#[test]
fn gemm_matches_a_naive_loop_for_every_transpose_case_and_size() {
    let mut rng = StrataRng::seed_from_u64(1);
    // Thin shapes go through the small kernel, the others through the `gemm`
    // crate; 16x196 (W3's forward, depth 72) and 37x50 (depth 200) are cut
    // before their last 4 and 2 columns (`aligned_split` in linalg.rs) when
    // the right operand is not transposed. 40x270 (depth 600, two blocks of
    // depth) and 270x300 have more than 256 outputs along the side the crate
    // runs its vectors on: on AVX2 it packs the broadcast operand there
    // (`strata_rhs_packing_rows` in vendor/gemm-common).
    let shapes = [
        (1, 1, 1),
        (1, 10, 7),
        (3, 1, 9),
        (4, 6, 2),
        (7, 9, 11),
        (17, 13, 33),
        (64, 10, 128),
        (16, 196, 72),
        (37, 50, 200),
        (40, 270, 600),
        (270, 300, 40),
    ];
    for &(m, n, k) in &shapes {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)] {
                let a = Tensor::random_normal(&[m * k], 0.0, 1.0, &mut rng).unwrap();
                let b = Tensor::random_normal(&[k * n], 0.0, 1.0, &mut rng).unwrap();
                let c0 = Tensor::random_normal(&[m * n], 0.0, 1.0, &mut rng).unwrap();
                let (av, bv) = op_views(a.data(), ta, b.data(), tb, (m, k, n));
                let mut c = c0.data().to_vec();
                gemm(alpha, av, bv, beta, MatMut::new(&mut c, m, n).unwrap()).unwrap();
                let want = naive(alpha, a.data(), ta, b.data(), tb, beta, c0.data(), m, n, k);
                for (got, want) in c.iter().zip(&want) {
                    // f32 accumulation over k <= 600 terms of size ~1: error well below 1e-4 * k.
                    assert!((got - want).abs() <= 1e-4 * (k as f32), "m{m} n{n} k{k} ta{ta} tb{tb}: {got} vs {want}");
                }
            }
        }
    }
}

/// Checks every output of batch-1 products (`m = 1`, weights stored `[k, n]`)
/// at each depth of `ks` and width of `widths`, for `(alpha, beta)` of
/// `(1, 0)` and `(0.5, -2)`, bit for bit against `want(alpha, a, b, n, j,
/// beta, c_j)`.
fn check_batch_one(
    seed: u64,
    ks: &[usize],
    widths: impl Iterator<Item = usize>,
    want: impl Fn(f32, &[f32], &[f32], usize, usize, f32, f32) -> f32,
) {
    let mut rng = StrataRng::seed_from_u64(seed);
    for n in widths {
        for &k in ks {
            let a = Tensor::random_normal(&[k], 0.0, 1.0, &mut rng).unwrap();
            let b = Tensor::random_normal(&[k, n], 0.0, 1.0, &mut rng).unwrap();
            let c0 = Tensor::random_normal(&[n], 0.0, 1.0, &mut rng).unwrap();
            for (alpha, beta) in [(1.0f32, 0.0f32), (0.5, -2.0)] {
                let mut c = c0.data().to_vec();
                let (av, bv) = (MatRef::new(a.data(), 1, k).unwrap(), MatRef::new(b.data(), k, n).unwrap());
                gemm(alpha, av, bv, beta, MatMut::new(&mut c, 1, n).unwrap()).unwrap();
                for (j, &got) in c.iter().enumerate() {
                    let want = want(alpha, a.data(), b.data(), n, j, beta, c0.data()[j]);
                    assert_eq!(got.to_bits(), want.to_bits(), "n{n} k{k} output {j}: {got} vs {want}");
                }
            }
        }
    }
}

/// `alpha * sum`, where `sum` adds `a[p] * B[p, j]` over `ps` in order: one
/// fused multiply-add each on the AVX2 and AVX-512 paths, one multiply and
/// one add each on the baseline (where a fused one would be a software call).
fn in_order(alpha: f32, a: &[f32], b: &[f32], n: usize, j: usize, ps: std::ops::Range<usize>) -> f32 {
    let fused = strata_tensor::simd_path() != strata_tensor::SimdPath::Baseline;
    let mut sum = 0f32;
    for p in ps {
        sum = if fused { a[p].mul_add(b[p * n + j], sum) } else { sum + a[p] * b[p * n + j] };
    }
    alpha * sum
}

/// A batch-1 product less than 128 deep sums each output's terms in the
/// order of `p` ([`in_order`]), whatever block of outputs it falls in: so it
/// equals that loop in `f32` bit for bit. The widths cover
/// every block (256, 128, 64, 32, 16) and every tail below 16, whose last
/// rows are read through the zero-padded copy.
#[test]
fn batch_one_products_equal_the_in_order_loop_bit_for_bit_at_every_width() {
    let widths = (1..=70).chain([127, 128, 129, 255, 256, 257, 256 + 128 + 64 + 32 + 16 + 15]);
    check_batch_one(7, &[1, 3, 17], widths, |alpha, a, b, n, j, beta, c| {
        let scaled = in_order(alpha, a, b, n, j, 0..a.len());
        if beta == 0.0 { scaled } else { scaled + beta * c }
    });
}

/// A batch-1 output of depth `k >= 128` by its definition: the terms `p < k / 2`
/// summed in order, the others summed in order, then `alpha * (s0 + s1)`
/// (`+ beta * c`). The halves may run on two threads; the sums do not change.
#[test]
fn batch_one_products_at_least_128_deep_sum_two_halves_of_the_depth_bit_for_bit() {
    // Depths at and past the threshold (even and odd halves), W5's 784; widths
    // through every block of the in-order kernel, and W5's 256 outputs.
    check_batch_one(8, &[128, 129, 255, 784], (1..=20).chain([63, 256, 300]), |alpha, a, b, n, j, beta, c| {
        let h = a.len() / 2;
        let (s0, s1) = (in_order(1.0, a, b, n, j, 0..h), in_order(1.0, a, b, n, j, h..a.len()));
        if beta == 0.0 { alpha * (s0 + s1) } else { alpha * (s0 + s1) + beta * c }
    });
}

/// One output of a product `A B^T` of at most 16 columns on the AVX-512
/// path (`dots.rs`), by its definition: lane `l` sums the terms `p` with
/// `p % 16 == l` in order with fused multiply-adds, starting from 0, and
/// the lanes add as `(l0 + l2) + (l1 + l3)` per group of four, then
/// `(g0 + g1) + (g2 + g3)`.
fn lane_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 16];
    for (p, (&x, &y)) in a.iter().zip(b).enumerate() {
        lanes[p % 16] = x.mul_add(y, lanes[p % 16]);
    }
    let g = |i: usize| (lanes[4 * i] + lanes[4 * i + 2]) + (lanes[4 * i + 1] + lanes[4 * i + 3]);
    (g(0) + g(1)) + (g(2) + g(3))
}

#[test]
fn narrow_products_with_b_transposed_are_dot_products_of_rows() {
    // A convolution's weight gradient, cols * dy^T: at most 16 columns, depth
    // 64 or more. On the AVX-512 path each output is `lane_dot` of its two
    // rows, bit for bit, whichever block of the kernel computed it (rows and
    // columns past a multiple of 4, depths past a multiple of 16); on other
    // paths the `gemm` crate computes it, checked against the f64 loop.
    let mut rng = StrataRng::seed_from_u64(11);
    let dots = strata_tensor::simd_path() == strata_tensor::SimdPath::Avx512 && !strata_tensor::simd_forced();
    for (m, k) in [(2, 64), (5, 65), (9, 784), (72, 196), (37, 79)] {
        for n in 1..=16 {
            let a = Tensor::random_normal(&[m, k], 0.0, 1.0, &mut rng).unwrap();
            let b = Tensor::random_normal(&[n, k], 0.0, 1.0, &mut rng).unwrap();
            let c0 = Tensor::random_normal(&[m, n], 0.0, 1.0, &mut rng).unwrap();
            for (alpha, beta) in [(1.0f32, 0.0f32), (0.5, -2.0)] {
                let mut c = if beta == 0.0 { vec![f32::NAN; m * n] } else { c0.data().to_vec() };
                let (av, bv) = (MatRef::new(a.data(), m, k).unwrap(), MatRef::new(b.data(), n, k).unwrap().t());
                gemm(alpha, av, bv, beta, MatMut::new(&mut c, m, n).unwrap()).unwrap();
                let f64_loop = naive(alpha, a.data(), false, b.data(), true, beta, c0.data(), m, n, k);
                for (at, &got) in c.iter().enumerate() {
                    let (i, j) = (at / n, at % n);
                    if dots {
                        let s = lane_dot(&a.data()[i * k..(i + 1) * k], &b.data()[j * k..(j + 1) * k]);
                        let want = if beta == 0.0 { alpha * s } else { alpha * s + beta * c0.data()[at] };
                        assert_eq!(
                            got.to_bits(),
                            want.to_bits(),
                            "{m}x{n}, depth {k}, output ({i}, {j}): {got} vs {want}"
                        );
                    } else {
                        // Sums of `k` unit normals, in f32: well within 1e-4 * k.
                        let tol = 1e-4 * k as f32;
                        assert!((got - f64_loop[at]).abs() <= tol, "{m}x{n}, depth {k}, ({i}, {j}): {got}");
                    }
                }
            }
        }
    }
}

#[test]
fn gemm_with_beta_zero_ignores_nan_in_c() {
    let a = [
        1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0,
        21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0, 32.0, 33.0, 34.0, 35.0, 36.0,
    ];
    for d in [2, 6] {
        let mut c = vec![f32::NAN; d * d];
        gemm(
            1.0,
            MatRef::new(&a[..d * d], d, d).unwrap(),
            MatRef::new(&a[..d * d], d, d).unwrap(),
            0.0,
            MatMut::new(&mut c, d, d).unwrap(),
        )
        .unwrap();
        assert!(c.iter().all(|x| x.is_finite()), "d = {d}");
    }
}

#[test]
fn gemm_shape_errors_name_both_shapes() {
    let a = [0.0; 6];
    let mut c = [0.0; 4];
    let err = gemm(
        1.0,
        MatRef::new(&a, 2, 3).unwrap(),
        MatRef::new(&a, 2, 3).unwrap(),
        0.0,
        MatMut::new(&mut c, 2, 2).unwrap(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        TensorError::ShapeMismatch {
            op: "gemm: inner dimensions of op(A) and op(B)",
            left: vec![2, 3],
            right: vec![2, 3]
        }
    );
    let err = MatRef::new(&a, 4, 2).unwrap_err();
    assert!(matches!(err, TensorError::DataLength { expected: 8, len: 6, .. }));
}

#[test]
fn matmul_by_hand() {
    // [[1, 2], [3, 4]] * [[5, 6], [7, 8]] = [[19, 22], [43, 50]]
    let a = Tensor::from_vec(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let b = Tensor::from_vec(&[2, 2], vec![5.0, 6.0, 7.0, 8.0]).unwrap();
    assert_eq!(a.matmul(&b).unwrap().data(), &[19.0, 22.0, 43.0, 50.0]);
}

/// The kernel splits the output between threads, never the sum over k: one
/// thread and two give the same bits (training stays reproducible on any
/// machine size).
#[test]
fn gemm_is_bit_identical_on_one_and_two_threads() {
    let mut rng = StrataRng::seed_from_u64(9);
    // 64x784x196 is cut before its last 4 columns, the cut first on both.
    for &(m, k, n) in &[(64, 784, 256), (256, 64, 784), (300, 500, 300), (64, 784, 196)] {
        let a = Tensor::random_normal(&[m, k], 0.0, 1.0, &mut rng).unwrap();
        let b = Tensor::random_normal(&[k, n], 0.0, 1.0, &mut rng).unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| a.matmul(&b).unwrap())
        };
        let (one, two) = (run(1), run(2));
        assert!(one.data().iter().zip(two.data()).all(|(x, y)| x.to_bits() == y.to_bits()), "{m}x{k}x{n}");
    }
}

#[test]
fn nalgebra_round_trip() {
    let t = Tensor::from_vec(&[2, 3], vec![1., 2., 3., 4., 5., 6.]).unwrap();
    let m = t.to_dmatrix().unwrap();
    assert_eq!(m[(1, 0)], 4.0); // row 1, column 0 of [[1, 2, 3], [4, 5, 6]]
    assert_eq!(Tensor::from_dmatrix(&m), t);
}

/// Matrix `t` of a strided batch as a dense row-major `rows x cols` copy.
fn matrix(data: &[f32], t: usize, rows: usize, cols: usize, ld: usize, stride: usize) -> Vec<f32> {
    (0..rows).flat_map(|i| data[t * stride + i * ld..t * stride + i * ld + cols].to_vec()).collect()
}

#[test]
fn batched_products_match_the_naive_loop_for_strided_layouts_and_transposes() {
    use strata_tensor::{BatchMut, BatchRef, gemm_batched};
    let mut rng = StrataRng::seed_from_u64(11);
    // Heads interleaved as attention stores them: a [batch, seq, heads * d]
    // tensor read one head at a time (ld = heads * d, offset head * d).
    let (batch, seq, heads, d) = (3, 5, 2, 4);
    let q = Tensor::random_normal(&[batch, seq, heads * d], 0.0, 1.0, &mut rng).unwrap();
    let k = Tensor::random_normal(&[batch, seq, heads * d], 0.0, 1.0, &mut rng).unwrap();
    for head in 0..heads {
        let (ld, stride) = (heads * d, seq * heads * d);
        let qh = BatchRef::new(&q.data()[head * d..], batch, seq, d, ld, stride).unwrap();
        let kh = BatchRef::new(&k.data()[head * d..], batch, seq, d, ld, stride).unwrap();
        let mut scores = vec![f32::NAN; batch * seq * seq]; // beta = 0: C is not read
        let out = BatchMut::contiguous(&mut scores, batch, seq, seq).unwrap();
        gemm_batched(0.5, qh, kh.t(), 0.0, out).unwrap();
        for t in 0..batch {
            let (qt, kt) = (
                matrix(&q.data()[head * d..], t, seq, d, ld, stride),
                matrix(&k.data()[head * d..], t, seq, d, ld, stride),
            );
            let want = naive(0.5, &qt, false, &kt, true, 0.0, &vec![0.0; seq * seq], seq, seq, d);
            for (got, want) in scores[t * seq * seq..(t + 1) * seq * seq].iter().zip(&want) {
                assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "head {head} batch {t}: {got} vs {want}");
            }
        }
    }
    // Every transpose combination, with beta accumulating into C.
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        let (count, m, n, kk) = (4, 3, 5, 7);
        let a = Tensor::random_normal(&[count * m * kk], 0.0, 1.0, &mut rng).unwrap();
        let b = Tensor::random_normal(&[count * kk * n], 0.0, 1.0, &mut rng).unwrap();
        let c0 = Tensor::random_normal(&[count * m * n], 0.0, 1.0, &mut rng).unwrap();
        let (ar, ac) = if ta { (kk, m) } else { (m, kk) };
        let (br, bc) = if tb { (n, kk) } else { (kk, n) };
        let av = BatchRef::contiguous(a.data(), count, ar, ac).unwrap();
        let bv = BatchRef::contiguous(b.data(), count, br, bc).unwrap();
        let mut c = c0.data().to_vec();
        let cv = BatchMut::contiguous(&mut c, count, m, n).unwrap();
        gemm_batched(-1.5, if ta { av.t() } else { av }, if tb { bv.t() } else { bv }, 0.25, cv).unwrap();
        for t in 0..count {
            let want = naive(
                -1.5,
                &a.data()[t * m * kk..(t + 1) * m * kk],
                ta,
                &b.data()[t * kk * n..(t + 1) * kk * n],
                tb,
                0.25,
                &c0.data()[t * m * n..(t + 1) * m * n],
                m,
                n,
                kk,
            );
            for (got, want) in c[t * m * n..(t + 1) * m * n].iter().zip(&want) {
                assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "({ta}, {tb}) batch {t}: {got} vs {want}");
            }
        }
    }
}

#[test]
fn batched_products_are_bit_identical_on_one_and_two_threads() {
    use strata_tensor::{BatchMut, BatchRef, gemm_batched};
    // 128 products of 64x32 by 32x64 (W4's attention scores with 4 heads):
    // small products, spread over threads one by one.
    let mut rng = StrataRng::seed_from_u64(12);
    let (count, m, n, k) = (128, 64, 64, 32);
    let a = Tensor::random_normal(&[count * m * k], 0.0, 1.0, &mut rng).unwrap();
    let b = Tensor::random_normal(&[count * n * k], 0.0, 1.0, &mut rng).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut c = vec![0.0; count * m * n];
            let (av, bv) = (
                BatchRef::contiguous(a.data(), count, m, k).unwrap(),
                BatchRef::contiguous(b.data(), count, n, k).unwrap(),
            );
            gemm_batched(1.0, av, bv.t(), 0.0, BatchMut::contiguous(&mut c, count, m, n).unwrap()).unwrap();
            c.iter().map(|x| x.to_bits()).collect::<Vec<u32>>()
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn batched_layouts_that_do_not_fit_are_errors() {
    use strata_tensor::{BatchMut, BatchRef, gemm_batched};
    let data = vec![0.0; 12];
    // 2 matrices of 2x3 need 12 values; 3 do not fit.
    assert!(BatchRef::contiguous(&data, 2, 2, 3).is_ok());
    assert!(matches!(BatchRef::contiguous(&data, 3, 2, 3), Err(TensorError::InvalidArgument { .. })));
    // A leading dimension below the row length.
    assert!(BatchRef::new(&data, 1, 2, 3, 2, 6).is_err());
    // Output matrices that overlap (stride 3 < one 2x3 matrix).
    let mut out = vec![0.0; 12];
    assert!(BatchMut::new(&mut out, 2, 2, 3, 3, 3).is_err());
    // Batch sizes that differ.
    let (a, b) = (BatchRef::contiguous(&data, 2, 2, 3).unwrap(), BatchRef::contiguous(&data, 1, 3, 2).unwrap());
    let err = gemm_batched(1.0, a, b, 0.0, BatchMut::contiguous(&mut out, 2, 2, 2).unwrap()).unwrap_err();
    assert!(matches!(err, TensorError::ShapeMismatch { op: "gemm_batched: batch sizes of A, B and C", .. }));
}
