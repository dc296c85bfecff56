//! IDX files built byte by byte, following the format description at
//! <http://yann.lecun.com/exdb/mnist/>.

use crate::{gzip, temp_file};
use strata_data::{DataError, Dataset, load_idx_dataset, read_idx};

/// An IDX file: magic (0, 0, type, ndims), big-endian u32 dims, then `data`.
fn idx(type_code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, type_code, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[test]
fn every_element_type() {
    let t = read_idx(&idx(0x08, &[2, 2], &[0, 1, 254, 255]), "u8").unwrap();
    assert_eq!((t.shape(), t.data()), (&[2, 2][..], &[0., 1., 254., 255.][..]));

    let t = read_idx(&idx(0x09, &[3], &[0x80, 0xff, 0x7f]), "i8").unwrap();
    assert_eq!(t.data(), &[-128., -1., 127.]);

    let data: Vec<u8> = [-300i16, 1000].iter().flat_map(|v| v.to_be_bytes()).collect();
    assert_eq!(read_idx(&idx(0x0B, &[2], &data), "i16").unwrap().data(), &[-300., 1000.]);

    let data: Vec<u8> = [-70000i32, 5].iter().flat_map(|v| v.to_be_bytes()).collect();
    assert_eq!(read_idx(&idx(0x0C, &[2, 1], &data), "i32").unwrap().data(), &[-70000., 5.]);

    let data: Vec<u8> = [1.5f32, -0.25].iter().flat_map(|v| v.to_be_bytes()).collect();
    assert_eq!(read_idx(&idx(0x0D, &[1, 2], &data), "f32").unwrap().data(), &[1.5, -0.25]);

    let data: Vec<u8> = [2.5f64, -8.0].iter().flat_map(|v| v.to_be_bytes()).collect();
    let t = read_idx(&idx(0x0E, &[1, 1, 2], &data), "f64").unwrap();
    assert_eq!((t.shape(), t.data()), (&[1, 1, 2][..], &[2.5, -8.0][..]));
}

#[test]
fn gzipped_idx() {
    let t = read_idx(&gzip(&idx(0x08, &[3], &[7, 8, 9])), "g").unwrap();
    assert_eq!(t.data(), &[7., 8., 9.]);
}

#[test]
fn truncated_and_malformed_idx() {
    // 2 x 3 u8 needs 6 data bytes; give 4.
    let err = read_idx(&idx(0x08, &[2, 3], &[1, 2, 3, 4]), "short.idx").unwrap_err();
    assert!(
        matches!(&err, DataError::Idx { file, reason } if file == "short.idx" && reason.contains("need 6 data bytes, found 4")),
        "{err:?}"
    );
    // 2 i32 need 8 bytes; give 9.
    let err = read_idx(&idx(0x0C, &[2], &[0; 9]), "long.idx").unwrap_err();
    assert!(matches!(&err, DataError::Idx { reason, .. } if reason.contains("need 8 data bytes, found 9")), "{err:?}");
    // Header cut inside the dimensions.
    let mut cut = idx(0x08, &[2, 3], &[]);
    cut.truncate(9);
    assert!(matches!(read_idx(&cut, "h").unwrap_err(), DataError::Idx { .. }));
    for bad in
        [&[][..], &[0, 0][..], &[1, 0, 8, 1, 0, 0, 0, 0][..], &[0, 0, 0x07, 1, 0, 0, 0, 0][..], &[0, 0, 8, 0][..]]
    {
        assert!(matches!(read_idx(bad, "b").unwrap_err(), DataError::Idx { .. }), "{bad:?}");
    }
    // Dimensions whose product overflows.
    let huge = idx(0x0E, &[u32::MAX, u32::MAX, u32::MAX], &[]);
    assert!(matches!(read_idx(&huge, "huge").unwrap_err(), DataError::Idx { .. }));
    // Corrupt gzip.
    let mut gz = gzip(&idx(0x08, &[100], &[3; 100]));
    let n = gz.len();
    gz.truncate(n - 10);
    assert!(matches!(read_idx(&gz, "z").unwrap_err(), DataError::Gzip { .. }));
}

#[test]
fn image_and_label_files_make_a_dataset() {
    // Three 2x2 images and their labels.
    let images = idx(0x08, &[3, 2, 2], &[0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]);
    let labels = idx(0x08, &[3], &[4, 0, 9]);
    let img_path = temp_file("images-idx3-ubyte", &images);
    let lbl_path = temp_file("labels-idx1-ubyte.gz", &gzip(&labels));
    let ds = load_idx_dataset(&img_path, &lbl_path).unwrap();
    assert_eq!(ds.features().shape(), &[3, 4]);
    assert_eq!(ds.feature_shape(), &[4]);
    assert_eq!(ds.features().row(1).unwrap(), &[10., 11., 12., 13.]);
    assert_eq!(ds.labels(), Some(vec![4, 0, 9]));
    assert_eq!(ds.n_classes(), Some(10));

    // Counts that disagree.
    let two_labels = temp_file("two-labels-idx1-ubyte", &idx(0x08, &[2], &[1, 2]));
    let err = load_idx_dataset(&img_path, &two_labels).unwrap_err();
    assert!(matches!(err, DataError::Idx { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: invalid IDX data: holds 2 labels, but {} holds 3 items: one label an item",
            two_labels.display(),
            img_path.display()
        )
    );
    // Negative labels.
    let neg = temp_file("neg-labels-idx1-ubyte", &idx(0x09, &[3], &[1, 0xff, 2]));
    assert!(matches!(load_idx_dataset(&img_path, &neg).unwrap_err(), DataError::Idx { .. }));
    // A label above the limit for three items (2 * 3 + 1000), as a CSV's would be.
    let big = temp_file("big-labels-idx1-ubyte", &idx(0x0C, &[3], &[0, 0, 0, 1, 0, 0, 0x04, 0x00, 0, 0, 0, 2]));
    let err = load_idx_dataset(&img_path, &big).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: invalid IDX data: label 1024 of item 1 is above 1006, the largest class index accepted for 3 items \
             (class indices count from 0)",
            big.display()
        )
    );
    // Missing file.
    let missing = std::path::Path::new("/nonexistent/labels.idx");
    assert!(matches!(load_idx_dataset(&img_path, missing).unwrap_err(), DataError::Io { .. }));
}

#[test]
fn images_of_no_item_or_no_pixel_are_refused_naming_the_images_file() {
    // They said "StandardScaler::fit: the features [6, 0] holds no data" and "the dataset holds no data".
    let labels = idx(0x08, &[2], &[0, 1]);
    let none = strata_data::idx_dataset_from_bytes(&idx(0x08, &[0, 2, 2], &[]), "x-idx3", &labels, "y-idx1");
    assert_eq!(none.unwrap_err().to_string(), "x-idx3: invalid IDX data: holds no item (its first dimension is 0)");
    let flat = strata_data::idx_dataset_from_bytes(&idx(0x08, &[2, 0, 4], &[]), "x-idx3", &labels, "y-idx1");
    assert_eq!(
        flat.unwrap_err().to_string(),
        "x-idx3: invalid IDX data: holds items of shape [0, 4]: an item of no value"
    );
}
