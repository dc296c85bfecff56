//! Checks made before any work starts, so that bad input gets an error that
//! names the flag, file, line or layer, and never a nonsense result.

use crate::args::TrainArgs;
use std::path::Path;
use strata::data::InMemoryDataset;
use strata::tensor::Tensor;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The numeric flags of `train`: fractions in `[0, 1)`, a dropout rate in
/// `[0, 1)`, a positive finite learning rate, a batch of at least one.
pub fn flags(a: &TrainArgs) -> Result<()> {
    let fraction = |flag: &str, what: &str, v: Option<f32>| match v {
        Some(v) if !(0.0..1.0).contains(&v) => Err(format!("{flag} must lie in [0, 1) ({what}), got {v}")),
        _ => Ok(()),
    };
    fraction("--val-fraction", "a fraction of the rows", a.val_fraction)?;
    fraction("--test-fraction", "a fraction of the rows", a.test_fraction)?;
    fraction("--dropout", "the share of units dropped", a.dropout)?;
    if let (Some(v), Some(t)) = (a.val_fraction, a.test_fraction)
        && v + t >= 1.0
    {
        return Err(format!("--val-fraction {v} and --test-fraction {t} leave no row for training").into());
    }
    if let Some(lr) = a.lr
        && !(lr.is_finite() && lr > 0.0)
    {
        return Err(format!("--lr must be a positive number, got {lr}").into());
    }
    if a.batch_size == 0 {
        return Err("--batch-size must be at least 1".into());
    }
    if let Some(layers) = &a.layers
        && let Some(i) = layers.iter().position(|&w| w == 0)
    {
        let widths: Vec<String> = layers.iter().map(usize::to_string).collect();
        return Err(format!("--layers {}: width {} is 0; every layer needs at least 1", widths.join(","), i + 1).into());
    }
    if a.epochs == Some(0) {
        return Err("--epochs must be at least 1".into());
    }
    if a.keep_last == 0 {
        return Err("--keep-last must be at least 1 (the newest checkpoint is always kept)".into());
    }
    if let (Some(data), Some(labels)) = (&a.data.data, &a.data.labels)
        && data.canonicalize().ok().is_some_and(|d| labels.canonicalize().ok() == Some(d))
    {
        return Err(format!(
            "--data and --labels name one file ({}): give the images and their labels",
            data.display()
        )
        .into());
    }
    if a.task == crate::args::TaskArg::Classification && a.loss != "mse" {
        return Err(format!(
            "--loss {}: a classifier trains with cross-entropy; --loss chooses a regression's (--task regression)",
            a.loss
        )
        .into());
    }
    if let Some(dir) = &a.report
        && dir.exists()
        && !dir.is_dir()
    {
        return Err(format!("--report {}: is a file, not a folder", dir.display()).into());
    }
    Ok(())
}

/// The model `spec` holds at most `--max-parameters` (default: what a
/// quarter of the machine's memory holds for training), checked before it
/// is built.
pub fn parameter_budget(a: &TrainArgs, spec: &strata::layers::LayerSpec) -> std::result::Result<(), String> {
    let budget = a.max_parameters.unwrap_or_else(strata::model::default_budget);
    strata::model::check_budget(spec, budget).map_err(|e| format!("{e} (--max-parameters raises the budget)"))
}

