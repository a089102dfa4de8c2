//! `--resume STATE`: a scan done in pieces.
//!
//! The state file lists the files already scanned, one JSON line each,
//! appended (one write per line) as soon as a file's rows are in the report.
//! A rerun with the same file skips them, appends to the existing report and
//! drops rows the report already holds (those of files that were in flight
//! when the scan stopped, which are scanned again).
//!
//! Entries are a MAC of target and path under the fingerprint key (plus
//! size and modification time where known, so that a changed file is
//! scanned again): the state file holds no file names and no matched
//! values, and without the key its entries cannot be matched to names.

use crate::report::fingerprint::{self, FingerprintKey};
use crate::report::read::{self, Readable, Tail};
use crate::report::{
    Checkpoint, EarlierRows, Event, Finding, ReportFormat, ReportWriter, SkipReason, Summary,
};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// First line of a state file.
#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    phiscan_resume: u32,
    /// Public id of the fingerprint key the entries are keyed with.
    key_id: String,
}

/// One completed file.
#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    /// MAC of target and path (see [`fingerprint::resume_entry`]).
    k: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<i64>,
    /// `--max-bytes` cut it: a resumed run counts and names it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    t: bool,
    /// What in it was not examined, counted by reason (no names: the state
    /// file holds no paths), so a resumed run counts it again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    n: Vec<(SkipReason, u64)>,
}

/// Version 1 keyed its entries with a salt stored in the file itself.
const VERSION: u32 = 2;

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
#[derive(Debug)]
pub struct Completed {
    key: FingerprintKey,
    files: HashMap<String, DoneFile>,
}

/// What the state file says of one completed file.
#[derive(Debug)]
struct DoneFile {
    size: Option<u64>,
    mtime: Option<i64>,
    /// `--max-bytes` cut it.
    truncated: bool,
    /// Not examined in it, by reason.
    not_examined: Vec<(SkipReason, u64)>,
}

impl Completed {
    fn key(&self, target: &str, path: &str) -> String {
        fingerprint::resume_entry(&self.key, target, path)
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
            Some(done) => same(done.size, size) && same(done.mtime, mtime),
            None => false,
        }
    }

    /// Whether the previous run completed this file (whatever its size):
    /// its name has been matched already.
    pub fn name_done(&self, target: &str, path: &str) -> bool {
        !self.files.is_empty() && self.files.contains_key(&self.key(target, path))
    }

    /// Whether `--max-bytes` cut the file in the run that completed it.
    pub fn truncated(&self, target: &str, path: &str) -> bool {
        !self.files.is_empty()
            && self
                .files
                .get(&self.key(target, path))
                .is_some_and(|done| done.truncated)
    }

    /// What the run that completed the file could not examine in it.
    pub fn not_examined(&self, target: &str, path: &str) -> Vec<(SkipReason, u64)> {
        if self.files.is_empty() {
            return Vec::new();
        }
        self.files
            .get(&self.key(target, path))
            .map(|done| done.not_examined.clone())
            .unwrap_or_default()
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

/// The open state file: the output thread appends to it.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    file: File,
    key: FingerprintKey,
    line: Vec<u8>,
}

