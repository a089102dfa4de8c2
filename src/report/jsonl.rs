//! The JSONL report: one JSON object per finding with the CSV's fields
//! (same masking: the `Finding` is already masked), then one summary object.
//! Every line has a `type`: `"finding"` or `"summary"`.

use super::{Finding, HeldRows, ReportWriter, Summary};
use serde::Serialize;
use std::io::{self, Write};

pub struct JsonlReport<W: Write> {
    out: W,
    /// One line, encoded here first so that only whole lines reach `held`
    /// (a kill never leaves half a line).
    line: Vec<u8>,
    held: HeldRows,
}

#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    body: &'a T,
}

impl<W: Write> JsonlReport<W> {
    pub fn new(out: W) -> Self {
        JsonlReport {
            out,
            line: Vec::new(),
            held: HeldRows::default(),
        }
    }

    fn line<T: Serialize>(&mut self, kind: &'static str, body: &T) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, &Line { kind, body }).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.held.push(&self.line, &mut self.out)
    }
}

impl<W: Write + Send> ReportWriter for JsonlReport<W> {
    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        self.line("finding", f)
    }

    fn appends(&self) -> bool {
        true
    }

    fn flush_rows(&mut self) -> io::Result<()> {
        self.held.write_to(&mut self.out)
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        self.line("summary", &summary.to_json())?;
        self.held.write_to(&mut self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::{sample_findings, sample_summary};

    #[test]
    fn one_object_per_finding_then_the_summary() {
        let mut buf = Vec::new();
        {
            let mut w = JsonlReport::new(&mut buf);
            for f in sample_findings() {
                w.finding(&f).unwrap();
            }
            w.finish(&sample_summary()).unwrap();
        }
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), sample_findings().len() + 1);
        let first = &lines[0];
        assert_eq!(first["type"], "finding");
        for key in crate::report::csv::HEADER {
            assert!(first.get(key).is_some(), "missing {key}: {first}");
        }
        assert_eq!(first["match"], "***-**-6780");
        assert_eq!(first["entity"], "SSN");
        assert!(first.get("value_fingerprint").is_none());
        let last = lines.last().unwrap();
        assert_eq!(last["type"], "summary");
        assert_eq!(last["total_findings"], 3);
        assert_eq!(last["files_scanned"], 4);
        // Nothing unmasked leaks.
        assert!(!text.contains("219-45-6780"));
    }
}
