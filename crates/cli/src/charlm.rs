//! `strata train --preset charlm` and `strata generate`: a character-level
//! language model of a text file of one item a line.

use crate::args::{DataArgs, GenerateArgs, TrainArgs};
use std::error::Error;
use std::path::Path;
use std::time::Instant;
use strata::attention::{Sampling, generate as sample_items, generate_from, presets};
use strata::data::{
    BigramBaseline, CharVocab, Dataset, InMemoryDataset, next_id_dataset, read_lines, read_lines_bytes,
};
use strata::layers::Registry;
use strata::loss::CrossEntropy;
use strata::model::Model;
use strata::optimizer::OptimizerConfig;
use strata::tensor::StrataRng;
use strata::training::{EarlyStopping, FitConfig, Monitor, Progress, Trainer};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The 1990 U.S. Census surnames, one a line (88,799 lines; provenance and
/// licence in `data/README.md`), embedded so that `strata train --preset
/// charlm` works on a fresh clone.
pub const EMBEDDED_SURNAMES: &[u8] = include_bytes!("../../../data/names/surnames.txt.gz");

/// Metadata keys of a language model file: its characters in id order, and
/// the longest input it takes (the start token included).
pub const VOCAB_KEY: &str = "strata.charlm.vocab";
/// See [`VOCAB_KEY`].
pub const MAX_LEN_KEY: &str = "strata.charlm.max_len";

/// The longest item the preset takes, in characters.
pub const MAX_ITEM_CHARS: usize = 255;

/// The most items `strata generate` prints in one run (they are sampled side by side).
pub const MAX_COUNT: usize = 100_000;

/// The preset's shape: d_model, heads, feed-forward width, blocks.
const SHAPE: (usize, usize, usize, usize) = (64, 4, 256, 2);

/// A text file's items, encoded and split.
struct Corpus {
    name: String,
    vocab: CharVocab,
    train: Vec<Vec<usize>>,
    val: Vec<Vec<usize>>,
    /// Inputs are at most this long: the longest item plus the start token.
    max_len: usize,
    blank: usize,
}

/// Read the items (non-blank lines), check their length, split off the last
/// `val_fraction` of them, and encode both parts with the characters of the
/// whole file.
fn load_corpus(a: &TrainArgs) -> Result<Corpus> {
    text_only(&a.data, "--preset charlm")?;
    let (name, lines) = match &a.data.data {
        Some(path) => (path.display().to_string(), read_lines(path)?),
        None => ("embedded surnames".to_string(), read_lines_bytes(EMBEDDED_SURNAMES, "embedded surnames.txt.gz")?),
    };
    let (mut items, mut blank) = (Vec::with_capacity(lines.len()), 0);
    for (i, line) in lines.into_iter().enumerate() {
        let n = line.chars().count();
        if n > MAX_ITEM_CHARS {
            return Err(format!(
                "{name}: line {}: an item of {n} characters; --preset charlm takes items of at most {MAX_ITEM_CHARS}",
                i + 1
            )
            .into());
        }
        if line.trim().is_empty() {
            blank += 1;
        } else {
            items.push(line);
        }
    }
    let fraction = a.val_fraction.unwrap_or(0.1);
    if !(0.0..1.0).contains(&fraction) {
        return Err(format!("--val-fraction must lie in [0, 1), got {fraction}").into());
    }
    if fraction == 0.0 {
        return Err("--val-fraction 0: --preset charlm validates on held-out items (its figures are set against \
                    a bigram baseline's on them); give a fraction above 0"
            .into());
    }
    // At least one item held out for a positive fraction, as the splits of rows do.
    let n_val = ((items.len() as f64 * f64::from(fraction)).round() as usize).max(1);
    if items.len() < 2 || n_val >= items.len() {
        return Err(format!(
            "{name}: {} non-blank lines with --val-fraction {fraction}: a language model needs at least one item to \
             train on and one to validate with",
            items.len()
        )
        .into());
    }
    let vocab = CharVocab::from_lines(&items)?;
    let n_train = items.len() - n_val;
    let encoded = vocab.encode_lines(&items, &name, 1)?;
    let max_len = items.iter().map(|s| s.chars().count()).max().unwrap_or(0) + 1;
    let mut train = encoded;
    let val = train.split_off(n_train);
    Ok(Corpus { name, vocab, train, val, max_len, blank })
}

/// Refuse the flags of a table (`--header`, `--labels`, ...) where a text
/// file of one item a line is read: they would be ignored in silence.
fn text_only(d: &DataArgs, reader: &str) -> Result<()> {
    let table = DataArgs::default();
    let given = [
        ("--labels", d.labels.is_some()),
        ("--label-column", d.label_column != table.label_column),
        ("--header", d.header),
        ("--delimiter", d.delimiter.is_some()),
        ("--missing", d.missing != table.missing),
        ("--max-line-bytes", d.max_line_bytes != table.max_line_bytes),
        ("--max-data-bytes", d.max_data_bytes != table.max_data_bytes),
        ("--max-class-index", d.max_class_index != table.max_class_index),
    ];
    match given.iter().find(|(_, given)| *given) {
        Some((flag, _)) => {
            Err(format!("{flag} is for tables of rows; {reader} reads a text file of one item a line").into())
        }
        None => Ok(()),
    }
}

/// `strata evaluate` of a language model on a text file of one item a line:
/// the mean cross-entropy of its characters in nats (each item's end counted,
/// as `train --preset charlm` reports its validation part), its perplexity,
/// and how often the most likely next character is the right one.
pub fn evaluate(model: &mut Model, path: &Path, data: &DataArgs) -> Result<()> {
    let (vocab, max_len) = language_model_of(model, path)?;
    text_only(data, "evaluating a language model")?;
    let file =
        data.data.as_deref().ok_or("a language model is evaluated on a text file of one item a line: --data FILE")?;
    let name = file.display().to_string();
    let mut items = Vec::new();
    for (i, line) in read_lines(file)?.iter().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let n = line.chars().count();
        if n + 1 > max_len {
            let most = max_len - 1;
            return Err(format!(
                "{name}: line {}: an item of {n} characters; the language model reads items of at most {most}",
                i + 1
            )
            .into());
        }
        items.extend(vocab.encode_lines(std::slice::from_ref(line), &name, i + 1)?);
    }
    if items.is_empty() {
        return Err(format!("{name}: no item to evaluate (the file has no non-blank line)").into());
    }
    let ds = next_id_dataset(&items, vocab.len())?;
    let loss = CrossEntropy::new().with_ignore_index(CharVocab::PAD);
    let metrics = strata::training::evaluate(model.network_mut(), &ds, &loss)?;
    outln!("items: {}", items.len());
    outln!("loss: {:.4} nats per character (each item's end counted)", metrics.loss);
    outln!("perplexity: {:.4}", metrics.loss.exp());
    if let Some(accuracy) = metrics.accuracy {
        outln!("next-character accuracy: {:.2}%", 100.0 * accuracy);
    }
    Ok(())
}

