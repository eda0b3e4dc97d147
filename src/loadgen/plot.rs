//! The latency report's plots, as SVG files: latency by percentile of several runs against the
//! machine's floor ([`percentile_plot`]), latency against offered load ([`load_curve`]), and
//! where each run's time goes, stage by stage ([`stage_bars`]).
//!
//! Drawn with `plotters`, SVG backend only and without its font libraries: an SVG file carries
//! its text as text and the viewer lays it out, so plotters' built-in width estimate is all the
//! layout needs. What is written here is what plotters lacks: HdrHistogram's percentile axis
//! (a log scale of 1/(1−p), ticked 90%, 99%, 99.9%, …, as the usual `.hgrm` plotters draw it),
//! the checks that turn bad input into an `Err` rather than a panic inside the drawing, and the
//! one colour per stage name across bars.

use super::report::micros;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Width of every plot, px.
const WIDTH_PX: u32 = 1000;
/// Height of every plot, px.
const HEIGHT_PX: u32 = 600;

/// The smallest latency drawn, µs: a log axis has no 0, so 0 µs (a value below the clock's
/// resolution) is drawn here, at the histograms' 1 ns.
const LATENCY_US_MIN: f64 = 0.001;

/// The series colours in turn (Tableau 10: distinct on white, and for most colour blindness).
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The colour of the `position`th series or segment name.
fn colour(position: usize) -> RGBColor {
    COLOURS[position % COLOURS.len()]
}

/// One latency curve: (percentile in [0, 100), latency µs) points, as read from a `.hgrm`
/// file ([`super::hgrm::read_points`]; its last row, at 100%, is accepted and left out: a
/// 1/(1−p) axis has no place for it).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend's name for it.
    pub label: String,
    /// (percentile, µs), percentiles rising.
    pub points: Vec<(f64, f64)>,
}

/// One stacked bar: its label (e.g. "async 1,000/s") and its segments (name, µs), bottom to
/// top.
#[derive(Clone, Debug, PartialEq)]
pub struct StackedBar {
    /// The bar's name under the x axis.
    pub label: String,
    /// (stage name, µs), bottom to top.
    pub segments: Vec<(String, f64)>,
}

/// An f64 axis (linear or log) ticked exactly at `ticks`, no more, no fewer: plotters' own
/// `with_key_points` leaves an f64 axis without a label formatter (0.3), and its log axis ticks
/// only the powers of ten.
struct TickedAxis<Axis> {
    axis: Axis,
    ticks: Vec<f64>,
}

impl<Axis: Ranged<ValueType = f64>> Ranged for TickedAxis<Axis> {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.axis.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // The ticks are the bold points; no light grid lines between them.
        if hint.weight().allow_light_points() { Vec::new() } else { self.ticks.clone() }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.axis.range()
    }
}

/// A linear axis over `range`, ticked at `ticks`.
fn linear_axis(range: std::ops::Range<f64>, ticks: Vec<f64>) -> TickedAxis<RangedCoordf64> {
    TickedAxis { axis: range.into(), ticks }
}

