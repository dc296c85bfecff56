//! Window geometry shared by convolution and pooling (output sizes, the
//! smallest input a window fits), the `usize or [h, w]` serde helper, and the
//! im2col / col2im transforms behind [`crate::Conv2d`].

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use std::fmt;
use strata_layers::{Dim, LayerError, Result, dims};
use strata_tensor::checked_numel;

/// A shape pattern with 0 for "any size" as dims.
fn pattern(v: &[usize]) -> Vec<Dim> {
    v.iter().map(|&n| if n == 0 { Dim::Any } else { Dim::Fixed(n) }).collect()
}

/// Deserialize a spatial size given either as one number (square) or as
/// `[height, width]`.
pub(crate) fn pair<'de, D: Deserializer<'de>>(d: D) -> Result<[usize; 2], D::Error> {
    struct PairVisitor;
    impl<'de> Visitor<'de> for PairVisitor {
        type Value = [usize; 2];
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative integer or a pair [height, width]")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<[usize; 2], E> {
            let v = usize::try_from(v).map_err(|_| E::custom(format!("{v} is too large")))?;
            Ok([v, v])
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<[usize; 2], E> {
            let v = usize::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))?;
            Ok([v, v])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[usize; 2], A::Error> {
            let h = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
            let w = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
            if seq.next_element::<usize>()?.is_some() {
                return Err(de::Error::invalid_length(3, &self));
            }
            Ok([h, w])
        }
    }
    d.deserialize_any(PairVisitor)
}

/// [`pair`] for an optional field.
pub(crate) fn opt_pair<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[usize; 2]>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Wrap(#[serde(deserialize_with = "pair")] [usize; 2]);
    Ok(<Option<Wrap> as serde::Deserialize>::deserialize(d)?.map(|Wrap(p)| p))
}

/// How a sliding window visits a feature map: sizes per spatial axis
/// (`[height, width]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
}

impl Window {
    /// Extent of the (dilated) kernel along `axis`: `dilation * (k - 1) + 1`.
    fn span(&self, axis: usize) -> Option<usize> {
        self.dilation[axis].checked_mul(self.kernel[axis].checked_sub(1)?)?.checked_add(1)
    }

    /// `floor((in + 2 pad - dilation (k - 1) - 1) / stride) + 1`, or `None`
    /// when the kernel does not fit in the padded input (or a size overflows).
    pub fn out_len(&self, axis: usize, input: usize) -> Option<usize> {
        let padded = self.padding[axis].checked_mul(2)?.checked_add(input)?;
        let span = self.span(axis)?;
        if input == 0 || padded < span || self.stride[axis] == 0 {
            return None;
        }
        Some((padded - span) / self.stride[axis] + 1)
    }

    /// The output `[height, width]` for an input `[height, width]`.
    pub fn out_hw(&self, h: usize, w: usize) -> Option<[usize; 2]> {
        Some([self.out_len(0, h)?, self.out_len(1, w)?])
    }

    /// The smallest input `[height, width]` the window fits in (at least 1).
    pub fn min_input(&self) -> [usize; 2] {
        let min = |axis| {
            let span = self.span(axis).unwrap_or(usize::MAX);
            span.saturating_sub(self.padding[axis].saturating_mul(2)).max(1)
        };
        [min(0), min(1)]
    }
}

/// Everything the transforms need about one image: channels, input and output
/// sizes, and the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub channels: usize,
    pub in_hw: [usize; 2],
    pub out_hw: [usize; 2],
    pub window: Window,
}

impl Geometry {
    /// The geometry of a `[channels, h, w]` image under `window`, or `None`
    /// when the window does not fit.
    pub fn new(channels: usize, h: usize, w: usize, window: Window) -> Option<Geometry> {
        Some(Geometry { channels, in_hw: [h, w], out_hw: window.out_hw(h, w)?, window })
    }

    /// Rows of the column matrix: `channels * kh * kw`.
    pub fn col_rows(&self) -> usize {
        self.channels * self.window.kernel[0] * self.window.kernel[1]
    }

    /// Output positions per image: `out_h * out_w` (columns of the column matrix).
    pub fn n_positions(&self) -> usize {
        self.out_hw[0] * self.out_hw[1]
    }

