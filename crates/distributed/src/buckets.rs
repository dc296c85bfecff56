//! Fused buckets: many tensors copied into one buffer of bounded size, one
//! collective operation per buffer, the result copied back. The buffers are
//! kept from call to call (no allocation once warm).

use strata_layers::Layer;
use strata_tensor::{ParamRef, ParamVisitor};

/// Floats per bucket by default: 4 MiB, a message large enough that the
/// network's bandwidth, not the per-message latency, sets its time.
pub const DEFAULT_BUCKET_CAPACITY: usize = 1 << 20;

/// Which tensor of each parameter or buffer travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The gradient of each parameter and the value of each buffer (batch
    /// norm's running statistics): what a step averages.
    GradientsAndBuffers,
    /// The value of every parameter and buffer: what the start-up broadcast sends.
    Values,
}

fn part_of(p: ParamRef<'_>, part: Part) -> &mut [f32] {
    match (part, p.grad) {
        (Part::GradientsAndBuffers, Some(grad)) => grad.data_mut(),
        _ => p.value.data_mut(),
    }
}

/// The send and receive buffers of the buckets.
#[derive(Debug)]
pub(crate) struct Buckets {
    capacity: usize,
    send: Vec<f32>,
    receive: Vec<f32>,
    path: String,
}

impl Buckets {
    /// Buckets of at most `capacity` floats (at least one).
    pub fn new(capacity: usize) -> Buckets {
        Buckets { capacity: capacity.max(1), send: Vec::new(), receive: Vec::new(), path: String::new() }
    }

    /// The floats of `part` in the model.
    pub fn total(&mut self, model: &mut dyn Layer, part: Part) -> usize {
        let mut total = 0;
        let mut f = |p: ParamRef<'_>| total += part_of(p, part).len();
        model.visit_parameters(&mut ParamVisitor::new(&mut self.path, &mut f));
        total
    }

    /// The model's tensors of `part`, concatenated in visiting order, cut
    /// into buckets: each is packed times `scale`, handed to `op(send,
    /// receive)`, and what `op` wrote into `receive` replaces it. Returns
    /// the number of buckets.
    pub fn run(
        &mut self,
        model: &mut dyn Layer,
        part: Part,
        scale: f32,
        mut op: impl FnMut(&[f32], &mut [f32]),
    ) -> usize {
        let total = self.total(model, part);
        let (mut start, mut n_buckets) = (0, 0);
        while start < total {
            let end = (start + self.capacity).min(total);
            self.send.resize(end - start, 0.0);
            self.receive.resize(end - start, 0.0);
            self.pack(model, part, scale, start..end);
            op(&self.send, &mut self.receive);
            self.unpack(model, part, start..end);
            (start, n_buckets) = (end, n_buckets + 1);
        }
        n_buckets
    }

    fn pack(&mut self, model: &mut dyn Layer, part: Part, scale: f32, bucket: std::ops::Range<usize>) {
        let send = &mut self.send;
        let mut offset = 0;
        let mut f = |p: ParamRef<'_>| {
            let data = part_of(p, part);
            if let Some((from, to)) = overlap(offset, data.len(), &bucket) {
                let out = &mut send[offset + from - bucket.start..offset + to - bucket.start];
                for (o, &v) in out.iter_mut().zip(&data[from..to]) {
                    *o = v * scale;
                }
            }
            offset += data.len();
        };
        model.visit_parameters(&mut ParamVisitor::new(&mut self.path, &mut f));
    }

    fn unpack(&mut self, model: &mut dyn Layer, part: Part, bucket: std::ops::Range<usize>) {
        let receive = &self.receive;
        let mut offset = 0;
        let mut f = |p: ParamRef<'_>| {
            let data = part_of(p, part);
            if let Some((from, to)) = overlap(offset, data.len(), &bucket) {
                data[from..to].copy_from_slice(&receive[offset + from - bucket.start..offset + to - bucket.start]);
            }
            offset += data.len();
        };
        model.visit_parameters(&mut ParamVisitor::new(&mut self.path, &mut f));
    }
}

/// The part `from..to` of a tensor of `len` floats at `offset` that falls in
/// `bucket`, in the tensor's own indices.
fn overlap(offset: usize, len: usize, bucket: &std::ops::Range<usize>) -> Option<(usize, usize)> {
    let (from, to) = (offset.max(bucket.start), (offset + len).min(bucket.end));
    (from < to).then(|| (from - offset, to - offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_layers::{Dense, DenseConfig, Sequential};
    use strata_tensor::StrataRng;

    fn model() -> Box<dyn Layer> {
        let mut rng = StrataRng::seed_from_u64(5);
        let layers: Vec<Box<dyn Layer>> = vec![
            Box::new(Dense::new(DenseConfig::new(3, 4), &mut rng).expect("dense 3->4")),
            Box::new(Dense::new(DenseConfig::new(4, 2), &mut rng).expect("dense 4->2")),
        ];
        Box::new(Sequential::new(&[3], layers).expect("fits"))
    }

    fn gradients(model: &mut dyn Layer) -> Vec<f32> {
        let mut all = Vec::new();
        let mut path = String::new();
        let mut f = |p: ParamRef<'_>| all.extend_from_slice(p.grad.expect("parameters only").data());
        model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
        all
    }

    #[test]
    fn buckets_cover_every_gradient_once_across_tensor_boundaries() {
        let mut m = model();
        // Gradients 0, 1, 2, ... over the 3*4 + 4 + 4*2 + 2 = 26 floats of the four tensors.
        let mut i = 0.0;
        let mut path = String::new();
        let mut f = |p: ParamRef<'_>| {
            for g in p.grad.expect("parameters only").data_mut() {
                *g = i;
                i += 1.0;
            }
        };
        m.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
        // Buckets of 7 floats cut every tensor boundary somewhere: 26 = 7 + 7 + 7 + 5.
        let mut buckets = Buckets::new(7);
        let mut sizes = Vec::new();
        let n = buckets.run(m.as_mut(), Part::GradientsAndBuffers, 0.5, |send, receive| {
            sizes.push(send.len());
            for (r, s) in receive.iter_mut().zip(send) {
                *r = s + 100.0;
            }
        });
        assert_eq!((n, sizes), (4, vec![7, 7, 7, 5]));
        let expected: Vec<f32> = (0..26).map(|k| k as f32 * 0.5 + 100.0).collect();
        assert_eq!(gradients(m.as_mut()), expected);
    }
}
