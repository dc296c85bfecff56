//! Snapshots of what a user of the command sees (`docs/dev/snapshots.md`):
//! every `--help` text, one error message per class of bad input, and short
//! seeded training runs of every preset (their summaries, per-epoch figures
//! and test accuracy, as printed: losses to 4 decimals, accuracies to 2).
//! Times and memory are taken out; the figures are the same on every SIMD
//! path and thread count, which the last test checks.

use crate::{data, strata, temp_dir};
use std::path::Path;
use std::process::{Command, Output};

/// What the command printed (stdout, then stderr) and its exit code, with
/// what depends on the machine taken out: times, memory, the temporary
/// folder and the workspace's path.
fn shown(out: &Output, tmp: &Path) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let data_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data").display().to_string();
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.starts_with("trained ") {
            continue; // "trained 3 epochs in 0.04 s (...); total 0.11 s, peak memory 35.4 MB"
        }
        let line = match line.strip_prefix("epoch ") {
            // "epoch   1/3  loss ...  lr 1.00e-3  0.01 s": the seconds go.
            Some(_) => line.rsplit_once("  ").map_or(line, |(head, _)| head),
            None => line,
        };
        lines.push(line.replace(&tmp.display().to_string(), "<tmp>").replace(&data_dir, "<data>"));
    }
    format!("exit {}\n{}\n", out.status.code().unwrap_or(-1), lines.join("\n"))
}

