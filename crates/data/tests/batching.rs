//! Datasets, batches, one-hot and label checks.

use strata_data::{
    BatchSampler, DataError, Dataset, InMemoryDataset, batches, check_labels, one_hot, shuffled_indices,
};
use strata_tensor::{StrataRng, Tensor};

/// Ten samples of two features `[10 * i, 10 * i + 1]`, label `i % 3`.
fn ten() -> InMemoryDataset {
    let x = Tensor::from_vec(&[10, 2], (0..10).flat_map(|i| [10. * i as f32, 10. * i as f32 + 1.]).collect()).unwrap();
    InMemoryDataset::from_labels(x, &(0..10).map(|i| i % 3).collect::<Vec<_>>()).unwrap()
}

#[test]
fn constructors_validate() {
    let err = InMemoryDataset::new(Tensor::zeros(&[3, 2]), Tensor::zeros(&[4])).unwrap_err();
    assert!(matches!(&err, DataError::ShapeMismatch { left, right, .. } if left == &[3, 2] && right == &[4]));
    let err = InMemoryDataset::new(Tensor::zeros(&[0, 2]), Tensor::zeros(&[0])).unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }));
    assert!(InMemoryDataset::from_labels(Tensor::zeros(&[2, 2]), &[1]).is_err());
    assert!(InMemoryDataset::new(Tensor::scalar(1.0), Tensor::scalar(1.0)).is_err());

    let ds = ten();
    assert_eq!((ds.len(), ds.n_classes(), Dataset::n_classes(&ds)), (10, Some(3), Some(3)));
    assert!(matches!(ds.subset(&[]), Err(DataError::Empty { .. })));
    assert!(matches!(ds.subset(&[10]), Err(DataError::Tensor(_))));
    let sub = ds.subset(&[9, 0]).unwrap();
    assert_eq!(sub.features().data(), &[90., 91., 0., 1.]);
    assert_eq!((sub.labels(), sub.n_classes()), (Some(vec![0, 0]), Some(3)));

    // Declaring the class count: checked against the labels.
    assert_eq!(sub.clone().with_n_classes(10).unwrap().n_classes(), Some(10));
    assert!(matches!(ds.clone().with_n_classes(2), Err(DataError::LabelOutOfRange { label: 2, n_classes: 2 })));
    let regression = InMemoryDataset::new(Tensor::zeros(&[2, 1]), Tensor::from_slice(&[0.5, 1.0])).unwrap();
    assert!(regression.labels().is_none());
    assert!(matches!(regression.with_n_classes(2), Err(DataError::InvalidArgument { .. })));

    // Reshaping samples keeps the element count.
    assert!(matches!(ds.clone().with_feature_shape(&[3]), Err(DataError::ShapeMismatch { .. })));
    assert_eq!(ds.with_feature_shape(&[1, 2]).unwrap().feature_shape(), &[1, 2]);
}

#[test]
fn fill_batch_follows_index_order_and_reuses_buffers() {
    let ds = ten();
    let (mut x, mut y) = (Tensor::default(), Tensor::default());
    ds.fill_batch(&[3, 1, 3], &mut x, &mut y).unwrap();
    assert_eq!(x.shape(), &[3, 2]);
    assert_eq!(x.data(), &[30., 31., 10., 11., 30., 31.]);
    assert_eq!(y.data(), &[0., 1., 0.]);

    // Once warm, the buffers are not reallocated.
    let (px, py) = (x.data().as_ptr(), y.data().as_ptr());
    ds.fill_batch(&[9, 8, 7], &mut x, &mut y).unwrap();
    assert_eq!((x.data().as_ptr(), y.data().as_ptr()), (px, py));
    assert_eq!(y.data(), &[0., 2., 1.]);
    ds.fill_batch(&[2], &mut x, &mut y).unwrap();
    assert_eq!((x.shape(), y.shape()), (&[1, 2][..], &[1][..]));
    assert_eq!(x.data().as_ptr(), px);

    assert!(matches!(ds.fill_batch(&[10], &mut x, &mut y), Err(DataError::Tensor(_))));
}

