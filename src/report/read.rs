//! Reading phiscan's own reports back: CSV columns found by their header
//! names, JSONL rows by their keys. `baseline create`, `--resume` and
//! `merge` all read reports through here, so that what a report holds is
//! known in one place.
//!
//! Reading streams (memory is bounded by one row, whatever the report's
//! size). Two modes:
//! - [`Tail::Strict`]: every row must be whole and well formed (a report
//!   handed to `baseline create`);
//! - [`Tail::Repair`]: the report of a scan that may have been killed: a
//!   partial last row is cut off the file, and a JSONL report's trailing
//!   summary line is too (the resumed run writes its own).

use super::Finding;
use crate::entity::{Confidence, Entity};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek};
use std::path::{Path, PathBuf};

/// Longest report line read (bounded memory on hostile input).
const MAX_LINE: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
}

/// How a report's end is taken (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tail {
    Strict,
    Repair,
}

/// What reading a report found besides its rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportRead {
    /// Finding rows handed over.
    pub rows: u64,
    /// The fingerprint key id of a JSONL report's summary line.
    pub key_id: Option<String>,
}

/// Report formats that can be read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readable {
    Csv,
    Jsonl,
}

impl Readable {
    /// Tells a JSONL report (its first non-blank byte is `{`) from a CSV one.
    pub fn sniff(path: &Path) -> Result<Readable, ReadError> {
        let mut reader = BufReader::new(File::open(path).map_err(io_err(path))?);
        let buf = reader.fill_buf().map_err(io_err(path))?;
        Ok(
            match buf.iter().copied().find(|b| !b.is_ascii_whitespace()) {
                Some(b'{') => Readable::Jsonl,
                _ => Readable::Csv,
            },
        )
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ReadError + '_ {
    move |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn format_err(path: &Path, message: String) -> ReadError {
    ReadError::Format {
        path: path.to_path_buf(),
        message,
    }
}

/// Reads a CSV or JSONL report (told apart by content), handing every
/// finding to `on_row`.
pub fn read_report(
    path: &Path,
    tail: Tail,
    on_row: &mut dyn FnMut(Finding),
) -> Result<ReportRead, ReadError> {
    match Readable::sniff(path)? {
        Readable::Csv => read_csv(path, tail, on_row),
        Readable::Jsonl => read_jsonl(path, tail, on_row),
    }
}

/// Where each column of the CSV contract sits in a report's header row
/// (columns may be appended, never renamed: they are found by name).
struct Columns([usize; super::csv::HEADER.len()]);

impl Columns {
    fn of(header: &csv::StringRecord) -> Result<Columns, String> {
        let find = |name: &str| header.iter().position(|h| h == name);
        if find("target").is_none() {
            return Err("not a phiscan CSV report (no header row)".into());
        }
        if find("fingerprint").is_none() {
            return Err("the report has no fingerprint column (made by an older phiscan?)".into());
        }
        let mut at = [0; super::csv::HEADER.len()];
        for (slot, name) in at.iter_mut().zip(super::csv::HEADER) {
            *slot =
                find(name).ok_or_else(|| format!("not a phiscan CSV report (no {name} column)"))?;
        }
        Ok(Columns(at))
    }

    fn finding(&self, r: &csv::StringRecord) -> Result<Finding, String> {
        let [target, path, entity, rule, confidence, line, column, field, matched, context, fingerprint] =
            self.0;
        let get = |i: usize| super::csv::cell_value(r.get(i).unwrap_or(""));
        let num = |i: usize, name: &str| -> Result<Option<u64>, String> {
            match get(i) {
                "" => Ok(None),
                s => s
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("{name} {s:?} is not a number")),
            }
        };
        let row = RowFields {
            target: get(target),
            path: get(path),
            entity: get(entity),
            rule: get(rule),
            confidence: get(confidence),
            line: num(line, "line")?,
            column: num(column, "column")?,
            field: get(field),
            matched: get(matched),
            context: get(context),
            fingerprint: get(fingerprint),
        };
        row.finding()
    }
}

/// A row's fields as text, before they are checked.
struct RowFields<'a> {
    target: &'a str,
    path: &'a str,
    entity: &'a str,
    rule: &'a str,
    confidence: &'a str,
    line: Option<u64>,
    column: Option<u64>,
    field: &'a str,
    matched: &'a str,
    context: &'a str,
    fingerprint: &'a str,
}

impl RowFields<'_> {
    fn finding(&self) -> Result<Finding, String> {
        if self.fingerprint.is_empty() {
            return Err("finding has no fingerprint".into());
        }
        Ok(Finding {
            target: self.target.into(),
            path: self.path.to_string(),
            entity: Entity::parse(self.entity)
                .ok_or_else(|| format!("unknown entity {:?}", self.entity))?,
            rule: self.rule.into(),
            confidence: Confidence::parse(self.confidence)
                .ok_or_else(|| format!("unknown confidence {:?}", self.confidence))?,
            line: self.line,
            column: self.column,
            field: self.field.to_string(),
            matched: self.matched.to_string(),
            context: self.context.to_string(),
            fingerprint: self.fingerprint.to_string(),
            value_fingerprint: String::new(),
        })
    }
}