    /// Elements of one input image.
    pub fn in_len(&self) -> usize {
        self.channels * self.in_hw[0] * self.in_hw[1]
    }
}

/// Check a batch `[n, c, h, w]` (`batched`) or a sample `[c, h, w]` against
/// a layer taking `channels` input channels (`None`: any) through `window`,
/// and return the image geometry.
///
/// Errors are [`LayerError::ShapeMismatch`] naming `layer`: `expected` is
/// `[0, channels, 0, 0]` (0 = any size) for a wrong rank or channel count, and
/// `[0, channels, min_h, min_w]` (the smallest input the window fits) for an
/// input smaller than the kernel; without the batch axis for a sample.
/// Sizes whose buffers would not be addressable are an
/// [`LayerError::InvalidConfig`].
pub(crate) fn image_geometry(
    layer: &str,
    shape: &[usize],
    batched: bool,
    channels: Option<usize>,
    out_channels: Option<usize>,
    window: Window,
) -> Result<Geometry> {
    let lead = usize::from(batched);
    let want_c = channels.unwrap_or(0);
    let mismatch = |tail: [usize; 3]| {
        let mut expected = if batched { vec![0] } else { Vec::new() };
        expected.extend_from_slice(&tail);
        LayerError::ShapeMismatch { layer: layer.to_string(), expected: pattern(&expected), actual: dims(shape) }
    };
    if shape.len() != lead + 3 || channels.is_some_and(|c| shape[lead] != c) {
        return Err(mismatch([want_c, 0, 0]));
    }
    let (c, h, w) = (shape[lead], shape[lead + 1], shape[lead + 2]);
    let g = Geometry::new(c, h, w, window).ok_or_else(|| {
        let [mh, mw] = window.min_input();
        mismatch([want_c, mh, mw])
    })?;
    let n = if batched { shape[0] } else { 1 };
    let [ho, wo] = g.out_hw;
    let [kh, kw] = window.kernel;
    if checked_numel(&[n, out_channels.unwrap_or(c), ho, wo]).is_none() || checked_numel(&[c, kh, kw, ho, wo]).is_none()
    {
        return Err(LayerError::InvalidConfig {
            layer: layer.to_string(),
            reason: format!("input {shape:?} gives an output of {ho}x{wo} positions, too large to hold in memory"),
        });
    }
    Ok(g)
}

/// The output indices `lo..hi` along one axis whose input index
/// `o * stride + offset` lies in `0..input` (`offset` = kernel tap position
/// minus padding).
fn valid_range(out: usize, input: usize, stride: usize, offset: isize) -> (usize, usize) {
    // o * stride + offset >= 0  <=>  o >= ceil(-offset / stride)
    let lo = if offset >= 0 { 0 } else { offset.unsigned_abs().div_ceil(stride) };
    // o * stride + offset <= input - 1  <=>  o <= floor((input - 1 - offset) / stride)
    let last = input as isize - 1 - offset;
    let hi = if last < 0 { 0 } else { (last as usize / stride + 1).min(out) };
    (lo.min(hi), hi)
}