#[test]
fn help_texts() {
    let tmp = temp_dir("snap-help");
    for command in ["", "train", "evaluate", "predict", "summary", "export-filters", "generate", "attention-map"] {
        let args: Vec<&str> = command.split_whitespace().chain(["--help"]).collect();
        let name = if command.is_empty() { "help".to_string() } else { format!("help_{}", command.replace('-', "_")) };
        insta::assert_snapshot!(name, shown(&strata(&args), &tmp));
    }
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn error_messages_one_per_class_of_bad_input() {
    let tmp = temp_dir("snap-errors");
    let file = |name: &str, content: &[u8]| {
        let path = tmp.join(name);
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    };
    let ragged = file("ragged.csv", b"1,2,0\n3,4,1\n5,0\n");
    let not_a_number = file("word.csv", b"1,2,0\n3,x,1\n");
    let truncated = file("truncated.strata", b"STRATA\0M\x01\x00");
    let not_a_model = file("text.strata", b"hello, this is not a model file at all, but it is long enough");
    let bad_json = file("bad.json", b"{\"kind\": \"sequential\", \"config\": {");
    let unknown_kind = file(
        "unknown.json",
        br#"{"kind": "sequential", "config": {"input_shape": [4], "layers": [{"kind": "transformer_block"}]}}"#,
    );
    let misfit = file(
        "misfit.json",
        br#"{"kind": "sequential", "config": {"input_shape": [4], "layers": [
            {"kind": "dense", "config": {"n_inputs": 4, "n_outputs": 8}},
            {"kind": "dense", "config": {"n_inputs": 6, "n_outputs": 3}}]}}"#,
    );
    let mlp = tmp.join("mlp.strata").display().to_string();
    assert!(
        strata(&["train", "--data", &data("iris.csv"), "--layers", "4,4,3", "--epochs", "1", "--out", &mlp, "-q"])
            .status
            .success()
    );
    let mut corrupt = std::fs::read(&mlp).unwrap();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let corrupt = file("corrupt.strata", &corrupt);
    let missing = tmp.join("missing.csv").display().to_string();
    let latin1 = file("latin1.txt", b"anna\nbj\xf6rn\n");
    let long_line = file("long.txt", format!("ab\n{}\n", "x".repeat(300)).as_bytes());
    let one_name = file("one.txt", b"ada\n");
    let three_features = file("three.csv", b"1,2,3,0\n4,5,6,1\n7,8,9,0\n3,2,1,1\n");
    let lm = tmp.join("lm.strata").display().to_string();
    assert!(
        strata(&[
            "train",
            "--preset",
            "charlm",
            "--data",
            &data("names/first_names.txt"),
            "--epochs",
            "1",
            "--out",
            &lm,
            "-q"
        ])
        .status
        .success()
    );
    let iris = data("iris.csv");
    let png = tmp.join("f.png").display().to_string();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("a ragged CSV row", vec!["train", "--data", &ragged, "--epochs", "1"]),
        ("a cell that is not a number", vec!["train", "--data", &not_a_number, "--epochs", "1"]),
        ("a data file that does not exist", vec!["train", "--data", &missing]),
        ("layers that do not fit the data", vec!["train", "--data", &iris, "--layers", "5,8,3", "--epochs", "1"]),
        ("an unknown activation", vec!["train", "--data", &iris, "--activation", "swish"]),
        ("an unknown optimizer", vec!["train", "--data", &iris, "--optimizer", "lbfgs"]),
        ("a negative learning rate", vec!["train", "--data", &iris, "--lr", "-1"]),
        ("an unknown normalisation", vec!["train", "--data", &iris, "--normalize", "zscore"]),
        ("an unknown schedule", vec!["train", "--data", &iris, "--schedule", "linear"]),
        ("a bad label column", vec!["train", "--data", &iris, "--label-column", "seventh"]),
        ("training without labels", vec!["train", "--data", &iris, "--label-column", "none"]),
        ("zero epochs", vec!["train", "--data", &iris, "--epochs", "0"]),
        ("a batch size of zero", vec!["train", "--data", &iris, "--batch-size", "0"]),
        ("labels without images", vec!["train", "--labels", &iris]),
        ("a model spec that is not JSON", vec!["train", "--data", &iris, "--model", &bad_json]),
        ("a layer kind no crate registered", vec!["train", "--data", &iris, "--model", &unknown_kind]),
        ("layers of a spec that do not fit", vec!["train", "--data", &iris, "--model", &misfit]),
        ("a model file that does not exist", vec!["evaluate", "--model", &missing]),
        ("a truncated model file", vec!["evaluate", "--model", &truncated]),
        ("a file that is not a model", vec!["predict", "--model", &not_a_model]),
        ("a corrupt model file", vec!["summary", "--model", &corrupt]),
        ("filters of a model without convolution", vec!["export-filters", "--model", &mlp, "--out", &png]),
        ("an unknown option", vec!["train", "--epoks", "3"]),
        ("text that is not UTF-8", vec!["train", "--preset", "charlm", "--data", &latin1]),
        ("an item too long for the language model", vec!["train", "--preset", "charlm", "--data", &long_line]),
        ("too few items to validate with", vec!["train", "--preset", "charlm", "--data", &one_name]),
        (
            "a transformer of samples that are not square",
            vec!["train", "--preset", "transformer", "--data", &three_features],
        ),
        ("generating from a model that is not a language model", vec!["generate", "--model", &mlp]),
        ("a negative temperature", vec!["generate", "--model", &lm, "--temperature", "-1"]),
        ("no samples", vec!["generate", "--model", &lm, "--count", "0"]),
        (
            "the doctor of the language model with a flag of train",
            vec!["doctor", "--preset", "charlm", "--epochs", "2"],
        ),
        ("too many samples", vec!["generate", "--model", &lm, "--count", "100001"]),
        ("an attention map of a model without attention", vec!["attention-map", "--model", &mlp, "--out", &png]),
        (
            "an attention map of text the model cannot read",
            vec!["attention-map", "--model", &lm, "--text", "Zoë", "--out", &png],
        ),
        (
            "an attention layer that does not exist",
            vec!["attention-map", "--model", &lm, "--text", "ada", "--layer", "3", "--out", &png],
        ),
        (
            "an attention head that does not exist",
            vec!["attention-map", "--model", &lm, "--text", "ada", "--head", "5", "--out", &png],
        ),
        ("a table's flag with the language model preset", vec!["train", "--preset", "charlm", "--header"]),
        ("a flag the preset does not read", vec!["train", "--preset", "cnn", "--layers", "784,10"]),
        ("a spec with the dropout flag", vec!["train", "--model", &misfit, "--dropout", "0.2"]),
        ("checkpoints to keep without checkpoints", vec!["train", "--keep-last", "5"]),
        ("predict with a language model", vec!["predict", "--model", &lm, "--data", &iris]),
        ("evaluating a language model on a table", vec!["evaluate", "--model", &lm, "--data", &iris]),
        (
            "an image file for the attention map of a language model",
            vec!["attention-map", "--model", &lm, "--text", "ada", "--data", &iris, "--out", &png],
        ),
    ];
    let mut text = String::new();
    for (class, args) in cases {
        let out = strata(&args);
        assert!(!out.status.success(), "{class}: succeeded");
        text.push_str(&format!("## {class}\n$ strata {}\n{}\n", args.join(" "), shown(&out, &tmp)));
    }
    let text = text
        .replace(&iris, "<data>/iris.csv")
        .replace(&data("names/first_names.txt"), "<data>/names/first_names.txt")
        .replace(&tmp.display().to_string(), "<tmp>");
    insta::assert_snapshot!("error_messages", text);
    std::fs::remove_dir_all(&tmp).ok();
}