/// The flags of `train` that the chosen architecture would not read, refused
/// instead of ignored: `--preset cnn --layers 784,10` trained the fixed CNN.
/// Called on the command line as given, before the preset's defaults fill
/// it in; a resumed run is not checked again (its flags were accepted when
/// it started).
pub fn architecture_flags(a: &TrainArgs) -> Result<()> {
    use crate::args::{ACTIVATION, KEEP_LAST, NORMALIZE, Preset, TaskArg};
    if a.keep_last != KEEP_LAST && a.checkpoint_every.is_none() && a.checkpoint_dir.is_none() {
        return Err(format!(
            "--keep-last {} keeps periodic checkpoints: give it with --checkpoint-every or --checkpoint-dir",
            a.keep_last
        )
        .into());
    }
    let given = [
        ("--layers", a.layers.is_some(), "it sets the widths of an MLP (--preset mlp, --task regression)"),
        (
            "--activation",
            a.activation != ACTIVATION,
            "it sets the hidden activation of an MLP (--preset mlp, --task regression)",
        ),
        (
            "--dropout",
            a.dropout.is_some(),
            "it sets the dropout of --preset mlp, transformer, charlm and --task regression",
        ),
        ("--test-fraction", a.test_fraction.is_some(), "a language model holds out no test part, only --val-fraction"),
        ("--normalize", a.normalize != NORMALIZE, "it scales numeric features; a language model reads characters"),
    ];
    let everything: &[&str] = &["--layers", "--activation", "--dropout", "--test-fraction", "--normalize"];
    let tables: &[&str] = &["--test-fraction", "--normalize"];
    let (name, reads): (&str, &[&str]) = match (&a.model, a.preset) {
        _ if a.task == TaskArg::Regression => ("--task regression", everything),
        (None, Preset::Mlp) => ("--preset mlp", everything),
        (Some(_), _) => ("a --model spec, which holds its own layers, activations and dropout", tables),
        (None, Preset::Cnn) => ("--preset cnn", tables),
        (None, Preset::Transformer) => ("--preset transformer", &["--dropout", "--test-fraction", "--normalize"]),
        (None, Preset::Charlm) => ("--preset charlm", &["--dropout"]),
    };
    match given.iter().find(|(flag, on, _)| *on && !reads.contains(flag)) {
        Some((flag, _, why)) => Err(format!("{flag} is not read by {name}: {why}").into()),
        None => Ok(()),
    }
}

