//! Transformer blocks, pooling, generation and heat maps.

use crate::common::{registry, set_tensor, tensor};
use strata_attention::{
    PoolMode, Sampling, SequencePool, SequencePoolConfig, TransformerBlock, TransformerBlockConfig, generate,
    generate_from, heatmap_png, presets,
};
use strata_io::SavedModel;
use strata_layers::{Layer, LayerError, Mode, state_dict};
use strata_tensor::{StrataRng, Tensor};

fn random(shape: &[usize], seed: u64) -> Tensor {
    Tensor::random_normal(shape, 0.0, 1.0, &mut StrataRng::seed_from_u64(seed)).unwrap()
}

fn zero(layer: &mut dyn Layer, name: &str) {
    let n = state_dict(layer).into_iter().find(|(n, _)| n == name).unwrap().1.len();
    set_tensor(layer, name, &vec![0.0; n]);
}

#[test]
fn with_both_branches_silenced_a_block_is_the_identity_and_passes_the_gradient_unchanged() {
    // The residual connections: y = x + attn(..) + ff(..); with the output
    // projections at zero both branches add nothing, and the gradient of
    // the input is the gradient of the output.
    let mut block =
        TransformerBlock::new(TransformerBlockConfig::new(8, 2, 16), &mut StrataRng::seed_from_u64(0)).unwrap();
    for name in ["self_attn.out_proj.weight", "self_attn.out_proj.bias", "linear2.weight", "linear2.bias"] {
        zero(&mut block, name);
    }
    let x = random(&[2, 3, 8], 1);
    assert_eq!(block.forward(&x, Mode::Train).unwrap().data(), x.data());
    let g = random(&[2, 3, 8], 2);
    assert_eq!(block.backward(&g).unwrap().data(), g.data());
}

#[test]
fn parameters_carry_pytorchs_names() {
    let mut block =
        TransformerBlock::new(TransformerBlockConfig::new(8, 2, 16), &mut StrataRng::seed_from_u64(0)).unwrap();
    let names: Vec<(String, Vec<usize>)> =
        state_dict(&mut block).into_iter().map(|(n, t)| (n, t.shape().to_vec())).collect();
    let want = [
        ("norm1.weight", vec![8]),
        ("norm1.bias", vec![8]),
        ("self_attn.in_proj_weight", vec![8, 24]),
        ("self_attn.in_proj_bias", vec![24]),
        ("self_attn.out_proj.weight", vec![8, 8]),
        ("self_attn.out_proj.bias", vec![8]),
        ("norm2.weight", vec![8]),
        ("norm2.bias", vec![8]),
        ("linear1.weight", vec![8, 16]),
        ("linear1.bias", vec![16]),
        ("linear2.weight", vec![16, 8]),
        ("linear2.bias", vec![8]),
    ];
    assert_eq!(names, want.map(|(n, s)| (n.to_string(), s)));
}

#[test]
fn errors_inside_a_block_name_the_part() {
    let mut block =
        TransformerBlock::new(TransformerBlockConfig::new(8, 2, 16), &mut StrataRng::seed_from_u64(0)).unwrap();
    block.self_attention().set_key_padding_mask(Some(&[false; 4]));
    let err = block.forward(&random(&[1, 3, 8], 0), Mode::Eval).unwrap_err();
    assert!(
        err.to_string().starts_with("layer 'self_attn': invalid configuration: the key-padding mask has 4"),
        "{err}"
    );
    let err = block.forward(&random(&[1, 3, 6], 0), Mode::Eval).unwrap_err();
    assert_eq!(err.to_string(), "layer 'transformer_encoder_block': expected input of shape [*, *, 8], got [1, 3, 6]");
    let bad = TransformerBlockConfig::new(8, 2, 16).with_activation("sigmoid");
    let err = TransformerBlock::new(bad, &mut StrataRng::seed_from_u64(0)).unwrap_err();
    assert!(matches!(err, LayerError::InvalidConfig { .. }));
    assert_eq!(
        err.to_string(),
        "layer 'transformer_encoder_block': invalid configuration: activation sigmoid is not relu, gelu or gelu_erf"
    );
}

