//! Baselines: the fingerprints of findings already known, so that CI fails
//! only on what is new. `phiscan baseline create REPORT -o baseline.json`
//! reads a CSV or JSONL report; `phiscan scan --baseline baseline.json`
//! counts findings whose fingerprint is in it as "baselined" instead of
//! reporting them (and they do not affect the exit status).
//!
//! Fingerprints are keyed (see [`crate::report::fingerprint`]), so the
//! baseline must know the key the report was made with. The key comes from
//! `--fingerprint-key`/`PHISCAN_FINGERPRINT_KEY`, or from the key file a
//! scan writes next to its report when it had to generate a key
//! (`REPORT.key`, or `DIR.key` beside `--output-dir DIR`). Unless the key was
//! given from outside, it is stored in the baseline file so that later
//! scans use it: the baseline is then as sensitive as a report (see the
//! trade-off in the fingerprint module).

use crate::report::fingerprint::{FingerprintKey, KeyError};
use crate::report::read::{ReadError, Tail};
use crate::report::Finding;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

pub const FORMAT_VERSION: u32 = 1;
/// Largest baseline file read (about two million findings).
const MAX_BASELINE_BYTES: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error(
        "{path}: no fingerprint key for this report: pass --fingerprint-key or set \
         PHISCAN_FINGERPRINT_KEY to the key the scan used (or keep the {key_file} file the \
         scan wrote)"
    )]
    NoKey { path: PathBuf, key_file: String },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "{path}: the baseline was made with fingerprint key {baseline_id}, this scan uses \
         {scan_id}: nothing would match; use the baseline's key or create a new baseline"
    )]
    KeyMismatch {
        path: PathBuf,
        baseline_id: String,
        scan_id: String,
    },
}

/// One baselined finding (no value: the fingerprint stands for it).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct BaselineEntry {
    pub fingerprint: String,
    pub path: String,
    pub rule: String,
    pub entity: String,
}

/// The baseline file (JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineFile {
    pub version: u32,
    /// Public id of the key the fingerprints were made with.
    pub key_id: String,
    /// The key itself, when it was generated rather than given from outside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub findings: Vec<BaselineEntry>,
}

/// A loaded baseline, ready to filter a scan.
#[derive(Debug)]
pub struct Baseline {
    pub key_id: String,
    pub key: Option<FingerprintKey>,
    fingerprints: HashSet<String>,
}

impl Baseline {
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let file = std::fs::File::open(path).map_err(|source| BaselineError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        // Bounded: a baseline bigger than this is not one of ours.
        let mut text = String::new();
        file.take(MAX_BASELINE_BYTES)
            .read_to_string(&mut text)
            .map_err(|source| BaselineError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let parsed: BaselineFile =
            serde_json::from_str(&text).map_err(|e| BaselineError::Format {
                path: path.to_path_buf(),
                message: format!("not a phiscan baseline: {e}"),
            })?;
        if parsed.version != FORMAT_VERSION {
            return Err(BaselineError::Format {
                path: path.to_path_buf(),
                message: format!("unsupported baseline version {}", parsed.version),
            });
        }
        let key = match &parsed.key {
            Some(k) => {
                let key = FingerprintKey::from_secret(k)?;
                if key.id() != parsed.key_id {
                    return Err(BaselineError::Format {
                        path: path.to_path_buf(),
                        message: "the stored key does not match key_id".into(),
                    });
                }
                Some(key)
            }
            None => None,
        };
        Ok(Baseline {
            key_id: parsed.key_id,
            key,
            fingerprints: parsed.findings.into_iter().map(|e| e.fingerprint).collect(),
        })
    }

    /// Fails when the scan's key is not the one the baseline was made with.
    pub fn check_key(&self, path: &Path, scan_key: &FingerprintKey) -> Result<(), BaselineError> {
        let scan_id = scan_key.id();
        if scan_id != self.key_id {
            return Err(BaselineError::KeyMismatch {
                path: path.to_path_buf(),
                baseline_id: self.key_id.clone(),
                scan_id,
            });
        }
        Ok(())
    }

    pub fn contains(&self, f: &Finding) -> bool {
        self.fingerprints.contains(&f.fingerprint)
    }

    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty()
    }
}

/// The key file a scan writes next to `report` when it generated its key.
pub fn key_file_for_report(report: &Path) -> PathBuf {
    let mut name = report.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// The key file a scan with `--output-dir DIR` writes: `DIR.key`, beside
/// the folder rather than in it, so that uploading the report folder (CI
/// artifacts) does not upload the key.
pub fn key_file_for_dir(dir: &Path) -> PathBuf {
    let trimmed = dir.components().collect::<PathBuf>();
    let mut name = trimmed.into_os_string();
    name.push(".key");
    PathBuf::from(name)
}

/// Reads a key file written by a scan.
pub fn read_key_file(path: &Path) -> Option<Result<FingerprintKey, KeyError>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(FingerprintKey::from_secret(text.trim()))
}

/// Writes a generated key next to a report, readable by its owner only.
pub fn write_key_file(path: &Path, key: &FingerprintKey) -> std::io::Result<()> {
    write_private(path, &format!("{}\n", key.secret()))
}

/// Writes a file readable by its owner only (key files, baselines that
/// store their key).
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    crate::outfile::write(path, text.as_bytes())
}

