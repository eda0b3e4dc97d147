//! `.hgrm` files: HdrHistogram's percentile distribution text, byte for byte the layout of the
//! Java original's `outputPercentileDistribution` (five ticks per half distance), so the usual
//! plotters read it. The `hdrhistogram` crate writes only its binary format, hence this writer,
//! and the reader of its rows that the report's plots use.

use hdrhistogram::Histogram;
use std::io::{self, Write};

/// Percentile ticks per half distance to 100% (HdrHistogram's default for this output).
pub const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// Writes `histogram`'s percentile distribution, its values divided by `unit_ratio` (1000 for
/// a nanosecond histogram printed in microseconds).
pub fn write_percentiles(
    out: &mut impl Write,
    histogram: &Histogram<u64>,
    unit_ratio: f64,
) -> io::Result<()> {
    let digits = usize::from(histogram.sigfig());
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut total = 0u64;
    if !histogram.is_empty() {
        for step in histogram.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += step.count_since_last_iteration();
            let value = step.value_iterated_to() as f64 / unit_ratio;
            let quantile = step.quantile_iterated_to();
            if quantile < 1.0 {
                let inverse = 1.0 / (1.0 - quantile);
                writeln!(out, "{value:>12.digits$} {quantile:>2.12} {total:>10} {inverse:>14.2}")?;
            } else {
                writeln!(out, "{value:>12.digits$} {quantile:>2.12} {total:>10}")?;
            }
        }
    }
    let mean = histogram.mean() / unit_ratio;
    let deviation = histogram.stdev() / unit_ratio;
    let max = histogram.max() as f64 / unit_ratio;
    writeln!(out, "#[Mean    = {mean:>12.digits$}, StdDeviation   = {deviation:>12.digits$}]")?;
    writeln!(out, "#[Max     = {max:>12.digits$}, Total count    = {:>12}]", histogram.len())?;
    writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        histogram.buckets(),
        sub_buckets(histogram.sigfig())
    )
}

/// HdrHistogram's sub-bucket count for `sigfig` digits: the power of two at or above
/// 2·10^sigfig (the crate keeps it private).
fn sub_buckets(sigfig: u8) -> u64 {
    (2 * 10u64.pow(u32::from(sigfig))).next_power_of_two()
}

/// Writes `histogram` to `path` in microseconds.
pub fn write_file(path: &std::path::Path, histogram: &Histogram<u64>) -> io::Result<()> {
    let mut text = Vec::new();
    write_percentiles(&mut text, histogram, 1000.0)?;
    std::fs::write(path, text)
}

/// The (percentile, value) points of a percentile distribution as [`write_percentiles`] writes
/// it: each data row's value and its percentile (the file's fraction 0..=1 times 100). The
/// header and the `#[…]` footer are skipped. The last row, at 100% (the largest value), is kept:
/// a percentile axis of 1/(1−p) cannot place it, and [`super::plot::percentile_plot`] leaves it
/// out.
pub fn read_points(text: &str) -> Result<Vec<(f64, f64)>, String> {
    let mut points = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("Value") {
            continue;
        }
        let bad = |what: &str| format!("line {}: {what}: `{line}`", index + 1);
        let columns: Vec<&str> = line.split_whitespace().collect();
        if !(3..=4).contains(&columns.len()) {
            return Err(bad("expected value, percentile, total count[, 1/(1-percentile)]"));
        }
        let value: f64 = columns[0].parse().map_err(|_| bad("the value is not a number"))?;
        let fraction: f64 =
            columns[1].parse().map_err(|_| bad("the percentile is not a number"))?;
        if !(0.0..=1.0).contains(&fraction) || !value.is_finite() {
            return Err(bad("expected a finite value and a percentile in 0..=1"));
        }
        columns[2].parse::<u64>().map_err(|_| bad("the total count is not a count"))?;
        points.push((fraction * 100.0, value));
    }
    Ok(points)
}

