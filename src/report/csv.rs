//! The CSV report. Its columns are a contract: later versions may append
//! columns, never rename or reorder them.

use super::{Finding, ReportWriter, Summary};
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
    /// One row, encoded here first so that it reaches `out` in a single
    /// write: the csv crate's own buffer would pass a long row on in pieces,
    /// and a kill between two pieces would leave half a row.
    row: Vec<u8>,
}

impl<W: Write> CsvReport<W> {
    /// A new report: writes the header row.
    pub fn new(out: W) -> io::Result<Self> {
        let mut report = CsvReport::appending(out);
        report.write_row(&HEADER)?;
        Ok(report)
    }

    /// Continues an existing report (`--resume`): no header.
    pub fn appending(out: W) -> Self {
        CsvReport {
            out,
            row: Vec::new(),
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
        let result = self
            .out
            .write_all(&self.row)
            .and_then(|()| self.out.flush());
        self.row.clear();
        result
    }
}

fn opt(n: Option<u64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

impl<W: Write + Send> ReportWriter for CsvReport<W> {
    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        // Flushed per row: a scan killed at any moment leaves whole rows.
        self.write_row(&[
            &*f.target,
            &f.path,
            f.entity.as_str(),
            &f.rule,
            f.confidence.as_str(),
            &opt(f.line),
            &opt(f.column),
            &f.field,
            &f.matched,
            &f.context,
            &f.fingerprint,
        ])
    }

    fn appends(&self) -> bool {
        true
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        self.out.flush()
    }
}
