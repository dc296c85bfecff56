//! One seed drives initialisation, shuffling and dropout.

use crate::common::{mlp, split, trainer};
use strata::layers::state_dict;

fn train_weights(seed: u64) -> Vec<(String, strata::tensor::Tensor)> {
    let (train, val) = split("digits.csv.gz", 0.2, seed);
    let mut model = mlp(&[64, 32, 10], 0.2, seed);
    trainer(3, 32, 1e-3, seed).fit(model.as_mut(), &train, Some(&val)).unwrap();
    state_dict(model.as_mut())
}

#[test]
fn training_twice_with_one_seed_gives_bit_identical_weights() {
    let a = train_weights(42);
    let b = train_weights(42);
    assert_eq!(a.len(), 4, "two dense layers, weight and bias each");
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        let bits_a: Vec<u32> = ta.data().iter().map(|x| x.to_bits()).collect();
        let bits_b: Vec<u32> = tb.data().iter().map(|x| x.to_bits()).collect();
        assert_eq!(bits_a, bits_b, "{na} differs between two runs with seed 42");
    }
}

#[test]
fn another_seed_gives_other_weights() {
    let a = train_weights(42);
    let b = train_weights(43);
    assert_ne!(a[0].1, b[0].1);
}

/// Products split between threads only over the output, never over the sum,
/// so one thread and two train the same bits. (The network is wide enough
/// that its products run on two threads: 64 x 64 x 512 multiply-adds and up.)
/// On two threads the trainer's first trial (`par::ThreadChoice`) runs
/// steps on one thread, then on two, before it chooses: same bits still.
#[test]
fn one_and_two_threads_train_bit_identical_weights() {
    let (train, _) = split("digits.csv.gz", 0.2, 8);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut model = mlp(&[64, 512, 512, 10], 0.1, 8);
            let mut trainer = trainer(2, 64, 1e-3, 8);
            trainer.fit(model.as_mut(), &train, None).unwrap();
            (state_dict(model.as_mut()), trainer.step_threads().1)
        })
    };
    let stats = strata::tensor::gemm_stats();
    let ((one, no_trial), (two, trials)) = (run(1), run(2));
    assert!(strata::tensor::gemm_stats().parallel_calls > stats.parallel_calls, "no product ran on two threads");
    assert_eq!((no_trial, trials > 0), (0, true), "a trial on two threads only");
    for ((name, a), (_, b)) in one.iter().zip(&two) {
        assert!(a.data().iter().zip(b.data()).all(|(x, y)| x.to_bits() == y.to_bits()), "{name} differs");
    }
}

/// Streaming stores (`par::stream`, used on far threads) write the same
/// values as plain ones: training with them forced on and forced off gives
/// the same bits. The network's weights (64 x 512 and up), the gradients'
/// zeroing and the first layer's kept input (64 x 64) are all long enough
/// to stream.
#[test]
fn streamed_and_plain_stores_train_bit_identical_weights() {
    use strata::tensor::par::stream;
    let (train, _) = split("digits.csv.gz", 0.2, 9);
    let run = |on: bool| {
        stream::set_streaming(Some(on));
        let streams = stream::streaming();
        let mut model = mlp(&[64, 512, 512, 10], 0.1, 9);
        trainer(2, 64, 1e-3, 9).fit(model.as_mut(), &train, None).unwrap();
        (state_dict(model.as_mut()), streams)
    };
    let ((plain, off), (streamed, on)) = (run(false), run(true));
    stream::set_streaming(None);
    let avx512 = strata::tensor::simd_path() == strata::tensor::SimdPath::Avx512;
    assert_eq!((off, on), (false, avx512), "streaming forced off, then on (on AVX-512 only)");
    for ((name, a), (_, b)) in plain.iter().zip(&streamed) {
        assert!(a.data().iter().zip(b.data()).all(|(x, y)| x.to_bits() == y.to_bits()), "{name} differs");
    }
}