#[test]
fn sampler_covers_every_index_once_per_epoch() {
    let sampler = BatchSampler::new(23, 5, true, false).unwrap();
    assert_eq!(sampler.n_batches(), 5);
    let mut rng = StrataRng::seed_from_u64(11);
    let mut orders = Vec::new();
    for _ in 0..3 {
        let order = sampler.epoch_order(&mut rng);
        let mut seen = vec![0; 23];
        let mut sizes = Vec::new();
        for batch in sampler.batches(&order) {
            sizes.push(batch.len());
            for &i in batch {
                seen[i] += 1;
            }
        }
        assert_eq!(sizes, [5, 5, 5, 5, 3]);
        assert!(seen.iter().all(|&c| c == 1), "{seen:?}");
        orders.push(order);
    }
    assert_ne!(orders[0], orders[1]); // a new order every epoch

    let in_order = BatchSampler::new(7, 3, false, true).unwrap();
    let order = in_order.epoch_order(&mut rng);
    assert_eq!(order, (0..7).collect::<Vec<_>>());
    let got: Vec<&[usize]> = in_order.batches(&order).collect();
    assert_eq!(got, [&[0, 1, 2][..], &[3, 4, 5][..]]);
    assert_eq!(in_order.n_batches(), 2);

    assert!(matches!(BatchSampler::new(7, 0, false, false), Err(DataError::InvalidArgument { .. })));
}

#[test]
fn batches_iterator() {
    let ds = ten();
    let order = shuffled_indices(10, &mut StrataRng::seed_from_u64(4));
    let all: Vec<(Tensor, Tensor)> = batches(&ds, 4, &order).unwrap().map(Result::unwrap).collect();
    assert_eq!(all.iter().map(|(x, _)| x.shape()[0]).collect::<Vec<_>>(), [4, 4, 2]);
    let firsts: Vec<usize> = all.iter().flat_map(|(x, _)| x.data().chunks(2).map(|r| r[0] as usize / 10)).collect();
    assert_eq!(firsts, order);
    assert!(matches!(batches(&ds, 0, &order), Err(DataError::InvalidArgument { .. })));
    let bad = [0, 99];
    let results: Vec<_> = batches(&ds, 1, &bad).unwrap().collect();
    assert!(results[0].is_ok() && results[1].is_err());
}

#[test]
fn one_hot_and_label_checks() {
    let t = one_hot(&[1, 0, 2], 3).unwrap();
    assert_eq!(t.shape(), &[3, 3]);
    assert_eq!(t.data(), &[0., 1., 0., 1., 0., 0., 0., 0., 1.]);
    assert_eq!(one_hot(&[], 4).unwrap().shape(), &[0, 4]);
    assert!(matches!(one_hot(&[0, 3], 3), Err(DataError::LabelOutOfRange { label: 3, n_classes: 3 })));

    let ds = ten(); // labels 0..=2
    check_labels(&ds, 3).unwrap();
    check_labels(&ds, 10).unwrap();
    let err = check_labels(&ds, 2).unwrap_err();
    assert!(matches!(err, DataError::LabelOutOfRange { label: 2, n_classes: 2 }), "{err:?}");
    assert_eq!(err.to_string(), "label 2 is out of range for 2 classes (labels must be 0..2)");

    let vectors = InMemoryDataset::new(Tensor::zeros(&[2, 3]), one_hot(&[0, 2], 3).unwrap()).unwrap();
    check_labels(&vectors, 3).unwrap();
    assert!(matches!(check_labels(&vectors, 4), Err(DataError::ShapeMismatch { .. })));
}

/// Class counts no label could reach are refused (labels are exact in
/// `f32` up to 2^24), instead of allocating a count or a one-hot row each.
#[test]
fn class_counts_beyond_the_largest_label_are_refused() {
    let err = one_hot(&[0], 1 << 40).unwrap_err();
    assert_eq!(err.to_string(), "one_hot: invalid argument: 1099511627776 classes: at most 16777217");
    let ds = InMemoryDataset::from_labels(Tensor::zeros(&[2, 1]), &[0, 1]).unwrap();
    let err = ds.with_n_classes(usize::MAX).unwrap_err();
    assert!(matches!(err, DataError::InvalidArgument { op: "InMemoryDataset::with_n_classes", .. }), "{err:?}");
}