/// Write the column matrix of one image `x` (`[channels, h, w]`):
/// row `(c * kh + i) * kw + j`, column `oy * out_w + ox` holds
/// `x[c, oy * sh + i * dh - ph, ox * sw + j * dw - pw]` (0 in the padding).
///
/// Row `r` starts at `cols[r * ld + col0]` and is `out_h * out_w` long, so the
/// same function fills one image's `[rows, positions]` matrix (`ld =
/// positions`, `col0 = 0`) or a block of columns of a whole batch's matrix.
pub(crate) fn im2col(x: &[f32], g: &Geometry, cols: &mut [f32], ld: usize, col0: usize) {
    let [h, w] = g.in_hw;
    let [ho, wo] = g.out_hw;
    let Window { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw] } = g.window;
    let p = ho * wo;
    for c in 0..g.channels {
        let plane = &x[c * h * w..(c + 1) * h * w];
        for i in 0..kh {
            let off_y = (i * dh) as isize - ph as isize;
            let (y_lo, y_hi) = valid_range(ho, h, sh, off_y);
            for j in 0..kw {
                let off_x = (j * dw) as isize - pw as isize;
                let (x_lo, x_hi) = valid_range(wo, w, sw, off_x);
                let r = (c * kh + i) * kw + j;
                let row = &mut cols[r * ld + col0..r * ld + col0 + p];
                if sh == 1 && sw == 1 && wo == w && x_lo < x_hi && y_lo < y_hi {
                    let start = (y_lo as isize + off_y) as usize * w + (x_lo as isize + off_x) as usize;
                    same_size_tap(plane, start, row, wo, (y_lo, y_hi), (x_lo, x_hi));
                    continue;
                }
                for (oy, dst) in row.chunks_exact_mut(wo).enumerate() {
                    if oy < y_lo || oy >= y_hi {
                        dst.fill(0.0);
                        continue;
                    }
                    let iy = ((oy * sh) as isize + off_y) as usize;
                    let src = &plane[iy * w..(iy + 1) * w];
                    dst[..x_lo].fill(0.0);
                    dst[x_hi..].fill(0.0);
                    if x_lo == x_hi {
                        continue;
                    }
                    let start = ((x_lo * sw) as isize + off_x) as usize;
                    if sw == 1 {
                        dst[x_lo..x_hi].copy_from_slice(&src[start..start + (x_hi - x_lo)]);
                    } else {
                        for (d, s) in dst[x_lo..x_hi].iter_mut().zip(src[start..].iter().step_by(sw)) {
                            *d = *s;
                        }
                    }
                }
            }
        }
    }
}

/// One row of [`im2col`] when the output has the input's width and both
/// strides are 1 (a "same" convolution, as both of W3's): the valid rows
/// `y_lo..y_hi` then read one contiguous run of the plane, from `start`,
/// so one copy fills them (instead of one short copy per output row, which
/// cost W3 a call each), and the entries that ran across a row's end, and
/// the rows outside the range, are set to 0 after. The same values as the
/// general loop, copied.
fn same_size_tap(plane: &[f32], start: usize, row: &mut [f32], wo: usize, y: (usize, usize), x: (usize, usize)) {
    let (first, end) = run(wo, y, x);
    row[first..end].copy_from_slice(&plane[start..start + (end - first)]);
    row[..first].fill(0.0);
    row[end..].fill(0.0);
    zero_gaps(row, wo, y, x);
}

/// The run `first..end` of a column-matrix row that covers the valid output
/// rows `y_lo..y_hi` and columns `x_lo..x_hi` (rows `wo` long), gaps
/// included.
fn run(wo: usize, (y_lo, y_hi): (usize, usize), (x_lo, x_hi): (usize, usize)) -> (usize, usize) {
    (y_lo * wo + x_lo, (y_hi - 1) * wo + x_hi)
}

/// Set to 0 the gaps inside [`run`]: columns `x_hi..wo` of each valid
/// output row but the last, and `0..x_lo` of each but the first. One
/// strided pass per gap column (a 3x3 "same" window has gaps of one entry:
/// a fill per output row was a `memset` call each, 4% of W3's step).
fn zero_gaps(row: &mut [f32], wo: usize, (y_lo, y_hi): (usize, usize), (x_lo, x_hi): (usize, usize)) {
    for k in x_hi..wo + x_lo {
        for oy in y_lo..y_hi - 1 {
            row[oy * wo + k] = 0.0;
        }
    }
}

strata_tensor::simd_kernel! {
    /// `dst += src`, element by element, compiled for each SIMD path.
    pub(crate) fn add_into(dst: &mut [f32], src: &[f32]) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d += s;
        }
    }
}

