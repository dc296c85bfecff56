//! Datasets of token-id sequences.

use strata_data::{DataError, Dataset, InMemoryDataset};
use strata_tensor::Tensor;

#[test]
fn sequences_are_padded_to_the_longest_and_batched_as_ids() {
    let inputs = vec![vec![5, 1], vec![5, 2, 3, 4], vec![5]];
    let targets = vec![vec![1, 0], vec![2, 3, 4, 0], vec![0]];
    let ds = InMemoryDataset::from_sequences(&inputs, &targets, 0, 6).unwrap();
    assert_eq!((ds.len(), ds.feature_shape()), (3, &[4][..]));
    let (mut x, mut y) = (Tensor::default(), Tensor::default());
    ds.fill_batch(&[2, 0], &mut x, &mut y).unwrap();
    assert_eq!(x.data(), &[5., 0., 0., 0., 5., 1., 0., 0.]);
    assert_eq!(y.data(), &[0., 0., 0., 0., 1., 0., 0., 0.]);
    assert_eq!(y.shape(), &[2, 4]);
}

#[test]
fn ids_outside_the_vocabulary_and_unequal_lengths_are_errors() {
    let err = InMemoryDataset::from_sequences(&[vec![1, 9]], &[vec![1, 2]], 0, 6).unwrap_err();
    assert_eq!(
        err.to_string(),
        "InMemoryDataset::from_sequences: invalid argument: id 9 at position 1 of sequence 0 is not in the vocabulary 0..6"
    );
    let err = InMemoryDataset::from_sequences(&[vec![1, 2]], &[vec![1]], 0, 6).unwrap_err();
    assert!(matches!(err, DataError::ShapeMismatch { ref left, ref right, .. } if left == &[0, 2] && right == &[0, 1]));
    // 2^24 + 1 ids cannot all be exact in f32.
    let err = InMemoryDataset::from_sequences(&[vec![1]], &[vec![1]], 0, (1 << 24) + 1).unwrap_err();
    assert!(matches!(err, DataError::InvalidArgument { .. }), "{err}");
    assert!(matches!(InMemoryDataset::from_sequences::<Vec<usize>>(&[], &[], 0, 6), Err(DataError::Empty { .. })));
}

#[test]
fn sequences_of_class_ids_have_no_per_sample_labels_and_do_not_stratify() {
    // Targets [n, length] hold one class id a position: no label a sample,
    // so class counts and a stratified split have nothing to go by.
    let ids = vec![vec![1, 2], vec![2, 3], vec![3, 1], vec![1, 1]];
    let ds = InMemoryDataset::from_sequences(&ids, &ids, 0, 4).unwrap();
    assert_eq!((ds.n_classes(), ds.labels(), ds.class_counts()), (Some(4), None, None));
    let err =
        strata_data::train_test_split(&ds, 0.5, true, &mut strata_tensor::StrataRng::seed_from_u64(0)).unwrap_err();
    assert_eq!(err.to_string(), "split: invalid argument: a stratified split needs one class label a sample");
    let (train, test) =
        strata_data::train_test_split(&ds, 0.5, false, &mut strata_tensor::StrataRng::seed_from_u64(0)).unwrap();
    assert_eq!((train.len(), test.len()), (2, 2));
}

#[test]
fn the_bigram_baseline_of_a_huge_vocabulary_counts_only_the_pairs_it_saw() {
    // A vocabulary of 2^40 ids: a dense table would hold 2^80 counts. From
    // id 1, 2 followed once: (1 + 1) / (1 + 2^40 - 1) = 2^-39.
    let items = vec![vec![1, 2]];
    let bigram = strata_data::BigramBaseline::fit(&items, 1 << 40);
    assert_eq!(bigram.probability(1, 2), 2.0 / (1u64 << 40) as f64);
    assert_eq!(bigram.probability(2, 1), 1.0 / ((1u64 << 40) - 1) as f64, "unseen: 1 / (0 + vocab - 1)");
    assert_eq!(bigram.probability(1 << 41, 1), 1.0 / ((1u64 << 40) - 1) as f64, "an id out of the vocabulary");
}

#[test]
fn text_lines_drop_a_leading_byte_order_mark_and_their_line_ends() {
    // A BOM became a character of the vocabulary, which `generate` then printed.
    let lines = strata_data::read_lines_bytes("\u{feff}anna\r\nbob\n\u{feff}cy\n".as_bytes(), "names.txt").unwrap();
    assert_eq!(lines, ["anna", "bob", "\u{feff}cy"], "only the file's first bytes are a mark");
    let err = strata_data::read_lines_bytes(b"ok\n\xff\xfe\n", "names.txt").unwrap_err();
    assert_eq!(err.to_string(), "names.txt: line 2: not UTF-8 text (invalid byte at column 1)");
}
