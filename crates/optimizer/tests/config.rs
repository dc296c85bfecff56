//! `OptimizerConfig`: names, serde tags, building, validation.

use strata_optimizer::{
    AdamConfig, AdamWConfig, AnyOptimizer, Optimizer, OptimizerConfig, OptimizerError, RmsPropConfig, SgdConfig,
};

#[test]
fn names_parse_to_default_configs() {
    assert_eq!("sgd".parse::<OptimizerConfig>().unwrap(), OptimizerConfig::Sgd(SgdConfig::default()));
    assert_eq!("adam".parse::<OptimizerConfig>().unwrap(), OptimizerConfig::Adam(AdamConfig::default()));
    assert_eq!("AdamW".parse::<OptimizerConfig>().unwrap(), OptimizerConfig::AdamW(AdamWConfig::default()));
    assert_eq!("rmsprop".parse::<OptimizerConfig>().unwrap(), OptimizerConfig::RmsProp(RmsPropConfig::default()));
    for name in OptimizerConfig::NAMES {
        let c: OptimizerConfig = name.parse().unwrap();
        assert_eq!(c.name(), name);
        assert_eq!(c.to_string(), name);
    }
}

#[test]
fn from_name_sets_the_learning_rate() {
    for name in OptimizerConfig::NAMES {
        let c = OptimizerConfig::from_name(name, 0.123).unwrap();
        assert_eq!(c.lr(), 0.123);
        let opt = c.build().unwrap();
        assert_eq!(opt.learning_rate(), 0.123);
    }
}

#[test]
fn unknown_name_and_bad_lr_are_errors() {
    assert_eq!(
        OptimizerConfig::from_name("adagrad", 0.1).unwrap_err(),
        OptimizerError::UnknownOptimizer { name: "adagrad".into() }
    );
    assert!(matches!(
        OptimizerConfig::from_name("sgd", -0.1),
        Err(OptimizerError::InvalidHyperParameter { optimizer: "SGD", name: "lr", .. })
    ));
}

#[test]
fn serde_tags_and_defaults() {
    let c = OptimizerConfig::RmsProp(RmsPropConfig { momentum: 0.5, ..RmsPropConfig::default() });
    let json = serde_json::to_string(&c).unwrap();
    assert!(json.starts_with(r#"{"kind":"rmsprop","#), "{json}");
    assert_eq!(serde_json::from_str::<OptimizerConfig>(&json).unwrap(), c);

    let c: OptimizerConfig = serde_json::from_str(r#"{"kind":"sgd","lr":0.5,"momentum":0.9}"#).unwrap();
    assert_eq!(c, OptimizerConfig::Sgd(SgdConfig { lr: 0.5, momentum: 0.9, ..SgdConfig::default() }));
    let c: OptimizerConfig = serde_json::from_str(r#"{"kind":"adamw"}"#).unwrap();
    assert_eq!(c, OptimizerConfig::AdamW(AdamWConfig::default()));
    // A misspelt field is an error, not a silently ignored setting.
    assert!(serde_json::from_str::<OptimizerConfig>(r#"{"kind":"adam","learning_rate":0.1}"#).is_err());
    assert!(serde_json::from_str::<OptimizerConfig>(r#"{"kind":"lion"}"#).is_err());
}

#[test]
fn build_validates() {
    let c = OptimizerConfig::Adam(AdamConfig { beta2: 1.0, ..AdamConfig::default() });
    assert!(matches!(c.build(), Err(OptimizerError::InvalidHyperParameter { name: "beta2", .. })));
}

#[test]
fn any_optimizer_delegates() {
    let mut any = OptimizerConfig::from_name("sgd", 0.5).unwrap().build_any().unwrap();
    assert!(matches!(any, AnyOptimizer::Sgd(_)));
    assert_eq!(any.name(), "sgd");
    let mut p = strata_tensor::Tensor::from_slice(&[1.0]);
    // p = 1 - 0.5 * 1
    any.update("p", &mut p, &strata_tensor::Tensor::from_slice(&[1.0])).unwrap();
    assert_eq!(p.data(), &[0.5]);
    any.set_learning_rate(0.25);
    assert_eq!(any.learning_rate(), 0.25);
    assert_eq!(any.config(), OptimizerConfig::Sgd(SgdConfig { lr: 0.25, ..SgdConfig::default() }));
}

#[test]
fn saved_state_no_update_reaches_is_refused_naming_the_parameter_and_value() {
    // One Adam step and one RMSprop step on a 3-value parameter, through JSON
    // (as a checkpoint carries them: each value's bits), then one value edited each.
    use strata_tensor::Tensor;
    let step = |name: &str| {
        let mut o = OptimizerConfig::from_name(name, 0.1).unwrap().build_any().unwrap();
        let mut p = Tensor::from_vec(&[3], vec![1.0, 2.0, 3.0]).unwrap();
        o.update("w", &mut p, &Tensor::from_vec(&[3], vec![0.5, -0.5, 0.25]).unwrap()).unwrap();
        serde_json::to_value(&o).unwrap()
    };
    let read = |v: &serde_json::Value| serde_json::from_value::<AnyOptimizer>(v.clone()).map_err(|e| e.to_string());
    let adam = step("adam");
    read(&adam).unwrap();
    let mut negative = adam.clone();
    negative["state"]["w"]["exp_avg_sq"]["bits"][1] = serde_json::json!((-1.0f32).to_bits());
    assert_eq!(
        read(&negative).unwrap_err(),
        "Adam: the saved state of 'w' holds exp_avg_sq -1 at index 1, where a finite number of at least 0 belongs"
    );
    // A step of 0 beside moments one step wrote: the next update would take
    // them for a first step's (bias corrections 1 - 0.9 and 1 - 0.999).
    // exp_avg[0] = (1 - 0.9) · 0.5, computed in f32: 0.050000012.
    let mut unstepped = adam.clone();
    unstepped["state"]["w"]["step"] = serde_json::json!(0);
    assert_eq!(
        read(&unstepped).unwrap_err(),
        "Adam: the saved state of 'w' holds exp_avg 0.050000012 at index 0 with step 0, where no step has written a value yet"
    );
    let rmsprop = step("rmsprop");
    read(&rmsprop).unwrap();
    let mut negative = rmsprop.clone();
    negative["state"]["w"]["square_avg"]["bits"][2] = serde_json::json!((-0.5f32).to_bits());
    assert_eq!(
        read(&negative).unwrap_err(),
        "RMSprop: the saved state of 'w' holds square_avg -0.5 at index 2, where a finite number of at least 0 belongs"
    );
}