/// The adjoint of [`im2col`] for one image: set `dx` (`[channels, h, w]`) to
/// the sum, over every column-matrix entry, of its value at the input pixel it
/// was read from (padding entries are dropped). `cols` is `[rows, positions]`,
/// a scratch matrix: its entries in the padding may be set to 0.
///
/// Each pixel sums its entries in row order, on both paths. A "same" window
/// with strides 1 adds each row's valid run in one pass, as [`im2col`]
/// copies it: the gaps of the run, entries in the padding, are set to 0 and
/// added to the pixels at the ends of the image's rows. Adding `+0.0`
/// changes no value but `-0.0`, and `dx` never holds `-0.0`: it starts at
/// `+0.0`, and a sum is `-0.0` only when both terms are. So both paths give
/// the same bits.
pub(crate) fn col2im(cols: &mut [f32], g: &Geometry, dx: &mut [f32]) {
    let [h, w] = g.in_hw;
    let [ho, wo] = g.out_hw;
    let Window { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw] } = g.window;
    let p = ho * wo;
    dx.fill(0.0);
    for c in 0..g.channels {
        let plane = &mut dx[c * h * w..(c + 1) * h * w];
        for i in 0..kh {
            let off_y = (i * dh) as isize - ph as isize;
            let (y_lo, y_hi) = valid_range(ho, h, sh, off_y);
            for j in 0..kw {
                let off_x = (j * dw) as isize - pw as isize;
                let (x_lo, x_hi) = valid_range(wo, w, sw, off_x);
                let r = (c * kh + i) * kw + j;
                let row = &mut cols[r * p..(r + 1) * p];
                if x_lo == x_hi || y_lo == y_hi {
                    continue;
                }
                if sh == 1 && sw == 1 && wo == w {
                    let (first, end) = run(wo, (y_lo, y_hi), (x_lo, x_hi));
                    let start = (y_lo as isize + off_y) as usize * w + (x_lo as isize + off_x) as usize;
                    zero_gaps(row, wo, (y_lo, y_hi), (x_lo, x_hi));
                    add_into(&mut plane[start..start + (end - first)], &row[first..end]);
                    continue;
                }
                for oy in y_lo..y_hi {
                    let iy = ((oy * sh) as isize + off_y) as usize;
                    let dst = &mut plane[iy * w..(iy + 1) * w];
                    let src = &row[oy * wo + x_lo..oy * wo + x_hi];
                    let start = ((x_lo * sw) as isize + off_x) as usize;
                    if sw == 1 {
                        for (d, s) in dst[start..start + src.len()].iter_mut().zip(src) {
                            *d += s;
                        }
                    } else {
                        for (d, s) in dst[start..].iter_mut().step_by(sw).zip(src) {
                            *d += s;
                        }
                    }
                }
            }
        }
    }
}

