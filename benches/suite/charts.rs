//! The charts `just bench` draws into `benches/` (SVG, plotters): latency
//! distributions, camel-wasm against rust-camel, and the endpoint-scale curve.

use std::time::Duration;

use plotters::prelude::*;

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Where charts go: `benches/`, beside the `results.md` they illustrate, unless set first.
static DIR: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Draws the charts into `dir` instead (a section run alone, so `benches/` stays in step with `results.md`).
pub fn draw_into(dir: &str) {
    let _ = std::fs::create_dir_all(dir);
    let _ = DIR.set(dir.to_string());
}

/// `file` in the charts' folder.
fn path(file: &str) -> String {
    format!("{}/{file}", DIR.get_or_init(|| concat!(env!("CARGO_MANIFEST_DIR"), "/benches").to_string()))
}

/// The latency distribution of each scenario: its share of calls (y) done within a time (x, µs, log scale).
pub fn latency_distribution(file: &str, title: &str, series: &[(String, Vec<Duration>)]) -> Result {
    let micros = |d: &Duration| d.as_secs_f64() * 1e6;
    let all = series.iter().flat_map(|(_, s)| s.iter().map(micros));
    let (low, high) = all.fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let target = path(file);
    let root = SVGBackend::new(&target, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((low.max(0.01) * 0.9..high * 1.1).log_scale(), 0f64..100f64)?;
    chart.configure_mesh().x_desc("latency (µs, log scale)").y_desc("% of calls at most").draw()?;
    for (i, (name, samples)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let n = samples.len().max(1) as f64;
        // At most 400 points a curve: every call is counted, not every one drawn.
        let step = (samples.len() / 400).max(1);
        let points = samples.iter().enumerate().step_by(step).map(|(k, d)| (micros(d), (k + 1) as f64 * 100.0 / n));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Pairs of bars on one axis: for each scenario, camel-wasm's and the other's value (lower is better).
pub fn versus(file: &str, title: &str, unit: &str, rows: &[(String, f64, f64)], names: (&str, &str)) -> Result {
    let high = rows.iter().map(|(_, a, b)| a.max(*b)).fold(0f64, f64::max) * 1.15;
    let target = path(file);
    let root = SVGBackend::new(&target, (900, 120 + 70 * rows.len() as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(10)
        .build_cartesian_2d(0f64..high.max(f64::MIN_POSITIVE), 0f64..rows.len() as f64)?;
    chart.configure_mesh().disable_y_mesh().disable_y_axis().x_desc(unit).draw()?;
    for (i, (scenario, ours, theirs)) in rows.iter().enumerate() {
        let y = (rows.len() - 1 - i) as f64;
        for (k, (value, color)) in [(*ours, COLORS[0]), (*theirs, COLORS[1])].into_iter().enumerate() {
            let top = y + 0.15 + 0.3 * k as f64;
            chart.draw_series(std::iter::once(Rectangle::new([(0.0, top), (value, top + 0.28)], color.filled())))?;
            let name = if k == 0 { names.0 } else { names.1 };
            chart.draw_series(std::iter::once(Text::new(
                format!("{name}: {value:.2}"),
                (value, top + 0.05),
                ("sans-serif", 13),
            )))?;
        }
        chart.draw_series(std::iter::once(Text::new(scenario.clone(), (0.0, y + 0.95), ("sans-serif", 14))))?;
    }
    root.present()?;
    Ok(())
}

/// The endpoint-scale curve: median call latency (left axis) and resident memory (right) against endpoints loaded.
pub fn endpoint_scale(file: &str, points: &[(usize, f64, f64)]) -> Result {
    let max_n = points.iter().map(|p| p.0).max().unwrap_or(1) as f64;
    let max_us = points.iter().map(|p| p.1).fold(0f64, f64::max) * 1.3;
    let max_mib = points.iter().map(|p| p.2).fold(0f64, f64::max) * 1.3;
    let target = path(file);
    let root = SVGBackend::new(&target, (900, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("upper: one endpoint's reused call while more endpoints are loaded and warm", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .right_y_label_area_size(55)
        .build_cartesian_2d(0f64..max_n, 0f64..max_us)?
        .set_secondary_coord(0f64..max_n, 0f64..max_mib);
    chart.configure_mesh().x_desc("endpoints loaded (each with a warm instance)").y_desc("median latency (µs)").draw()?;
    chart.configure_secondary_axes().y_desc("resident memory (MiB)").draw()?;
    let latency = points.iter().map(|&(n, us, _)| (n as f64, us));
    chart
        .draw_series(LineSeries::new(latency.clone(), COLORS[0].stroke_width(2)))?
        .label("median latency (µs)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], COLORS[0].stroke_width(2)));
    chart.draw_series(latency.map(|p| Circle::new(p, 3, COLORS[0].filled())))?;
    let memory = points.iter().map(|&(n, _, mib)| (n as f64, mib));
    chart
        .draw_secondary_series(LineSeries::new(memory, COLORS[1].stroke_width(2)))?
        .label("resident memory (MiB)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], COLORS[1].stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Draws a chart, or says why not (a missing chart never fails the benchmarks).
pub fn draw(file: &str, what: Result) {
    match what {
        Ok(()) => println!("chart: {}", path(file)),
        Err(e) => println!("chart {} not drawn: {e}", path(file)),
    }
}