/// A log axis over `low_us..high_us`, ticked at 1, 2 and 5 of each decade, or at the powers of
/// ten alone when it spans more than four decades (the labels would crowd), or at every digit
/// when it is too short for two 1-2-5 ticks.
fn log_axis_us(low_us: f64, high_us: f64) -> TickedAxis<LogCoord<f64>> {
    let (first, last) = (low_us.log10().floor() as i32, high_us.log10().ceil() as i32);
    let ticks_at = |steps: &[f64]| -> Vec<f64> {
        (first..=last)
            .flat_map(|exponent| steps.iter().map(move |step| step * 10f64.powi(exponent)))
            .filter(|tick| (low_us..=high_us).contains(tick))
            .collect()
    };
    let mut ticks = ticks_at(if last - first > 4 { &[1.0] } else { &[1.0, 2.0, 5.0] });
    if ticks.len() < 2 {
        ticks = ticks_at(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    }
    TickedAxis { axis: (low_us..high_us).log_scale().into(), ticks }
}

/// A point's x: the percentile as "nines", log10(1/(1−p)): 0 at 0%, 1 at 90%, 2 at 99%, …
fn nines(percentile: f64) -> f64 {
    -(1.0 - percentile / 100.0).log10()
}

/// The tick label at `nines` (a whole number): 0%, 90%, 99%, 99.9%, …
fn percentile_label(nines: f64) -> String {
    match nines.round() as usize {
        0 => "0%".to_string(),
        1 => "90%".to_string(),
        count => format!("99{}{}%", if count > 2 { "." } else { "" }, "9".repeat(count - 2)),
    }
}

/// A latency axis label, µs: whole numbers from 1 µs up, else the decimals of its decade
/// (0.5, 0.02, 0.001).
fn axis_us(us: f64) -> String {
    if us >= 1.0 { format!("{us:.0}") } else { format!("{us:.*}", (-us.log10().floor()) as usize) }
}

/// A latency to draw: clamped to [`LATENCY_US_MIN`], or an error if it is not a number.
fn drawable_us(what: &str, us: f64) -> Result<f64, String> {
    if !us.is_finite() {
        return Err(format!("{what}: latency {us} µs is not a finite number"));
    }
    Ok(us.max(LATENCY_US_MIN))
}

/// A curve ready to draw: its label and (nines, µs) points.
struct Curve<'a> {
    label: &'a str,
    points: Vec<(f64, f64)>,
}

/// The curves of `series` in the plot's coordinates. Points at 100% (a `.hgrm` file's last
/// row: 1/(1−p) is infinite) have no place on the axis and are left out.
fn curves(series: &[Series]) -> Result<Vec<Curve<'_>>, String> {
    let mut curves = Vec::with_capacity(series.len());
    for one in series {
        let mut points = Vec::with_capacity(one.points.len());
        for &(percentile, us) in &one.points {
            if !(0.0..=100.0).contains(&percentile) {
                return Err(format!(
                    "series `{}`: percentile {percentile} is not in 0..=100",
                    one.label
                ));
            }
            if percentile < 100.0 {
                points.push((nines(percentile), drawable_us(&one.label, us)?));
            }
        }
        curves.push(Curve { label: &one.label, points });
    }
    if curves.iter().all(|curve| curve.points.is_empty()) {
        return Err("percentile plot: no series has a point below 100% to draw".to_string());
    }
    Ok(curves)
}

/// A log axis's span around `values_us`: a quarter beyond the extremes each way.
fn log_span_us(values_us: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low_us, high_us) =
        values_us.fold((f64::INFINITY, 0.0f64), |(low, high), us| (low.min(us), high.max(us)));
    ((low_us / 1.25).max(LATENCY_US_MIN / 1.25), high_us * 1.25)
}