/// Builds a baseline from a CSV or JSONL report. `explicit_key` is the key
/// from the command line or environment; without one, the scan's key file
/// is looked for and the key is stored in the baseline.
pub fn create(
    report: &Path,
    explicit_key: Option<&FingerprintKey>,
) -> Result<BaselineFile, BaselineError> {
    let (key, store) = match explicit_key {
        Some(k) => (k.clone(), false),
        None => {
            let candidates = [
                key_file_for_report(report),
                key_file_for_dir(report.parent().unwrap_or(Path::new("."))),
            ];
            let found = candidates.iter().find_map(|p| read_key_file(p));
            match found {
                Some(k) => (k?, true),
                None => {
                    return Err(BaselineError::NoKey {
                        path: report.to_path_buf(),
                        key_file: key_file_for_report(report).display().to_string(),
                    })
                }
            }
        }
    };
    let mut findings = Vec::new();
    let read = crate::report::read::read_report(report, Tail::Strict, &mut |f| {
        findings.push(BaselineEntry {
            fingerprint: f.fingerprint,
            path: f.path,
            rule: f.rule.to_string(),
            entity: f.entity.as_str().to_string(),
        })
    })
    .map_err(|e| match e {
        ReadError::Io { path, source } => BaselineError::Io { path, source },
        ReadError::Format { path, message } => BaselineError::Format { path, message },
    })?;
    if let Some(id) = &read.key_id {
        if *id != key.id() {
            return Err(BaselineError::KeyMismatch {
                path: report.to_path_buf(),
                baseline_id: id.clone(),
                scan_id: key.id(),
            });
        }
    }
    findings.sort();
    findings.dedup();
    Ok(BaselineFile {
        version: FORMAT_VERSION,
        key_id: key.id(),
        key: store.then(|| key.secret()),
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::csv::CsvReport;
    use crate::report::jsonl::JsonlReport;
    use crate::report::test_support::{sample_findings, sample_summary};
    use crate::report::ReportWriter;

    fn key() -> FingerprintKey {
        FingerprintKey::from_secret("unit-test-key-0123456789").unwrap()
    }

    fn write_csv(path: &Path) {
        let mut w = CsvReport::new(std::fs::File::create(path).unwrap()).unwrap();
        for f in sample_findings() {
            w.finding(&f).unwrap();
        }
        w.finish(&sample_summary()).unwrap();
    }

    #[test]
    fn csv_round_trip_with_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("r.csv");
        write_csv(&report);
        // No key anywhere: a clear error.
        let err = create(&report, None).unwrap_err().to_string();
        assert!(err.contains("no fingerprint key"), "{err}");
        write_key_file(&key_file_for_report(&report), &key()).unwrap();
        let file = create(&report, None).unwrap();
        assert_eq!(file.findings.len(), 3);
        assert_eq!(file.key.as_deref(), Some("unit-test-key-0123456789"));
        let out = dir.path().join("b.json");
        std::fs::write(&out, serde_json::to_string_pretty(&file).unwrap()).unwrap();
        let b = Baseline::load(&out).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b.key, Some(key()));
        for f in sample_findings() {
            assert!(b.contains(&f));
        }
        let mut moved = sample_findings().remove(0);
        moved.line = Some(99); // a line shift keeps the fingerprint
        assert!(b.contains(&moved));
        b.check_key(&out, &key()).unwrap();
        let other = FingerprintKey::from_secret("some-other-key-0123456789").unwrap();
        assert!(matches!(
            b.check_key(&out, &other),
            Err(BaselineError::KeyMismatch { .. })
        ));
    }

    #[test]
    fn jsonl_with_explicit_key_does_not_store_it() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("r.jsonl");
        {
            let mut w = JsonlReport::new(std::fs::File::create(&report).unwrap());
            for f in sample_findings() {
                w.finding(&f).unwrap();
            }
            let mut s = sample_summary();
            s.fingerprint_key_id = key().id();
            w.finish(&s).unwrap();
        }
        let file = create(&report, Some(&key())).unwrap();
        assert_eq!(file.findings.len(), 3);
        assert!(file.key.is_none());
        let json = serde_json::to_string(&file).unwrap();
        assert!(!json.contains("unit-test-key"));
        // A different key than the report's is refused.
        let other = FingerprintKey::from_secret("some-other-key-0123456789").unwrap();
        assert!(matches!(
            create(&report, Some(&other)),
            Err(BaselineError::KeyMismatch { .. })
        ));
    }

    #[test]
    fn malformed_inputs_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, b"{\"version\":1}").unwrap();
        assert!(Baseline::load(&bad).is_err());
        std::fs::write(&bad, b"\xff\xfe garbage").unwrap();
        assert!(Baseline::load(&bad).is_err());
        let csv = dir.path().join("old.csv");
        std::fs::write(&csv, "target,path\nx,y\n").unwrap();
        let err = create(&csv, Some(&key())).unwrap_err().to_string();
        assert!(err.contains("no fingerprint column"), "{err}");
        let jsonl = dir.path().join("bad.jsonl");
        std::fs::write(&jsonl, "{\"type\":\"finding\"}\n{oops\n").unwrap();
        assert!(create(&jsonl, Some(&key())).is_err());
    }
}
