//! MultiHeadAttention: a value worked out by hand, the masks, attention
//! dropout, errors.

use crate::common::{assert_close, set_tensor, tensor};
use strata_attention::{MultiHeadAttention, MultiHeadAttentionConfig};
use strata_layers::{Dim, Layer, LayerError, Mode, counters};
use strata_tensor::{StrataRng, Tensor};

fn mha(config: MultiHeadAttentionConfig) -> MultiHeadAttention {
    MultiHeadAttention::new(config, &mut StrataRng::seed_from_u64(3)).unwrap()
}

fn random(shape: &[usize], seed: u64) -> Tensor {
    Tensor::random_normal(shape, 0.0, 1.0, &mut StrataRng::seed_from_u64(seed)).unwrap()
}

#[test]
fn one_head_with_identity_projections_matches_the_hand_computation() {
    // d = 2, one head, W_in = [I I I], W_out = I, zero biases: Q = K = V = x.
    // x = [[1, 0], [0, 1]]: scores x x^T / sqrt(2) = diag(a, a) with a = 1/sqrt(2),
    // so row 0 is softmax(a, 0) = (e^a, 1) / (e^a + 1) = (0.66976, 0.33024), row 1 mirrored,
    // and the output is A V = A.
    let mut layer = mha(MultiHeadAttentionConfig::new(2, 1));
    set_tensor(&mut layer, "in_proj_weight", &[1., 0., 1., 0., 1., 0., 0., 1., 0., 1., 0., 1.]);
    set_tensor(&mut layer, "out_proj.weight", &[1., 0., 0., 1.]);
    let y = layer.forward(&tensor(&[1, 2, 2], &[1., 0., 0., 1.]), Mode::Eval).unwrap().clone();
    let e = std::f32::consts::FRAC_1_SQRT_2.exp();
    let (p, q) = (e / (e + 1.0), 1.0 / (e + 1.0));
    assert_close(y.data(), &[p, q, q, p], 1e-6);
    assert_close(layer.attention_weights().data(), &[p, q, q, p], 1e-6);
    assert_eq!(layer.attention_weights().shape(), &[1, 1, 2, 2]);
}

#[test]
fn every_row_of_attention_weights_is_a_distribution() {
    let mut layer = mha(MultiHeadAttentionConfig::new(8, 4));
    layer.forward(&random(&[3, 6, 8], 1), Mode::Eval).unwrap();
    let a = layer.attention_weights();
    assert_eq!(a.shape(), &[3, 4, 6, 6]);
    for row in a.data().chunks(6) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6 && row.iter().all(|&w| w > 0.0), "{row:?}");
    }
}

#[test]
fn causal_attention_never_looks_ahead() {
    let mut layer = mha(MultiHeadAttentionConfig::new(8, 2).causal());
    let x = random(&[2, 5, 8], 1);
    let y = layer.forward(&x, Mode::Eval).unwrap().clone();
    for (r, row) in layer.attention_weights().data().chunks(5).enumerate() {
        let i = r % 5;
        assert!(row[i + 1..].iter().all(|&w| w == 0.0), "row {r} (position {i}) sees the future: {row:?}");
    }
    // Changing the last position changes no earlier output.
    let mut x2 = x.clone();
    for v in &mut x2.data_mut()[4 * 8..5 * 8] {
        *v += 3.0;
    }
    let y2 = layer.forward(&x2, Mode::Eval).unwrap().clone();
    assert_eq!(&y.data()[..4 * 8], &y2.data()[..4 * 8]);
    assert_ne!(&y.data()[4 * 8..5 * 8], &y2.data()[4 * 8..5 * 8]);
}

#[test]
fn padded_keys_get_no_weight_and_do_not_change_other_outputs() {
    let mut layer = mha(MultiHeadAttentionConfig::new(8, 2));
    // Sample 0: positions 3 and 4 are padding; sample 1: none.
    let mask = [false, false, false, true, true, false, false, false, false, false];
    layer.set_key_padding_mask(Some(&mask));
    let x = random(&[2, 5, 8], 2);
    let y = layer.forward(&x, Mode::Eval).unwrap().clone();
    let a = layer.attention_weights().data();
    for (r, row) in a[..2 * 5 * 5].chunks(5).enumerate() {
        assert_eq!(&row[3..], &[0.0, 0.0], "row {r} of sample 0 attends to padding");
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
    let mut x2 = x.clone();
    x2.data_mut()[3 * 8..5 * 8].iter_mut().for_each(|v| *v = -7.0);
    let y2 = layer.forward(&x2, Mode::Eval).unwrap().clone();
    assert_eq!(&y.data()[..3 * 8], &y2.data()[..3 * 8], "valid positions changed with the padding's values");
    assert_eq!(&y.data()[5 * 8..], &y2.data()[5 * 8..], "the other sample changed");
}

#[test]
fn a_row_whose_every_key_is_masked_attends_to_nothing() {
    // PyTorch gives NaN here; Strata gives zero weights, so the output is
    // the output projection's bias and nothing is poisoned.
    let mut layer = mha(MultiHeadAttentionConfig::new(4, 1));
    set_tensor(&mut layer, "out_proj.bias", &[0.5, -1.0, 2.0, 0.0]);
    layer.set_key_padding_mask(Some(&[true, true, true]));
    let y = layer.forward(&random(&[1, 3, 4], 3), Mode::Train).unwrap().clone();
    assert_eq!(y.data(), &[0.5, -1.0, 2.0, 0.0, 0.5, -1.0, 2.0, 0.0, 0.5, -1.0, 2.0, 0.0]);
    assert!(layer.attention_weights().data().iter().all(|&w| w == 0.0));
    let g = layer.backward(&Tensor::full(&[1, 3, 4], 1.0)).unwrap();
    assert!(g.data().iter().all(|v| v.is_finite()));
}

#[test]
fn a_key_padding_mask_of_the_wrong_length_is_an_error() {
    let mut layer = mha(MultiHeadAttentionConfig::new(4, 2));
    layer.set_key_padding_mask(Some(&[false; 5]));
    let err = layer.forward(&random(&[2, 3, 4], 0), Mode::Eval).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 'multi_head_attention': invalid configuration: the key-padding mask has 5 entries for a batch of 2 \
         sequences of 3"
    );
    layer.set_key_padding_mask(None);
    assert!(layer.forward(&random(&[2, 3, 4], 0), Mode::Eval).is_ok());
}

