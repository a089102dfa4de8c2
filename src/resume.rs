//! `--resume STATE`: a scan done in pieces.
//!
//! The state file lists the files already scanned, one JSON line each,
//! appended (one write per line) as soon as a file's rows are in the report.
//! A rerun with the same file skips them, appends to the existing report and
//! drops rows the report already holds (those of files that were in flight
//! when the scan stopped, which are scanned again).
//!
//! Entries are keyed by a salted hash of target and path (plus size and
//! modification time where known, so that a changed file is scanned again):
//! the state file holds no file names and no matched values.

use crate::report::{Finding, ReportFormat};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// First line of a state file.
#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    phiscan_resume: u32,
    salt: String,
}

/// One completed file.
#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    /// Salted hash of target and path.
    k: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<i64>,
}

const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("{path}: {message}")]
    State { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ResumeError + '_ {
    move |source| ResumeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a previous run completed: read once, then only looked up.
#[derive(Debug, Default)]
pub struct Completed {
    salt: String,
    files: HashMap<String, (Option<u64>, Option<i64>)>,
}

impl Completed {
    fn key(&self, target: &str, path: &str) -> String {
        entry_key(&self.salt, target, path)
    }

    /// Whether the file was scanned by the previous run and (as far as size
    /// and modification time tell) has not changed since.
    pub fn file_done(
        &self,
        target: &str,
        path: &str,
        size: Option<u64>,
        mtime: Option<i64>,
    ) -> bool {
        if self.files.is_empty() {
            return false;
        }
        match self.files.get(&self.key(target, path)) {
            Some((s, m)) => same(*s, size) && same(*m, mtime),
            None => false,
        }
    }

    /// Whether the previous run completed this file (whatever its size):
    /// its name has been matched already.
    pub fn name_done(&self, target: &str, path: &str) -> bool {
        !self.files.is_empty() && self.files.contains_key(&self.key(target, path))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

fn same<T: PartialEq>(a: Option<T>, b: Option<T>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

fn entry_key(salt: &str, target: &str, path: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(target.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The open state file: the output thread appends to it.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    file: File,
    salt: String,
    line: Vec<u8>,
}

impl StateFile {
    /// Opens (or creates) the state file and reads what it holds. `None`
    /// in the second place: no previous run (a new or empty file).
    pub fn open(path: &Path) -> Result<(StateFile, Option<Completed>), ResumeError> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_err(path))?;
        let mut text = Vec::new();
        file.read_to_end(&mut text).map_err(io_err(path))?;
        let bad = |message: &str| ResumeError::State {
            path: path.to_path_buf(),
            message: message.to_string(),
        };
        // Only whole lines count: a kill may have cut the last one.
        let whole = match text.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => 0,
        };
        if whole == 0 {
            // New, empty, or killed while writing the header: start afresh.
            file.set_len(0).map_err(io_err(path))?;
            let salt = new_salt().map_err(|e| bad(&e))?;
            let mut state = StateFile {
                path: path.to_path_buf(),
                file,
                salt: salt.clone(),
                line: Vec::new(),
            };
            let header = Header {
                phiscan_resume: VERSION,
                salt,
            };
            state.append(&header)?;
            return Ok((state, None));
        }
        if whole < text.len() {
            file.set_len(whole as u64).map_err(io_err(path))?;
            file.seek(io::SeekFrom::End(0)).map_err(io_err(path))?;
        }
        let mut lines = BufReader::new(&text[..whole]).lines();
        let first = lines.next().transpose().map_err(io_err(path))?;
        let header: Header = first
            .as_deref()
            .and_then(|l| serde_json::from_str(l).ok())
            .ok_or_else(|| bad("not a phiscan --resume state file"))?;
        if header.phiscan_resume != VERSION {
            return Err(bad(&format!(
                "state file version {} (this phiscan writes {VERSION})",
                header.phiscan_resume
            )));
        }
        let mut completed = Completed {
            salt: header.salt.clone(),
            files: HashMap::new(),
        };
        for (i, l) in lines.enumerate() {
            let l = l.map_err(io_err(path))?;
            let entry: Line =
                serde_json::from_str(&l).map_err(|e| bad(&format!("line {}: {e}", i + 2)))?;
            completed.files.insert(entry.k, (entry.s, entry.m));
        }
        Ok((
            StateFile {
                path: path.to_path_buf(),
                file,
                salt: header.salt,
                line: Vec::new(),
            },
            Some(completed),
        ))
    }

    fn append<T: serde::Serialize>(&mut self, value: &T) -> Result<(), ResumeError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value).map_err(|e| ResumeError::State {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        self.line.push(b'\n');
        // One write per line, straight to the file: a kill leaves at most a
        // cut last line, which the next run ignores.
        self.file.write_all(&self.line).map_err(io_err(&self.path))
    }

    /// Records a completed file.
    pub fn file_done(
        &mut self,
        target: &str,
        path: &str,
        size: Option<u64>,
        mtime: Option<i64>,
    ) -> io::Result<()> {
        let line = Line {
            k: entry_key(&self.salt, target, path),
            s: size,
            m: mtime,
        };
        self.append(&line).map_err(|e| match e {
            ResumeError::Io { source, .. } => source,
            other => io::Error::other(other.to_string()),
        })
    }

    /// Flushes the state to disk (end of scan or interruption).
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

fn new_salt() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| format!("no random source: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Identity of a report row: two rows with the same identity are the same
/// finding at the same place, so a resumed run writes it only once.
pub fn row_id(f: &Finding) -> [u8; 16] {
    let mut h = Sha256::new();
    for part in [
        f.target.as_bytes(),
        f.path.as_bytes(),
        f.rule.as_bytes(),
        f.line.map(|n| n.to_string()).unwrap_or_default().as_bytes(),
        f.column
            .map(|n| n.to_string())
            .unwrap_or_default()
            .as_bytes(),
        f.field.as_bytes(),
        f.fingerprint.as_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&h.finalize()[..16]);
    id
}

/// Reads a CSV report for resuming, streaming (memory stays bounded by one
/// row): cuts off a partial last row (a kill mid-write) and hands every
/// whole row to `on_row`. Returns whether a header is present.
pub fn read_csv_report(path: &Path, on_row: &mut dyn FnMut(Finding)) -> Result<bool, ResumeError> {
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let ends_whole = len == 0 || last_byte(path, len)? == Some(b'\n');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::new(file));
    let mut record = csv::StringRecord::new();
    // A row counts once the next one starts (or the file ends in a newline):
    // only then is it known to be whole.
    let mut pending: Option<(Option<Finding>, u64)> = None;
    let mut valid_end = 0u64;
    let mut header = false;
    loop {
        let more = matches!(reader.read_record(&mut record), Ok(true));
        let whole_record = more && record.len() >= crate::report::csv::HEADER.len();
        if more && !whole_record && reader.position().byte() < len {
            // A short row in the middle: not a report phiscan wrote.
            return Err(ResumeError::State {
                path: path.to_path_buf(),
                message: format!("line {}: not a phiscan CSV row", reader.position().line()),
            });
        }
        let cut = !whole_record;
        if let Some((row, end)) = pending.take() {
            if !(cut && !more && !ends_whole) {
                if let Some(f) = row {
                    on_row(f);
                }
                valid_end = end;
            }
        }
        if cut {
            break;
        }
        let end = reader.position().byte();
        if !header {
            if record.get(0) != Some("target") {
                return Err(ResumeError::State {
                    path: path.to_path_buf(),
                    message: "not a phiscan CSV report (no header row)".into(),
                });
            }
            header = true;
            pending = Some((None, end));
        } else {
            pending = Some((finding_from_csv(&record), end));
        }
    }
    // A last row without its newline is cut.
    if let Some((row, end)) = pending.take() {
        if ends_whole {
            if let Some(f) = row {
                on_row(f);
            }
            valid_end = end;
        }
    }
    truncate(path, valid_end, len)?;
    Ok(header)
}

fn last_byte(path: &Path, len: u64) -> Result<Option<u8>, ResumeError> {
    let mut f = File::open(path).map_err(io_err(path))?;
    f.seek(io::SeekFrom::Start(len - 1)).map_err(io_err(path))?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b).map_err(io_err(path))?;
    Ok(Some(b[0]))
}

/// Reads a JSONL report for resuming, streaming: hands every finding line
/// to `on_row`, cuts off a partial last line and the previous run's
/// trailing summary line.
pub fn read_jsonl_report(path: &Path, on_row: &mut dyn FnMut(Finding)) -> Result<(), ResumeError> {
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut valid_end = 0u64;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io_err(path))?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&line) else {
            break;
        };
        if value.get("type").and_then(|t| t.as_str()) != Some("finding") {
            // The summary of the interrupted run: the resumed run writes its own.
            break;
        }
        if let Some(f) = finding_from_json(&value) {
            on_row(f);
        }
        valid_end += n as u64;
    }
    truncate(path, valid_end, len)
}