#[test]
fn mean_pooling_skips_padding_in_value_and_gradient() {
    let mut pool = SequencePool::new(SequencePoolConfig::default());
    pool.set_padding_mask(Some(&[false, true, false, false, false, true]));
    let x = tensor(&[2, 3, 1], &[1., 100., 3., 4., 5., 100.]);
    assert_eq!(pool.forward(&x, Mode::Train).unwrap().data(), &[2.0, 4.5]);
    assert_eq!(pool.backward(&tensor(&[2, 1], &[1., 2.])).unwrap().data(), &[0.5, 0.0, 0.5, 1.0, 1.0, 0.0]);
    let mut first = SequencePool::new(SequencePoolConfig { mode: PoolMode::First });
    assert_eq!(first.forward(&x, Mode::Train).unwrap().data(), &[1.0, 4.0]);
    assert_eq!(first.backward(&tensor(&[2, 1], &[1., 2.])).unwrap().data(), &[1., 0., 0., 2., 0., 0.]);
}

#[test]
fn a_language_model_saves_and_loads_with_the_same_logits() {
    let spec = presets::language_model(9, 12, 16, 2, 32, 2, 0.1).unwrap();
    let mut model = registry().build(&spec, &mut StrataRng::seed_from_u64(5)).unwrap();
    let ids = tensor(&[2, 4], &[1., 4., 8., 2., 1., 3., 3., 0.]);
    model.forward(&ids, Mode::Train).unwrap(); // moves the dropout counters
    let want = model.forward(&ids, Mode::Eval).unwrap().clone();
    let saved = SavedModel::capture(model.as_mut(), Default::default()).unwrap();
    let bytes = saved.to_bytes().unwrap();
    let mut back = SavedModel::from_bytes(&bytes, "lm".as_ref()).unwrap().instantiate(&registry()).unwrap();
    assert_eq!(back.forward(&ids, Mode::Eval).unwrap().data(), want.data());
    // A model file keeps every counter (the dropout streams' positions too),
    // so that training it further draws the masks it would have drawn.
    let counters = strata_layers::counters(back.as_mut());
    assert!(counters.iter().any(|(_, c)| *c > 0), "{counters:?}");
    assert_eq!(counters, strata_layers::counters(model.as_mut()));
}

#[test]
fn generation_is_fixed_by_its_seed_and_respects_its_limits() {
    let spec = presets::language_model(7, 10, 16, 2, 32, 1, 0.0).unwrap();
    let mut model = registry().build(&spec, &mut StrataRng::seed_from_u64(1)).unwrap();
    let sampling = |seed, temperature| Sampling { seed, temperature, forbidden: vec![0, 1], ..Sampling::new(10) };
    let a = generate(model.as_mut(), 1, 2, 16, &sampling(4, 1.0)).unwrap();
    assert_eq!(a, generate(model.as_mut(), 1, 2, 16, &sampling(4, 1.0)).unwrap());
    assert_ne!(a, generate(model.as_mut(), 1, 2, 16, &sampling(5, 1.0)).unwrap(), "16 samples of an untrained model");
    assert_eq!(a.len(), 16);
    assert!(a.iter().all(|s| s.len() <= 9 && s.iter().all(|&id| (3..7).contains(&id))), "{a:?}");
    // Temperature 0 takes the most likely id: the same for every seed, and every sample alike.
    let greedy = generate(model.as_mut(), 1, 2, 3, &sampling(4, 0.0)).unwrap();
    assert_eq!(greedy, generate(model.as_mut(), 1, 2, 3, &sampling(99, 0.0)).unwrap());
    assert!(greedy.iter().all(|s| s == &greedy[0]));
    let err = generate(model.as_mut(), 1, 2, 3, &sampling(0, -1.0)).unwrap_err();
    assert!(matches!(err, LayerError::InvalidConfig { .. }), "{err}");
    // Every id forbidden: nothing can be drawn (it used to return id 0, forbidden).
    let none = Sampling { forbidden: (0..7).collect(), ..Sampling::new(10) };
    let err = generate(model.as_mut(), 1, 2, 3, &none).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 'generate': invalid configuration: every one of the 7 ids is forbidden: none can be drawn"
    );
    // Batches of GENERATE_BATCH (256) from one random stream: 300 samples
    // begin with the 256 a call for 256 gives.
    let many = generate(model.as_mut(), 1, 2, 300, &sampling(4, 1.0)).unwrap();
    assert_eq!(many.len(), 300);
    assert_eq!(many[..256], generate(model.as_mut(), 1, 2, 256, &sampling(4, 1.0)).unwrap()[..]);
    // More sequences than memory holds: refused before allocating.
    let err = generate(model.as_mut(), 1, 2, usize::MAX, &sampling(0, 1.0)).unwrap_err();
    assert!(err.to_string().ends_with("sequences: more than memory holds"), "{err}");
}