/// Short seeded runs of the presets: on the embedded MNIST sample, and the
/// language model on the first names (`data/names/first_names.txt`, given by
/// its path relative to this crate: tests run in the crate's folder).
const RUNS: [(&str, &[&str]); 4] = [
    ("run_mlp", &["train", "--epochs", "3", "--seed", "1"]),
    ("run_cnn", &["train", "--preset", "cnn", "--epochs", "2", "--seed", "1"]),
    ("run_transformer", &["train", "--preset", "transformer", "--epochs", "1", "--seed", "1"]),
    (
        "run_charlm",
        &["train", "--preset", "charlm", "--data", "../../data/names/first_names.txt", "--epochs", "2", "--seed", "1"],
    ),
];

/// `strata ARGS` with `STRATA_SIMD` and `RAYON_NUM_THREADS` set.
fn strata_on(simd: &str, threads: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .env("STRATA_SIMD", simd)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap()
}

#[test]
fn training_runs_of_every_preset_and_the_example_spec() {
    let tmp = temp_dir("snap-runs");
    for (name, args) in RUNS {
        insta::assert_snapshot!(name, shown(&strata(args), &tmp));
    }
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/mlp-batchnorm.json");
    let out = strata(&["summary", "--model", &spec.display().to_string()]);
    insta::assert_snapshot!("summary_mlp_batchnorm", shown(&out, &tmp));
    std::fs::remove_dir_all(&tmp).ok();
}

/// The snapshotted runs print the same on 1 and 2 threads and on every SIMD
/// path this build can take (`STRATA_SIMD`; the products then run in the
/// portable kernel, whose last bits differ from the `gemm` crate's, which
/// the printed precision absorbs, but for a figure that sits on a rounding
/// boundary: it may differ by one unit in its last digit, nothing more).
#[test]
fn the_training_runs_print_the_same_on_every_simd_path_and_thread_count() {
    let tmp = temp_dir("snap-paths");
    for (name, args) in RUNS {
        let reference = shown(&strata_on("auto", "2", args), &tmp);
        // The language model's run prints sampled names: a draw whose
        // uniform number falls within the last bits of a boundary between
        // two characters follows those bits, so only the thread count is
        // varied there (the same kernel: bit-identical training).
        let variants: &[(&str, &str)] = if name == "run_charlm" {
            &[("auto", "1")]
        } else {
            &[("auto", "1"), ("avx512", "2"), ("avx2", "2"), ("baseline", "1")]
        };
        for &(simd, threads) in variants {
            let other = shown(&strata_on(simd, threads, args), &tmp);
            assert!(
                same_up_to_last_digit(&other, &reference),
                "{name} with STRATA_SIMD={simd}, {threads} threads:\n{other}\nagainst\n{reference}"
            );
        }
    }
    std::fs::remove_dir_all(&tmp).ok();
}

/// `a` and `b` hold the same words, but for numbers written alike whose
/// digits, read as one integer, differ by one (`0.7546` and `0.7547`,
/// `0.7549` and `0.7550`); a count or an accuracy that moved by a sample
/// (`761/1000`, `76.10%` against `76.00%`) is not such a pair.
fn same_up_to_last_digit(a: &str, b: &str) -> bool {
    let (wa, wb): (Vec<&str>, Vec<&str>) = (a.split_whitespace().collect(), b.split_whitespace().collect());
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>().parse::<u64>().ok();
    let form = |s: &str| s.chars().map(|c| if c.is_ascii_digit() { '0' } else { c }).collect::<String>();
    let one_apart = |x: &str, y: &str| {
        form(x) == form(y) && matches!((digits(x), digits(y)), (Some(p), Some(q)) if p.abs_diff(q) == 1)
    };
    wa.len() == wb.len() && wa.iter().zip(&wb).all(|(x, y)| x == y || one_apart(x, y))
}

#[test]
fn numbers_may_differ_by_one_unit_in_their_last_digit_only() {
    assert!(same_up_to_last_digit("test loss 0.7546", "test loss 0.7547"));
    assert!(same_up_to_last_digit("loss 0.7549,", "loss 0.7550,"));
    assert!(!same_up_to_last_digit("accuracy 76.10%", "accuracy 76.00%"));
    assert!(!same_up_to_last_digit("(761/1000)", "(762/1000)"), "a sample is not a rounding");
    assert!(!same_up_to_last_digit("loss 0.7546", "loss 0.75460"));
    assert!(!same_up_to_last_digit("a b", "a b c"));
}
