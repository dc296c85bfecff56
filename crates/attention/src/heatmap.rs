//! [`heatmap_png`]: attention weights as an image.

use std::path::Path;

/// Pixels per cell of the map, at most: maps of more than 64 tokens get
/// smaller cells, so that no side passes 1024 pixels (one pixel a cell
/// beyond).
const CELL: usize = 16;

/// The most rows or columns a map draws.
pub const MAX_MAP_SIDE: usize = 4096;

/// A white-to-dark-blue colour for a weight in `[0, 1]`.
fn colour(w: f32) -> [u8; 3] {
    let w = w.clamp(0.0, 1.0);
    let mix = |white: f32, dark: f32| (white + (dark - white) * w).round() as u8;
    [mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0)]
}

/// Write a `rows x cols` matrix of weights in `[0, 1]` (an attention map:
/// row `i` is how much token `i` took from each token) as a PNG heat map,
/// one 16-pixel square per weight (smaller beyond 64 tokens, so that a side
/// stays within 1024 pixels), white for 0 to dark blue for 1, through the
/// `png` crate. Errors: a matrix without rows or columns, of more than
/// [`MAX_MAP_SIDE`] rows or columns, or values that do not fill it, and I/O
/// errors; written atomically.
pub fn heatmap_png(weights: &[f32], rows: usize, cols: usize, path: &Path) -> std::io::Result<()> {
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
    if rows > MAX_MAP_SIDE || cols > MAX_MAP_SIDE {
        return Err(invalid(format!("a {rows}x{cols} map is larger than {MAX_MAP_SIDE} tokens a side")));
    }
    if rows == 0 || cols == 0 || weights.len() != rows * cols {
        return Err(invalid(format!("{} weights do not fill a {rows}x{cols} map", weights.len())));
    }
    let cell = (1024 / rows.max(cols)).clamp(1, CELL);
    let (w, h) = (cols * cell, rows * cell);
    let mut pixels = vec![0u8; w * h * 3];
    for (y, line) in pixels.chunks_exact_mut(w * 3).enumerate() {
        for (x, px) in line.chunks_exact_mut(3).enumerate() {
            px.copy_from_slice(&colour(weights[(y / cell) * cols + x / cell]));
        }
    }
    let bytes = strata_io::png_rgb(&pixels, w, h)?;
    strata_io::atomic_write(path, &bytes).map_err(Into::into)
}
