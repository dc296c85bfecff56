//! `zero_grad` declares a dense layer's gradients zero (`DeferredZero`):
//! the next backward writes them instead of adding to them. The gradients
//! must be the ones the old way gives, zeros written and then added to.

use strata_activation::ActivationKind;
use strata_layers::{ActivationLayer, Dense, DenseConfig, Layer, Mode, Residual, Sequential};
use strata_tensor::{ParamRef, ParamVisitor, StrataRng, Tensor};

/// `dense(5 -> 7) - tanh - residual(dense(7 -> 7)) - dense(7 -> 3)`.
fn model(seed: u64) -> Sequential {
    let mut rng = StrataRng::seed_from_u64(seed);
    Sequential::new(
        &[5],
        vec![
            Box::new(Dense::new(DenseConfig::new(5, 7), &mut rng).unwrap()),
            Box::new(ActivationLayer::new(ActivationKind::Tanh)),
            Box::new(Residual::new(Box::new(Dense::new(DenseConfig::new(7, 7), &mut rng).unwrap()))),
            Box::new(Dense::new(DenseConfig::new(7, 3), &mut rng).unwrap()),
        ],
    )
    .unwrap()
}

/// Every gradient, by name.
fn gradients(model: &mut dyn Layer) -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    let mut path = String::new();
    let mut f = |p: ParamRef<'_>| out.push((p.name.to_string(), p.grad.unwrap().data().to_vec()));
    model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
    out
}

/// Zeros written into every gradient through the visitor (the default
/// `Layer::zero_grad`, and the trainer's way before deferred zeros).
fn write_zeros(model: &mut dyn Layer) {
    let mut path = String::new();
    let mut f = |p: ParamRef<'_>| p.grad.unwrap().fill(0.0);
    model.visit_parameters(&mut ParamVisitor::new(&mut path, &mut f));
}

/// Two batches of a step with accumulation, after a first step that left
/// gradients behind: `zero` clears them before the step.
fn step_gradients(zero: fn(&mut Sequential)) -> Vec<(String, Vec<f32>)> {
    let mut m = model(3);
    let mut rng = StrataRng::seed_from_u64(4);
    let x = Tensor::random_normal(&[6, 5], 0.0, 1.0, &mut rng).unwrap();
    let g = Tensor::random_normal(&[6, 3], 0.0, 1.0, &mut rng).unwrap();
    m.forward(&x, Mode::Train).unwrap();
    m.backward(&g).unwrap();
    zero(&mut m);
    for scale in [1.0, -0.5] {
        m.forward(&x.scale(scale), Mode::Train).unwrap();
        m.backward(&g).unwrap();
    }
    gradients(&mut m)
}

#[test]
fn gradients_declared_zero_equal_gradients_written_zero() {
    let declared = step_gradients(|m| m.zero_grad());
    let written = step_gradients(|m| write_zeros(m));
    let kept = step_gradients(|_| {});
    let names: Vec<&str> = declared.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["dense_1.weight", "dense_1.bias", "residual_1.weight", "residual_1.bias", "dense_2.weight", "dense_2.bias"]
    );
    for (((name, a), (_, b)), (_, c)) in declared.iter().zip(&written).zip(&kept) {
        assert_eq!(a, b, "{name}");
        // Without zeroing, the first step's gradients stay in the sum.
        assert_ne!(a, c, "{name}");
    }
}

#[test]
fn gradients_declared_zero_read_zero_before_the_next_backward() {
    let mut m = model(5);
    let x = Tensor::ones(&[2, 5]);
    m.forward(&x, Mode::Train).unwrap();
    m.backward(&Tensor::ones(&[2, 3])).unwrap();
    assert!(gradients(&mut m).iter().all(|(_, g)| g.iter().any(|&v| v != 0.0)));
    m.zero_grad();
    for (name, g) in gradients(&mut m) {
        assert!(g.iter().all(|&v| v == 0.0), "{name}: {g:?}");
    }
}