fn fit_config(a: &TrainArgs, n_train: usize) -> Result<FitConfig> {
    let epochs = a.epochs.unwrap_or(crate::args::CHARLM_EPOCHS);
    let n_batches = n_train.div_ceil(a.batch_size.max(1));
    Ok(FitConfig {
        epochs,
        batch_size: a.batch_size,
        seed: a.seed,
        schedule: crate::run::schedule_for(a.schedule.as_deref().unwrap_or("cosine"), epochs, n_batches)?,
        progress: if a.quiet { Progress::Silent } else { Progress::Auto },
        ..FitConfig::default()
    })
}

/// The language model `train` builds for `--data` (within the parameter
/// budget), its corpus, and the training and validation parts as next ids.
struct Prepared {
    corpus: Corpus,
    model: Model,
    train: InMemoryDataset,
    val: InMemoryDataset,
}

fn prepare(a: &TrainArgs, registry: &Registry) -> Result<Prepared> {
    let corpus = load_corpus(a)?;
    let (d_model, heads, d_ff, blocks) = SHAPE;
    let dropout = a.dropout.unwrap_or(0.1);
    let spec = presets::language_model(corpus.vocab.len(), corpus.max_len, d_model, heads, d_ff, blocks, dropout)?;
    crate::checks::parameter_budget(a, &spec)?;
    let mut root = StrataRng::seed_from_u64(a.seed);
    let network = registry.build(&spec, &mut root.fork())?;
    let model = Model::new(network)?
        .with_providers_from(registry)
        .with_metadata(VOCAB_KEY, corpus.vocab.chars())
        .with_metadata(MAX_LEN_KEY, corpus.max_len.to_string());
    let (train, val) =
        (next_id_dataset(&corpus.train, corpus.vocab.len())?, next_id_dataset(&corpus.val, corpus.vocab.len())?);
    Ok(Prepared { corpus, model, train, val })
}

