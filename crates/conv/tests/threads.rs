//! Results do not depend on the number of threads: bitwise.

use crate::common::{random, registry};
use strata_conv::{Conv2d, Conv2dConfig, cnn_spec};
use strata_layers::{Layer, Mode, state_dict};
use strata_loss::{Loss, LossKind};
use strata_optimizer::OptimizerConfig;
use strata_tensor::{ParamVisitor, StrataRng, Tensor};

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.data().iter().map(|v| v.to_bits()).collect()
}

/// Output, input gradient and parameter gradients of one forward/backward.
fn conv_pass() -> Vec<Vec<u32>> {
    // 12 images x 8 filters x 72 rows x 196 positions: well above the
    // threshold for splitting the batch, with an uneven split over 2 threads
    // plus a remainder group over 5.
    let config = Conv2dConfig::new(8, 8, 3).with_padding(1);
    let mut conv = Conv2d::new(config, &mut StrataRng::seed_from_u64(3)).unwrap();
    let x = random(&[13, 8, 14, 14], 4);
    let dy = random(&[13, 8, 14, 14], 5);
    conv.zero_grad();
    let y = conv.forward(&x, Mode::Train).unwrap().clone();
    let dx = conv.backward(&dy).unwrap().clone();
    let mut out = vec![bits(&y), bits(&dx)];
    let mut path = String::new();
    let mut f = |p: strata_tensor::ParamRef<'_>| out.push(bits(p.grad.unwrap()));
    conv.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    out
}

#[test]
fn conv_is_bit_identical_on_1_2_and_5_threads() {
    let one = in_pool(1, conv_pass);
    assert_eq!(one, in_pool(2, conv_pass), "1 thread vs 2 threads");
    assert_eq!(one, in_pool(5, conv_pass), "1 thread vs 5 threads");
}

/// Three Adam steps of the W3 network on random data; the final weights.
fn cnn_training() -> Vec<(String, Vec<u32>)> {
    let mut model = registry().build(&cnn_spec(), &mut StrataRng::seed_from_u64(7)).unwrap();
    let mut opt = OptimizerConfig::from_name("adam", 1e-3).unwrap().build().unwrap();
    let x = random(&[32, 1, 28, 28], 8);
    let labels = Tensor::from_vec(&[32], (0..32).map(|i| (i % 10) as f32).collect()).unwrap();
    let (mut grad, mut path) = (Tensor::default(), String::new());
    for _ in 0..3 {
        model.zero_grad();
        let y = model.forward(&x, Mode::Train).unwrap();
        LossKind::CrossEntropy.value_and_gradient(y, &labels, &mut grad).unwrap();
        model.backward(&grad).unwrap();
        opt.step(&mut |v| model.visit_parameters(v), &mut path).unwrap();
    }
    state_dict(model.as_mut()).into_iter().map(|(n, t)| (n, bits(&t))).collect()
}

#[test]
fn cnn_training_is_bit_identical_on_1_and_2_threads() {
    assert_eq!(in_pool(1, cnn_training), in_pool(2, cnn_training));
}

/// The placement of the threads changes the schedule, never a bit: on far
/// threads the batch of 32 is neither split into groups of images (7.2e6
/// multiply-adds in the second convolution, under 64 x 2^18) nor into
/// groups of pooling planes.
#[test]
fn cnn_training_is_bit_identical_on_near_and_far_threads() {
    use strata_tensor::par::{Placement, set_placement};
    set_placement(Some(Placement::Near));
    let near = in_pool(2, cnn_training);
    set_placement(Some(Placement::Far));
    let far = in_pool(2, cnn_training);
    set_placement(None);
    assert_eq!(near, far);
}
