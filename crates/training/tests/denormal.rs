//! Training flushes denormals on the pool's threads (`par::denormal`, the
//! default), and leaves the caller's own thread as it was.

use strata_activation::ActivationKind;
use strata_layers::Registry;
use strata_loss::LossKind;
use strata_optimizer::{AnyOptimizer, OptimizerConfig};
use strata_tensor::par::denormal::flushing_here;
use strata_tensor::{StrataRng, Tensor};
use strata_training::{FitConfig, Progress, Trainer, presets};

#[test]
fn a_first_moment_that_decays_below_the_normal_range_becomes_zero() {
    let spec = presets::mlp(&[2, 1], ActivationKind::Relu, 0.0).unwrap();
    let mut model = Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(0)).unwrap();
    let config = FitConfig { batch_size: 1, progress: Progress::Silent, ..FitConfig::default() };
    let mut trainer = Trainer::new(config, LossKind::Mse, OptimizerConfig::from_name("adam", 1e-3).unwrap()).unwrap();
    let row = |x: [f32; 2], y: f32| {
        (Tensor::from_vec(&[1, 2], x.to_vec()).unwrap(), Tensor::from_vec(&[1, 1], vec![y]).unwrap())
    };
    let first_moment = |t: &Trainer| match t.optimizer() {
        AnyOptimizer::Adam(adam) => adam.state("dense_1.weight").unwrap().exp_avg.data()[0],
        other => panic!("not Adam: {other:?}"),
    };
    // One step with a gradient on the first weight, then 900 in which its
    // input is 0, so its gradient is exactly 0 and its moment decays by 0.9 a
    // step: by 0.9^900 = 6.6e-42 in all, into the denormal range (below
    // 1.18e-38) from any moment above 2e-4, if denormals were kept.
    let (x, y) = row([1.0, 1.0], 10.0);
    trainer.train_step(model.as_mut(), &x, &y).unwrap();
    let after_one = first_moment(&trainer);
    assert!(after_one.abs() > 2e-4, "{after_one}");
    let (x, y) = row([0.0, 1.0], 0.5);
    for _ in 0..900 {
        trainer.train_step(model.as_mut(), &x, &y).unwrap();
    }
    assert_eq!(first_moment(&trainer), 0.0, "flushed, from {after_one}");
    // The test's own thread is not the pool's: its mode is unchanged, while
    // every worker of the pool the steps ran on flushes.
    assert!(rayon::current_thread_index().is_none());
    assert!(!flushing_here());
    assert!(rayon::broadcast(|_| flushing_here()).iter().all(|&f| f));
}
