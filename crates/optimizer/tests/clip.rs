//! Gradient clipping by global norm.

use crate::common::{assert_close, t};
use strata_optimizer::{clip_grad_norm, global_grad_norm};
use strata_tensor::{ParamVisitor, Tensor};

#[test]
fn norm_of_3_4_is_5_and_clips_to_0_6_0_8() {
    let (mut w, mut g) = (t(&[0.0, 0.0]), t(&[3.0, 4.0]));
    let mut model = |v: &mut ParamVisitor<'_>| v.param("w", &mut w, &mut g);
    let mut path = String::new();
    // sqrt(9 + 16) = 5
    assert_eq!(global_grad_norm(&mut model, &mut path), 5.0);
    // scale = 1 / (5 + 1e-6): [3, 4] / 5 = [0.6, 0.8]
    assert_eq!(clip_grad_norm(&mut model, &mut path, 1.0), 5.0);
    assert_close(g.data(), &[0.6, 0.8], 1e-6);
    assert_eq!(w.data(), &[0.0, 0.0]);
}

#[test]
fn global_norm_spans_parameters_and_skips_buffers() {
    let (mut a, mut ga) = (t(&[0.0]), t(&[2.0]));
    let (mut b, mut gb) = (Tensor::zeros(&[2, 2]), Tensor::from_vec(&[2, 2], vec![1.0, 1.0, 1.0, 3.0]).unwrap());
    let mut buf = t(&[100.0]);
    let mut model = |v: &mut ParamVisitor<'_>| {
        v.param("a", &mut a, &mut ga);
        v.scope("inner", |v| {
            v.param("b", &mut b, &mut gb);
            v.buffer("running", &mut buf);
        });
    };
    let mut path = String::new();
    // sqrt(4 + 1 + 1 + 1 + 9) = sqrt(16) = 4 (the buffer's 100 is not a gradient)
    assert_eq!(global_grad_norm(&mut model, &mut path), 4.0);
    // max 2: scale 2 / (4 + 1e-6) ~ 0.5 on every gradient
    assert_eq!(clip_grad_norm(&mut model, &mut path, 2.0), 4.0);
    assert_close(ga.data(), &[1.0], 1e-6);
    assert_close(gb.data(), &[0.5, 0.5, 0.5, 1.5], 1e-6);
    assert_eq!(buf.data(), &[100.0]);
}

#[test]
fn below_the_limit_nothing_changes() {
    let (mut w, mut g) = (t(&[0.0, 0.0]), t(&[3.0, 4.0]));
    let mut model = |v: &mut ParamVisitor<'_>| v.param("w", &mut w, &mut g);
    assert_eq!(clip_grad_norm(&mut model, &mut String::new(), 5.0), 5.0);
    assert_eq!(clip_grad_norm(&mut model, &mut String::new(), 10.0), 5.0);
    assert_eq!(g.data(), &[3.0, 4.0]);
}

#[test]
fn non_finite_norm_or_bad_limit_leaves_gradients_alone() {
    let (mut w, mut g) = (t(&[0.0, 0.0]), t(&[f32::INFINITY, 1.0]));
    let mut model = |v: &mut ParamVisitor<'_>| v.param("w", &mut w, &mut g);
    assert_eq!(clip_grad_norm(&mut model, &mut String::new(), 1.0), f32::INFINITY);
    assert_eq!(g.data(), &[f32::INFINITY, 1.0]);

    let (mut w, mut g) = (t(&[0.0]), t(&[3.0]));
    let mut model = |v: &mut ParamVisitor<'_>| v.param("w", &mut w, &mut g);
    assert_eq!(clip_grad_norm(&mut model, &mut String::new(), -1.0), 3.0);
    assert_eq!(clip_grad_norm(&mut model, &mut String::new(), f32::NAN), 3.0);
    assert_eq!(g.data(), &[3.0]);
}

#[test]
fn no_parameters_has_norm_zero() {
    let mut model = |_: &mut ParamVisitor<'_>| {};
    assert_eq!(clip_grad_norm(&mut model, &mut String::new(), 1.0), 0.0);
}
