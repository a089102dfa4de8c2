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
    writer: csv::Writer<W>,
}

impl<W: Write> CsvReport<W> {
    pub fn new(out: W) -> io::Result<Self> {
        let mut writer = csv::WriterBuilder::new()
            .quote_style(csv::QuoteStyle::Necessary)
            .from_writer(out);
        writer.write_record(HEADER).map_err(io::Error::other)?;
        writer.flush()?;
        Ok(CsvReport { writer })
    }
}

fn opt(n: Option<u64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

impl<W: Write + Send> ReportWriter for CsvReport<W> {
    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        self.writer
            .write_record([
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
            .map_err(io::Error::other)?;
        // Flushed per row: a scan killed at any moment leaves whole rows.
        self.writer.flush()
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        self.writer.flush()
    }
}
