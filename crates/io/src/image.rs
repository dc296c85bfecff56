//! [`png_rgb`]: the one PNG encoder of the workspace (the `png` crate), used
//! by the conv filter image, the attention heat map and the report's figures.

/// An 8-bit RGB image (`width * height * 3` bytes, rows top to bottom) as PNG bytes.
///
/// ```
/// let png = strata_io::png_rgb(&[255, 0, 0], 1, 1)?;
/// assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn png_rgb(rgb: &[u8], width: usize, height: usize) -> std::io::Result<Vec<u8>> {
    let to_u32 =
        |n: usize| u32::try_from(n).map_err(|_| std::io::Error::other(format!("a side of {n} pixels is too large")));
    if width.checked_mul(height).and_then(|n| n.checked_mul(3)) != Some(rgb.len()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} bytes are not a {width}x{height} RGB image", rgb.len()),
        ));
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, to_u32(width)?, to_u32(height)?);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Best);
    encoder.write_header().map_err(std::io::Error::other)?.write_image_data(rgb).map_err(std::io::Error::other)?;
    Ok(out)
}
