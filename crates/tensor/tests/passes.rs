//! Whole-tensor passes that two threads share for a large tensor (`fill`,
//! `sum_squares`) give the bits of one thread.

use strata_tensor::par::{Placement, serial, set_placement};
use strata_tensor::{StrataRng, Tensor};

fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap()
}

/// `sum_squares` in its documented order, written out here: blocks of 256
/// values, each summed in 16 `f32` lanes (value `i` of a block in lane `i %
/// 16`) then the lanes in order, plus the block's tail past its last 16,
/// added in `f64`; the block sums added in order in `f64`.
fn squares_in_order(data: &[f32]) -> f64 {
    let mut total = 0f64;
    for block in data.chunks(256) {
        let whole = block.len() / 16 * 16;
        let mut lanes = [0f32; 16];
        for (i, &x) in block[..whole].iter().enumerate() {
            lanes[i % 16] += x * x;
        }
        let tail: f32 = block[whole..].iter().map(|&x| x * x).sum();
        total += f64::from(lanes.iter().sum::<f32>()) + f64::from(tail);
    }
    total
}

#[test]
fn sum_squares_has_the_same_bits_on_one_thread_and_on_two() {
    // Near: large passes split at their usual size (far, only 64 times larger).
    set_placement(Some(Placement::Near));
    let mut rng = StrataRng::seed_from_u64(7);
    // Lengths around the split's units: under the split size (65,536), one
    // part of 1,024 blocks of 256 (262,144) and more, odd tails.
    for len in [1000, 65_535, 65_536, 200_704, 262_144, 262_145, 600_001] {
        // A magnitude per block of 256, from 2^-30 to 2^30 (`next_f32` is
        // uniform in [0, 1)): the block sums differ so widely that adding
        // them rounds, and their order shows in the bits.
        let mut scale = 1.0;
        let values = (0..len)
            .map(|i| {
                if i % 256 == 0 {
                    scale = (rng.next_f32() * 60.0 - 30.0).exp2();
                }
                (rng.next_f32() * 2.0 - 1.0) * scale
            })
            .collect();
        let t = Tensor::from_vec(&[len], values).unwrap();
        let expected = squares_in_order(t.data());
        let two = pool().install(|| t.sum_squares());
        let one = pool().install(|| serial(|| t.sum_squares()));
        assert_eq!(two.to_bits(), expected.to_bits(), "two threads, {len} values");
        assert_eq!(one.to_bits(), expected.to_bits(), "one thread, {len} values");
    }
    // A non-finite value anywhere shows in the sum, whichever thread read it.
    let mut t = Tensor::zeros(&[300_000]);
    t.data_mut()[299_999] = f32::NAN;
    assert!(pool().install(|| t.sum_squares()).is_nan());
    t.data_mut()[299_999] = 0.0;
    t.data_mut()[3] = f32::INFINITY;
    assert_eq!(pool().install(|| t.sum_squares()), f64::INFINITY);
}

#[test]
fn fill_sets_every_value_of_a_large_tensor_on_two_threads() {
    set_placement(Some(Placement::Near));
    for len in [65_536, 200_705] {
        let mut t = Tensor::full(&[len], 1.5);
        pool().install(|| t.fill(-2.0));
        let wrong = t.data().iter().position(|&x| x != -2.0);
        assert_eq!(wrong, None, "{len} values");
    }
}
