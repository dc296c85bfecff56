//! Embedding and positional encodings: lookups, the padding id, id errors,
//! the sinusoid table, sequences too long.

use crate::common::{assert_close, get_grad, tensor};
use strata_attention::{Embedding, EmbeddingConfig, PositionalEncoding, PositionalEncodingConfig};
use strata_layers::{Layer, LayerError, Mode, state_dict};
use strata_tensor::{StrataRng, Tensor};

fn embedding(config: EmbeddingConfig) -> Embedding {
    Embedding::new(config, &mut StrataRng::seed_from_u64(1)).unwrap()
}

#[test]
fn each_id_becomes_its_row_and_gradients_add_up_per_id() {
    let mut e = embedding(EmbeddingConfig::new(4, 2).with_padding_idx(0));
    let table = state_dict(&mut e)[0].1.clone();
    assert_eq!(&table.data()[..2], &[0.0, 0.0], "the padding row starts at zero");
    let ids = tensor(&[1, 4], &[2., 0., 2., 3.]);
    let y = e.forward(&ids, Mode::Train).unwrap().clone();
    let t = table.data();
    assert_eq!(y.data(), &[t[4], t[5], 0.0, 0.0, t[4], t[5], t[6], t[7]]);
    let g = e.backward(&tensor(&[1, 4, 2], &[1., 2., 10., 20., 3., 4., 5., 6.])).unwrap();
    assert_eq!(g.data(), &[0.0; 4], "ids are not differentiable");
    // Id 2 twice: (1 + 3, 2 + 4); the padding id 0 gets nothing; 1 is unused.
    assert_eq!(get_grad(&mut e, "weight").data(), &[0., 0., 0., 0., 4., 6., 5., 6.]);
}

#[test]
fn ids_that_are_not_in_the_vocabulary_are_errors_naming_the_position() {
    let mut e = embedding(EmbeddingConfig::new(5, 2));
    for (bad, text) in [(5.0, "5"), (-1.0, "-1"), (1.5, "1.5"), (f32::NAN, "NaN")] {
        let err = e.forward(&tensor(&[2, 2], &[0., 1., 4., bad]), Mode::Eval).unwrap_err();
        assert!(matches!(&err, LayerError::TokenId { position, vocab: 5, .. } if position == &[1, 1]), "{err}");
        assert_eq!(
            err.to_string(),
            format!("layer 'embedding': the input at [1, 1] is {text}, not a token id in 0..5")
        );
    }
}

#[test]
fn invalid_embedding_configs_are_errors() {
    let mut rng = StrataRng::seed_from_u64(0);
    for config in
        [EmbeddingConfig::new(0, 3), EmbeddingConfig::new(3, 0), EmbeddingConfig::new(3, 2).with_padding_idx(3)]
    {
        let err = Embedding::new(config.clone(), &mut rng).unwrap_err();
        assert!(matches!(err, LayerError::InvalidConfig { .. }), "{config:?}: {err}");
    }
}

#[test]
fn sinusoidal_positions_follow_the_formula() {
    // P[p, 2i] = sin(p / 10000^(2i/d)), P[p, 2i+1] = cos(p / 10000^(2i/d)), Vaswani et al. (2017), 3.5.
    let (len, d) = (7, 6);
    let mut pe =
        PositionalEncoding::new(PositionalEncodingConfig::new(len, d), &mut StrataRng::seed_from_u64(0)).unwrap();
    let y = pe.forward(&Tensor::zeros(&[2, len, d]), Mode::Eval).unwrap().clone();
    let mut want = Vec::new();
    for p in 0..len {
        for j in 0..d {
            let angle = p as f64 / 10000f64.powf((j / 2 * 2) as f64 / d as f64);
            want.push(if j % 2 == 0 { angle.sin() } else { angle.cos() } as f32);
        }
    }
    assert_close(&y.data()[..len * d], &want, 1e-7);
    assert_eq!(&y.data()[..len * d], &y.data()[len * d..], "every sample gets the same table");
    assert!(state_dict(&mut pe).is_empty(), "the sinusoid table is computed, not saved");
}

#[test]
fn learned_positions_sum_their_gradient_over_the_batch() {
    let mut pe =
        PositionalEncoding::new(PositionalEncodingConfig::new(4, 1).learned(), &mut StrataRng::seed_from_u64(0))
            .unwrap();
    pe.forward(&Tensor::zeros(&[2, 3, 1]), Mode::Train).unwrap();
    let g = pe.backward(&tensor(&[2, 3, 1], &[1., 2., 3., 10., 20., 30.])).unwrap();
    assert_eq!(g.data(), &[1., 2., 3., 10., 20., 30.], "positions pass the gradient through");
    // A sequence of 3 trains rows 0-2 only.
    assert_eq!(get_grad(&mut pe, "weight").data(), &[11., 22., 33., 0.]);
}

#[test]
fn a_sequence_longer_than_max_len_is_an_error() {
    let mut pe =
        PositionalEncoding::new(PositionalEncodingConfig::new(4, 2), &mut StrataRng::seed_from_u64(0)).unwrap();
    let err = pe.forward(&Tensor::zeros(&[1, 5, 2]), Mode::Eval).unwrap_err();
    assert!(matches!(err, LayerError::SequenceTooLong { length: 5, max_len: 4, .. }));
    assert_eq!(
        err.to_string(),
        "layer 'positional_encoding': a sequence of 5 positions is longer than its maximum of 4"
    );
}
