//! The CSV report. Its columns are a contract: later versions may append
//! columns, never rename or reorder them.
//!
//! Spreadsheets evaluate a cell that starts with `=`, `+`, `-` or `@` (and
//! some a tab or carriage return) as a formula: a file named
//! `=HYPERLINK("https://…")` would become a live link in an auditor's
//! spreadsheet. Such cells are written with a `'` in front, as OWASP
//! recommends, and so are cells that start with `'` themselves, so that
//! reading a cell back ([`cell_value`]) gives the value exactly.

use super::{Finding, HeldRows, ReportWriter, Summary};
use std::io::{self, Write};

pub const HEADER: [&str; 11] = [
    "target",
    "path",
    "entity",
    "rule",
    "confidence",
    "line",
    "column",
    "field",
    "match",
    "context",
    "fingerprint",
];

pub struct CsvReport<W: Write> {
    out: W,
    /// One row, encoded here first so that only whole rows reach `held`
    /// (and `out`): the csv crate's own buffer would pass a long row on in
    /// pieces, and a kill between two pieces would leave half a row.
    row: Vec<u8>,
    held: HeldRows,
}

impl<W: Write> CsvReport<W> {
    /// A new report: writes the header row.
    pub fn new(out: W) -> io::Result<Self> {
        let mut report = CsvReport::appending(out);
        report.write_row(&HEADER)?;
        report.held.write_to(&mut report.out)?;
        Ok(report)
    }

    /// Continues an existing report (`--resume`): no header.
    pub fn appending(out: W) -> Self {
        CsvReport {
            out,
            row: Vec::new(),
            held: HeldRows::default(),
        }
    }

    fn write_row(&mut self, fields: &[&str]) -> io::Result<()> {
        // One writer per row (it holds the row's bytes until they go out
        // whole); its own buffer is kept small because it is zeroed anew
        // for every row (8 KiB by default), and overflows into `row`.
        let mut row = csv::WriterBuilder::new()
            .quote_style(csv::QuoteStyle::Necessary)
            .buffer_capacity(256)
            .from_writer(std::mem::take(&mut self.row));
        row.write_record(fields).map_err(io::Error::other)?;
        self.row = row.into_inner().map_err(|e| e.into_error())?;
        let result = self.held.push(&self.row, &mut self.out);
        self.row.clear();
        result
    }
}

fn opt(n: Option<u64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// Starts of a cell that a spreadsheet would evaluate, and `'`, the mark
/// that neutralises them.
fn needs_mark(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\''])
}

/// A cell as written: with a `'` in front when a spreadsheet would
/// evaluate it.
fn neutral(cell: &str) -> std::borrow::Cow<'_, str> {
    if needs_mark(cell) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// A cell's value as read back from a report: without the `'` written in
/// front of it.
pub fn cell_value(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

impl<W: Write + Send> ReportWriter for CsvReport<W> {
    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        // Whole rows only: a scan killed at any moment leaves whole rows.
        self.write_row(&[
            &neutral(&f.target),
            &neutral(&f.path),
            f.entity.as_str(),
            &neutral(&f.rule),
            f.confidence.as_str(),
            &opt(f.line),
            &opt(f.column),
            &neutral(&f.field),
            &neutral(&f.matched),
            &neutral(&f.context),
            &f.fingerprint,
        ])
    }

    fn appends(&self) -> bool {
        true
    }

    fn flush_rows(&mut self) -> io::Result<()> {
        self.held.write_to(&mut self.out)
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        self.held.write_to(&mut self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::{sample_findings, sample_summary};

    #[test]
    fn cells_a_spreadsheet_would_evaluate_are_neutralised_and_read_back() {
        let mut f = sample_findings().remove(0);
        f.path = "=HYPERLINK(\"https://x\",\"Open\")".into();
        f.field = "+cmd|' /C calc'!A0".into();
        f.context = "@SUM(A1) and more".into();
        f.rule = "-rule".into();
        f.target = "'quoted".into();
        let mut out = Vec::new();
        {
            let mut w = CsvReport::new(&mut out).unwrap();
            w.finding(&f).unwrap();
            w.finish(&sample_summary()).unwrap();
        }
        let mut reader = ::csv::Reader::from_reader(out.as_slice());
        let row = reader.records().next().unwrap().unwrap();
        for (cell, want) in [
            (&row[0], "'quoted"),
            (&row[1], "=HYPERLINK(\"https://x\",\"Open\")"),
            (&row[3], "-rule"),
            (&row[7], "+cmd|' /C calc'!A0"),
            (&row[9], "@SUM(A1) and more"),
        ] {
            assert!(cell.starts_with('\''), "{cell}");
            assert_eq!(cell_value(cell), want);
        }
        // Other cells are written as they are.
        assert_eq!(&row[8], f.matched);
        assert_eq!(cell_value(&row[8]), f.matched);
    }

    /// Counts the writes that reach it; keeps the bytes.
    #[derive(Default)]
    struct Writes {
        bytes: Vec<u8>,
        writes: usize,
        /// Writes that did not end at the end of a row.
        cut: usize,
    }

    impl Write for &mut Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.bytes.extend_from_slice(buf);
            self.writes += 1;
            self.cut += usize::from(buf.last() != Some(&b'\n'));
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn rows_are_held_and_written_whole_in_few_writes() {
        let mut out = Writes::default();
        let findings = sample_findings();
        {
            let mut w = CsvReport::new(&mut out).unwrap();
            // Enough rows to pass the hold limit more than once.
            for _ in 0..2000 {
                for f in &findings {
                    w.finding(f).unwrap();
                }
            }
            w.flush_rows().unwrap();
            w.finish(&sample_summary()).unwrap();
        }
        let rows = 2000 * findings.len();
        let text = String::from_utf8(out.bytes).unwrap();
        assert_eq!(text.lines().count(), rows + 1);
        // Every write ended a row: a kill between writes leaves whole rows.
        assert_eq!(out.cut, 0);
        assert!(
            out.writes >= 3 && out.writes < rows / 10,
            "{} writes",
            out.writes
        );
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(reader.records().filter(|r| r.is_ok()).count(), rows);
    }
}
