//! Counter-based dropout masks, as `strata_layers::Dropout` draws them: a
//! pure function of (seed, call number, element index).

use strata_tensor::splitmix64;

/// Fill `mask` with `len` factors: `1 / (1 - rate)` with probability
/// `1 - rate`, else 0, for call number `call` of the stream `seed`.
pub(crate) fn dropout_mask(seed: u64, call: u64, rate: f32, len: usize, mask: &mut Vec<f32>) {
    let keep = 1.0 - rate;
    let scale = 1.0 / keep;
    let stream = splitmix64(seed ^ splitmix64(call));
    mask.clear();
    mask.extend((0..len).map(|i| {
        let u = (splitmix64(stream.wrapping_add(i as u64)) >> 40) as f32 * (1.0 / (1u64 << 24) as f32);
        if u < keep { scale } else { 0.0 }
    }));
}