#[test]
fn attention_dropout_acts_in_training_only_and_follows_its_seed() {
    let x = random(&[2, 6, 8], 4);
    let config = MultiHeadAttentionConfig::new(8, 2).with_dropout(0.5, 9);
    let (mut a, mut b) = (mha(config.clone()), mha(config));
    // The same weights (the same generator, an explicit seed), no dropout.
    let mut plain = mha(MultiHeadAttentionConfig::new(8, 2).with_dropout(0.0, 9));
    let eval = plain.forward(&x, Mode::Eval).unwrap().clone();
    assert_eq!(a.forward(&x, Mode::Eval).unwrap().data(), eval.data(), "dropout in inference");
    let t1 = a.forward(&x, Mode::Train).unwrap().clone();
    assert_ne!(t1.data(), eval.data());
    assert_eq!(b.forward(&x, Mode::Train).unwrap().data(), t1.data(), "same seed, same first mask");
    let t2 = a.forward(&x, Mode::Train).unwrap().clone();
    assert_ne!(t1.data(), t2.data(), "the second call draws a new mask");
    // The position in the mask stream is training state.
    assert_eq!(counters(&mut a), [("calls".to_string(), 2)]);
}

#[test]
fn wrong_shapes_and_configs_are_errors_naming_the_layer() {
    let mut layer = mha(MultiHeadAttentionConfig::new(8, 2));
    let err = layer.forward(&random(&[2, 5, 6], 0), Mode::Eval).unwrap_err();
    assert!(matches!(&err, LayerError::ShapeMismatch { layer, .. } if layer == "multi_head_attention"));
    assert_eq!(err.to_string(), "layer 'multi_head_attention': expected input of shape [*, *, 8], got [2, 5, 6]");
    // A sequence needs a batch axis and a position axis.
    let err = layer.forward(&random(&[5, 8], 0), Mode::Eval).unwrap_err();
    assert_eq!(err.to_string(), "layer 'multi_head_attention': expected input of shape [*, *, 8], got [5, 8]");
    assert_eq!(layer.output_shape(&[Dim::Any, Dim::Fixed(8)]).unwrap(), [Dim::Any, Dim::Fixed(8)]);
    let err =
        MultiHeadAttention::new(MultiHeadAttentionConfig::new(6, 4), &mut StrataRng::seed_from_u64(0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 'multi_head_attention': invalid configuration: d_model (6) must be a positive multiple of n_heads \
         (4), and dropout (0) in [0, 1)"
    );
    assert!(matches!(layer.backward(&random(&[2, 5, 8], 0)), Err(LayerError::BackwardBeforeForward { .. })));
}

/// No sample, or sequences of no position: an empty output and an empty
/// input gradient, as PyTorch gives (it used to index past an empty buffer).
#[test]
fn empty_batches_and_empty_sequences_pass_through() {
    for shape in [[2, 0, 8], [0, 5, 8]] {
        let mut layer = mha(MultiHeadAttentionConfig::new(8, 2));
        let x = Tensor::zeros(&shape);
        assert_eq!(layer.forward(&x, Mode::Train).unwrap().shape(), &shape);
        assert_eq!(layer.backward(&x).unwrap().shape(), &shape);
        assert_eq!(layer.forward(&x, Mode::Eval).unwrap().shape(), &shape);
    }
}

/// A sequence whose s x s attention weights no machine holds (2^23
/// positions: 2^48 bytes a head) is an error, not an abort.
#[test]
fn attention_weights_beyond_memory_are_an_error() {
    let mut layer = mha(MultiHeadAttentionConfig::new(1, 1));
    let err = layer.forward(&Tensor::zeros(&[1, 1 << 23, 1]), Mode::Eval).unwrap_err();
    assert!(err.to_string().contains("needs 281474976710656 bytes, more than this machine can allocate"), "{err}");
}
