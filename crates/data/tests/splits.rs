//! Shuffling and splits.

use crate::data_file;
use std::collections::HashSet;
use strata_data::{
    CsvOptions, DataError, InMemoryDataset, first_n_split, load_csv, shuffled_indices, split_three, train_test_split,
};
use strata_tensor::{StrataRng, Tensor};

fn iris() -> InMemoryDataset {
    load_csv(data_file("iris.csv"), &CsvOptions::default()).unwrap()
}

/// A dataset whose single feature is the row index, so a split's rows can be traced back.
fn indexed(labels: &[usize]) -> InMemoryDataset {
    let x = Tensor::from_vec(&[labels.len(), 1], (0..labels.len()).map(|i| i as f32).collect()).unwrap();
    InMemoryDataset::from_labels(x, labels).unwrap()
}

fn ids(ds: &InMemoryDataset) -> Vec<usize> {
    ds.features().data().iter().map(|&v| v as usize).collect()
}

#[test]
fn shuffled_indices_is_a_seeded_permutation() {
    let a = shuffled_indices(100, &mut StrataRng::seed_from_u64(1));
    let b = shuffled_indices(100, &mut StrataRng::seed_from_u64(1));
    let c = shuffled_indices(100, &mut StrataRng::seed_from_u64(2));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let mut sorted = a.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    assert_ne!(a, sorted);
}

#[test]
fn stratified_iris_split() {
    // iris.csv is sorted by class, 50 each: 0.2 * 50 = 10 per class in the test part.
    let ds = iris();
    let (train, test) = train_test_split(&ds, 0.2, true, &mut StrataRng::seed_from_u64(7)).unwrap();
    assert_eq!(test.class_counts(), Some(vec![10, 10, 10]));
    assert_eq!(train.class_counts(), Some(vec![40, 40, 40]));
    assert_eq!(test.n_classes(), Some(3));

    // Same seed: identical; other seed: different.
    let (train2, test2) = train_test_split(&ds, 0.2, true, &mut StrataRng::seed_from_u64(7)).unwrap();
    assert_eq!((&train, &test), (&train2, &test2));
    let (_, test3) = train_test_split(&ds, 0.2, true, &mut StrataRng::seed_from_u64(8)).unwrap();
    assert_ne!(test, test3);

    // Test part is shuffled, not sorted by class.
    let labels = test.labels().unwrap();
    assert!(labels.windows(2).any(|w| w[0] > w[1]));
}

#[test]
fn split_parts_are_disjoint_and_cover_all_rows() {
    let labels: Vec<usize> = (0..150).map(|i| i / 50).collect();
    let ds = indexed(&labels);
    for stratify in [true, false] {
        let (train, test) = train_test_split(&ds, 0.2, stratify, &mut StrataRng::seed_from_u64(3)).unwrap();
        assert_eq!((train.len(), test.len()), (120, 30));
        let mut all: Vec<usize> = ids(&train).into_iter().chain(ids(&test)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..150).collect::<Vec<_>>());
        // Labels travel with their rows.
        for part in [&train, &test] {
            for (id, label) in ids(part).into_iter().zip(part.labels().unwrap()) {
                assert_eq!(label, id / 50);
            }
        }
    }
}

#[test]
fn three_way_split() {
    let labels: Vec<usize> = (0..100).map(|i| i % 4).collect();
    let ds = indexed(&labels);
    let split = split_three(&ds, 0.1, 0.2, true, &mut StrataRng::seed_from_u64(5)).unwrap();
    let val = split.validation.as_ref().unwrap();
    let test = split.test.as_ref().unwrap();
    // 25 per class: round(2.5) = 3 (half away from zero) validation, 5 test.
    assert_eq!(val.class_counts(), Some(vec![3; 4]));
    assert_eq!(test.class_counts(), Some(vec![5; 4]));
    assert_eq!(split.train.len(), 100 - 12 - 20);
    let all: HashSet<usize> = ids(&split.train).into_iter().chain(ids(val)).chain(ids(test)).collect();
    assert_eq!(all.len(), 100);

    let no_val = split_three(&ds, 0.0, 0.25, false, &mut StrataRng::seed_from_u64(5)).unwrap();
    assert!(no_val.validation.is_none());
    assert_eq!((no_val.train.len(), no_val.test.map(|t| t.len())), (75, Some(25)));
}

#[test]
fn small_classes_keep_a_training_sample() {
    // Class 1 has a single sample: it stays in training; class 2 has two: one each.
    let ds = indexed(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 2]);
    let (train, test) = train_test_split(&ds, 0.1, true, &mut StrataRng::seed_from_u64(0)).unwrap();
    assert_eq!(test.class_counts(), Some(vec![1, 0, 1]));
    assert_eq!(train.class_counts(), Some(vec![9, 1, 1]));
}

#[test]
fn invalid_fractions() {
    let ds = iris();
    let rng = &mut StrataRng::seed_from_u64(0);
    for f in [0.0, 1.0, -0.1, 1.5, f32::NAN] {
        let err = train_test_split(&ds, f, false, rng).unwrap_err();
        assert!(matches!(err, DataError::InvalidFraction { name: "test_fraction", .. }), "{f}: {err:?}");
    }
    let err = split_three(&ds, 0.6, 0.4, false, rng).unwrap_err();
    assert!(matches!(err, DataError::InvalidFraction { name: "val_fraction + test_fraction", .. }), "{err:?}");
    let err = split_three(&ds, -0.1, 0.2, false, rng).unwrap_err();
    assert!(matches!(err, DataError::InvalidFraction { name: "val_fraction", .. }), "{err:?}");
    // Stratifying needs labels.
    let unlabelled = InMemoryDataset::new(Tensor::zeros(&[4, 2]), Tensor::zeros(&[4, 3])).unwrap();
    assert!(matches!(train_test_split(&unlabelled, 0.5, true, rng), Err(DataError::InvalidArgument { .. })));
    // A single sample cannot be split.
    let one = indexed(&[0]);
    assert!(matches!(train_test_split(&one, 0.5, false, rng), Err(DataError::Empty { .. })));
}

#[test]
fn first_n_split_keeps_file_order() {
    let ds = indexed(&[0, 1, 0, 1, 0]);
    let (train, test) = first_n_split(&ds, 3).unwrap();
    assert_eq!((ids(&train), ids(&test)), (vec![0, 1, 2], vec![3, 4]));
    for bad in [0, 5, 6] {
        assert!(matches!(first_n_split(&ds, bad), Err(DataError::InvalidArgument { .. })));
    }
}