#[test]
fn generation_from_a_prompt_draws_after_it() {
    let spec = presets::language_model(7, 10, 16, 2, 32, 1, 0.0).unwrap();
    let mut model = registry().build(&spec, &mut StrataRng::seed_from_u64(1)).unwrap();
    let sampling = |seed| Sampling { seed, forbidden: vec![0, 1], ..Sampling::new(10) };
    // After a prompt of 3 ids, at most 10 - 3 are drawn; the prompt changes what is drawn.
    let after = generate_from(model.as_mut(), &[1, 5, 6], 2, 32, &sampling(4)).unwrap();
    assert!(after.iter().all(|s| s.len() <= 7 && s.iter().all(|&id| (3..7).contains(&id))), "{after:?}");
    let other = generate_from(model.as_mut(), &[1, 3, 3], 2, 32, &sampling(4)).unwrap();
    assert_ne!(after, other, "32 samples after two different prompts");
    // A prompt that fills max_len leaves nothing to draw; an empty or longer one is refused.
    let full = generate_from(model.as_mut(), &[1; 10], 2, 2, &sampling(4)).unwrap();
    assert_eq!(full, vec![Vec::<usize>::new(); 2]);
    for prompt in [&[][..], &[1; 11][..]] {
        let err = generate_from(model.as_mut(), prompt, 2, 2, &sampling(4)).unwrap_err();
        let want = format!("a prompt of {} ids: from 1 (the start id) to max_len (10)", prompt.len());
        assert_eq!(err.to_string(), format!("layer 'generate': invalid configuration: {want}"));
    }
}

#[test]
fn an_attention_map_is_a_png_of_16_pixel_cells() {
    let path = std::env::temp_dir().join(format!("strata-heatmap-{}.png", std::process::id()));
    heatmap_png(&[1.0, 0.0, 0.25, 0.75, 0.5, 0.5], 2, 3, &path).unwrap();
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!((info.width, info.height), (48, 32));
    let at = |x: usize, y: usize| &pixels[(y * 48 + x) * 3..(y * 48 + x) * 3 + 3];
    assert_eq!(at(0, 0), &[8, 48, 107], "weight 1: dark blue");
    assert_eq!(at(20, 15), &[255, 255, 255], "weight 0: white");
    let err = heatmap_png(&[0.5; 5], 2, 3, &path).unwrap_err();
    assert_eq!(err.to_string(), "5 weights do not fill a 2x3 map");
    let err = heatmap_png(&[], 1, 5000, &path).unwrap_err();
    assert_eq!(err.to_string(), "a 1x5000 map is larger than 4096 tokens a side");
    // Beyond 64 tokens the cells shrink: 100 tokens of 10 pixels.
    heatmap_png(&vec![0.5; 100 * 100], 100, 100, &path).unwrap();
    let reader = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap())).read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), (1000, 1000));
    std::fs::remove_file(&path).unwrap();
    assert!(!path.exists());
}
