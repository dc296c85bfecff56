//! Convolution filters as a PNG image, encoded by the workspace's one PNG
//! encoder ([`strata_io::png_rgb`], the `png` crate).

use std::io;
use std::path::Path;
use strata_tensor::Tensor;

/// Gap between kernels and around the grid, in pixels.
const GAP: usize = 2;
/// A kernel is drawn about this many pixels wide (3x3 -> 24x24).
const KERNEL_PIXELS: usize = 24;
/// Colour of the gaps (a dark blue, so that no grey level merges with it).
const GAP_RGB: [u8; 3] = [24, 48, 96];

/// Write the kernels of a convolution weight `[out, in, kh, kw]` as a PNG
/// grid, atomically (a temporary file in the same folder, then a rename).
///
/// Each kernel is min-max scaled on its own to grey levels (its smallest
/// weight black, its largest white; a constant kernel mid-grey) and upscaled
/// to about 24 pixels (a 3x3 kernel becomes 24x24), with 2-pixel gaps. Row
/// `o` of the grid holds filter `o`, one kernel per input channel; filters of
/// a single input channel are laid out in a near-square grid instead.
///
/// Errors: [`io::ErrorKind::InvalidInput`] for a weight that is not rank 4
/// or is empty, and the errors of writing the file.
///
/// ```no_run
/// use strata_tensor::{StrataRng, Tensor};
/// let w = Tensor::random_normal(&[8, 1, 3, 3], 0.0, 1.0, &mut StrataRng::seed_from_u64(0))?;
/// strata_conv::filters_png(&w, "filters.png")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn filters_png(weight: &Tensor, path: impl AsRef<Path>) -> io::Result<()> {
    let (width, height, rgb) = render(weight)?;
    let bytes = strata_io::png_rgb(&rgb, width, height)?;
    strata_io::atomic_write(path.as_ref(), &bytes).map_err(Into::into)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// The grid as RGB pixels: `(width, height, 3 * width * height bytes)`.
fn render(weight: &Tensor) -> io::Result<(usize, usize, Vec<u8>)> {
    let &[out, inp, kh, kw] = weight.shape() else {
        return Err(invalid(format!(
            "filters_png: expected a weight [out, in, kh, kw], got shape {:?}",
            weight.shape()
        )));
    };
    if weight.is_empty() {
        return Err(invalid(format!("filters_png: the weight {:?} holds no kernel", weight.shape())));
    }
    let n_kernels = out * inp;
    let (rows, cols) = if inp == 1 {
        let cols = (1..=n_kernels).find(|c| c * c >= n_kernels).unwrap_or(n_kernels);
        (n_kernels.div_ceil(cols), cols)
    } else {
        (out, inp)
    };
    let scale = KERNEL_PIXELS.div_ceil(kh.max(kw)).max(1);
    let (cell_w, cell_h) = (kw * scale, kh * scale);
    let size = |n: usize, cell: usize| n.checked_mul(cell + GAP).and_then(|v| v.checked_add(GAP));
    let (Some(width), Some(height)) = (size(cols, cell_w), size(rows, cell_h)) else {
        return Err(invalid("filters_png: the image would be too large".into()));
    };
    if width > 1 << 15 || height > 1 << 15 {
        return Err(invalid(format!("filters_png: a {width}x{height} image is too large")));
    }
    let mut rgb: Vec<u8> = GAP_RGB.iter().copied().cycle().take(width * height * 3).collect();
    for (k, kernel) in weight.data().chunks_exact(kh * kw).enumerate() {
        let (lo, hi) = kernel
            .iter()
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let grey = |v: f32| -> u8 {
            if !v.is_finite() {
                0
            } else if hi > lo {
                ((v - lo) / (hi - lo) * 255.0).round() as u8
            } else {
                128
            }
        };
        let (gy, gx) = (k / cols, k % cols);
        let (y0, x0) = (GAP + gy * (cell_h + GAP), GAP + gx * (cell_w + GAP));
        for y in 0..cell_h {
            for x in 0..cell_w {
                let level = grey(kernel[(y / scale) * kw + x / scale]);
                let at = ((y0 + y) * width + x0 + x) * 3;
                rgb[at..at + 3].fill(level);
            }
        }
    }
    Ok((width, height, rgb))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn layout_of_a_single_channel_grid() {
        let w = Tensor::from_vec(&[5, 1, 3, 3], (0..45).map(|i| i as f32).collect()).unwrap();
        let (width, height, rgb) = render(&w).unwrap();
        // 5 kernels in 3 columns, 2 rows; cells of 24 px with 2 px gaps.
        assert_eq!((width, height), (2 + 3 * 26, 2 + 2 * 26));
        let px = |x: usize, y: usize| rgb[(y * width + x) * 3];
        assert_eq!(px(0, 0), GAP_RGB[0]);
        assert_eq!(px(2, 2), 0); // kernel 0, weight 0: its minimum
        assert_eq!(px(2 + 23, 2 + 23), 255); // kernel 0, weight 8: its maximum
        assert_eq!(px(2 + 8, 2), 32); // weight 1 of 0..8: round(255 / 8)
    }
}
