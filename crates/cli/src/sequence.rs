//! `strata attention-map`: what a transformer attends to, for one input.

use crate::args::{AttentionMapArgs, DataArgs};
use std::error::Error;
use strata::attention::{attention_layers, heatmap_png};
use strata::data::LabelColumn;
use strata::layers::Registry;
use strata::model::Model;
use strata::tensor::Tensor;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The input of the map: a text's ids for a language model, a data row
/// otherwise.
fn input_of(a: &AttentionMapArgs, model: &Model) -> Result<(Tensor, String)> {
    if model.metadata().contains_key(crate::charlm::VOCAB_KEY) {
        if a.data.is_some() || a.row.is_some() {
            let flag = if a.data.is_some() { "--data" } else { "--row" };
            return Err(format!(
                "{}: {flag} is for image models; a language model draws the attention of --text",
                a.model.display()
            )
            .into());
        }
        let text = a.text.as_deref().ok_or("a language model needs --text, the text whose attention to draw")?;
        let (ids, _) = crate::charlm::encode_text(model, &a.model, text)?;
        let n = ids.len();
        return Ok((Tensor::from_vec(&[1, n], ids.into_iter().map(|i| i as f32).collect())?, format!("{text:?}")));
    }
    if a.text.is_some() {
        return Err(format!(
            "{}: --text is for language models; give an image with --data and --row",
            a.model.display()
        )
        .into());
    }
    let data = DataArgs { data: a.data.clone(), ..DataArgs::default() };
    let loaded = crate::dataset::load(&data, LabelColumn::Last)?;
    let n = loaded.dataset.len();
    let row = a.row.unwrap_or(0);
    if row >= n {
        return Err(format!("--row {row} is past the last row of {} ({n} rows)", loaded.name).into());
    }
    let x = loaded.dataset.features().slice_rows(row, row + 1)?;
    Ok((x, format!("row {row} of {}", loaded.name)))
}

/// The map of one head, or the mean over the heads: `[s, s]`.
fn select_head(weights: &Tensor, head: usize) -> Result<Vec<f32>> {
    let (h, s) = match weights.shape() {
        [_, h, s, _] => (*h, *s),
        other => return Err(format!("no attention weights (shape {other:?})").into()),
    };
    if head > h {
        return Err(format!("--head {head}: the layer has {h} heads (0 draws their mean)").into());
    }
    let plane = |j: usize| &weights.data()[j * s * s..(j + 1) * s * s];
    Ok(match head {
        0 => (0..s * s).map(|i| (0..h).map(|j| plane(j)[i]).sum::<f32>() / h as f32).collect(),
        j => plane(j - 1).to_vec(),
    })
}

pub fn attention_map(a: AttentionMapArgs, registry: &Registry) -> Result<()> {
    crate::checks::output("--out", &a.out, &[("--model", Some(&a.model)), ("--data", a.data.as_deref())])?;
    let mut model = Model::load_with(&a.model, registry)?;
    if attention_layers(model.network()).is_empty() {
        return Err(format!("{}: the model has no attention layer", a.model.display()).into());
    }
    let (x, what) = input_of(&a, &model)?;
    // Errors name the input (`row 0 of FILE`), not the model's method.
    model.output(&x).map_err(|e| format!("{what}: {}", e.to_string().trim_start_matches("output: ")))?;
    let layers = attention_layers(model.network());
    let (name, layer) = layers.get(a.layer.wrapping_sub(1)).ok_or_else(|| {
        format!("--layer {}: the model has {} attention layers, numbered from 1", a.layer, layers.len())
    })?;
    let weights = layer.attention_weights();
    let map = select_head(weights, a.head)?;
    let s = weights.shape()[2];
    heatmap_png(&map, s, s, &a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let head = if a.head == 0 { "the mean of its heads".to_string() } else { format!("head {}", a.head) };
    outln!(
        "wrote the attention of {name} ({head}) for {what} to {}: {s} x {s} tokens, row i how much token i takes \
         from each token, white 0 to dark blue 1",
        a.out.display()
    );
    Ok(())
}
