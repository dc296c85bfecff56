//! The filter image: a valid PNG (checked by decoding it here), the expected
//! size and grey levels, written atomically.

use strata_conv::filters_png;
use strata_tensor::Tensor;

/// Decode an 8-bit RGB PNG with the `png` crate: (width, height, pixels).
fn decode(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Rgb, png::BitDepth::Eight));
    pixels.truncate(info.buffer_size());
    (info.width as usize, info.height as usize, pixels)
}

#[test]
fn filters_png_writes_a_grid_of_scaled_kernels() {
    // 2 filters x 3 input channels of 3x3: a grid of 2 rows and 3 columns,
    // each cell 24x24 (3 pixels upscaled 8x), 2-pixel gaps around and between.
    let mut w: Vec<f32> = (0..54).map(|i| (i % 9) as f32).collect();
    w[9..18].fill(-3.0); // filter 0, channel 1: constant -> mid-grey
    let weight = Tensor::from_vec(&[2, 3, 3, 3], w).unwrap();
    let dir = std::env::temp_dir().join(format!("strata-conv-png-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("filters.png");
    filters_png(&weight, &path).unwrap();
    let (width, height, px) = decode(&std::fs::read(&path).unwrap());
    assert_eq!((width, height), (2 + 3 * (24 + 2), 2 + 2 * (24 + 2)));
    let grey = |x: usize, y: usize| {
        let p = &px[(y * width + x) * 3..(y * width + x) * 3 + 3];
        assert!(p[0] == p[1] && p[1] == p[2], "({x}, {y}) is not grey: {p:?}");
        p[0]
    };
    // Kernel (0, 0) holds 0..8: weight 0 black at its top-left, 8 white at
    // its bottom-right, weight 4 (the centre) round(4/8 * 255) = 128.
    assert_eq!(grey(2, 2), 0);
    assert_eq!(grey(2 + 23, 2 + 23), 255);
    assert_eq!(grey(2 + 12, 2 + 12), 128);
    // Kernel (0, 1) is constant: mid-grey everywhere.
    assert_eq!(grey(2 + 26 + 5, 2 + 17), 128);
    // Kernel (1, 2), second row third column, again 0..8.
    assert_eq!(grey(2 + 2 * 26, 2 + 26), 0);
    // Gaps are coloured, not grey, so no kernel pixel merges with them.
    let gap = &px[..3];
    assert!(gap[0] != gap[2]);
    // Atomic: no temporary file is left next to the image.
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, [std::ffi::OsString::from("filters.png")]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn single_channel_filters_form_a_near_square_grid() {
    let weight = Tensor::from_vec(&[8, 1, 5, 5], (0..200).map(|i| i as f32).collect()).unwrap();
    let path = std::env::temp_dir().join(format!("strata-conv-png8-{}.png", std::process::id()));
    filters_png(&weight, &path).unwrap();
    let (width, height, _) = decode(&std::fs::read(&path).unwrap());
    std::fs::remove_file(&path).unwrap();
    // 8 kernels in 3 columns and 3 rows; 5x5 upscaled 5x to 25x25.
    assert_eq!((width, height), (2 + 3 * 27, 2 + 3 * 27));
}

#[test]
fn filters_png_rejects_what_is_not_a_conv_weight() {
    let path = std::env::temp_dir().join("strata-conv-never-written.png");
    for weight in [Tensor::zeros(&[8, 9]), Tensor::zeros(&[0, 1, 3, 3])] {
        let err = filters_png(&weight, &path).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
    assert!(!path.exists());
    let missing_dir = std::env::temp_dir().join("strata-conv-no-such-dir").join("f.png");
    assert!(filters_png(&Tensor::zeros(&[1, 1, 3, 3]), &missing_dir).is_err());
}
