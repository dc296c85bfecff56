//! Element-wise and row-wise passes over large buffers, split between
//! rayon's threads (the ones the products use) in pieces of whole rows.
//!
//! Every element's result depends on its own row only, so the pieces, and
//! the thread count, change nothing in the results: training stays
//! bit-identical on any number of threads. Reductions across rows are split
//! by columns instead ([`par_columns_mut`]), each column summed in row order.

use rayon::prelude::*;

mod choice;
pub mod denormal;
mod far;
mod hot;
mod pair;
mod setting;
pub mod stream;

pub use choice::{
    ONE_THREAD_BELOW_PERCENT, StepThreads, TRIAL_COUNT_TIME, TRIAL_EVERY, TRIAL_STEPS, TRIAL_WARM, TRIAL_WARM_TIME,
    ThreadChoice, serial, set_step_threads, step_threads, threads,
};
pub use far::{
    FAR_ROUND_TRIP, FAR_SCALE, NEAR_ROUND_TRIP, Placement, last_round_trip, placement, set_placement, split_scale,
};
pub(crate) use hot::linger;
pub use hot::{LINGER, awake_workers, hot, measure_placement};
pub(crate) use pair::pair;

/// Below this many values a pass runs on the calling thread: handing work
/// to another core costs a few microseconds, what about 64K additions take.
pub const PAR_MIN_ELEMENTS: usize = 1 << 16;

/// While far threads share data ([`splits_at`]), updates and passes over a
/// tensor of at least this many values split at their usual sizes: W2's
/// first layer (784x256) splits again at batch 256, where its products
/// split anyway; a tensor this large is written by both threads' halves of
/// those products.
pub const SHARED_ELEMENTS_FROM: usize = 1 << 17;

/// Whether work of `len` (values, or a product's multiply-adds) splits
/// between the threads, `usual` being its threshold on near threads. Far
/// apart, work splits at [`split_scale`] times `usual`, or at `shared_from`
/// (and `usual`) while the threads share data anyway: a product split
/// between them within [`stream::SHARED_WITHIN`]. Then both threads hold
/// the lines already, and keeping the work on one thread makes the other's
/// lines cross back: W2 at batch 256 on far threads ran its epoch in
/// 33.0-33.2 ms with the two floors ([`SHARED_ELEMENTS_FROM`] and
/// [`crate::SHARED_PRODUCTS_FROM`]) against 37.0-38.0 without
/// (docs/performance.md, thirteenth session). Work below the floors stays
/// on one thread, W4's attention products among them.
pub fn splits_at(len: usize, usual: usize, shared_from: usize) -> bool {
    match placement() {
        Placement::Near => len >= usual,
        Placement::Far => {
            len >= usual.saturating_mul(FAR_SCALE) || (len >= shared_from.max(usual) && stream::shared_recently())
        }
    }
}

/// Rows per piece when `rows` rows of `row_len` values are split between the
/// threads, or `None` to run on the calling thread: for passes that write
/// several buffers (zip rayon's `par_chunks_mut` of each).
pub fn rows_per_piece(rows: usize, row_len: usize) -> Option<usize> {
    let threads = threads();
    // Not scaled on far threads: each thread keeps its rows (`split_scale`).
    if threads < 2 || rows < 2 || rows.saturating_mul(row_len) < PAR_MIN_ELEMENTS {
        return None;
    }
    Some(rows.div_ceil(threads))
}

/// Whether a pass over a whole tensor of `len` values that shares it with
/// the products that wrote it or will read it ([`crate::Tensor::fill`] of
/// the gradients, [`crate::Tensor::sum_squares`] of their norm) is split
/// between threads. Unlike [`rows_per_piece`], the size is scaled by
/// [`split_scale`] as the products' is (down to [`SHARED_ELEMENTS_FROM`]
/// while far threads share data, [`splits_at`]), and the pass splits only on one of
/// rayon's threads: from any other thread the caller would wait for the
/// pool, 22-49 µs when its workers sleep (measured for [`pair`]'s module
/// doc), longer than such a pass. The unscaled size is checked first, so a
/// small tensor costs one comparison.
pub(crate) fn splits_shared_pass(len: usize) -> bool {
    len >= PAR_MIN_ELEMENTS
        && splits_at(len, PAR_MIN_ELEMENTS, SHARED_ELEMENTS_FROM)
        && rayon::current_thread_index().is_some()
        && threads() >= 2
}

/// `f(first_row, rows)` over `data` cut into pieces of whole rows of
/// `row_len` values (a trailing part shorter than a row goes with the last
/// piece), one piece per thread when `data` is large.
///
/// ```
/// let mut x = vec![1.0f32; 6 * 70_000];
/// strata_tensor::par::par_rows_mut(&mut x, 6, |first, rows| {
///     for (i, row) in rows.chunks_exact_mut(6).enumerate() {
///         row[0] = (first + i) as f32;
///     }
/// });
/// assert_eq!((x[0], x[6 * 69_999]), (0.0, 69_999.0));
/// ```
pub fn par_rows_mut(data: &mut [f32], row_len: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    let rows = data.len().checked_div(row_len).unwrap_or(0);
    match rows_per_piece(rows, row_len) {
        None => f(0, data),
        Some(per) => data.par_chunks_mut(per * row_len).enumerate().for_each(|(i, piece)| f(i * per, piece)),
    }
}

/// `f(first_column, columns)` over `out` (one value per column of a matrix
/// of `rows` rows) cut into pieces of columns, one per thread when the
/// matrix is large: for column sums whose order of terms must not depend on
/// the thread count.
pub fn par_columns_mut(out: &mut [f32], rows: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    let cols = out.len();
    match rows_per_piece(cols, rows) {
        Some(per) if cols >= 32 => {
            // Pieces of at least 16 columns keep whole cache lines per thread.
            let per = per.max(16);
            out.par_chunks_mut(per).enumerate().for_each(|(i, piece)| f(i * per, piece));
        }
        _ => f(0, out),
    }
}