fn truncate(path: &Path, len: u64, current: u64) -> Result<(), ResumeError> {
    if len == current {
        return Ok(());
    }
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    f.set_len(len).map_err(io_err(path))
}

fn finding_from_csv(r: &csv::StringRecord) -> Option<Finding> {
    let num = |i: usize| -> Option<Option<u64>> {
        let s = r.get(i)?;
        if s.is_empty() {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    Some(Finding {
        target: r.get(0)?.into(),
        path: r.get(1)?.to_string(),
        entity: crate::entity::Entity::parse(r.get(2)?)?,
        rule: r.get(3)?.into(),
        confidence: crate::entity::Confidence::parse(r.get(4)?)?,
        line: num(5)?,
        column: num(6)?,
        field: r.get(7)?.to_string(),
        matched: r.get(8)?.to_string(),
        context: r.get(9)?.to_string(),
        fingerprint: r.get(10)?.to_string(),
        value_fingerprint: String::new(),
    })
}

fn finding_from_json(v: &serde_json::Value) -> Option<Finding> {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str());
    Some(Finding {
        target: s("target")?.into(),
        path: s("path")?.to_string(),
        entity: crate::entity::Entity::parse(s("entity")?)?,
        rule: s("rule")?.into(),
        confidence: crate::entity::Confidence::parse(s("confidence")?)?,
        line: v.get("line").and_then(|x| x.as_u64()),
        column: v.get("column").and_then(|x| x.as_u64()),
        field: s("field")?.to_string(),
        matched: s("match")?.to_string(),
        context: s("context")?.to_string(),
        fingerprint: s("fingerprint")?.to_string(),
        value_fingerprint: String::new(),
    })
}

/// The report a resumed run reads its previous rows from: CSV if asked
/// for, else JSONL (SARIF and HTML are whole documents, rebuilt from it).
pub fn appendable(formats: &[(ReportFormat, Option<PathBuf>)]) -> Option<(ReportFormat, PathBuf)> {
    [ReportFormat::Csv, ReportFormat::Jsonl]
        .into_iter()
        .find_map(|want| {
            formats
                .iter()
                .find(|(f, p)| *f == want && p.is_some())
                .map(|(f, p)| (*f, p.clone().expect("checked")))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_survives_a_cut_last_line_and_holds_no_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let (mut state, prev) = StateFile::open(&path).unwrap();
        assert!(prev.is_none());
        state
            .file_done("share", "SMITH_JOHN_DOB_1980-01-02.txt", Some(10), Some(5))
            .unwrap();
        state.file_done("share", "b.txt", None, None).unwrap();
        drop(state);
        // A kill mid-write leaves a partial line.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"k\":\"12").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("SMITH") && !text.contains("1980"), "{text}");
        let (_state, prev) = StateFile::open(&path).unwrap();
        let prev = prev.unwrap();
        assert_eq!(prev.len(), 2);
        let name = "SMITH_JOHN_DOB_1980-01-02.txt";
        assert!(prev.file_done("share", name, Some(10), Some(5)));
        // Changed size or time: scanned again.
        assert!(!prev.file_done("share", name, Some(11), Some(5)));
        assert!(!prev.file_done("share", name, Some(10), Some(6)));
        assert!(prev.name_done("share", name));
        assert!(prev.file_done("share", "b.txt", Some(3), None));
        assert!(!prev.file_done("other", "b.txt", None, None));
        // The cut line is gone.
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("}\n"));
    }

    #[test]
    fn a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        std::fs::write(&path, "hello\n").unwrap();
        let err = StateFile::open(&path).unwrap_err().to_string();
        assert!(err.contains("not a phiscan --resume state file"), "{err}");
    }

    #[test]
    fn csv_report_loses_its_cut_row_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let whole =
            "target,path,entity,rule,confidence,line,column,field,match,context,fingerprint\n\
                     share,a.txt,SSN,ssn,HIGH,1,5,,***-**-6789,\"SSN ***-**-6789\nnext\",fp1\n";
        std::fs::write(&path, format!("{whole}share,b.txt,SSN,ssn,HI")).unwrap();
        let mut rows = Vec::new();
        assert!(read_csv_report(&path, &mut |f| rows.push(f)).unwrap());
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].context, "SSN ***-**-6789\nnext");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        // A whole file stays as it is.
        let mut rows = Vec::new();
        assert!(read_csv_report(&path, &mut |f| rows.push(f)).unwrap());
        assert_eq!(rows.len(), 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        // A row cut inside a quoted field (newline included) is cut too.
        std::fs::write(
            &path,
            format!("{whole}share,b.txt,SSN,ssn,HIGH,1,5,,x,\"a\nb"),
        )
        .unwrap();
        let mut rows = Vec::new();
        assert!(read_csv_report(&path, &mut |f| rows.push(f)).unwrap());
        assert_eq!(rows.len(), 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
    }

    #[test]
    fn jsonl_report_loses_its_cut_line_and_summary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let row = r#"{"type":"finding","target":"t","path":"a","entity":"SSN","rule":"ssn","confidence":"HIGH","line":1,"column":2,"field":"","match":"***","context":"c","fingerprint":"f"}"#;
        std::fs::write(
            &path,
            format!("{row}\n{{\"type\":\"summary\",\"interrupted\":true}}\n{{\"type\":\"fin"),
        )
        .unwrap();
        let mut rows = Vec::new();
        read_jsonl_report(&path, &mut |f| rows.push(f)).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, Some(1));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{row}\n"));
    }
}
