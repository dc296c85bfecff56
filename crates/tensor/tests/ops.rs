//! Element-wise operations, reductions, rows, serde, randomness.

use strata_tensor::{Init, StrataRng, Tensor, TensorError};

#[test]
fn from_vec_checks_the_length() {
    let err = Tensor::from_vec(&[2, 3], vec![0.0; 5]).unwrap_err();
    assert_eq!(err, TensorError::DataLength { op: "from_vec", shape: vec![2, 3], expected: 6, len: 5 });
}

#[test]
fn element_wise_ops_and_their_shape_errors() {
    let a = Tensor::from_vec(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let b = Tensor::from_vec(&[2, 2], vec![4.0, 3.0, 2.0, 1.0]).unwrap();
    assert_eq!(a.add(&b).unwrap().data(), &[5.0; 4]);
    assert_eq!(a.sub(&b).unwrap().data(), &[-3.0, -1.0, 1.0, 3.0]);
    assert_eq!(a.mul(&b).unwrap().data(), &[4.0, 6.0, 6.0, 4.0]);
    assert_eq!(a.div(&b).unwrap().data(), &[0.25, 2.0 / 3.0, 1.5, 4.0]);
    let mut c = a.clone();
    c.axpy(2.0, &b).unwrap();
    assert_eq!(c.data(), &[9.0, 8.0, 7.0, 6.0]);
    let err = a.add(&Tensor::zeros(&[4])).unwrap_err();
    assert_eq!(err, TensorError::ShapeMismatch { op: "add", left: vec![2, 2], right: vec![4] });
    assert_eq!(err.to_string(), "add: shapes do not match: left [2, 2], right [4]");
}

#[test]
fn reductions_along_axes() {
    // [[1, 2, 3], [4, 5, 6]]: column sums 5 7 9, row sums 6 15, mean 3.5.
    let x = Tensor::from_vec(&[2, 3], vec![1., 2., 3., 4., 5., 6.]).unwrap();
    assert_eq!(x.sum_axis(0).unwrap().data(), &[5., 7., 9.]);
    assert_eq!(x.mean_axis(1).unwrap().data(), &[2., 5.]);
    assert_eq!(x.sum(), 21.0);
    assert_eq!(x.mean(), 3.5);
    assert_eq!(x.argmax_rows().unwrap(), vec![2, 2]);
    let mut out = Tensor::ones(&[3]);
    x.sum_rows_into(&mut out, true).unwrap();
    assert_eq!(out.data(), &[6., 8., 10.]);
    assert!(matches!(x.sum_axis(2), Err(TensorError::OutOfRange { index: 2, .. })));
}

#[test]
fn rows_slicing_gathering_and_reshape() {
    let x = Tensor::from_vec(&[3, 2], vec![1., 2., 3., 4., 5., 6.]).unwrap();
    assert_eq!(x.slice_rows(1, 3).unwrap().data(), &[3., 4., 5., 6.]);
    assert_eq!(x.gather_rows(&[2, 0]).unwrap().data(), &[5., 6., 1., 2.]);
    assert!(matches!(x.gather_rows(&[3]), Err(TensorError::OutOfRange { index: 3, .. })));
    assert_eq!(x.reshape(&[2, 3]).unwrap().shape(), &[2, 3]);
    assert!(matches!(x.reshape(&[4, 2]), Err(TensorError::ShapeMismatch { .. })));
    assert_eq!(x.transpose().unwrap().data(), &[1., 3., 5., 2., 4., 6.]);
    let mut bias = x.clone();
    bias.add_row_assign(&Tensor::from_slice(&[10., 20.])).unwrap();
    assert_eq!(bias.data(), &[11., 22., 13., 24., 15., 26.]);
}

#[test]
fn serde_round_trip_and_a_corrupt_tensor_is_refused() {
    // Text formats carry each value's bits: NaN, -0 and the last bit of
    // 0.1 come back exactly.
    let x = Tensor::from_vec(&[2, 2], vec![0.1, f32::NAN, -0.0, f32::MIN_POSITIVE / 3.0]).unwrap();
    let json = serde_json::to_string(&x).unwrap();
    let back = serde_json::from_str::<Tensor>(&json).unwrap();
    assert_eq!(back.shape(), x.shape());
    let bits = |t: &Tensor| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back), bits(&x));
    // 1.0's bits, one value for a 2x2 shape.
    let bad = r#"{"shape":[2,2],"bits":[1065353216]}"#;
    let err = serde_json::from_str::<Tensor>(bad).unwrap_err();
    assert!(err.to_string().contains("[2, 2]"), "{err}");
}

