//! The sequence presets from the command line: the language model beats
//! its bigram baseline, generation is fixed by its seed, and attention maps
//! are written for both kinds of model.

use crate::{data, strata, suggested_lr, temp_dir, text, val_losses};

/// `validation: X nats per character; add-one bigram baseline Y (...)`.
fn nats(log: &str) -> (f64, f64) {
    let line = log.lines().find(|l| l.starts_with("validation: ")).unwrap_or_else(|| panic!("{log}"));
    let model = line["validation: ".len()..].split(' ').next().unwrap().parse().unwrap();
    let bigram = line.split("baseline ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    (model, bigram)
}

/// PNG width and height, from the IHDR chunk (bytes 16-23).
fn png_size(path: &std::path::Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn one_epoch_of_the_language_model_beats_the_bigram_baseline_on_the_surnames() {
    let out = strata(&["train", "--preset", "charlm", "--epochs", "1", "--seed", "0", "-q"]);
    assert!(out.status.success(), "{}", text(&out));
    let (model, bigram) = nats(&text(&out));
    // 2.567: the add-one bigram baseline of the issue (the last 10% of the
    // surnames, each end counted), computed independently there.
    assert!((bigram - 2.567).abs() < 5e-4, "bigram baseline {bigram}");
    // Measured 2.304 after one epoch (seed 0, Adam 2e-3); the baseline is 0.26 above.
    assert!(model < bigram - 0.1, "one epoch reached {model} nats per character, the bigram baseline {bigram}");
}

#[test]
fn lr_find_suggests_a_rate_the_language_model_beats_its_bigram_baseline_with() {
    let names = data("names/first_names.txt");
    let o = strata(&["lr-find", "--preset", "charlm", "--data", &names]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    let lr = suggested_lr(&out);
    // Seed 0 suggested 1.1e-3 when this was written (an AMD EPYC Zen 5); the preset's own rate is 2e-3.
    assert!((1e-4..1e-2).contains(&lr), "{out}");
    let lr = lr.to_string();
    let args = ["train", "--preset", "charlm", "--data", &names, "--epochs", "2", "--lr", &lr, "-q"];
    let o = strata(&args);
    assert!(o.status.success(), "{}", text(&o));
    let (model, bigram) = nats(&text(&o));
    assert!(model < bigram, "two epochs at the suggested {lr} reached {model}, the bigram baseline {bigram}");
}

#[test]
fn generation_is_fixed_by_its_seed_and_attention_maps_follow_the_input() {
    let dir = temp_dir("lm");
    let model = dir.join("lm.strata").display().to_string();
    let names = data("names/first_names.txt");
    let out = strata(&["train", "--preset", "charlm", "--data", &names, "--epochs", "2", "--out", &model, "-q"]);
    assert!(out.status.success(), "{}", text(&out));
    let (validation, _) = nats(&text(&out));
    // `evaluate` on the items train held out (the last 10%, as train splits
    // them) gives train's validation figure: the same loss over the same characters.
    let items: Vec<String> =
        std::fs::read_to_string(&names).unwrap().lines().filter(|l| !l.trim().is_empty()).map(String::from).collect();
    let n_val = (items.len() as f64 * 0.1).round() as usize;
    let held_out = dir.join("held-out.txt");
    std::fs::write(&held_out, items[items.len() - n_val..].join("\n")).unwrap();
    let out = strata(&["evaluate", "--model", &model, "--data", &held_out.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    let log = text(&out);
    assert!(log.starts_with(&format!("items: {n_val}\nloss: ")), "{log}");
    let loss: f64 = log.split("loss: ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!((loss - validation).abs() <= 2e-4, "evaluate {loss}, train's validation {validation}");
    let generate = |seed: &str, temperature: &str| {
        let out =
            strata(&["generate", "--model", &model, "--count", "20", "--seed", seed, "--temperature", temperature]);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let a = generate("3", "1");
    assert_eq!(a, generate("3", "1"));
    assert_ne!(a, generate("4", "1"));
    assert_eq!(a.lines().count(), 20);
    // The first names are lower-case a-z (data/README.md), and no name is
    // longer than the longest one (the model's input length).
    let longest = std::fs::read_to_string(&names).unwrap().lines().map(str::len).max().unwrap();
    assert!(a.lines().all(|l| l.len() <= longest && l.chars().all(|c| c.is_ascii_lowercase())), "{a}");
    // Temperature 0: every sample is the most likely name.
    let greedy = generate("3", "0");
    assert!(greedy.lines().all(|l| l == greedy.lines().next().unwrap()), "{greedy}");
    // A prompt starts every item; what follows it is drawn.
    let prompted = |prompt: &str| strata(&["generate", "--model", &model, "--count", "20", "--prompt", prompt]);
    let out = prompted("ma");
    assert!(out.status.success(), "{}", text(&out));
    let items = String::from_utf8(out.stdout).unwrap();
    assert!(items.lines().all(|l| l.starts_with("ma") && l.len() <= longest), "{items}");
    assert!(items.lines().any(|l| l != items.lines().next().unwrap()), "20 draws after 'ma' alike: {items}");
    for (prompt, expected) in [
        ("Ma", "error: --prompt: character 1 ('M') is not in the model's vocabulary\n".to_string()),
        (
            &"a".repeat(longest),
            format!(
                "error: --prompt: {longest} characters leave no room to draw; the model takes a prompt of at most {}\n",
                longest - 1
            ),
        ),
    ] {
        let out = prompted(prompt);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert_eq!(text(&out), expected);
    }

    let png = dir.join("map.png");
    let png_s = png.display().to_string();
    let out = strata(&[
        "attention-map",
        "--model",
        &model,
        "--text",
        "maria",
        "--layer",
        "2",
        "--head",
        "3",
        "--out",
        &png_s,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(png_size(&png), (6 * 16, 6 * 16), "the start token and 5 letters, 16 pixels each");

    // Metadata that does not fit the model (its checksum made good again by
    // saving) is refused by key, before a character is drawn.
    let edited = |name: &str, key: &str, value: &str| {
        let mut saved = strata::io::SavedModel::load(&model).unwrap();
        saved.metadata.insert(key.into(), value.into());
        let path = dir.join(name);
        saved.save(&path).unwrap();
        path.display().to_string()
    };
    let short = edited("short.strata", "strata.charlm.vocab", "ab");
    let zero = edited("zero.strata", "strata.charlm.max_len", "0");
    let long = edited("long.strata", "strata.charlm.max_len", "1000");
    for (file, args, expected) in [
        (
            &short,
            vec!["generate", "--model", &short],
            "model metadata 'strata.charlm.vocab' is invalid: 4 characters, but the model scores",
        ),
        (
            &zero,
            vec!["attention-map", "--model", &zero, "--text", "ab", "--out", &png_s],
            "model metadata 'strata.charlm.max_len' is invalid: 0: a model reads at least one character and its end",
        ),
        (
            &long,
            vec!["generate", "--model", &long],
            "model metadata 'strata.charlm.max_len' is invalid: 1000: the network refuses inputs that long: ",
        ),
    ] {
        let out = strata(&args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).starts_with(&format!("error: {file}: {expected}")), "{}", text(&out));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_language_model_stops_early_with_patience_and_keeps_its_best_epoch() {
    // Adam at 0.05, constant: the validation loss rose at epoch 3 on an AMD
    // EPYC Zen 3 (2.4567, 2.3772, 2.4052), at epoch 6 on a Zen 5 (2.4813 ...
    // 2.3357, 2.3365) and at epoch 4 in the portable kernels; the test reads
    // the epochs it prints rather than those figures.
    let names = data("names/first_names.txt");
    let args = ["train", "--preset", "charlm", "--data", &names, "--epochs", "12", "--patience", "1"];
    let out = strata(&[&args[..], &["--lr", "0.05", "--schedule", "constant", "--seed", "0"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    let log = text(&out);
    let val = val_losses(&log);
    // Patience 1: training ends at the first epoch that does not improve on
    // the best before it, and the weights of the best epoch are restored.
    let worse = (1..val.len()).find(|&e| val[e] >= val[..e].iter().copied().fold(f64::INFINITY, f64::min));
    assert_eq!(worse, Some(val.len() - 1), "epochs ran past the first one that did not improve: {val:?}\n{log}");
    assert!(val.len() < 12, "no epoch failed to improve, so nothing stopped early: {val:?}");
    let best = (0..val.len()).min_by(|&a, &b| val[a].total_cmp(&val[b])).unwrap();
    assert!(log.contains(&format!("early stopping: restored the weights of epoch {}\n", best + 1)), "{log}");
    let (held, _) = nats(&log);
    assert_eq!(held, val[best], "the validation line reports the restored epoch's loss");
}

#[test]
fn the_transformer_preset_draws_the_attention_between_image_rows() {
    let dir = temp_dir("rows");
    let model = dir.join("rows.strata").display().to_string();
    let out = strata(&["train", "--preset", "transformer", "--epochs", "1", "--out", &model, "-q"]);
    assert!(out.status.success(), "{}", text(&out));
    let png = dir.join("rows.png");
    let out = strata(&["attention-map", "--model", &model, "--row", "4999", "--out", &png.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("row 4999 of embedded MNIST 5k"), "{}", text(&out));
    assert_eq!(png_size(&png), (28 * 16, 28 * 16));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_transformer_preset_reaches_94_percent_on_mnist_rows_for_seeds_0_to_3() {
    // The bar: PyTorch's nn.TransformerEncoder of this shape and
    // budget reaches 93.1-94.8%. Measured 95.1, 95.1, 95.8, 95.6% (seeds 0-3).
    for seed in ["0", "1", "2", "3"] {
        let out = strata(&["train", "--preset", "transformer", "--seed", seed, "-q"]);
        assert!(out.status.success(), "{}", text(&out));
        let log = text(&out);
        let acc: f32 = log.split("test accuracy: ").nth(1).unwrap().split('%').next().unwrap().parse().unwrap();
        assert!(acc >= 94.0, "seed {seed}: {acc}%");
    }
}
