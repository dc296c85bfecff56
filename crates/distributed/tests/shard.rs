use strata_data::{Dataset, InMemoryDataset};
use strata_distributed::{Shard, local_range};
use strata_tensor::Tensor;

/// Samples 0..n whose only feature is their index.
fn numbered(n: usize) -> InMemoryDataset {
    let x = Tensor::from_vec(&[n, 1], (0..n).map(|i| i as f32).collect()).expect("n values");
    InMemoryDataset::from_labels(x, &vec![0; n]).expect("labels")
}

#[test]
fn the_shards_of_every_batch_are_the_batch_in_order() {
    for (n, size) in [(64, 2), (5, 2), (7, 3), (1, 2), (0, 4), (10, 1)] {
        let joined: Vec<usize> = (0..size).flat_map(|rank| local_range(n, rank, size)).collect();
        assert_eq!(joined, (0..n).collect::<Vec<_>>(), "{n} samples over {size} ranks");
        let sizes: Vec<usize> = (0..size).map(|rank| local_range(n, rank, size).len()).collect();
        assert!(sizes.iter().max().unwrap_or(&0) - sizes.iter().min().unwrap_or(&0) <= 1, "{sizes:?}");
    }
}

#[test]
fn a_shard_fills_its_slice_of_the_global_batch_and_the_epoch_is_covered_once() {
    // 10 samples, a shuffled order, global batches of 4: 4, 4, 2; two ranks take 2, 2, 1 each.
    let data = numbered(10);
    let order = [3, 9, 0, 7, 1, 8, 2, 6, 5, 4];
    let (mut x, mut y) = (Tensor::default(), Tensor::default());
    let mut seen = Vec::new();
    for rank in 0..2 {
        let shard = Shard::new(&data, rank, 2);
        assert_eq!(shard.len(), 10, "the trainer shuffles the whole set on every rank");
        for batch in order.chunks(4) {
            shard.fill_batch(batch, &mut x, &mut y).expect("in range");
            assert_eq!(x.shape(), [batch.len() / 2, 1]);
            seen.extend(x.data().iter().map(|&v| v as usize));
        }
    }
    // Rank 0: 3 9 | 1 8 | 5; rank 1: 0 7 | 2 6 | 4.
    assert_eq!(seen, [3, 9, 1, 8, 5, 0, 7, 2, 6, 4]);
    seen.sort_unstable();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
}

#[test]
fn a_rank_with_no_sample_in_a_short_batch_gets_the_batchs_last_sample() {
    // A last batch of 1 over 2 ranks: rank 0's slice is empty; it computes on
    // sample 6 too, and DataParallel weighs its gradient by zero.
    let data = numbered(10);
    let (mut x, mut y) = (Tensor::default(), Tensor::default());
    Shard::new(&data, 0, 2).fill_batch(&[6], &mut x, &mut y).expect("in range");
    assert_eq!(x.data(), [6.0]);
    Shard::new(&data, 1, 2).fill_batch(&[6], &mut x, &mut y).expect("in range");
    assert_eq!(x.data(), [6.0]);
}
