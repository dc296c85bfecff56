//! [`generate`]: new sequences from a causal language model.

use strata_layers::{Layer, LayerError, Mode, Result};
use strata_tensor::{StrataRng, Tensor};

/// How [`generate`] samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    /// Divides the logits before the softmax: below 1 sharper and more
    /// typical, above 1 flatter and more surprising; 0 takes the most likely
    /// id every time.
    pub temperature: f32,
    /// Seed of the draws: the same seed gives the same samples.
    pub seed: u64,
    /// The longest sequence, the start id included (the model's `max_len`).
    pub max_len: usize,
    /// Ids never to sample (padding, the start id).
    pub forbidden: Vec<usize>,
}

impl Sampling {
    /// Temperature 1, seed 0, sequences of at most `max_len` ids.
    pub fn new(max_len: usize) -> Self {
        Sampling { temperature: 1.0, seed: 0, max_len, forbidden: Vec::new() }
    }
}

/// `count` new sequences from a causal language model whose output at each
/// position is the next id's logits: each starts with `start`, and grows by
/// one sampled id at a time until it draws `end` (not included) or reaches
/// `sampling.max_len` ids. The sequences grow side by side, as batches of at
/// most [`GENERATE_BATCH`] (memory bounded whatever `count`), in order from
/// one random stream.
///
/// ```
/// use strata_attention::{Sampling, generate, presets};
/// use strata_layers::Registry;
/// use strata_tensor::StrataRng;
/// let mut registry = Registry::with_builtins();
/// strata_normalization::register(&mut registry)?;
/// strata_attention::register(&mut registry)?;
/// let spec = presets::language_model(6, 8, 16, 2, 32, 1, 0.0)?;
/// let mut model = registry.build(&spec, &mut StrataRng::seed_from_u64(0))?;
/// let sampling = Sampling { seed: 3, forbidden: vec![0, 1], ..Sampling::new(8) };
/// let a = generate(model.as_mut(), 1, 2, 4, &sampling)?;
/// assert_eq!(a, generate(model.as_mut(), 1, 2, 4, &sampling)?); // a seed fixes the samples
/// assert!(a.iter().all(|s| s.len() <= 7 && !s.contains(&0) && !s.contains(&2)));
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
pub fn generate(
    model: &mut dyn Layer,
    start: usize,
    end: usize,
    count: usize,
    sampling: &Sampling,
) -> Result<Vec<Vec<usize>>> {
    generate_from(model, &[start], end, count, sampling)
}

/// [`generate`] from a prompt: each of the `count` sequences starts with
/// the ids of `prompt` (the start id first, as the model was trained to
/// read) and grows from there; each returned sequence is what was drawn
/// after the prompt, up to `end` (not included): empty when the prompt
/// fills `sampling.max_len`. Refused when the prompt is empty or longer.
///
/// ```
/// use strata_attention::{Sampling, generate_from, presets};
/// use strata_layers::Registry;
/// use strata_tensor::StrataRng;
/// let mut registry = Registry::with_builtins();
/// strata_normalization::register(&mut registry)?;
/// strata_attention::register(&mut registry)?;
/// let spec = presets::language_model(6, 8, 16, 2, 32, 1, 0.0)?;
/// let mut model = registry.build(&spec, &mut StrataRng::seed_from_u64(0))?;
/// let sampling = Sampling { seed: 3, forbidden: vec![0, 1], ..Sampling::new(8) };
/// let after = generate_from(model.as_mut(), &[1, 4, 5], 2, 4, &sampling)?;
/// assert!(after.iter().all(|s| s.len() <= 5)); // 8 ids at most, 3 of them the prompt's
/// # Ok::<(), strata_layers::LayerError>(())
/// ```
pub fn generate_from(
    model: &mut dyn Layer,
    prompt: &[usize],
    end: usize,
    count: usize,
    sampling: &Sampling,
) -> Result<Vec<Vec<usize>>> {
    if !(sampling.temperature >= 0.0 && sampling.temperature.is_finite()) || sampling.max_len < 1 {
        return Err(LayerError::InvalidConfig {
            layer: "generate".into(),
            reason: format!(
                "the temperature must be finite and >= 0 (got {}) and max_len at least 1 (got {})",
                sampling.temperature, sampling.max_len
            ),
        });
    }
    if prompt.is_empty() || prompt.len() > sampling.max_len {
        let n = prompt.len();
        return Err(invalid(format!("a prompt of {n} ids: from 1 (the start id) to max_len ({})", sampling.max_len)));
    }
    let mut out: Vec<Vec<usize>> = Vec::new();
    out.try_reserve_exact(count).map_err(|_| invalid(format!("{count} sequences: more than memory holds")))?;
    let batch = GENERATE_BATCH.min(count.max(1));
    strata_layers::check_activations(model, &[sampling.max_len], batch, strata_layers::default_activation_budget())?;
    let mut rng = StrataRng::seed_from_u64(sampling.seed);
    let mut probs = Vec::new();
    // Denormals flushed as in training; the caller's thread keeps its mode.
    strata_tensor::par::denormal::scoped(|| {
        while out.len() < count {
            let n = (count - out.len()).min(GENERATE_BATCH);
            let ids = grow(model, (prompt, end), n, sampling, &mut rng, &mut probs)?;
            let drawn = |s: Vec<usize>| s.into_iter().skip(prompt.len()).take_while(|&i| i != end).collect();
            out.extend(ids.into_iter().map(drawn));
        }
        Ok(out)
    })
}

