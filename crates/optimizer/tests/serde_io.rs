//! Serialization: an optimizer restored mid-training continues bit-identically.

use crate::common::t;
use serde::{Serialize, de::DeserializeOwned};
use strata_optimizer::{
    Adam, AdamConfig, AdamW, AdamWConfig, AnyOptimizer, Optimizer, OptimizerConfig, RmsProp, RmsPropConfig, Sgd,
    SgdConfig,
};
use strata_tensor::{StrataRng, Tensor};

/// Train `opt` for `steps` steps on two parameters with seeded gradients.
fn train(opt: &mut dyn Optimizer, params: &mut [Tensor; 2], rng: &mut StrataRng, steps: usize) {
    for _ in 0..steps {
        for (i, p) in params.iter_mut().enumerate() {
            let g = Tensor::random_normal(p.shape(), 0.0, 1.0, rng).unwrap();
            opt.update(if i == 0 { "w" } else { "b" }, p, &g).unwrap();
        }
    }
}

/// Train 3 steps, save, restore, then train both 2 more steps from the same
/// gradients: the parameters must be bit-identical.
fn round_trip<O: Optimizer + Serialize + DeserializeOwned>(mut opt: O) {
    let mut rng = StrataRng::seed_from_u64(11);
    let mut params = [
        Tensor::random_normal(&[3, 2], 0.0, 1.0, &mut rng).unwrap(),
        Tensor::random_normal(&[2], 0.0, 1.0, &mut rng).unwrap(),
    ];
    train(&mut opt, &mut params, &mut rng, 3);
    let json = serde_json::to_string(&opt).unwrap();
    let mut restored: O = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&restored).unwrap(), json, "serialization is stable");

    let mut params2 = params.clone();
    let mut rng2 = rng.clone();
    train(&mut opt, &mut params, &mut rng, 2);
    train(&mut restored, &mut params2, &mut rng2, 2);
    for (a, b) in params.iter().zip(&params2) {
        let bits = |t: &Tensor| t.data().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a), bits(b), "{opt:?}");
    }
}

#[test]
fn adam_restored_mid_training_continues_bit_identically() {
    round_trip(Adam::new(AdamConfig { lr: 0.01, weight_decay: 0.1, ..AdamConfig::default() }).unwrap());
}

#[test]
fn other_optimizers_round_trip_too() {
    round_trip(Sgd::new(SgdConfig { lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.01 }).unwrap());
    round_trip(AdamW::new(AdamWConfig::default()).unwrap());
    round_trip(RmsProp::new(RmsPropConfig { momentum: 0.5, ..RmsPropConfig::default() }).unwrap());
    round_trip(OptimizerConfig::from_name("adam", 0.02).unwrap().build_any().unwrap());
}

#[test]
fn clone_is_an_independent_copy() {
    let mut a = Adam::new(AdamConfig::default()).unwrap();
    let mut p = t(&[1.0]);
    a.update("p", &mut p, &t(&[1.0])).unwrap();
    let b = a.clone();
    a.update("p", &mut p, &t(&[1.0])).unwrap();
    assert_eq!((a.state("p").unwrap().step, b.state("p").unwrap().step), (2, 1));
}

#[test]
fn any_optimizer_is_tagged() {
    let any = OptimizerConfig::from_name("adamw", 0.1).unwrap().build_any().unwrap();
    let json = serde_json::to_string(&any).unwrap();
    assert!(json.starts_with(r#"{"kind":"adamw","config":{"lr":0.1,"#), "{json}");
    assert!(matches!(serde_json::from_str::<AnyOptimizer>(&json).unwrap(), AnyOptimizer::AdamW(_)));
}

#[test]
fn restoring_invalid_hyper_parameters_fails() {
    let json = r#"{"config":{"lr":-1.0,"beta1":0.9,"beta2":0.999,"eps":1e-8,"weight_decay":0.0},"state":{}}"#;
    let err = serde_json::from_str::<Adam>(json).unwrap_err();
    assert!(err.to_string().contains("invalid hyper-parameter lr"), "{err}");
}

#[test]
fn restored_state_with_a_wrong_shape_is_a_shape_mismatch() {
    // A (corrupt or foreign) checkpoint whose second moment disagrees with
    // the first (tensors in JSON hold their values' bits: 1036831949 is 0.1f32).
    let json = r#"{"config":{},"state":{"p":{"step":1,
        "exp_avg":{"shape":[1],"bits":[1036831949]},"exp_avg_sq":{"shape":[2],"bits":[1036831949,1036831949]}}}}"#;
    let mut opt: Adam = serde_json::from_str(json).unwrap();
    let err = opt.update("p", &mut t(&[1.0]), &t(&[1.0])).unwrap_err();
    assert!(matches!(&err, strata_optimizer::OptimizerError::ShapeMismatch { grad, .. } if grad == &[2]), "{err:?}");
}