/// Percentile plot: x is the percentile on HdrHistogram's log scale of 1/(1−p), ticked 0%,
/// 90%, 99%, … as far as the data goes; y is latency, µs, on a log scale spanning the data and
/// the floor lines. One coloured line per series, with a legend; each floor line horizontal,
/// dashed and labelled, e.g. `("floor: loopback + 1 verification", 190.0)`.
pub fn percentile_plot(
    path: &Path,
    title: &str,
    series: &[Series],
    floor_lines: &[(String, f64)],
) -> Result<(), String> {
    let curves = curves(series)?;
    let mut floors = Vec::with_capacity(floor_lines.len());
    for (label, us) in floor_lines {
        floors.push((label.as_str(), drawable_us(label, *us)?));
    }
    let points = curves.iter().flat_map(|curve| curve.points.iter());
    // Less a hair, so that 99.99% (4 nines, give or take rounding) ends the axis at 99.99%.
    let nines_max = points.clone().map(|(nines, _)| *nines).fold(0.0, f64::max) - 1e-9;
    let nines_max = nines_max.ceil().max(1.0);
    let span_us = log_span_us(points.map(|(_, us)| *us).chain(floors.iter().map(|(_, us)| *us)));
    let root = SVGBackend::new(path, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    draw_percentiles(&root, title, &curves, &floors, nines_max, span_us)
        .and_then(|()| root.present())
        .map_err(|error| format!("{}: {error}", path.display()))
}

type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Draws [`percentile_plot`]'s chart on `root`.
fn draw_percentiles(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    curves: &[Curve<'_>],
    floors: &[(&str, f64)],
    nines_max: f64,
    (low_us, high_us): (f64, f64),
) -> DrawResult {
    root.fill(&WHITE)?;
    let ticks: Vec<f64> = (0..=nines_max as u32).map(f64::from).collect();
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        // Room for the last tick's label (99.999%), centred on the axis's end.
        .margin_right(40)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(linear_axis(0.0..nines_max, ticks), log_axis_us(low_us, high_us))?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (µs)")
        .x_label_formatter(&|nines| percentile_label(*nines))
        .y_label_formatter(&|us| axis_us(*us))
        .draw()?;
    // Labels at the right end, above their line: the curves rise to the right, so the floors
    // lie below them there.
    draw_curves_and_floors(&mut chart, curves, false, floors, (0.0, nines_max), nines_max * 0.99)
}

/// Draws `curves` (one colour each, with dots at their points if `dots`) and the legend, and
/// each floor as a dashed horizontal line across `x_span`, labelled at `label_x`.
fn draw_curves_and_floors<'chart, 'file: 'chart, X, Y>(
    chart: &mut ChartContext<'chart, SVGBackend<'file>, Cartesian2d<X, Y>>,
    curves: &[Curve<'_>],
    dots: bool,
    floors: &[(&str, f64)],
    (x_low, x_high): (f64, f64),
    label_x: f64,
) -> DrawResult
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (position, curve) in curves.iter().enumerate() {
        let style = colour(position).stroke_width(2);
        let points = curve.points.iter().copied();
        chart
            .draw_series(LineSeries::new(points.clone(), style))?
            .label(curve.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        if dots {
            chart.draw_series(points.map(|point| Circle::new(point, 3, style.filled())))?;
        }
    }
    let label_style =
        ("sans-serif", 14).into_font().color(&BLACK).pos(Pos::new(HPos::Right, VPos::Bottom));
    for (label, us) in floors {
        let style = BLACK.stroke_width(1);
        chart.draw_series(DashedLineSeries::new([(x_low, *us), (x_high, *us)], 8, 5, style))?;
        let text = Text::new(label.to_string(), (label_x, *us), label_style.clone());
        chart.draw_series(std::iter::once(text))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
}

/// Latency against offered load: x is the offered rate (requests/s, log scale), y latency (µs,
/// log scale); one line per series, its points `(offered/s, µs)` (e.g. the ack p50 of each run
/// of one layout and durability mode), and the floor lines as in [`percentile_plot`].
pub fn load_curve(
    path: &Path,
    title: &str,
    series: &[Series],
    floor_lines: &[(String, f64)],
) -> Result<(), String> {
    let mut curves = Vec::with_capacity(series.len());
    for one in series {
        let mut points = Vec::with_capacity(one.points.len());
        for &(rate, us) in &one.points {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(format!("series `{}`: offered rate {rate} is not positive", one.label));
            }
            points.push((rate, drawable_us(&one.label, us)?));
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        curves.push(Curve { label: &one.label, points });
    }
    if curves.iter().all(|curve| curve.points.is_empty()) {
        return Err("load curve: no series has a point to draw".to_string());
    }
    let mut floors = Vec::with_capacity(floor_lines.len());
    for (label, us) in floor_lines {
        floors.push((label.as_str(), drawable_us(label, *us)?));
    }
    let points = curves.iter().flat_map(|curve| curve.points.iter());
    let rates = log_span_us(points.clone().map(|(rate, _)| *rate));
    let span_us = log_span_us(points.map(|(_, us)| *us).chain(floors.iter().map(|(_, us)| *us)));
    let root = SVGBackend::new(path, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    draw_load_curve(&root, title, &curves, &floors, rates, span_us)
        .and_then(|()| root.present())
        .map_err(|error| format!("{}: {error}", path.display()))
}

/// Draws [`load_curve`]'s chart on `root`.
fn draw_load_curve(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    curves: &[Curve<'_>],
    floors: &[(&str, f64)],
    (low_rate, high_rate): (f64, f64),
    (low_us, high_us): (f64, f64),
) -> DrawResult {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .margin_right(40)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(log_axis_us(low_rate, high_rate), log_axis_us(low_us, high_us))?;
    chart
        .configure_mesh()
        .x_desc("offered load (requests/s)")
        .y_desc("latency (µs)")
        .x_label_formatter(&|rate| axis_us(*rate))
        .y_label_formatter(&|us| axis_us(*us))
        .draw()?;
    let span = (low_rate, high_rate);
    draw_curves_and_floors(&mut chart, curves, true, floors, span, high_rate / 1.02)
}

/// The distinct segment names of `bars`, in order of first appearance: a name's position is
/// its colour in every bar.
fn segment_names(bars: &[StackedBar]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in bars.iter().flat_map(|bar| bar.segments.iter()) {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    names
}

/// Stacked bar chart of where the time goes: one bar per run, a segment's name has the same
/// colour in every bar, a legend of the names, y in µs, each bar's total above it.
pub fn stage_bars(path: &Path, title: &str, bars: &[StackedBar]) -> Result<(), String> {
    if bars.is_empty() {
        return Err("stage bars: no bars to draw".to_string());
    }
    for bar in bars {
        for (name, us) in &bar.segments {
            if !us.is_finite() || *us < 0.0 {
                return Err(format!("bar `{}`: segment `{name}` is {us} µs", bar.label));
            }
        }
    }
    let root = SVGBackend::new(path, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    draw_bars(&root, title, bars)
        .and_then(|()| root.present())
        .map_err(|error| format!("{}: {error}", path.display()))
}

/// A bar's height, µs.
fn total_us(bar: &StackedBar) -> f64 {
    bar.segments.iter().map(|(_, us)| us).sum()
}

/// Draws [`stage_bars`]' chart on `root`.
fn draw_bars(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    bars: &[StackedBar],
) -> DrawResult {
    root.fill(&WHITE)?;
    let tallest_us = bars.iter().map(total_us).fold(0.0, f64::max);
    // Headroom above the tallest bar for its total and the legend; 1 µs if every bar is empty.
    let top_us = if tallest_us > 0.0 { tallest_us * 1.3 } else { 1.0 };
    let ticks: Vec<f64> = (0..bars.len()).map(|position| position as f64 + 0.5).collect();
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(linear_axis(0.0..bars.len() as f64, ticks), 0.0..top_us)?;
    let bar_label =
        |x: &f64| bars.get(x.floor() as usize).map_or(String::new(), |bar| bar.label.clone());
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc("µs")
        .x_label_formatter(&bar_label)
        // Decimals only where whole µs would repeat a label.
        .y_label_formatter(&|us| {
            if top_us >= 10.0 { format!("{us:.0}") } else { format!("{us:.2}") }
        })
        .draw()?;
    for (position, name) in segment_names(bars).into_iter().enumerate() {
        let style = colour(position).filled();
        chart
            .draw_series(
                segment_rectangles(bars, name).map(|corners| Rectangle::new(corners, style)),
            )?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], style));
    }
    let total_style =
        ("sans-serif", 14).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom));
    chart.draw_series(bars.iter().enumerate().map(|(position, bar)| {
        let at = (position as f64 + 0.5, total_us(bar));
        Text::new(micros(total_us(bar)), at, total_style.clone())
    }))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
}

/// The rectangles of the segments named `name`, each stacked on the segments below it in its
/// bar (bar `i` spans x from i + 0.2 to i + 0.8).
fn segment_rectangles<'a>(
    bars: &'a [StackedBar],
    name: &'a str,
) -> impl Iterator<Item = [(f64, f64); 2]> + 'a {
    bars.iter().enumerate().flat_map(move |(position, bar)| {
        let x = position as f64;
        let mut bottom_us = 0.0;
        bar.segments.iter().filter_map(move |(segment, us)| {
            let corners = [(x + 0.2, bottom_us), (x + 0.8, bottom_us + us)];
            bottom_us += us;
            (segment == name).then_some(corners)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::loadgen::test_dir::TempDir;

    /// A curve rising from `base_us` at 0% to ten times it at 99.99%.
    fn curve(label: &str, base_us: f64) -> Series {
        let percentiles = [0.0, 50.0, 90.0, 99.0, 99.9, 99.99];
        let points = percentiles
            .iter()
            .zip(1..)
            .map(|(p, step)| (*p, base_us * f64::from(step) * 2.0))
            .collect();
        Series { label: label.to_string(), points }
    }

    /// Whether `svg` draws `text` (plotters writes each text element's text on a line of its
    /// own).
    fn draws(svg: &str, text: &str) -> bool {
        svg.contains(&format!(">\n{text}\n</text>"))
    }

    fn svg(path: &Path) -> String {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.starts_with("<svg"), "{}", &text[..text.len().min(200)]);
        assert!(text.trim_end().ends_with("</svg>"));
        text
    }

    #[test]
    fn a_percentile_plot_has_its_title_series_floor_and_percentile_ticks() {
        let dir = TempDir::new("plot-percentiles");
        let path = dir.0.join("latency.svg");
        let series = [curve("sync 1000/s", 150.0), curve("async 1000/s", 60.0)];
        let floors = [("floor: loopback + 1 verification".to_string(), 90.0)];
        percentile_plot(&path, "Order latency", &series, &floors).unwrap();
        let text = svg(&path);
        let floor = "floor: loopback + 1 verification";
        for expected in ["Order latency", "sync 1000/s", "async 1000/s", floor] {
            assert!(draws(&text, expected), "{expected} missing");
        }
        // The points reach 99.99%: the axis is ticked up to it and not beyond.
        for tick in ["0%", "90%", "99%", "99.9%", "99.99%"] {
            assert!(draws(&text, tick), "{tick} missing");
        }
        assert!(!draws(&text, "99.999%"));
    }

    #[test]
    fn zero_latencies_and_a_last_row_at_100_percent_are_drawn_without_panic() {
        let dir = TempDir::new("plot-zero");
        let path = dir.0.join("zero.svg");
        let series = [Series {
            label: "idle".to_string(),
            points: vec![(0.0, 0.0), (50.0, 0.0), (99.99, 3.0), (100.0, 3.0)],
        }];
        percentile_plot(&path, "Zero", &series, &[("floor".to_string(), 0.0)]).unwrap();
        assert!(draws(&svg(&path), "idle"));
    }

    #[test]
    fn nothing_to_draw_is_an_error_not_a_panic() {
        let dir = TempDir::new("plot-empty");
        let path = dir.0.join("empty.svg");
        let floors = [("floor".to_string(), 100.0)];
        let error = percentile_plot(&path, "Empty", &[], &floors).unwrap_err();
        assert_eq!(error, "percentile plot: no series has a point below 100% to draw");
        let empty = Series { label: "empty".to_string(), points: Vec::new() };
        assert!(percentile_plot(&path, "Empty", &[empty], &[]).is_err());
        let nan = Series { label: "nan".to_string(), points: vec![(50.0, f64::NAN)] };
        let error = percentile_plot(&path, "NaN", &[nan], &[]).unwrap_err();
        assert_eq!(error, "nan: latency NaN µs is not a finite number");
        let beyond = Series { label: "beyond".to_string(), points: vec![(150.0, 1.0)] };
        assert!(percentile_plot(&path, "Beyond", &[beyond], &[]).unwrap_err().contains("150"));
        assert_eq!(stage_bars(&path, "Stages", &[]).unwrap_err(), "stage bars: no bars to draw");
        let negative =
            StackedBar { label: "run".to_string(), segments: vec![("verify".to_string(), -1.0)] };
        let error = stage_bars(&path, "Stages", &[negative]).unwrap_err();
        assert_eq!(error, "bar `run`: segment `verify` is -1 µs");
        assert!(!path.exists(), "nothing written for refused input");
    }

    #[test]
    fn a_load_curve_draws_each_series_over_the_offered_rates() {
        let dir = TempDir::new("plot-load");
        let path = dir.0.join("load.svg");
        let line = |label: &str, base_us: f64| Series {
            label: label.to_string(),
            points: vec![(10_000.0, base_us * 3.0), (1_000.0, base_us), (5_000.0, base_us * 2.0)],
        };
        let series = [line("async fused p50", 150.0), line("async split p50", 200.0)];
        let floors = [("floor".to_string(), 60.0)];
        load_curve(&path, "Latency against load", &series, &floors).unwrap();
        let text = svg(&path);
        for expected in ["Latency against load", "async fused p50", "async split p50", "floor"] {
            assert!(draws(&text, expected), "{expected} missing");
        }
        for tick in ["1000", "2000", "5000", "10000"] {
            assert!(draws(&text, tick), "{tick} missing");
        }
        let bad = [Series { label: "bad".into(), points: vec![(0.0, 1.0)] }];
        assert!(load_curve(&path, "t", &bad, &[]).unwrap_err().contains("not positive"));
        assert!(load_curve(&path, "t", &[], &[]).is_err());
    }

    #[test]
    fn stage_bars_name_every_segment_once_with_one_colour_across_bars() {
        let dir = TempDir::new("plot-bars");
        let path = dir.0.join("stages.svg");
        let bar = |label: &str, fdatasync_us: f64| StackedBar {
            label: label.to_string(),
            segments: vec![
                ("network".to_string(), 30.0),
                ("verify".to_string(), 40.0),
                ("fdatasync".to_string(), fdatasync_us),
                ("answer".to_string(), 0.0),
            ],
        };
        let bars = [bar("async 1,000/s", 0.0), bar("sync 1,000/s", 900.0)];
        stage_bars(&path, "Where the time goes", &bars).unwrap();
        let text = svg(&path);
        for expected in ["Where the time goes", "async 1,000/s", "sync 1,000/s", "970.0µs"] {
            assert!(draws(&text, expected), "{expected} missing");
        }
        for name in ["network", "verify", "fdatasync", "answer"] {
            let entries = text.matches(&format!(">\n{name}\n<")).count();
            assert_eq!(entries, 1, "{name}: one legend entry");
        }
        // Each segment in its name's colour, in both bars: verify's, twice.
        let verify = colour(1);
        let fill = format!("fill=\"#{:02X}{:02X}{:02X}\"", verify.0, verify.1, verify.2);
        assert!(text.matches(&fill).count() >= 2, "{fill}");
    }

    #[test]
    fn segments_stack_bottom_to_top_within_their_bar() {
        let bars = [
            StackedBar {
                label: "a".to_string(),
                segments: vec![("x".to_string(), 1.0), ("y".to_string(), 2.0)],
            },
            StackedBar { label: "b".to_string(), segments: vec![("y".to_string(), 5.0)] },
        ];
        let y: Vec<[(f64, f64); 2]> = segment_rectangles(&bars, "y").collect();
        assert_eq!(y, [[(0.2, 1.0), (0.8, 3.0)], [(1.2, 0.0), (1.8, 5.0)]]);
        assert_eq!(segment_names(&bars), ["x", "y"]);
    }

    #[test]
    fn the_percentile_axis_is_hdrhistograms_nines() {
        assert_eq!(nines(0.0), 0.0);
        assert!((nines(90.0) - 1.0).abs() < 1e-9);
        assert!((nines(99.99) - 4.0).abs() < 1e-9);
        let labels: Vec<String> = (0..6).map(|count| percentile_label(f64::from(count))).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]);
    }

    #[test]
    fn latency_ticks_are_one_two_five_per_decade_unless_the_span_is_wide() {
        let labels = |axis: TickedAxis<LogCoord<f64>>| -> Vec<String> {
            axis.ticks.iter().map(|us| axis_us(*us)).collect()
        };
        assert_eq!(labels(log_axis_us(30.0, 2500.0)), ["50", "100", "200", "500", "1000", "2000"]);
        assert_eq!(
            labels(log_axis_us(0.0008, 0.06)),
            ["0.001", "0.002", "0.005", "0.01", "0.02", "0.05"]
        );
        assert_eq!(
            labels(log_axis_us(0.5, 200_000.0)),
            ["1", "10", "100", "1000", "10000", "100000"]
        );
        assert_eq!(labels(log_axis_us(2.08, 3.25)), ["3"]);
        assert_eq!(labels(log_axis_us(2.08, 4.5)), ["3", "4"]);
    }
}
