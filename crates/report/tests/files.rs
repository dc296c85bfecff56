//! A report folder: valid PNG images of the stated sizes, an SVG, a
//! `history.csv` with one row per epoch, and the text of `report.md` for a
//! seeded run as a snapshot (the speed line, which varies, left out).

use crate::common::{head, mlp, mnist, rows, run};
use std::path::Path;
use strata_activation::ActivationKind;
use strata_layers::Layer;
use strata_loss::LossKind;
use strata_report::{Confusion, Diagnosis, FILES, Finding, Report, Severity, TestFigures, Verdict, plot};
use strata_training::evaluate;

/// Width and height of a PNG file, decoded by the `png` crate.
fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).expect("written")));
    let mut reader = decoder.read_info().expect("a valid PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("valid PNG data");
    (info.width, info.height)
}

fn report_of_a_seeded_run() -> Report {
    let (train, test) = mnist();
    let (part, val) = (head(&train, 1000), rows(&train, 3600, 4000));
    let mut model = mlp(&[784, 64, 10], ActivationKind::Relu, 0.0, 0);
    let r = run(model.as_mut(), &part, &val, ("adam", 1e-3), (4, 64), None);
    let m = evaluate(model.as_mut(), &test, &LossKind::CrossEntropy).expect("evaluates");
    let predicted = model.predict(test.features()).expect("predicts").argmax_rows().expect("rows");
    let classes = (0..10).map(|c| c.to_string()).collect();
    let confusion = Confusion::new(classes, &test.labels().expect("labels"), &predicted).expect("confusion");
    Report {
        title: "MNIST 5k, 784-64-10 MLP".into(),
        model_summary: "dense_1 (dense) [None, 64] 50240\nrelu_1 (relu)\ndense_2 (dense) [None, 10] 650".into(),
        hyperparameters: vec![("optimizer".into(), "adam".into()), ("seed".into(), "0".into())],
        history: r.history,
        observations: Some(r.observations),
        diagnosis: r.diagnosis,
        test: Some(TestFigures { n_samples: m.n_samples, loss: m.loss, accuracy: m.accuracy, extra: vec![] }),
        confusion: Some(confusion),
        samples_per_second: Some(12345.0),
    }
}

#[test]
fn a_report_folder_holds_valid_images_and_every_figure() {
    let report = report_of_a_seeded_run();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-files");
    let _ = std::fs::remove_dir_all(&dir);
    let written = report.write(&dir).expect("written");
    assert_eq!(written.len(), FILES.len());
    assert_eq!(png_size(&dir.join("curves.png")), plot::FIGURE_SIZE);
    assert_eq!(png_size(&dir.join("gradients.png")), plot::FIGURE_SIZE);
    // 10 classes: 200 + 60 per class = 800 pixels square.
    assert_eq!(png_size(&dir.join("confusion.png")), (800, 800));
    let svg = std::fs::read_to_string(dir.join("curves.svg")).expect("svg");
    assert!(svg.starts_with("<svg") && svg.contains("Loss per epoch") && svg.contains("validation loss"));
    let mut csv = csv::Reader::from_path(dir.join("history.csv")).expect("csv");
    let header = csv.headers().expect("header").clone();
    assert_eq!(header.iter().take(4).collect::<Vec<_>>(), ["epoch", "batches", "train_loss", "train_accuracy"]);
    assert!(
        header.iter().any(|h| h == "grad_norm:dense_1.weight")
            && header.iter().any(|h| h == "update_ratio:dense_2.bias")
    );
    let records: Vec<csv::StringRecord> = csv.records().collect::<Result<_, _>>().expect("rows");
    assert_eq!(records.len(), 4);
    assert!(records.iter().all(|r| r.iter().all(|cell| !cell.is_empty())), "every figure present");
    let text = std::fs::read_to_string(dir.join("confusion.txt")).expect("text");
    assert!(text.contains("precision  recall     f1  support"));
}

#[test]
fn the_report_text_of_a_seeded_run() {
    let report = report_of_a_seeded_run();
    let text: String =
        report.markdown().lines().filter(|l| !l.starts_with("Speed:")).map(|l| format!("{l}\n")).collect();
    insta::assert_snapshot!("report_md", text);
}

#[test]
fn a_finding_in_report_md_reads_as_sentences() {
    let finding = Finding {
        verdict: Verdict::VanishingGradients,
        severity: Severity::Warning,
        evidence: "the gradient of the first layer's weights is small".into(),
        suggestion: "residual connections".into(),
    };
    let report = Report { diagnosis: Diagnosis { findings: vec![finding] }, ..Report::default() };
    let md = report.markdown();
    assert!(
        md.contains("- **Warning: vanishing gradients.** The gradient of the first layer's weights is small. *Try:* Residual connections.\n"),
        "{md}"
    );
}

/// A write that fails half-way (here a folder stands where `curves.png` goes)
/// removes the files the call had written: no `report.md` that shows missing
/// figures, no partial folder. The error names the file once.
#[test]
fn a_report_whose_write_fails_leaves_none_of_its_files() {
    let report = report_of_a_seeded_run();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-blocked");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("curves.png")).expect("a folder in the way");
    let err = report.write(&dir).expect_err("a folder cannot be replaced by a file");
    let message = err.to_string();
    assert!(matches!(err, strata_report::ReportError::Write { .. }), "{message}");
    assert_eq!(message.matches("curves.png").count(), 1, "{message}");
    let left: Vec<_> = std::fs::read_dir(&dir).expect("dir").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(left, ["curves.png"], "only the folder that was in the way is left");
}