impl StateFile {
    /// Opens (or creates) the state file and reads what it holds. `None`
    /// in the second place: no previous run (a new or empty file). `key`:
    /// the scan's fingerprint key, which must be the one the file was
    /// started with.
    pub fn open(
        path: &Path,
        key: &FingerprintKey,
    ) -> Result<(StateFile, Option<Completed>), ResumeError> {
        let mut file = crate::outfile::read_append(path).map_err(io_err(path))?;
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
            let mut state = StateFile {
                path: path.to_path_buf(),
                file,
                key: key.clone(),
                line: Vec::new(),
            };
            let header = Header {
                phiscan_resume: VERSION,
                key_id: key.id(),
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
        let version = first
            .as_deref()
            .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .and_then(|v| v.get("phiscan_resume")?.as_u64())
            .ok_or_else(|| bad("not a phiscan --resume state file"))?;
        if version != u64::from(VERSION) {
            return Err(bad(&format!(
                "state file version {version} (this phiscan writes {VERSION}): delete it to \
                 start over"
            )));
        }
        let header: Header = first
            .as_deref()
            .and_then(|l| serde_json::from_str(l).ok())
            .ok_or_else(|| bad("not a phiscan --resume state file"))?;
        if header.key_id != key.id() {
            return Err(bad(&format!(
                "the state was recorded with fingerprint key {}, this scan uses {}: use the \
                 same key (PHISCAN_FINGERPRINT_KEY, or the key file beside the report), or \
                 delete the state file to start over",
                header.key_id,
                key.id()
            )));
        }
        let mut completed = Completed {
            key: key.clone(),
            files: HashMap::new(),
        };
        for (i, l) in lines.enumerate() {
            let l = l.map_err(io_err(path))?;
            let entry: Line =
                serde_json::from_str(&l).map_err(|e| bad(&format!("line {}: {e}", i + 2)))?;
            completed.files.insert(
                entry.k,
                DoneFile {
                    size: entry.s,
                    mtime: entry.m,
                    truncated: entry.t,
                    not_examined: entry.n,
                },
            );
        }
        Ok((
            StateFile {
                path: path.to_path_buf(),
                file,
                key: key.clone(),
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
        truncated: bool,
        not_examined: &[(SkipReason, u64)],
    ) -> io::Result<()> {
        let line = Line {
            k: fingerprint::resume_entry(&self.key, target, path),
            s: size,
            m: mtime,
            t: truncated,
            n: not_examined.to_vec(),
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

/// A resumed run's report side: the state file, what the earlier run
/// completed, and where its rows are.
pub struct Resume {
    state: StateFile,
    /// Files an earlier run completed; `None` when there was none.
    pub completed: Option<Arc<Completed>>,
    /// The report the earlier run's findings are read from (CSV, else
    /// JSONL), when there was an earlier run.
    primary: Option<(Readable, PathBuf)>,
    /// Rows of the other appendable report (CSV and JSONL both asked
    /// for): a kill between the two writes of a row leaves it in one only.
    other_rows: HashSet<[u8; 16]>,
}

impl Resume {
    /// Opens the state file; when it records an earlier run, checks that
    /// run's report is there and repairs the other appendable one (a
    /// partial last row is cut off). `reports`: every format asked for and
    /// its file (`None`: stdout).
    pub fn open(
        state_path: &Path,
        reports: &[(ReportFormat, Option<PathBuf>)],
        key: &FingerprintKey,
    ) -> Result<Resume, String> {
        if reports.iter().any(|(_, p)| p.is_none()) {
            return Err(
                "the report must go to a file (-o FILE or --output-dir DIR) to be appended to"
                    .into(),
            );
        }
        let Some((primary_format, primary)) = appendable(reports) else {
            return Err(
                "needs csv or jsonl among the formats: SARIF and HTML are rebuilt from them".into(),
            );
        };
        let (state, completed) = StateFile::open(state_path, key).map_err(|e| e.to_string())?;
        // No file completed yet: nothing to continue, start the report afresh
        // (rows of files that were in flight are written again by this run).
        let completed = completed.filter(|c| !c.is_empty());
        let mut other_rows = HashSet::new();
        if let Some(done) = &completed {
            if !primary.exists() {
                return Err(format!(
                    "{} lists {} files scanned by an earlier run, but its report {} is missing \
                     (remove the state file to start over)",
                    state_path.display(),
                    done.len(),
                    primary.display()
                ));
            }
            for (format, path) in reports {
                let Some(path) = path.as_ref().filter(|p| p.exists()) else {
                    continue;
                };
                if *format == primary_format {
                    continue;
                }
                if let Some(readable) = readable(*format) {
                    read_rows(readable, path, &mut |f| {
                        other_rows.insert(row_id(&f));
                    })?;
                }
            }
        }
        Ok(Resume {
            state,
            primary: completed.as_ref().map(|_| {
                let readable = readable(primary_format).expect("appendable formats are readable");
                (readable, primary)
            }),
            completed: completed.map(Arc::new),
            other_rows,
        })
    }

    /// Whether an earlier run completed files (the reports are appended to).
    pub fn continues(&self) -> bool {
        self.completed.is_some()
    }

    /// Hands the earlier run's rows to the writers that are rewritten
    /// whole (SARIF, HTML) and to the summary, and returns the checkpoint
    /// the output loop records completed files with. Streamed: a large
    /// report costs 16 bytes a row, not its size. `formats`: the writers'
    /// formats, in their order.
    pub fn replay(
        self,
        formats: &[ReportFormat],
        writers: &mut [Box<dyn ReportWriter>],
        summary: &mut Summary,
    ) -> Result<ResumeCheckpoint, ReplayError> {
        let mut checkpoint = ResumeCheckpoint {
            state: self.state,
            writer_sets: Vec::new(),
            row_sets: Vec::new(),
        };
        let Some((primary, path)) = &self.primary else {
            return Ok(checkpoint);
        };
        let mut ids = HashSet::new();
        let mut failed = None;
        read_rows(*primary, path, &mut |f| {
            ids.insert(row_id(&f));
            for w in writers.iter_mut().filter(|w| !w.appends()) {
                if let Err(e) = w.finding(&f) {
                    failed.get_or_insert(e);
                }
            }
            summary.findings_from_earlier_run += 1;
            summary.record(&Event::Finding(f));
        })
        .map_err(ReplayError::Read)?;
        if let Some(e) = failed {
            return Err(ReplayError::Write(e));
        }
        // The primary report holds the rows of `ids`; the other appendable
        // one those it was found to hold.
        checkpoint.writer_sets = formats
            .iter()
            .map(|f| match readable(*f) {
                Some(r) if r != *primary => Some(1),
                _ => Some(0),
            })
            .collect();
        checkpoint.row_sets = vec![ids, self.other_rows];
        Ok(checkpoint)
    }
}

/// Why replaying an earlier run failed.
#[derive(Debug)]
pub enum ReplayError {
    /// Its report could not be read.
    Read(String),
    /// A rewritten report could not be written.
    Write(io::Error),
}

fn readable(format: ReportFormat) -> Option<Readable> {
    match format {
        ReportFormat::Csv => Some(Readable::Csv),
        ReportFormat::Jsonl => Some(Readable::Jsonl),
        ReportFormat::Sarif | ReportFormat::Html | ReportFormat::Text => None,
    }
}

fn read_rows(format: Readable, path: &Path, on_row: &mut dyn FnMut(Finding)) -> Result<(), String> {
    let result = match format {
        Readable::Csv => read::read_csv(path, Tail::Repair, on_row),
        Readable::Jsonl => read::read_jsonl(path, Tail::Repair, on_row),
    };
    result.map(|_| ()).map_err(|e| e.to_string())
}

/// The output loop's view of `--resume`: rows an earlier run wrote, and
/// the state file completed files are recorded in.
pub struct ResumeCheckpoint {
    state: StateFile,
    /// Per writer, the set of rows it holds already (an index into
    /// `row_sets`); empty when there was no earlier run.
    writer_sets: Vec<Option<usize>>,
    /// The first set is also what the summary has counted.
    row_sets: Vec<HashSet<[u8; 16]>>,
}

impl Checkpoint for ResumeCheckpoint {
    fn earlier_rows(&self, finding: &Finding) -> EarlierRows {
        if self.row_sets.is_empty() {
            return EarlierRows::default();
        }
        let id = row_id(finding);
        let mut held_by = 0u64;
        for (i, set) in self.writer_sets.iter().enumerate() {
            if set.is_some_and(|s| self.row_sets[s].contains(&id)) {
                held_by |= 1 << i;
            }
        }
        EarlierRows {
            held_by,
            counted: self.row_sets[0].contains(&id),
        }
    }

    fn file_done(
        &mut self,
        target: &str,
        path: &str,
        size: Option<u64>,
        mtime: Option<i64>,
        truncated: bool,
        not_examined: &[(SkipReason, u64)],
    ) -> io::Result<()> {
        self.state
            .file_done(target, path, size, mtime, truncated, not_examined)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.state.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FingerprintKey {
        FingerprintKey::from_secret("resume-test-key-0123456789").unwrap()
    }

    #[test]
    fn another_key_cannot_read_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let (mut state, _) = StateFile::open(&path, &key()).unwrap();
        state
            .file_done("share", "a.txt", None, None, false, &[])
            .unwrap();
        drop(state);
        let other = FingerprintKey::from_secret("another-test-key-0123456789").unwrap();
        let err = StateFile::open(&path, &other).unwrap_err().to_string();
        assert!(err.contains("recorded with fingerprint key"), "{err}");
        // A version 1 state (salted hashes) is refused with a way out.
        std::fs::write(&path, "{\"phiscan_resume\":1,\"salt\":\"00\"}\n").unwrap();
        let err = StateFile::open(&path, &key()).unwrap_err().to_string();
        assert!(err.contains("delete it to start over"), "{err}");
    }

    #[test]
    fn state_survives_a_cut_last_line_and_holds_no_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let (mut state, prev) = StateFile::open(&path, &key()).unwrap();
        assert!(prev.is_none());
        state
            .file_done(
                "share",
                "SMITH_JOHN_DOB_1980-01-02.txt",
                Some(10),
                Some(5),
                true,
                &[],
            )
            .unwrap();
        state
            .file_done(
                "share",
                "b.txt",
                None,
                None,
                false,
                &[(SkipReason::Binary, 2), (SkipReason::Corrupt, 1)],
            )
            .unwrap();
        drop(state);
        // A kill mid-write leaves a partial line.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"k\":\"12").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("SMITH") && !text.contains("1980"), "{text}");
        let (_state, prev) = StateFile::open(&path, &key()).unwrap();
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
        // Whether --max-bytes cut it, for the resumed run's summary.
        assert!(prev.truncated("share", name));
        assert!(!prev.truncated("share", "b.txt"));
        // What was not examined in it, by reason only.
        assert_eq!(
            prev.not_examined("share", "b.txt"),
            [(SkipReason::Binary, 2), (SkipReason::Corrupt, 1)]
        );
        assert!(prev.not_examined("share", name).is_empty());
        // The cut line is gone.
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("}\n"));
    }

    #[test]
    fn a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        std::fs::write(&path, "hello\n").unwrap();
        let err = StateFile::open(&path, &key()).unwrap_err().to_string();
        assert!(err.contains("not a phiscan --resume state file"), "{err}");
    }
}