#[test]
fn one_seed_gives_one_stream_and_initialisers_have_their_variance() {
    let a = Tensor::random_normal(&[1000], 0.0, 1.0, &mut StrataRng::seed_from_u64(5)).unwrap();
    let b = Tensor::random_normal(&[1000], 0.0, 1.0, &mut StrataRng::seed_from_u64(5)).unwrap();
    assert_eq!(a, b);
    // He normal: variance 2 / fan_in = 2 / 200 = 0.01; 40k draws give a sample
    // variance within a few percent.
    let w = Init::HeNormal.sample(&[200, 200], 200, 200, &mut StrataRng::seed_from_u64(1)).unwrap();
    let var = w.sum_squares() / w.len() as f64;
    assert!((var - 0.01).abs() < 0.0005, "{var}");
    // Xavier uniform: bound sqrt(6 / (fan_in + fan_out)) = sqrt(6 / 400).
    let w = Init::XavierUniform.sample(&[200, 200], 200, 200, &mut StrataRng::seed_from_u64(1)).unwrap();
    let bound = (6.0f32 / 400.0).sqrt();
    assert!(w.data().iter().all(|x| x.abs() <= bound));
    assert!(Tensor::random_normal(&[2], 0.0, -1.0, &mut StrataRng::seed_from_u64(0)).is_err());
}

#[test]
fn shuffle_is_a_permutation() {
    let mut v: Vec<usize> = (0..100).collect();
    StrataRng::seed_from_u64(3).shuffle(&mut v);
    let mut sorted = v.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    assert_ne!(v, sorted);
}

/// Sizes a caller chooses are checked before memory is asked for, and an
/// allocation the machine refuses is an error, not an abort. 2^60 values
/// (4 EiB) exceed any machine's address space (x86-64: 2^47 bytes a process).
#[test]
fn sizes_beyond_memory_are_errors_not_aborts() {
    let err = Tensor::try_zeros(&[1 << 40, 1 << 20]).unwrap_err();
    assert_eq!(err, TensorError::Alloc { op: "full", shape: vec![1 << 40, 1 << 20], bytes: 1 << 62 });
    assert_eq!(
        err.to_string(),
        "full: a tensor of shape [1099511627776, 1048576] needs 4611686018427387904 bytes, more than this machine can allocate"
    );
    // More bytes than a buffer may hold (isize::MAX): refused before asking.
    let err = Tensor::random_normal(&[1 << 31, 1 << 31], 0.0, 1.0, &mut StrataRng::seed_from_u64(0)).unwrap_err();
    assert!(matches!(err, TensorError::InvalidArgument { op: "random_normal", .. }), "{err:?}");
    // An empty tensor whose other axes overflow (its row length would).
    let err = Tensor::from_vec(&[0, usize::MAX, 2], vec![]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "from_vec: invalid argument: shape [0, 18446744073709551615, 2] holds more elements than fit in memory"
    );
    // Empty, and quick: no loop over a billion empty rows, no result of 2^40 values.
    let empty = Tensor::from_vec(&[1 << 30, 0], vec![]).unwrap();
    assert_eq!(empty.transpose().unwrap().shape(), &[0, 1 << 30]);
    let err = Tensor::from_vec(&[0, 1 << 40, 1 << 20], vec![]).unwrap().sum_axis(0).unwrap_err();
    assert!(matches!(err, TensorError::Alloc { .. }), "{err:?}");
    let mut t = Tensor::zeros(&[2]);
    assert!(matches!(t.try_resize(&[1 << 40, 1 << 20]), Err(TensorError::Alloc { .. })));
    assert_eq!(t.shape(), &[2], "left as it was");
}
