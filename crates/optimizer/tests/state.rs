//! State keyed by name, shape errors, hyper-parameter validation, `step`.

use crate::common::{assert_close, t};
use strata_optimizer::{
    Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, OptimizerError, RmsProp, RmsPropConfig, Sgd, SgdConfig,
};
use strata_tensor::{ParamVisitor, Tensor};

fn all_optimizers() -> Vec<Box<dyn Optimizer>> {
    vec![
        Box::new(Sgd::new(SgdConfig { momentum: 0.9, ..SgdConfig::default() }).unwrap()),
        Box::new(Adam::new(AdamConfig::default()).unwrap()),
        Box::new(AdamW::new(AdamWConfig::default()).unwrap()),
        Box::new(RmsProp::new(RmsPropConfig { momentum: 0.5, ..RmsPropConfig::default() }).unwrap()),
    ]
}

#[test]
fn different_names_keep_separate_state() {
    let mut opt = Adam::new(AdamConfig { lr: 0.1, ..AdamConfig::default() }).unwrap();
    let (mut a, mut b) = (t(&[0.0]), t(&[0.0]));
    opt.update("a", &mut a, &t(&[1.0])).unwrap();
    opt.update("b", &mut b, &t(&[-2.0])).unwrap();
    opt.update("a", &mut a, &t(&[1.0])).unwrap();
    // a: m = 0.1 after step 1, then 0.9 * 0.1 + 0.1 * 1 = 0.19; b: m = 0.1 * -2 = -0.2
    assert_close(opt.state("a").unwrap().exp_avg.data(), &[0.19], 1e-7);
    assert_close(opt.state("b").unwrap().exp_avg.data(), &[-0.2], 1e-7);
    assert_eq!((opt.state("a").unwrap().step, opt.state("b").unwrap().step), (2, 1));
    assert!(opt.state("c").is_none());
}

#[test]
fn grad_shape_mismatch_is_an_error_for_every_optimizer() {
    for mut opt in all_optimizers() {
        let mut p = Tensor::zeros(&[2, 3]);
        let err = opt.update("w", &mut p, &Tensor::zeros(&[3, 2])).unwrap_err();
        assert!(
            matches!(&err, OptimizerError::ShapeMismatch { name, param, grad, .. }
                if name == "w" && param == &[2, 3] && grad == &[3, 2]),
            "{opt:?}: {err:?}"
        );
        assert_eq!(p.data(), &[0.0; 6]);
    }
    // Plain SGD keeps no state but still checks the gradient.
    let mut sgd = Sgd::new(SgdConfig::default()).unwrap();
    let err = sgd.update("w", &mut t(&[1.0, 2.0]), &t(&[1.0])).unwrap_err();
    assert!(matches!(err, OptimizerError::ShapeMismatch { optimizer: "SGD", .. }), "{err:?}");
}

#[test]
fn same_name_with_a_new_shape_is_a_shape_mismatch() {
    for mut opt in all_optimizers() {
        let mut p = Tensor::ones(&[3]);
        opt.update("layer.weight", &mut p, &Tensor::ones(&[3])).unwrap();
        let mut q = Tensor::ones(&[2, 2]);
        let err = opt.update("layer.weight", &mut q, &Tensor::ones(&[2, 2])).unwrap_err();
        assert!(
            matches!(&err, OptimizerError::ShapeMismatch { name, param, grad, .. }
                if name == "layer.weight" && param == &[2, 2] && grad == &[3]),
            "{opt:?}: {err:?}"
        );
        assert_eq!(q.data(), &[1.0; 4], "{opt:?}: no partial update");
        // The message names everything.
        assert!(err.to_string().contains("'layer.weight' has shape [2, 2]"), "{err}");
    }
}

