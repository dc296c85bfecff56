//! Every optimizer updates a large tensor on two threads (each taking one
//! half, with its state's matching half) to the same bits as on one thread.
//! A half paired with another half's state, or an element left out or done
//! twice, changes the bits.

use strata_optimizer::{Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, RmsProp, RmsPropConfig, Sgd, SgdConfig};
use strata_tensor::Tensor;
use strata_tensor::par::{Placement, set_placement};

/// An optimizer's name and how to build it.
type Make = (&'static str, fn() -> Box<dyn Optimizer>);

/// Above the optimizers' two-thread threshold (2^15 values), and odd.
const N: usize = 100_003;

/// Three steps of `opt` on a rayon pool of `threads`; the parameters' bits.
fn trained(mut opt: Box<dyn Optimizer>, threads: usize) -> Vec<u32> {
    let value = |i: usize, scale: f32| ((i * 7919 % 1000) as f32 - 500.0) * scale;
    let mut p = Tensor::from_vec(&[N], (0..N).map(|i| value(i, 1e-3)).collect()).unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        for step in 0..3 {
            let g = Tensor::from_vec(&[N], (0..N).map(|i| value(i + step, 2e-2)).collect()).unwrap();
            opt.update("p", &mut p, &g).unwrap();
        }
    });
    p.data().iter().map(|x| x.to_bits()).collect()
}

#[test]
fn every_optimizer_gives_the_same_bits_on_one_and_two_threads() {
    // Near: the halves split from 2^15 values (far threads may keep them on one).
    set_placement(Some(Placement::Near));
    let optimizers: Vec<Make> = vec![
        ("sgd", || Box::new(Sgd::new(SgdConfig { lr: 0.1, ..SgdConfig::default() }).unwrap())),
        ("sgd momentum + decay", || {
            Box::new(
                Sgd::new(SgdConfig { lr: 0.1, momentum: 0.9, weight_decay: 1e-2, ..SgdConfig::default() }).unwrap(),
            )
        }),
        ("sgd nesterov", || {
            Box::new(Sgd::new(SgdConfig { lr: 0.1, momentum: 0.9, nesterov: true, ..SgdConfig::default() }).unwrap())
        }),
        ("rmsprop", || Box::new(RmsProp::new(RmsPropConfig::default()).unwrap())),
        ("rmsprop momentum", || {
            Box::new(RmsProp::new(RmsPropConfig { momentum: 0.9, ..RmsPropConfig::default() }).unwrap())
        }),
        ("adam", || Box::new(Adam::new(AdamConfig::default()).unwrap())),
        ("adamw", || Box::new(AdamW::new(AdamWConfig::default()).unwrap())),
    ];
    for (name, make) in optimizers {
        let one = trained(make(), 1);
        let two = trained(make(), 2);
        let first_difference = one.iter().zip(&two).position(|(a, b)| a != b);
        assert_eq!(first_difference, None, "{name}");
    }
    set_placement(None);
}
