//! The filter image: a valid PNG (checked by decoding it here), the expected
//! size and grey levels, written atomically.

use flate2::read::ZlibDecoder;
use std::io::Read;
use strata_conv::filters_png;
use strata_tensor::Tensor;

/// CRC-32 as PNG uses it, bit by bit (independent of the crate's code).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Decode an 8-bit RGB PNG written without row filters: (width, height, pixels).
fn decode(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let mut at = 8;
    let (mut width, mut height, mut idat, mut kinds) = (0, 0, Vec::new(), Vec::new());
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = &bytes[at + 8..at + 8 + len];
        let crc = u32::from_be_bytes(bytes[at + 8 + len..at + 12 + len].try_into().unwrap());
        assert_eq!(crc, crc32(&bytes[at + 4..at + 8 + len]), "CRC of {}", String::from_utf8_lossy(kind));
        kinds.push(String::from_utf8_lossy(kind).into_owned());
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
                height = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                assert_eq!(&data[8..], &[8, 2, 0, 0, 0], "8-bit RGB, not interlaced");
            }
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        at += 12 + len;
    }
    assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
    let mut raw = Vec::new();
    ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
    assert_eq!(raw.len(), height * (1 + 3 * width));
    let mut pixels = Vec::new();
    for row in raw.chunks_exact(1 + 3 * width) {
        assert_eq!(row[0], 0, "filter type");
        pixels.extend_from_slice(&row[1..]);
    }
    (width, height, pixels)
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