/// The language model's loss: the cross-entropy of the next ids, padding left out.
pub(crate) fn loss() -> CrossEntropy {
    CrossEntropy::new().with_ignore_index(CharVocab::PAD)
}

/// What `strata lr-find` sweeps for `--preset charlm`: the model `train`
/// would build and its training part.
pub(crate) fn sweep_subject(a: &TrainArgs, registry: &Registry) -> Result<(Model, InMemoryDataset)> {
    let Prepared { model, train, .. } = prepare(a, registry)?;
    Ok((model, train))
}

/// What `strata doctor` checks for `--preset charlm`: the model `train`
/// would build, its training and validation parts.
pub(crate) fn doctor_subject(a: &TrainArgs, registry: &Registry) -> Result<(Model, InMemoryDataset, InMemoryDataset)> {
    let Prepared { model, train, val, .. } = prepare(a, registry)?;
    Ok((model, train, val))
}

pub fn train(a: TrainArgs, registry: &Registry) -> Result<()> {
    let started = Instant::now();
    let Prepared { corpus, mut model, train, val } = prepare(&a, registry)?;
    let bigram = BigramBaseline::fit(&corpus.train, corpus.vocab.len()).nats_per_token(&corpus.val);
    let mut trainer = Trainer::new(
        fit_config(&a, train.len())?,
        loss(),
        OptimizerConfig::from_name(&a.optimizer, a.lr.unwrap_or(1e-3))?,
    )?;
    if a.patience > 0 {
        let stopping = EarlyStopping::new(a.patience).with_monitor(Monitor::ValLoss).restore_best_weights(true);
        trainer.add_callback(stopping)?;
    }
    let observations = crate::insight::observe(&mut trainer, &val)?;
    if !a.quiet {
        print_setup(&a, &corpus, &mut model, bigram)?;
    }
    let fit_started = Instant::now();
    let fitted = trainer.fit(model.network_mut(), &train, Some(&val as &dyn Dataset));
    let fit_seconds = fit_started.elapsed().as_secs_f64();
    let after = crate::insight::After {
        args: &a,
        name: &corpus.name,
        n_train: train.len(),
        history: &trainer.state().history,
        observations: &observations,
        baseline: unigram_nats(&corpus.train, corpus.vocab.len()),
    };
    // A language model holds out no test part: its report's results are the validation epochs.
    crate::insight::diagnose_and_report(after, &mut model, Box::new(|_| Ok((None, None))))?;
    let history = fitted?;
    // The validation loss of the weights the model holds (the last epoch's,
    // or the best one's that early stopping restored): the mean
    // cross-entropy of the validation targets, padding left out.
    let nats = history.held().and_then(|r| r.validation.as_ref()).map_or(f32::NAN, |v| v.loss);
    crate::run::say_restored(&history)?;
    outln!("validation: {nats:.4} nats per character; add-one bigram baseline {bigram:.4} (each item's end counted)");
    if !a.quiet {
        print_samples(&mut model, &corpus.vocab, corpus.max_len, a.seed)?;
        outln!("trained in {fit_seconds:.1} s; total {:.1} s", started.elapsed().as_secs_f64());
    }
    if let Some(out) = &a.out {
        model.save(out)?;
        outln!("saved the model to {}", out.display());
    }
    Ok(())
}

