//! The figures: learning curves, gradient flow, the confusion matrix and the
//! learning-rate sweep, drawn with `plotters` into SVG text or into a pixel
//! buffer that the `png` crate encodes. Text uses the embedded DejaVu Sans
//! Mono (assets/, Bitstream Vera licence), so no system font is needed.

use crate::confusion::Confusion;
use crate::error::{ReportError, Result};
use crate::observe::Observations;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::sync::Once;
use strata_training::History;

/// The embedded font, registered as plotters' `sans-serif` once per process.
const FONT: &[u8] = include_bytes!("../assets/DejaVuSansMono.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The font is valid (embedded, tested): a failure leaves text undrawn, never a panic.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Size of the curve and gradient figures, in pixels.
pub const FIGURE_SIZE: (u32, u32) = (1200, 480);

type DrawResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn plot_error(figure: &str) -> impl FnOnce(Box<dyn std::error::Error>) -> ReportError + '_ {
    move |e| ReportError::Plot { figure: figure.to_string(), message: e.to_string() }
}

/// Draw with `draw` into an RGB buffer and encode it as PNG.
pub fn png(
    figure: &str,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult<()>,
) -> Result<Vec<u8>> {
    register_font();
    let mut rgb = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        draw(&root).map_err(plot_error(figure))?;
        root.present().map_err(|e| plot_error(figure)(Box::new(e)))?;
    }
    strata_io::png_rgb(&rgb, size.0 as usize, size.1 as usize)
        .map_err(|e| ReportError::Plot { figure: figure.to_string(), message: e.to_string() })
}

/// Draw with `draw` into an SVG document.
pub fn svg(
    figure: &str,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult<()>,
) -> Result<String> {
    register_font();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        draw(&root).map_err(plot_error(figure))?;
        root.present().map_err(|e| plot_error(figure)(Box::new(e)))?;
    }
    Ok(text)
}

/// A series: its name, colour and points.
struct Series<'a> {
    name: &'a str,
    color: RGBColor,
    points: Vec<(f32, f32)>,
}

const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VALIDATION: RGBColor = RGBColor(255, 127, 14);
const MARK: RGBColor = RGBColor(44, 160, 44);
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// The epoch whose validation loss is lowest (or the one early stopping
/// restored), from 1.
pub fn best_epoch(history: &History) -> Option<usize> {
    history.best_epoch.or_else(|| {
        let val = history.epochs.iter().filter_map(|r| r.validation.map(|v| (r.epoch, v.loss)));
        val.filter(|(_, l)| l.is_finite()).min_by(|a, b| a.1.total_cmp(&b.1)).map(|(e, _)| e)
    })
}

/// Learning curves: loss (left) and accuracy (right) per epoch, training and
/// validation, the best epoch marked.
pub fn draw_curves<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, history: &History) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(root.dim_in_pixel().0 / 2);
    let points = |f: &dyn Fn(&strata_training::EpochRecord) -> Option<f32>| -> Vec<(f32, f32)> {
        history.epochs.iter().filter_map(|r| f(r).filter(|v| v.is_finite()).map(|v| (r.epoch as f32, v))).collect()
    };
    let best = best_epoch(history);
    let loss = [
        Series { name: "training loss", color: TRAIN, points: points(&|r| Some(r.train_loss)) },
        Series { name: "validation loss", color: VALIDATION, points: points(&|r| r.validation.map(|v| v.loss)) },
    ];
    panel(&left, "Loss per epoch", "loss", &loss, best, false)?;
    let accuracy = [
        Series { name: "training accuracy", color: TRAIN, points: points(&|r| r.train_accuracy) },
        Series {
            name: "validation accuracy",
            color: VALIDATION,
            points: points(&|r| r.validation.and_then(|v| v.accuracy)),
        },
    ];
    if accuracy.iter().all(|s| s.points.is_empty()) {
        let style = ("sans-serif", 18).into_font().color(&BLACK);
        right.draw_text("no accuracy: a regression", &style, (40, 200))?;
        return Ok(());
    }
    panel(&right, "Accuracy per epoch", "accuracy", &accuracy, best, false)
}

