//! Several runs side by side as a plain-text table, one row per run: their
//! [`Summary`]s (the same columns appear in the HTML report) or their
//! [`Tally`]s.
//!
//! Pure formatting.

use super::summary::Summary;
use super::tally::Tally;

/// The column headers, in order: one word each, so the table splits on whitespace.
pub const COLUMNS: [&str; 10] = [
    "run",
    "offered/s",
    "goodput/s",
    "2xx-p50",
    "2xx-p99",
    "503s",
    "503-p99",
    "429s",
    "timeouts",
    "errors",
];

/// The cells of one row: the label, then one cell per remaining column.
pub fn cells(label: &str, s: &Summary) -> Vec<String> {
    vec![
        label.to_owned(),
        format!("{:.0}", s.offered_per_s),
        format!("{:.0}", s.goodput_per_s),
        latency(s.p50_success_ms),
        latency(s.p99_success_ms),
        s.unavailable.to_string(),
        latency(s.p99_unavailable_ms),
        s.too_many.to_string(),
        s.timeouts.to_string(),
        (s.failed + s.saturated + s.other_status).to_string(),
    ]
}

/// Renders the runs as an aligned text table (label column left-aligned,
/// numbers right-aligned), with a header line and a rule.
pub fn table(runs: &[(&str, &Summary)]) -> String {
    aligned(&COLUMNS, runs.iter().map(|(label, s)| cells(label, s)))
}

/// The column headers of a tally table, in order.
pub const TALLY_COLUMNS: [&str; 8] = [
    "run",
    "sent",
    "2xx",
    "503s",
    "other",
    "short-p50",
    "short-p99",
    "Retry-After",
];

/// The cells of one tally row: the label, then one cell per remaining column.
pub fn tally_cells(label: &str, t: &Tally) -> Vec<String> {
    vec![
        label.to_owned(),
        t.sent.to_string(),
        t.served.to_string(),
        t.shed.to_string(),
        t.other.to_string(),
        latency(t.short_p50_ms),
        latency(t.short_p99_ms),
        t.retry_after_text(),
    ]
}

/// Renders tallies as an aligned text table, like [`table`].
pub fn tally_table(runs: &[(&str, &Tally)]) -> String {
    aligned(
        &TALLY_COLUMNS,
        runs.iter().map(|(label, t)| tally_cells(label, t)),
    )
}

/// `header` and `rows` aligned: the first column left, the rest right.
fn aligned(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = std::iter::once(header.iter().map(|c| (*c).to_owned()).collect())
        .chain(rows)
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            let width = |r: &Vec<String>| r.get(c).map_or(0, |cell| cell.chars().count());
            rows.iter().map(width).max().unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| {
                if c == 0 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}

/// A latency cell: `-` when absent, else milliseconds with a sensible precision.
pub fn latency(ms: Option<f64>) -> String {
    match ms {
        None => "-".to_owned(),
        Some(ms) if ms < 1.0 => format!("{:.0}µs", ms * 1000.0),
        Some(ms) if ms < 10.0 => format!("{ms:.1}ms"),
        Some(ms) => format!("{ms:.0}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_align_and_carry_the_numbers() {
        let a = Summary {
            offered_per_s: 1600.4,
            goodput_per_s: 398.7,
            p50_success_ms: Some(21.2),
            p99_success_ms: Some(38.0),
            unavailable: 12000,
            p99_unavailable_ms: Some(0.4),
            ..Summary::default()
        };
        let b = Summary {
            timeouts: 9000,
            failed: 1,
            saturated: 2,
            ..Summary::default()
        };
        let text = table(&[("admission", &a), ("pass-through", &b)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("run "));
        assert!(lines[1].chars().all(|c| c == '-'));
        assert!(lines[2].contains("1600") && lines[2].contains("399") && lines[2].contains("21ms"));
        assert!(lines[2].contains("400µs") && lines[2].contains("12000"));
        assert!(lines[3].starts_with("pass-through") && lines[3].contains("9000"));
        assert!(
            lines[3].ends_with(" 3"),
            "errors add up failures: {}",
            lines[3]
        );
        let header_width = lines[0].chars().count();
        assert!(
            lines
                .iter()
                .skip(2)
                .all(|l| l.chars().count() <= header_width + 12)
        );
    }

    #[test]
    fn tally_rows_show_sheds_and_short_latencies() {
        let t = Tally {
            sent: 900,
            served: 899,
            shed: 1,
            short_p99_ms: Some(12.3),
            retry_after: vec![(1, 1)],
            ..Tally::default()
        };
        let text = tally_table(&[("admission", &t)]);
        let row = text.lines().nth(2).expect("a row");
        assert!(
            row.starts_with("admission") && row.ends_with("1 s"),
            "{row}"
        );
        assert!(row.contains(" 899 ") && row.contains("12ms"), "{row}");
    }

    #[test]
    fn latency_cells_pick_a_unit() {
        assert_eq!(latency(None), "-");
        assert_eq!(latency(Some(0.25)), "250µs");
        assert_eq!(latency(Some(2.5)), "2.5ms");
        assert_eq!(latency(Some(250.4)), "250ms");
    }
}
