//! The real data files of `data/` (counts from `data/README.md`).

use crate::data_file;
use strata_data::{CsvOptions, Dataset, first_n_split, load_csv, load_csv_bytes};

#[test]
fn mnist_5k_loads_with_500_per_class() {
    let ds = load_csv(data_file("mnist_5k.csv.gz"), &CsvOptions::default()).unwrap();
    // README: 5000 rows, 784 pixels, 10 digits with 500 each.
    assert_eq!(ds.features().shape(), &[5000, 784]);
    assert_eq!(ds.targets().shape(), &[5000]);
    assert_eq!(ds.n_classes(), Some(10));
    assert_eq!(ds.class_counts(), Some(vec![500; 10]));
    // Pixel intensities 0-255.
    let data = ds.features().data();
    assert!(data.iter().all(|&v| (0.0..=255.0).contains(&v)));
    assert_eq!(data.iter().copied().fold(0.0, f32::max), 255.0);

    // README: the first 4000 rows are the standard training set (400 per digit).
    let (train, test) = first_n_split(&ds, 4000).unwrap();
    assert_eq!((train.len(), test.len()), (4000, 1000));
    assert_eq!(train.class_counts(), Some(vec![400; 10]));
    assert_eq!(test.class_counts(), Some(vec![100; 10]));
    assert_eq!(test.features().row(0).unwrap(), ds.features().row(4000).unwrap());
}

#[test]
fn mnist_from_embedded_bytes_and_reshaped() {
    let bytes = std::fs::read(data_file("mnist_5k.csv.gz")).unwrap();
    let ds = load_csv_bytes(&bytes, &CsvOptions::default(), "embedded mnist").unwrap();
    assert_eq!(ds.len(), 5000);
    let image = ds.with_feature_shape(&[1, 28, 28]).unwrap();
    assert_eq!(image.feature_shape(), &[1, 28, 28]);
    assert_eq!(image.features().shape(), &[5000, 1, 28, 28]);
}

#[test]
fn digits_loads() {
    // README: 1797 rows of 64 pixels 0-16, 10 digits.
    let ds = load_csv(data_file("digits.csv.gz"), &CsvOptions::default()).unwrap();
    assert_eq!(ds.features().shape(), &[1797, 64]);
    assert_eq!(ds.n_classes(), Some(10));
    assert!(ds.features().data().iter().all(|&v| (0.0..=16.0).contains(&v)));
}

#[test]
fn iris_loads() {
    // README: 150 rows, 4 measurements, 3 species with 50 each, sorted by label.
    let ds = load_csv(data_file("iris.csv"), &CsvOptions::default()).unwrap();
    assert_eq!(ds.features().shape(), &[150, 4]);
    assert_eq!(ds.n_classes(), Some(3));
    assert_eq!(ds.class_counts(), Some(vec![50, 50, 50]));
    // First line of iris.csv: 5.1,3.5,1.4,0.2,0
    assert_eq!(ds.features().row(0).unwrap(), &[5.1, 3.5, 1.4, 0.2]);
    let labels = ds.labels().unwrap();
    assert!(labels.windows(2).all(|w| w[0] <= w[1]));
}