/// One chart: `series` over epochs, a vertical mark at `best`, a legend.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    series: &[Series<'_>],
    best: Option<usize>,
    log: bool,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let all = || series.iter().flat_map(|s| s.points.iter().copied());
    let x_max = all().map(|p| p.0).fold(1.0f32, f32::max).max(2.0);
    let (mut lo, mut hi) =
        all().map(|p| p.1).fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let mut builder = ChartBuilder::on(area);
    builder.caption(title, ("sans-serif", 22)).margin(12).x_label_area_size(44).y_label_area_size(70);
    let label_style = ("sans-serif", 15);
    if log {
        let (lo, hi) = (lo.max(1e-12) * 0.5, hi.max(1e-12) * 2.0);
        let mut chart = builder.build_cartesian_2d(1f32..x_max, (lo..hi).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(y_label)
            .label_style(label_style)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .draw()?;
        draw_series(&mut chart, series, best, (lo, hi))?;
    } else {
        let pad = ((hi - lo) * 0.05).max(1e-6);
        let mut chart = builder.build_cartesian_2d(1f32..x_max, (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(y_label)
            .label_style(label_style)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        draw_series(&mut chart, series, best, (lo - pad, hi + pad))?;
    }
    Ok(())
}

fn draw_series<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    series: &[Series<'_>],
    best: Option<usize>,
    (lo, hi): (f32, f32),
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f32>,
    Y: Ranged<ValueType = f32>,
{
    for s in series.iter().filter(|s| !s.points.is_empty()) {
        let color = s.color;
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))?
            .label(s.name)
            .legend(legend_line(color, 2));
    }
    if let Some(best) = best {
        let x = best as f32;
        chart
            .draw_series(LineSeries::new([(x, lo), (x, hi)], MARK.stroke_width(1)))?
            .label(format!("best epoch ({best})"))
            .legend(legend_line(MARK, 1));
    }
    draw_legend(chart, SeriesLabelPosition::UpperRight)
}

/// A legend entry: a short line in the series' colour.
fn legend_line(color: RGBColor, width: u32) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width))
}

/// The legend box, at `position`.
fn draw_legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(position)
        .draw()?;
    Ok(())
}

/// Weights only (the biases follow their layer), at most eight, spread over the model.
fn weight_series(names: &[String]) -> Vec<&String> {
    let weights: Vec<&String> = names.iter().filter(|n| n.ends_with("weight")).collect();
    let step = weights.len().div_ceil(PALETTE.len()).max(1);
    let mut picked: Vec<&String> = weights.iter().step_by(step).copied().collect();
    if let Some(last) = weights.last()
        && picked.last() != Some(last)
    {
        picked.pop();
        picked.push(last);
    }
    picked
}

/// Gradient flow: each weight's gradient norm per epoch (left) and its
/// update-to-weight ratio per epoch (right, with Karpathy's 1e-3 marked), on
/// log scales.
pub fn draw_gradients<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    history: &History,
    observations: Option<&Observations>,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(root.dim_in_pixel().0 / 2);
    let names: Vec<String> =
        history.last().map(|r| r.grad_norms.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();
    let picked = weight_series(&names);
    let per_epoch = |name: &str, values: &mut dyn Iterator<Item = (usize, &Vec<(String, f32)>)>| -> Vec<(f32, f32)> {
        values
            .filter_map(|(epoch, list)| list.iter().find(|(n, _)| n == name).map(|(_, v)| (epoch as f32, *v)))
            .filter(|(_, v)| v.is_finite() && *v > 0.0)
            .collect()
    };
    let norms: Vec<Series<'_>> = picked
        .iter()
        .zip(PALETTE)
        .map(|(name, color)| Series {
            name,
            color,
            points: per_epoch(name, &mut history.epochs.iter().map(|r| (r.epoch, &r.grad_norms))),
        })
        .collect();
    panel(&left, "Gradient norm per epoch", "|gradient|", &norms, None, true)?;
    let first_epoch = history.epochs.first().map_or(1, |r| r.epoch);
    let ratios: Vec<Series<'_>> = match observations {
        Some(o) => picked
            .iter()
            .zip(PALETTE)
            .map(|(name, color)| Series {
                name,
                color,
                points: per_epoch(name, &mut o.update_ratios.iter().enumerate().map(|(i, r)| (first_epoch + i, r))),
            })
            .collect(),
        None => Vec::new(),
    };
    let mut with_guide = ratios;
    let x_max = history.epochs.last().map_or(2, |r| r.epoch).max(2) as f32;
    with_guide.push(Series {
        name: "1e-3 (rule of thumb)",
        color: RGBColor(0, 0, 0),
        points: vec![(1.0, 1e-3), (x_max, 1e-3)],
    });
    panel(&right, "Update / weight per epoch (first step)", "|update| / |weight|", &with_guide, None, true)
}