/// Reads a CSV report (see the module docs for `tail`).
pub fn read_csv(
    path: &Path,
    tail: Tail,
    on_row: &mut dyn FnMut(Finding),
) -> Result<ReportRead, ReadError> {
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let ends_whole = len == 0 || last_byte(path, len)? == Some(b'\n');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::new(file));
    let mut record = csv::StringRecord::new();
    let mut columns: Option<Columns> = None;
    let mut read = ReportRead::default();
    // A row counts once the next one starts (or the file ends in a newline):
    // only then is it known to be whole.
    let mut pending: Option<(Option<Finding>, u64)> = None;
    let mut valid_end = 0u64;
    loop {
        let more = match reader.read_record(&mut record) {
            Ok(more) => more,
            Err(e) if tail == Tail::Strict => {
                return Err(format_err(path, format!("not a CSV report: {e}")))
            }
            Err(_) => false,
        };
        // The header row names the columns (checked below); a data row
        // must reach the last of them.
        let width = columns
            .as_ref()
            .map_or(0, |c| c.0.iter().max().map_or(0, |m| m + 1));
        let whole_record = more && record.len() >= width;
        let at_end = reader.position().byte() >= len;
        if more && !whole_record && (tail == Tail::Strict || !at_end) {
            // A short row in the middle: not a report phiscan wrote.
            return Err(format_err(
                path,
                format!("line {}: not a phiscan CSV row", reader.position().line()),
            ));
        }
        let cut = !whole_record;
        if let Some((row, end)) = pending.take() {
            if !(cut && !more && !ends_whole) || tail == Tail::Strict {
                if let Some(f) = row {
                    on_row(f);
                    read.rows += 1;
                }
                valid_end = end;
            }
        }
        if cut {
            break;
        }
        let end = reader.position().byte();
        match &columns {
            None => {
                columns = Some(Columns::of(&record).map_err(|m| format_err(path, m))?);
                pending = Some((None, end));
            }
            Some(c) => {
                let line = reader.position().line();
                let row = c
                    .finding(&record)
                    .map_err(|m| format_err(path, format!("line {line}: {m}")))?;
                pending = Some((Some(row), end));
            }
        }
    }
    if columns.is_none() && tail == Tail::Strict {
        return Err(format_err(path, "not a CSV report: empty file".into()));
    }
    // A last row without its newline is cut.
    if let Some((row, end)) = pending.take() {
        if ends_whole || tail == Tail::Strict {
            if let Some(f) = row {
                on_row(f);
                read.rows += 1;
            }
            valid_end = end;
        }
    }
    if tail == Tail::Repair {
        truncate(path, valid_end, len)?;
    }
    Ok(read)
}