#[test]
fn invalid_hyper_parameters_are_rejected() {
    fn field(r: Result<impl std::fmt::Debug, OptimizerError>) -> &'static str {
        match r {
            Err(OptimizerError::InvalidHyperParameter { name, .. }) => name,
            other => panic!("expected InvalidHyperParameter, got {other:?}"),
        }
    }
    let sgd = SgdConfig::default();
    assert_eq!(field(Sgd::new(SgdConfig { lr: -0.1, ..sgd.clone() })), "lr");
    assert_eq!(field(Sgd::new(SgdConfig { lr: f32::NAN, ..sgd.clone() })), "lr");
    assert_eq!(field(Sgd::new(SgdConfig { momentum: -0.5, ..sgd.clone() })), "momentum");
    assert_eq!(field(Sgd::new(SgdConfig { nesterov: true, ..sgd.clone() })), "momentum");
    assert_eq!(field(Sgd::new(SgdConfig { weight_decay: -1.0, ..sgd })), "weight_decay");

    let adam = AdamConfig::default();
    assert_eq!(field(Adam::new(AdamConfig { beta1: 1.0, ..adam.clone() })), "beta1");
    assert_eq!(field(Adam::new(AdamConfig { beta1: -0.1, ..adam.clone() })), "beta1");
    assert_eq!(field(Adam::new(AdamConfig { beta2: 1.5, ..adam.clone() })), "beta2");
    assert_eq!(field(Adam::new(AdamConfig { eps: 0.0, ..adam.clone() })), "eps");
    assert_eq!(field(Adam::new(AdamConfig { lr: f32::INFINITY, ..adam.clone() })), "lr");
    assert_eq!(field(Adam::new(AdamConfig { weight_decay: -0.01, ..adam })), "weight_decay");

    let adamw = AdamWConfig::default();
    assert_eq!(field(AdamW::new(AdamWConfig { beta2: 1.0, ..adamw.clone() })), "beta2");
    assert_eq!(field(AdamW::new(AdamWConfig { eps: -1e-8, ..adamw })), "eps");

    let rms = RmsPropConfig::default();
    assert_eq!(field(RmsProp::new(RmsPropConfig { alpha: 1.0, ..rms.clone() })), "alpha");
    assert_eq!(field(RmsProp::new(RmsPropConfig { eps: 0.0, ..rms.clone() })), "eps");
    assert_eq!(field(RmsProp::new(RmsPropConfig { momentum: -0.9, ..rms })), "momentum");

    // The exact variant, fields and message.
    let err = Adam::new(AdamConfig { beta1: 1.0, ..AdamConfig::default() }).unwrap_err();
    assert_eq!(
        err,
        OptimizerError::InvalidHyperParameter {
            optimizer: "Adam",
            name: "beta1",
            value: 1.0,
            reason: "must be in [0, 1)"
        }
    );
    assert_eq!(err.to_string(), "Adam: invalid hyper-parameter beta1 = 1: must be in [0, 1)");
}

#[test]
fn step_skips_buffers_and_names_parameters_by_path() {
    let mut opt = Adam::new(AdamConfig { lr: 0.1, ..AdamConfig::default() }).unwrap();
    let (mut w, mut gw) = (t(&[1.0, 1.0]), t(&[1.0, -1.0]));
    let mut mean = t(&[5.0]);
    let mut model = |v: &mut ParamVisitor<'_>| {
        v.scope("bn", |v| {
            v.param("weight", &mut w, &mut gw);
            v.buffer("running_mean", &mut mean);
        });
    };
    let mut path = String::new();
    opt.step(&mut model, &mut path).unwrap();
    // first Adam step: lr * sign(g)
    assert_close(w.data(), &[0.9, 1.1], 1e-6);
    assert_eq!(mean.data(), &[5.0]);
    assert!(opt.state("bn.weight").is_some());
    assert!(opt.state("bn.running_mean").is_none());
    assert!(opt.state("weight").is_none());
}

#[test]
fn step_stops_at_the_first_error() {
    let mut opt = Sgd::new(SgdConfig { lr: 1.0, ..SgdConfig::default() }).unwrap();
    let (mut a, mut ga) = (t(&[1.0]), t(&[1.0]));
    let (mut b, mut gb) = (t(&[1.0]), t(&[1.0, 2.0]));
    let (mut c, mut gc) = (t(&[1.0]), t(&[1.0]));
    let mut model = |v: &mut ParamVisitor<'_>| {
        v.param("a", &mut a, &mut ga);
        v.param("b", &mut b, &mut gb);
        v.param("c", &mut c, &mut gc);
    };
    let err = opt.step(&mut model, &mut String::new()).unwrap_err();
    assert!(matches!(&err, OptimizerError::ShapeMismatch { name, .. } if name == "b"), "{err:?}");
    // a was updated (1 - 1 * 1), b and c were not.
    assert_eq!((a.data(), b.data(), c.data()), (&[0.0][..], &[1.0][..], &[1.0][..]));
}
