//! Normalisation: fitted on training rows, applied to others; values by hand.

use strata_data::{DataError, InMemoryDataset, MinMaxScaler, Normalizer, StandardScaler};
use strata_tensor::Tensor;

fn t(rows: usize, cols: usize, data: &[f32]) -> Tensor {
    Tensor::from_vec(&[rows, cols], data.to_vec()).unwrap()
}

fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "got {got:?}, want {want:?}");
    }
}

#[test]
fn min_max_fit_on_train_transform_test() {
    // Column 0: min 0, max 4 -> (x - 0) / 4. Column 1: min 10, max 20 -> (x - 10) / 10.
    // Column 2 is constant (5): scale 1, so it becomes x - 5.
    let mut train = t(3, 3, &[0., 10., 5., 2., 20., 5., 4., 15., 5.]);
    let scaler = MinMaxScaler::fit_transform(&mut train).unwrap();
    assert_eq!(scaler.min, vec![0., 10., 5.]);
    assert_close(&scaler.scale, &[0.25, 0.1, 1.0]);
    assert_close(train.data(), &[0., 0., 0., 0.5, 1., 0., 1., 0.5, 0.]);

    let mut test = t(1, 3, &[8., 5., 7.]);
    scaler.transform(&mut test).unwrap();
    assert_close(test.data(), &[2.0, -0.5, 2.0]);
    assert!(test.is_finite());
}

#[test]
fn standard_fit_on_train_transform_test() {
    // Column 0: 1, 3, 5 -> mean 3, population variance (4 + 0 + 4) / 3 = 8/3.
    // Column 1: constant 7 -> std 0 replaced by 1.
    let train = t(3, 2, &[1., 7., 3., 7., 5., 7.]);
    let scaler = StandardScaler::fit(&train).unwrap();
    let sd = (8.0f32 / 3.0).sqrt();
    assert_close(&scaler.mean, &[3., 7.]);
    assert_close(&scaler.std, &[sd, 1.0]);

    let mut test = t(2, 2, &[3., 7., 7., 9.]);
    scaler.transform(&mut test).unwrap();
    assert_close(test.data(), &[0., 0., 4. / sd, 2.]);

    let mut train = train;
    StandardScaler::fit_transform(&mut train).unwrap();
    assert!(train.is_finite());
    assert_close(train.data(), &[-2. / sd, 0., 0., 0., 2. / sd, 0.]);
}

#[test]
fn scalers_check_shapes() {
    let scaler = StandardScaler::fit(&t(2, 2, &[1., 2., 3., 4.])).unwrap();
    let err = scaler.transform(&mut t(2, 3, &[0.; 6])).unwrap_err();
    assert!(matches!(err, DataError::ShapeMismatch { .. }), "{err:?}");
    let mm = MinMaxScaler::fit(&t(2, 2, &[1., 2., 3., 4.])).unwrap();
    assert!(matches!(mm.transform(&mut t(1, 1, &[0.])), Err(DataError::ShapeMismatch { .. })));
    assert!(matches!(MinMaxScaler::fit(&Tensor::zeros(&[0, 3])), Err(DataError::Empty { .. })));
    // A deserialised scaler whose vectors disagree is an error, not a panic.
    let broken: MinMaxScaler = serde_json::from_str(r#"{"min":[0.0,1.0],"scale":[1.0]}"#).unwrap();
    assert!(broken.transform(&mut t(1, 2, &[0., 0.])).is_err());
}

#[test]
fn scaler_applies_per_element_of_image_samples() {
    // Features [n, 1, 2, 1]: two elements per sample.
    let ds = InMemoryDataset::from_labels(t(2, 2, &[0., 10., 2., 30.]), &[0, 1])
        .unwrap()
        .with_feature_shape(&[1, 2, 1])
        .unwrap();
    let mut features = ds.features().clone();
    let scaler = MinMaxScaler::fit_transform(&mut features).unwrap();
    assert_eq!(scaler.min, vec![0., 10.]);
    assert_close(features.data(), &[0., 0., 1., 1.]);
}

#[test]
fn normalizer_enum_and_serde() {
    let train = t(2, 2, &[0., 1., 2., 3.]);
    let normalizers = [
        Normalizer::None,
        Normalizer::MinMax(MinMaxScaler::fit(&train).unwrap()),
        Normalizer::Standard(StandardScaler::fit(&train).unwrap()),
        Normalizer::Scale { factor: 0.5 },
    ];
    let expected: [&[f32]; 4] = [&[0., 1., 2., 3.], &[0., 0., 1., 1.], &[-1., -1., 1., 1.], &[0., 0.5, 1., 1.5]];
    for (n, want) in normalizers.iter().zip(expected) {
        let json = serde_json::to_string(n).unwrap();
        let back: Normalizer = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, n);
        let mut x = train.clone();
        back.transform(&mut x).unwrap();
        assert_close(x.data(), want);
    }
    assert_eq!(Normalizer::default(), Normalizer::None);
}