/// [`read_points`] of the file at `path`; the error names the file.
pub fn read_file(path: &std::path::Path) -> Result<Vec<(f64, f64)>, String> {
    std::fs::read_to_string(path)
        .map_err(|error| error.to_string())
        .and_then(|text| read_points(&text))
        .map_err(|error| format!("{}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(histogram: &Histogram<u64>) -> String {
        let mut text = Vec::new();
        write_percentiles(&mut text, histogram, 1000.0).unwrap();
        String::from_utf8(text).unwrap()
    }

    #[test]
    fn the_layout_is_hdrhistograms_percentile_distribution() {
        let mut histogram = crate::loadgen::stats::latency_histogram();
        for value_us in 1..=1000u64 {
            histogram.record(value_us * 1000).unwrap();
        }
        let text = written(&histogram);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "       Value     Percentile TotalCount 1/(1-Percentile)");
        assert_eq!(lines[1], "");
        assert_eq!(lines[2], "       1.000 0.000000000000          1           1.00");
        // The median: 500 µs reached by the 500th value.
        assert!(lines.contains(&"     500.223 0.500000000000        500           2.00"), "{text}");
        let last = lines.iter().rev().find(|line| !line.starts_with('#')).unwrap();
        assert_eq!(*last, "    1000.447 1.000000000000       1000");
        let footer = &lines[lines.len() - 3..];
        assert_eq!(footer[0], "#[Mean    =      500.505, StdDeviation   =      288.676]");
        assert_eq!(footer[1], "#[Max     =     1000.447, Total count    =         1000]");
        assert_eq!(footer[2], "#[Buckets =           32, SubBuckets     =         2048]");
        // Every data line: four columns (three on the last), cumulative counts never falling.
        let counts: Vec<u64> = lines[2..lines.len() - 3]
            .iter()
            .map(|line| line.split_whitespace().nth(2).unwrap().parse().unwrap())
            .collect();
        assert!(counts.windows(2).all(|pair| pair[0] <= pair[1]));
    }

    #[test]
    fn an_empty_histogram_writes_its_header_and_footer_only() {
        let text = written(&crate::loadgen::stats::latency_histogram());
        assert_eq!(text.lines().filter(|line| !line.is_empty()).count(), 4, "{text}");
        assert!(text.contains("Total count    =            0]"));
    }

    #[test]
    fn the_reader_takes_back_what_the_writer_wrote() {
        let mut histogram = crate::loadgen::stats::latency_histogram();
        for value_us in 1..=1000u64 {
            histogram.record(value_us * 1000).unwrap();
        }
        let text = written(&histogram);
        let points = read_points(&text).unwrap();
        let rows = text.lines().skip(2).filter(|line| !line.starts_with('#')).count();
        assert_eq!(points.len(), rows);
        assert_eq!(points[0], (0.0, 1.0));
        assert!(points.contains(&(50.0, 500.223)), "{points:?}");
        assert_eq!(*points.last().unwrap(), (100.0, 1000.447));
        assert!(points.windows(2).all(|pair| pair[0].0 <= pair[1].0 && pair[0].1 <= pair[1].1));
        assert!(points[..points.len() - 1].iter().all(|(percentile, _)| *percentile < 100.0));
        let dir = std::env::temp_dir().join(format!("ringex-hgrm-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("unit-ack.hgrm");
        write_file(&path, &histogram).unwrap();
        assert_eq!(read_file(&path).unwrap(), points);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_reader_refuses_what_is_not_a_distribution() {
        assert_eq!(read_points(&written(&crate::loadgen::stats::latency_histogram())), Ok(vec![]));
        let error = read_points("Value Percentile\n\n 1.0 0.5\n").unwrap_err();
        assert!(error.starts_with("line 3: expected value, percentile"), "{error}");
        let error = read_points(" 1.0 1.5 3 2.0\n").unwrap_err();
        assert!(error.starts_with("line 1: expected a finite value"), "{error}");
        let error = read_points(" x 0.5 3 2.0\n").unwrap_err();
        assert!(error.starts_with("line 1: the value is not a number"), "{error}");
        let missing = std::path::Path::new("/nonexistent/ringex.hgrm");
        assert!(read_file(missing).unwrap_err().starts_with("/nonexistent/ringex.hgrm: "));
    }
}
