//! [`DataParallel`]: the gradient hook that makes every rank's step the
//! step of one process on the whole global batch.

use crate::buckets::{Buckets, DEFAULT_BUCKET_CAPACITY, Part};
use crate::comm::Communicator;
use crate::shard::local_range;
use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::CommunicatorCollectives;
use strata_layers::Layer;
use strata_training::{BatchFigures, BoxError, GradientHook, StepInfo};

/// Averages gradients over the ranks of a data-parallel run, weighted so
/// that the result is the gradient of the mean loss over the *global* batch.
///
/// Use it with [`strata_training::Trainer::fit`] on a [`crate::Shard`] of
/// the training set, with the trainer's batch size the global batch. Per
/// step:
///
/// 1. [`GradientHook::on_batch_figures`]: one all-reduce of this rank's
///    loss sum, loss terms and right/counted predictions (`f64`), so that
///    every rank records, reports and checks the whole batch's figures;
///    this rank's weight is its terms over the batch's terms (zero for a
///    rank whose slice of a short last batch is empty).
/// 2. [`GradientHook::on_gradients`]: every gradient, and the value of every
///    buffer (batch norm's running statistics), times the weight, packed
///    into buckets of at most [`DataParallel::with_bucket_capacity`] floats,
///    one `all_reduce` (sum) per bucket, unpacked. Each rank then holds the
///    mean gradient over the global batch and the same running statistics,
///    and the trainer's non-finite check, clipping and optimizer step run
///    alike on every rank.
///
/// At each epoch's first step, the weights of every rank are checked to be
/// rank 0's ([`Communicator::check_same_weights`]).
#[derive(Debug)]
pub struct DataParallel {
    comm: Communicator,
    buckets: Buckets,
    /// This rank's share of the current batch's loss terms.
    weight: f64,
    figures: [f64; 5],
    sums: [f64; 5],
}

impl DataParallel {
    /// The hook for this process's rank.
    pub fn new(comm: Communicator) -> DataParallel {
        DataParallel {
            comm,
            buckets: Buckets::new(DEFAULT_BUCKET_CAPACITY),
            weight: 1.0,
            figures: [0.0; 5],
            sums: [0.0; 5],
        }
    }

    /// Buckets of at most `floats` values (default
    /// [`crate::DEFAULT_BUCKET_CAPACITY`], 4 MiB).
    pub fn with_bucket_capacity(mut self, floats: usize) -> DataParallel {
        self.buckets = Buckets::new(floats);
        self
    }
}

impl GradientHook for DataParallel {
    fn on_batch_figures(&mut self, figures: &mut BatchFigures, info: &StepInfo) -> Result<(), BoxError> {
        let mine = !local_range(info.batch_size, self.comm.rank(), self.comm.size()).is_empty();
        let terms = if mine { figures.terms as f64 } else { 0.0 };
        let (right, counted) = figures.correct.unwrap_or((0, 0));
        let loss_sum = if terms > 0.0 { f64::from(figures.loss) * terms } else { 0.0 };
        let has_accuracy = if figures.correct.is_some() { 1.0 } else { 0.0 };
        self.figures = [
            loss_sum,
            terms,
            if mine { right as f64 } else { 0.0 },
            if mine { counted as f64 } else { 0.0 },
            has_accuracy,
        ];
        SimpleCommunicator::world().all_reduce_into(&self.figures[..], &mut self.sums[..], SystemOperation::sum());
        let [loss_sum, terms_sum, right_sum, counted_sum, with_accuracy] = self.sums;
        self.weight = if terms_sum > 0.0 { terms / terms_sum } else { 0.0 };
        figures.loss = (loss_sum / terms_sum) as f32;
        figures.terms = terms_sum as usize;
        figures.correct = (with_accuracy > 0.0).then_some((right_sum as usize, counted_sum as usize));
        Ok(())
    }

    fn on_gradients(&mut self, model: &mut dyn Layer, info: &StepInfo) -> Result<(), BoxError> {
        if info.batch == 1 {
            self.comm.check_same_weights(model, &format!("at the start of epoch {}", info.epoch))?;
        }
        let world = SimpleCommunicator::world();
        self.buckets.run(model, Part::GradientsAndBuffers, self.weight as f32, |send, receive| {
            world.all_reduce_into(send, receive, SystemOperation::sum());
        });
        Ok(())
    }
}