/// The confusion matrix as a heat map (row-normalised colour, counts written).
pub fn draw_confusion<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, confusion: &Confusion) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let n = confusion.classes.len().max(1);
    // Segments 0..=n-1: one per class (plotters' segmented ranges include their end).
    let mut chart = ChartBuilder::on(root)
        .caption("Confusion matrix (test set)", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d((0..n - 1).into_segmented(), (0..n - 1).into_segmented())?;
    let names = confusion.classes.clone();
    let x_label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names.get(*i).cloned().unwrap_or_default(),
        SegmentValue::Last => String::new(),
    };
    let y_label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names.get(n - 1 - *i).cloned().unwrap_or_default(),
        SegmentValue::Last => String::new(),
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("predicted")
        .y_desc("true")
        .x_labels(n)
        .y_labels(n)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .label_style(("sans-serif", 14))
        .draw()?;
    // Row t is drawn at y = n - 1 - t, so the first class is on top.
    let cells = confusion.counts.iter().enumerate().flat_map(|(t, row)| {
        let total: usize = row.iter().sum::<usize>().max(1);
        row.iter().enumerate().map(move |(p, &c)| (t, p, c, c as f64 / total as f64))
    });
    let cells: Vec<(usize, usize, usize, f64)> = cells.collect();
    chart.draw_series(cells.iter().map(|&(t, p, _, share)| {
        let shade = (255.0 * (1.0 - share)) as u8;
        let y = n - 1 - t;
        Rectangle::new(
            [
                (SegmentValue::Exact(p), SegmentValue::Exact(y)),
                (SegmentValue::Exact(p + 1), SegmentValue::Exact(y + 1)),
            ],
            RGBColor(shade, shade, 255).filled(),
        )
    }))?;
    chart.draw_series(cells.iter().map(|&(t, p, count, share)| {
        let color = if share > 0.5 { WHITE } else { BLACK };
        let y = n - 1 - t;
        Text::new(
            count.to_string(),
            (SegmentValue::CenterOf(p), SegmentValue::CenterOf(y)),
            ("sans-serif", 14).into_font().color(&color),
        )
    }))?;
    Ok(())
}

/// The learning-rate sweep: smoothed loss against the rate (log scale), the
/// suggestion marked.
pub fn draw_lr_sweep<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rates: &[f32],
    losses: &[f32],
    suggestion: Option<f32>,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let points: Vec<(f32, f32)> =
        rates.iter().copied().zip(losses.iter().copied()).filter(|(r, l)| r.is_finite() && l.is_finite()).collect();
    let (lo_x, hi_x) = points.iter().fold((f32::INFINITY, 0f32), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (lo_y, hi_y) = points.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if points.is_empty() {
        return Err("the sweep has no finite point".into());
    }
    let pad = ((hi_y - lo_y) * 0.05).max(1e-6);
    let mut chart = ChartBuilder::on(root)
        .caption("Learning-rate range test", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d((lo_x..hi_x.max(lo_x * 10.0)).log_scale(), (lo_y - pad)..(hi_y + pad))?;
    chart
        .configure_mesh()
        .x_desc("learning rate")
        .y_desc("loss (smoothed)")
        .x_label_formatter(&|v| format!("{v:.0e}"))
        .label_style(("sans-serif", 15))
        .draw()?;
    chart.draw_series(LineSeries::new(points, TRAIN.stroke_width(2)))?.label("loss").legend(legend_line(TRAIN, 2));
    if let Some(s) = suggestion {
        chart
            .draw_series(LineSeries::new([(s, lo_y - pad), (s, hi_y + pad)], MARK.stroke_width(2)))?
            .label(format!("suggested {s:.1e}"))
            .legend(legend_line(MARK, 2));
    }
    draw_legend(&mut chart, SeriesLabelPosition::MiddleRight)
}