/// The loss of predicting without the inputs, the baseline of the diagnosis:
/// the entropy of the training part's next-id frequencies (each item's end
/// counted, as in the model's loss), in nats per character.
fn unigram_nats(items: &[Vec<usize>], vocab: usize) -> Option<f32> {
    let mut counts = vec![0usize; vocab];
    for &id in items.iter().flat_map(|s| s.iter().skip(1)) {
        if let Some(c) = counts.get_mut(id) {
            *c += 1;
        }
    }
    strata::report::class_prior_loss(&counts)
}

fn print_setup(a: &TrainArgs, corpus: &Corpus, model: &mut Model, bigram: f64) -> Result<()> {
    let chars = |items: &[Vec<usize>]| items.iter().map(|s| s.len() - 1).sum::<usize>();
    outln!(
        "data: {} ({} items{}, {} characters + padding and boundary = {} ids, the longest {} characters): train {} \
         items, validation the last {} ({} characters to predict, each end included)",
        corpus.name,
        corpus.train.len() + corpus.val.len(),
        if corpus.blank > 0 { format!(", {} blank lines skipped", corpus.blank) } else { String::new() },
        corpus.vocab.len() - 2,
        corpus.vocab.len(),
        corpus.max_len - 1,
        corpus.train.len(),
        corpus.val.len(),
        chars(&corpus.val),
    );
    outln!("add-one bigram baseline on the validation part: {bigram:.4} nats per character");
    out!("{}", model.summary());
    let line = crate::run::optimizer_line(a, "cosine", crate::args::CHARLM_EPOCHS);
    outln!("{line}; val_loss is nats per character");
    Ok(())
}

fn print_samples(model: &mut Model, vocab: &CharVocab, max_len: usize, seed: u64) -> Result<()> {
    let sampling = Sampling { seed, forbidden: vec![CharVocab::PAD], ..Sampling::new(max_len) };
    let items = sample_items(model.network_mut(), CharVocab::BOUNDARY, CharVocab::BOUNDARY, 8, &sampling)?;
    let text: Vec<String> = items.iter().map(|s| vocab.decode(s)).collect();
    outln!("samples: {}", text.join(", "));
    Ok(())
}

/// The vocabulary and input length a language model file records.
fn language_model_of(model: &Model, path: &Path) -> Result<(CharVocab, usize)> {
    let not_lm =
        || format!("{}: not a language model (train one with `strata train --preset charlm --out`)", path.display());
    let chars = model.metadata().get(VOCAB_KEY).ok_or_else(not_lm)?;
    let max_len: usize = model.metadata().get(MAX_LEN_KEY).and_then(|s| s.parse().ok()).ok_or_else(not_lm)?;
    let invalid =
        |key: &str, reason: String| format!("{}: model metadata '{key}' is invalid: {reason}", path.display());
    let vocab = CharVocab::from_chars(chars).map_err(|e| invalid(VOCAB_KEY, e.to_string()))?;
    if let Some(n) = model.n_outputs().filter(|&n| n != vocab.len()) {
        return Err(invalid(VOCAB_KEY, format!("{} characters, but the model scores {n}", vocab.len())).into());
    }
    if max_len < 2 {
        return Err(invalid(MAX_LEN_KEY, format!("{max_len}: a model reads at least one character and its end")).into());
    }
    // The network must take inputs that long (a positional table as long).
    if let Err(e) = model.network().output_shape(&[strata::layers::Dim::Fixed(max_len)]) {
        return Err(invalid(MAX_LEN_KEY, format!("{max_len}: the network refuses inputs that long: {e}")).into());
    }
    Ok((vocab, max_len))
}

