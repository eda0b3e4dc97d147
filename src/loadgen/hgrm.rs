//! `.hgrm` files: HdrHistogram's percentile distribution text, byte for byte the layout of the
//! Java original's `outputPercentileDistribution` (five ticks per half distance), so the usual
//! plotters read it. The `hdrhistogram` crate writes only its binary format, hence this writer.

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
}