/// `output_shape` of an image layer (`[c, h, w]` per sample) for a shape of
/// dims: height and width may be of any size (the output's are then too);
/// the channel axis must be fixed. `out_channels` `None` keeps the input's.
pub(crate) fn image_output_dims(
    layer: &str,
    shape: &[Dim],
    channels: Option<usize>,
    out_channels: Option<usize>,
    window: Window,
) -> Result<Vec<Dim>> {
    if let Some(fixed) = strata_layers::fixed_shape(shape) {
        let g = image_geometry(layer, &fixed, false, channels, out_channels, window)?;
        return Ok(dims(&[out_channels.unwrap_or(g.channels), g.out_hw[0], g.out_hw[1]]));
    }
    let mismatch = |tail: [usize; 3]| LayerError::ShapeMismatch {
        layer: layer.to_string(),
        expected: pattern(&tail),
        actual: shape.to_vec(),
    };
    let want_c = channels.unwrap_or(0);
    let &[Dim::Fixed(c), h, w] = shape else {
        return Err(mismatch([want_c, 0, 0]));
    };
    if channels.is_some_and(|want| want != c) {
        return Err(mismatch([want_c, 0, 0]));
    }
    let [mh, mw] = window.min_input();
    let axis = |d: Dim, i: usize| match d {
        Dim::Any => Ok(Dim::Any),
        Dim::Fixed(n) => window.out_len(i, n).map(Dim::Fixed).ok_or_else(|| mismatch([want_c, mh, mw])),
    };
    Ok(vec![Dim::Fixed(out_channels.unwrap_or(c)), axis(h, 0)?, axis(w, 1)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_range_matches_brute_force() {
        for input in 1..7usize {
            for stride in 1..4usize {
                for offset in -5isize..6 {
                    let out = 8;
                    let brute: Vec<usize> = (0..out)
                        .filter(|&o| {
                            let i = (o * stride) as isize + offset;
                            i >= 0 && i < input as isize
                        })
                        .collect();
                    let (lo, hi) = valid_range(out, input, stride, offset);
                    assert_eq!((lo..hi).collect::<Vec<_>>(), brute, "in {input} s {stride} off {offset}");
                }
            }
        }
    }

    /// `im2col` against its definition, element by element, for windows
    /// with and without the input's width at the output, padding, strides
    /// and dilations, written at a column offset of a wider matrix whose
    /// other columns must stay untouched. The windows that keep the width
    /// with strides 1 (a width kernel of 1 with padding 0, or of 3 with
    /// padding 1: W3's 3x3 "same" convolutions among them) take the one-copy
    /// path; the others the general loop.
    /// The same windows for `col2im`, also against its definition: each
    /// pixel sums the entries read from it in row order (the order both of
    /// its paths keep), so the comparison is bit for bit. Every entry,
    /// those in the padding included, holds a value that is not 0, so an
    /// entry of the padding added to a pixel shows.
    #[test]
    fn im2col_and_col2im_match_their_definitions_on_every_path() {
        for (h, w) in [(1, 1), (5, 7), (6, 4), (28, 28)] {
            for kernel in [[1, 1], [3, 3], [2, 3], [5, 5]] {
                for padding in [[0, 0], [1, 1], [2, 1]] {
                    for stride in [[1, 1], [2, 1], [1, 2]] {
                        for dilation in [[1, 1], [2, 1]] {
                            let window = Window { kernel, stride, padding, dilation };
                            let Some(g) = Geometry::new(2, h, w, window) else { continue };
                            check_im2col(&g);
                            check_col2im(&g);
                        }
                    }
                }
            }
        }
    }

    /// The definition both transforms are checked against: every entry of
    /// the column matrix, row by row, as `(row, position, pixel)`, `pixel`
    /// being the index into the image it reads (`None` in the padding).
    fn entries(g: &Geometry) -> Vec<(usize, usize, Option<usize>)> {
        let [h, w] = g.in_hw;
        let [ho, wo] = g.out_hw;
        let Window { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw] } = g.window;
        let mut out = Vec::new();
        for c in 0..g.channels {
            for (i, j) in (0..kh).flat_map(|i| (0..kw).map(move |j| (i, j))) {
                let r = (c * kh + i) * kw + j;
                for (oy, ox) in (0..ho).flat_map(|oy| (0..wo).map(move |ox| (oy, ox))) {
                    let iy = (oy * sh + i * dh) as isize - ph as isize;
                    let ix = (ox * sw + j * dw) as isize - pw as isize;
                    let inside = (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix);
                    out.push((r, oy * wo + ox, inside.then(|| c * h * w + iy as usize * w + ix as usize)));
                }
            }
        }
        out
    }

    fn check_im2col(g: &Geometry) {
        let x: Vec<f32> = (0..g.in_len()).map(|v| v as f32 + 1.0).collect();
        let (p, col0) = (g.n_positions(), 3);
        let ld = p + 5;
        let mut cols = vec![-1.0; g.col_rows() * ld];
        im2col(&x, g, &mut cols, ld, col0);
        for (r, q, pixel) in entries(g) {
            let want = pixel.map_or(0.0, |at| x[at]);
            assert_eq!(cols[r * ld + col0 + q], want, "{g:?} row {r} at position {q}");
        }
        for (r, row) in cols.chunks_exact(ld).enumerate() {
            let untouched = row[..col0].iter().chain(&row[col0 + p..]);
            assert!(untouched.into_iter().all(|&v| v == -1.0), "{g:?} row {r} wrote outside its columns");
        }
    }

    fn check_col2im(g: &Geometry) {
        let p = g.n_positions();
        let cols: Vec<f32> = (0..g.col_rows() * p).map(|v| (v as f32 * 0.37).sin() + 0.01).collect();
        let mut want = vec![0.0f32; g.in_len()];
        for (r, q, pixel) in entries(g) {
            if let Some(at) = pixel {
                want[at] += cols[r * p + q];
            }
        }
        let mut dx = vec![f32::NAN; g.in_len()];
        col2im(&mut cols.clone(), g, &mut dx);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&dx), bits(&want), "{g:?}");
    }
}