/// Reads a JSONL report (see the module docs for `tail`).
pub fn read_jsonl(
    path: &Path,
    tail: Tail,
    on_row: &mut dyn FnMut(Finding),
) -> Result<ReportRead, ReadError> {
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut valid_end = 0u64;
    let mut read = ReportRead::default();
    for n in 1.. {
        line.clear();
        let got = (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .map_err(io_err(path))?;
        if got == 0 {
            break;
        }
        let whole = line.last() == Some(&b'\n');
        let value = serde_json::from_slice::<serde_json::Value>(&line);
        if tail == Tail::Repair {
            // Stop at a cut line, or at the interrupted run's summary.
            let Some(value) = value.as_ref().ok().filter(|_| whole) else {
                break;
            };
            if value.get("type").and_then(|t| t.as_str()) != Some("finding") {
                break;
            }
            let row =
                finding_from_json(value).map_err(|m| format_err(path, format!("line {n}: {m}")))?;
            on_row(row);
            read.rows += 1;
            valid_end += got as u64;
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value = value.map_err(|e| format_err(path, format!("line {n}: not JSON: {e}")))?;
        match value.get("type").and_then(|t| t.as_str()) {
            Some("summary") => {
                read.key_id = value
                    .get("fingerprint_key_id")
                    .and_then(|k| k.as_str())
                    .filter(|k| !k.is_empty())
                    .map(str::to_string);
            }
            _ => {
                let row = finding_from_json(&value)
                    .map_err(|m| format_err(path, format!("line {n}: {m}")))?;
                on_row(row);
                read.rows += 1;
            }
        }
    }
    if tail == Tail::Repair {
        truncate(path, valid_end, len)?;
    }
    Ok(read)
}

fn finding_from_json(v: &serde_json::Value) -> Result<Finding, String> {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("");
    RowFields {
        target: s("target"),
        path: s("path"),
        entity: s("entity"),
        rule: s("rule"),
        confidence: s("confidence"),
        line: v.get("line").and_then(|x| x.as_u64()),
        column: v.get("column").and_then(|x| x.as_u64()),
        field: s("field"),
        matched: s("match"),
        context: s("context"),
        fingerprint: s("fingerprint"),
    }
    .finding()
}

fn last_byte(path: &Path, len: u64) -> Result<Option<u8>, ReadError> {
    let mut f = File::open(path).map_err(io_err(path))?;
    f.seek(io::SeekFrom::Start(len - 1)).map_err(io_err(path))?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b).map_err(io_err(path))?;
    Ok(Some(b[0]))
}

fn truncate(path: &Path, len: u64, current: u64) -> Result<(), ReadError> {
    if len == current {
        return Ok(());
    }
    let f = crate::outfile::existing_for_truncation(path).map_err(io_err(path))?;
    f.set_len(len).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "target,path,entity,rule,confidence,line,column,field,match,context,fingerprint\n";

    fn rows(path: &Path, tail: Tail) -> Result<Vec<Finding>, ReadError> {
        let mut rows = Vec::new();
        read_report(path, tail, &mut |f| rows.push(f))?;
        Ok(rows)
    }

    #[test]
    fn csv_report_loses_its_cut_row_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let whole = format!(
            "{HEADER}share,a.txt,SSN,ssn,HIGH,1,5,,***-**-6789,\"SSN ***-**-6789\nnext\",fp1\n"
        );
        std::fs::write(&path, format!("{whole}share,b.txt,SSN,ssn,HI")).unwrap();
        let got = rows(&path, Tail::Repair).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].context, "SSN ***-**-6789\nnext");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        // A whole file stays as it is.
        assert_eq!(rows(&path, Tail::Repair).unwrap().len(), 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        // A row cut inside a quoted field (newline included) is cut too.
        std::fs::write(
            &path,
            format!("{whole}share,b.txt,SSN,ssn,HIGH,1,5,,x,\"a\nb"),
        )
        .unwrap();
        assert_eq!(rows(&path, Tail::Repair).unwrap().len(), 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
    }

    #[test]
    fn csv_columns_are_found_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        // Reordered, and with a column appended by a later version.
        std::fs::write(
            &path,
            "fingerprint,target,path,entity,rule,confidence,line,column,field,match,context,extra\n\
             fp1,share,a.txt,SSN,ssn,HIGH,,,,***,c,x\n",
        )
        .unwrap();
        let got = rows(&path, Tail::Strict).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].fingerprint, "fp1");
        assert_eq!(got[0].path, "a.txt");
        assert_eq!(got[0].line, None);
    }

    #[test]
    fn strict_reading_refuses_what_repair_cuts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        std::fs::write(&path, format!("{HEADER}share,b.txt,SSN,ssn,HI")).unwrap();
        let err = rows(&path, Tail::Strict).unwrap_err().to_string();
        assert!(err.contains("not a phiscan CSV row"), "{err}");
        std::fs::write(&path, "target,path\nx,y\n").unwrap();
        let err = rows(&path, Tail::Strict).unwrap_err().to_string();
        assert!(err.contains("no fingerprint column"), "{err}");
        std::fs::write(&path, "hello\n").unwrap();
        let err = rows(&path, Tail::Repair).unwrap_err().to_string();
        assert!(err.contains("no header row"), "{err}");
    }

    #[test]
    fn jsonl_report_loses_its_cut_line_and_summary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let row = r#"{"type":"finding","target":"t","path":"a","entity":"SSN","rule":"ssn","confidence":"HIGH","line":1,"column":2,"field":"","match":"***","context":"c","fingerprint":"f"}"#;
        let summary = r#"{"type":"summary","interrupted":true,"fingerprint_key_id":"abc"}"#;
        std::fs::write(&path, format!("{row}\n{summary}\n{{\"type\":\"fin")).unwrap();
        // Strict: the cut line is an error.
        assert!(rows(&path, Tail::Strict).is_err());
        let got = rows(&path, Tail::Repair).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].line, Some(1));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{row}\n"));
        // Strict reading takes the key id from the summary line.
        std::fs::write(&path, format!("{row}\n{summary}\n")).unwrap();
        let mut n = 0;
        let read = read_report(&path, Tail::Strict, &mut |_| n += 1).unwrap();
        assert_eq!((n, read.key_id.as_deref()), (1, Some("abc")));
    }

    #[test]
    fn a_finding_without_fingerprint_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, "{\"type\":\"finding\"}\n{oops\n").unwrap();
        let err = rows(&path, Tail::Strict).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