pub fn generate(a: GenerateArgs, registry: &Registry) -> Result<()> {
    if !(a.temperature >= 0.0 && a.temperature.is_finite()) {
        return Err(format!("--temperature must be a finite number >= 0, got {}", a.temperature).into());
    }
    if a.count == 0 {
        return Err("--count must be at least 1".into());
    }
    if a.count > MAX_COUNT {
        return Err(format!("--count must be at most {MAX_COUNT}, got {}", a.count).into());
    }
    let mut model = Model::load_with(&a.model, registry)?;
    let (vocab, max_len) = language_model_of(&model, &a.model)?;
    let sampling = Sampling {
        temperature: a.temperature,
        seed: a.seed,
        forbidden: vec![CharVocab::PAD],
        ..Sampling::new(max_len)
    };
    let prompt = a.prompt.as_deref().unwrap_or_default();
    let ids = prompt_ids(&vocab, max_len, prompt)?;
    let items = generate_from(model.network_mut(), &ids, CharVocab::BOUNDARY, a.count, &sampling)?;
    let mut out = String::new();
    for item in items {
        out.push_str(prompt);
        out.push_str(&vocab.decode(&item));
        out.push('\n');
    }
    out!("{out}");
    Ok(())
}

/// `--prompt`: its ids as the model reads them, the start token first,
/// with room left to draw at least one character.
fn prompt_ids(vocab: &CharVocab, max_len: usize, prompt: &str) -> Result<Vec<usize>> {
    let ids = text_ids(vocab, "--prompt", prompt)?;
    if ids.len() + 2 > max_len {
        let most = max_len.saturating_sub(2);
        return Err(format!(
            "--prompt: {} characters leave no room to draw; the model takes a prompt of at most {most}",
            ids.len()
        )
        .into());
    }
    Ok([CharVocab::BOUNDARY].into_iter().chain(ids).collect())
}

/// The ids of `text`, or an error naming `flag` and the first character the
/// vocabulary does not hold.
fn text_ids(vocab: &CharVocab, flag: &str, text: &str) -> Result<Vec<usize>> {
    Ok(vocab.encode(text).map_err(|at| {
        let c = text.chars().nth(at).unwrap_or_default();
        format!("{flag}: character {} ({c:?}) is not in the model's vocabulary", at + 1)
    })?)
}

/// For the attention map: a text's ids as the model reads them (the start
/// token first), and the labels of the map's rows and columns.
pub fn encode_text(model: &Model, path: &Path, text: &str) -> Result<(Vec<usize>, Vec<String>)> {
    let (vocab, max_len) = language_model_of(model, path)?;
    let ids = text_ids(&vocab, "--text", text)?;
    if ids.len() + 1 > max_len {
        return Err(format!("--text: {} characters; the model reads at most {}", ids.len(), max_len - 1).into());
    }
    let mut labels = vec!["<start>".to_string()];
    labels.extend(text.chars().map(String::from));
    Ok(([CharVocab::BOUNDARY].into_iter().chain(ids).collect(), labels))
}

#[cfg(test)]
mod tests {
    use super::unigram_nats;

    #[test]
    fn the_baseline_is_the_entropy_of_the_next_ids() {
        // Targets 2 3 1 and 2 1 (each item's first id is only an input): ids 1 and 2 twice, 3 once.
        // -(2 * 0.4 ln 0.4 + 0.2 ln 0.2) = 1.05492 (by hand).
        let nats = unigram_nats(&[vec![1, 2, 3, 1], vec![1, 2, 1]], 4).expect("targets");
        assert!((nats - 1.05492).abs() < 1e-5, "{nats}");
        assert_eq!(unigram_nats(&[vec![1]], 4), None, "no target");
    }
}