/// The most sequences [`generate`] grows side by side.
pub const GENERATE_BATCH: usize = 256;

fn invalid(reason: String) -> LayerError {
    LayerError::InvalidConfig { layer: "generate".into(), reason }
}

/// `n` sequences grown side by side from `prompt` until each has drawn `end`
/// or all reach `max_len` ids (with the prompt, and the ends drawn).
fn grow(
    model: &mut dyn Layer,
    (prompt, end): (&[usize], usize),
    n: usize,
    sampling: &Sampling,
    rng: &mut StrataRng,
    probs: &mut Vec<f64>,
) -> Result<Vec<Vec<usize>>> {
    let mut ids = vec![prompt.to_vec(); n];
    let mut done = vec![false; n];
    while ids.first().is_some_and(|s| s.len() < sampling.max_len) && done.iter().any(|d| !d) {
        let len = ids[0].len();
        let data = ids.iter().flat_map(|s| s.iter().map(|&i| i as f32)).collect();
        let logits = model.forward(&Tensor::from_vec(&[n, len], data)?, Mode::Eval)?;
        let vocab = logits.shape().last().copied().unwrap_or(0);
        if len == prompt.len() && (0..vocab).all(|i| sampling.forbidden.contains(&i)) {
            return Err(invalid(format!("every one of the {vocab} ids is forbidden: none can be drawn")));
        }
        for (b, seq) in ids.iter_mut().enumerate() {
            let last = &logits.data()[(b * len + len - 1) * vocab..(b * len + len) * vocab];
            let next = if done[b] { end } else { draw(last, sampling, probs, rng) };
            done[b] |= next == end;
            seq.push(next);
        }
    }
    Ok(ids)
}

/// One id from the softmax of `logits / temperature` (the largest at 0).
fn draw(logits: &[f32], sampling: &Sampling, probs: &mut Vec<f64>, rng: &mut StrataRng) -> usize {
    let allowed = |i: usize| !sampling.forbidden.contains(&i);
    if sampling.temperature == 0.0 {
        let mut best = None;
        for (i, &x) in logits.iter().enumerate().filter(|&(i, _)| allowed(i)) {
            if best.is_none_or(|(_, b)| x > b) {
                best = Some((i, x));
            }
        }
        return best.map_or(0, |(i, _)| i);
    }
    let t = f64::from(sampling.temperature);
    let m = logits
        .iter()
        .enumerate()
        .filter(|&(i, _)| allowed(i))
        .map(|(_, &x)| f64::from(x))
        .fold(f64::NEG_INFINITY, f64::max);
    probs.clear();
    probs
        .extend(logits.iter().enumerate().map(|(i, &x)| if allowed(i) { ((f64::from(x) - m) / t).exp() } else { 0.0 }));
    let total: f64 = probs.iter().sum();
    let mut u = f64::from(rng.next_f32()) * total;
    for (i, &p) in probs.iter().enumerate() {
        if u < p {
            return i;
        }
        u -= p;
    }
    probs.iter().rposition(|&p| p > 0.0).unwrap_or(0)
}