/// `--out`: a file in a folder that exists and can be written to, checked
/// before training starts rather than after it has finished.
pub fn out_path(flag: &str, out: &Path) -> Result<()> {
    if out.is_dir() {
        return Err(format!("{flag} {}: is a folder; give a file name", out.display()).into());
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.exists() && !dir.is_dir() {
        return Err(format!("{flag} {}: {} is a file, not a folder", out.display(), dir.display()).into());
    }
    if !dir.is_dir() {
        return Err(format!("{flag} {}: the folder {} does not exist", out.display(), dir.display()).into());
    }
    let probe = dir.join(format!(".strata-write-check.{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!("{flag} {}: cannot write in {}: {e}", out.display(), dir.display()).into()),
    }
}

/// [`out_path`], and `out` is none of the files the command reads (given by
/// their flags): writing it would replace what was read, as `--out` onto
/// `--data` would.
pub fn output(flag: &str, out: &Path, inputs: &[(&str, Option<&Path>)]) -> Result<()> {
    out_path(flag, out)?;
    // A file that is not there yet is none of the inputs.
    let Ok(target) = out.canonicalize() else { return Ok(()) };
    for (input_flag, path) in inputs {
        if path.and_then(|p| p.canonicalize().ok()).as_ref() == Some(&target) {
            return Err(format!(
                "{flag} {}: is the file that {input_flag} reads; writing it would replace it: give another name",
                out.display()
            )
            .into());
        }
    }
    Ok(())
}

/// Where `p` is or would be: the canonical path, or for a file not there
/// yet its folder's canonical path and its name (`None` when neither is).
pub fn resolved(p: &Path) -> Option<std::path::PathBuf> {
    p.canonicalize().ok().or_else(|| {
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Some(parent.canonicalize().ok()?.join(p.file_name()?))
    })
}

/// `--report DIR`: none of the files it writes is a file the command reads
/// or `--out` (a data file named `history.csv` in DIR was replaced by the
/// epochs' table), and `--out` is not DIR itself (the model could not be
/// written after training into the folder the report made).
pub fn report_dir(dir: &Path, out: Option<&Path>, inputs: &[(&str, Option<&Path>)]) -> Result<()> {
    if let Some(out) = out
        && let Some(resolved_out) = resolved(out)
        && Some(resolved_out) == resolved(dir)
    {
        return Err(format!("--out {}: is the --report folder; give the model a file name", out.display()).into());
    }
    let out = ("--out", out);
    for (flag, path) in inputs.iter().chain([&out]) {
        let Some(path) = path.and_then(resolved) else { continue };
        if let Some(file) = strata::report::FILES.iter().find(|f| resolved(&dir.join(f)).as_ref() == Some(&path)) {
            return Err(format!(
                "--report {}: would write {file} over the file that {flag} names; give another folder",
                dir.display()
            )
            .into());
        }
    }
    Ok(())
}

/// Every feature value is finite: the first that is not is named by row
/// and column (1-based), with the file.
pub fn finite_features(ds: &InMemoryDataset, file: &str) -> Result<()> {
    let w = ds.features().row_len().max(1);
    match ds.features().data().iter().position(|x| !x.is_finite()) {
        Some(i) => Err(format!(
            "{file}: sample {}, feature {} is {}: features must be finite numbers",
            i / w + 1,
            i % w + 1,
            ds.features().data()[i]
        )
        .into()),
        None => Ok(()),
    }
}

/// Every part's features are still finite once scaled with the training
/// part's statistics: a held-out value far outside the training part's
/// range can overflow, and would make every figure computed from it inf.
pub fn finite_after_scaling(file: &str, normalize: &str, parts: &[(&str, Option<&InMemoryDataset>)]) -> Result<()> {
    for (what, part) in parts {
        if let Some(part) = part {
            finite_features(part, &format!("{file} ({what} part, scaled by --normalize {normalize})")).map_err(
                |e| format!("{e}: its value lies too far outside the training part's range to scale in 32 bits"),
            )?;
        }
    }
    Ok(())
}

/// A model's outputs are finite for every row: else the rows are named,
/// instead of a class or a figure computed from NaN.
pub fn finite_outputs(output: &Tensor, operation: &str) -> Result<()> {
    let w = output.row_len().max(1);
    let bad: Vec<usize> = output
        .data()
        .chunks(w)
        .enumerate()
        .filter(|(_, r)| r.iter().any(|x| !x.is_finite()))
        .map(|(i, _)| i + 1)
        .collect();
    match bad.first() {
        Some(first) => Err(format!(
            "{operation}: the model's outputs are not finite numbers for {} of {} rows (first: row {first}); \
             its weights or these inputs are broken",
            bad.len(),
            output.n_rows()
        )
        .into()),
        None => Ok(()),
    }
}

/// The vocabulary of the network's first layer when that layer reads token
/// ids (an embedding: `vocab_size` ids, integers from 0), found by
/// descending into the first child of each composite.
pub fn token_vocab(network: &dyn strata::layers::Layer) -> Option<usize> {
    let mut layer = network;
    while let Some((_, first)) = layer.children().first().copied() {
        layer = first;
    }
    if layer.kind() != "embedding" {
        return None;
    }
    layer.spec().ok()?.config.get("vocab_size")?.as_u64().and_then(|v| usize::try_from(v).ok())
}

/// Every feature of `ds` is a token id of the first layer's vocabulary,
/// named by its sample and feature when not: the embedding's own error
/// named a position in a batch, and no file.
pub fn token_ids(network: &dyn strata::layers::Layer, ds: &InMemoryDataset, file: &str) -> Result<()> {
    let Some(vocab) = token_vocab(network) else { return Ok(()) };
    let w = ds.features().row_len().max(1);
    match ds.features().data().iter().position(|&x| strata::layers::token_id(x, vocab).is_none()) {
        Some(i) => Err(format!(
            "{file}: sample {}, feature {} is {}: the model's first layer (an embedding) reads token ids, integers \
             from 0 to {}",
            i / w + 1,
            i % w + 1,
            ds.features().data()[i],
            vocab.saturating_sub(1)
        )
        .into()),
        None => Ok(()),
    }
}
