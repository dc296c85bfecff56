//! Names: `FromStr`/`Display` round trips, serde, and dispatch of `LossKind`.

use strata_loss::{BinaryCrossEntropy, CrossEntropy, Loss, LossKind, MeanSquaredError};
use strata_tensor::{StrataRng, Tensor};

#[test]
fn display_and_from_str_round_trip() {
    for kind in LossKind::ALL {
        assert_eq!(kind.to_string().parse::<LossKind>().unwrap(), kind);
        assert_eq!(kind.to_string(), kind.name());
        assert_eq!(Loss::name(&kind), kind.name());
    }
    assert_eq!(LossKind::Mse.to_string(), "mse");
    assert_eq!(LossKind::CrossEntropy.to_string(), "cross_entropy");
    assert_eq!(LossKind::BinaryCrossEntropy.to_string(), "binary_cross_entropy");
}

#[test]
fn parse_accepts_aliases() {
    for (text, kind) in [
        ("mse", LossKind::Mse),
        ("MSE", LossKind::Mse),
        ("ce", LossKind::CrossEntropy),
        ("cross-entropy", LossKind::CrossEntropy),
        (" bce ", LossKind::BinaryCrossEntropy),
        ("binary_cross_entropy", LossKind::BinaryCrossEntropy),
    ] {
        assert_eq!(text.parse::<LossKind>().unwrap(), kind, "{text}");
    }
}

#[test]
fn serde_round_trip() {
    for kind in LossKind::ALL {
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{kind}\""));
        assert_eq!(serde_json::from_str::<LossKind>(&json).unwrap(), kind);
    }
}

#[test]
fn kind_dispatches_to_the_structs() {
    let mut rng = StrataRng::seed_from_u64(9);
    let p = Tensor::random_normal(&[4, 3], 0.0, 1.0, &mut rng).unwrap();
    let t = Tensor::random_uniform(&[4, 3], 0.0, 1.0, &mut rng).unwrap();
    let pairs: [(LossKind, &dyn Loss); 3] = [
        (LossKind::Mse, &MeanSquaredError),
        (LossKind::CrossEntropy, &CrossEntropy::new()),
        (LossKind::BinaryCrossEntropy, &BinaryCrossEntropy),
    ];
    for (kind, loss) in pairs {
        assert_eq!(kind.name(), loss.name());
        assert_eq!(kind.value(&p, &t).unwrap(), loss.value(&p, &t).unwrap());
        let (mut a, mut b) = (Tensor::default(), Tensor::default());
        kind.gradient(&p, &t, &mut a).unwrap();
        loss.gradient(&p, &t, &mut b).unwrap();
        assert_eq!(a, b);
        let va = kind.value_and_gradient(&p, &t, &mut a).unwrap();
        assert_eq!(va, loss.value(&p, &t).unwrap());
    }
}
