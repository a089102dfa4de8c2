//! Helpers for the extractors' unit tests, in one place: a reader that
//! gives bytes in pieces, an engine with a small fixed rule pack (so the
//! tests do not move with the built-in pack) or the built-in one, the
//! events of scanning some bytes as a top-level file, and small archives.

use crate::config::ExtractLimits;
use crate::config::ScanConfig;
use crate::engine::{Engine, FileMeta, FileOutcome};
use crate::entity::Entity;
use crate::extract::ScanOptions;
use crate::matcher::Matcher;
use crate::report::{Event, SkipReason};
use std::io::{self, Read};
use std::sync::Arc;

/// Gives `data` in reads of at most `step` bytes (so that records and
/// chunks cross reads); at the end, end of input or an error.
pub struct Pieces<'a> {
    data: &'a [u8],
    step: usize,
    error: Option<&'static str>,
}

impl<'a> Pieces<'a> {
    pub fn new(data: &'a [u8], step: usize) -> Self {
        Pieces {
            data,
            step,
            error: None,
        }
    }

    /// Fails with `message` once `data` is given, instead of ending.
    pub fn then_fail(self, message: &'static str) -> Self {
        Pieces {
            error: Some(message),
            ..self
        }
    }
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let (true, Some(message)) = (self.data.is_empty(), self.error) {
            return Err(io::Error::other(message));
        }
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

pub const RULES: &str = r#"
[[rules]]
id = "test-ssn"
entity = "SSN"
description = "dashed SSN"
pattern = '''\b(?P<value>\d{3}-\d{2}-\d{4})\b'''
confidence = "HIGH"

[[rules]]
id = "test-npi"
entity = "NPI"
description = "ten digits after NPI"
pattern = '''\b(?P<value>\d{10})\b'''
confidence = "HIGH"
[rules.context]
words = ["npi"]
required = true

[[rules]]
id = "test-dob"
entity = "DOB"
description = "date after DOB"
pattern = '''\b(?P<value>\d{2}/\d{2}/\d{4})\b'''
confidence = "HIGH"
[rules.context]
words = ["dob"]
required = true

[[rules]]
id = "test-iso-date"
entity = "DOB"
description = "any ISO date (only spreadsheet date cells produce them in these tests)"
pattern = '''\b(?P<value>\d{4}-\d{2}-\d{2})\b'''
confidence = "LOW"
"#;

pub fn engine(limits: ExtractLimits) -> Engine {
    let pack = crate::rules::RulePack::parse("test.toml", RULES).expect("test rules parse");
    let matcher = Matcher::new(&pack).expect("test rules compile");
    Engine::new(
        matcher,
        ScanOptions {
            unmask: true,
            limits,
            ..ScanOptions::default()
        },
    )
}

pub fn scan_with(limits: ExtractLimits, name: &str, data: &[u8]) -> Vec<Event> {
    scan_using(&engine(limits), name, data)
}

/// The events of scanning `data` as a top-level file named `name`, with
/// an engine built once (building one compiles the rules).
pub fn scan_using(engine: &Engine, name: &str, data: &[u8]) -> Vec<Event> {
    scan_reader(engine, name, &mut &data[..], Some(data.len() as u64)).1
}

/// What scanning a top-level file read from `data` gives: its outcome and
/// its events.
pub fn scan_reader(
    engine: &Engine,
    name: &str,
    data: &mut dyn Read,
    size: Option<u64>,
) -> (FileOutcome, Vec<Event>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let target: Arc<str> = "t".into();
    let meta = FileMeta {
        target: &target,
        path: name,
        size,
        mtime: None,
    };
    let outcome = engine.scan_file(&meta, data, 0, &tx);
    drop(tx);
    (outcome, rx.into_iter().collect())
}

/// Every event of a top-level file `name` scanned on a pool of `threads`
/// threads, one line each: an event for a run of findings past the row
/// cap stands for `count` of them (how many such events a run makes
/// depends on how the file was cut, not what it holds).
pub fn events_on_threads(engine: &Engine, threads: usize, name: &str, data: &[u8]) -> Vec<String> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let (outcome, events) = pool.install(|| scan_reader(engine, name, &mut &data[..], None));
    assert!(!outcome.failed, "{name} on {threads} threads");
    events
        .iter()
        .flat_map(|e| match e.past_cap() {
            Some(c) => {
                let one = format!(
                    "PastRowCap {} {} {:?} {:?}",
                    c.target, c.path, c.entity, c.confidence
                );
                vec![one; c.count as usize]
            }
            None => vec![format!("{e:?}")],
        })
        .collect()
}

pub fn scan(name: &str, data: &[u8]) -> Vec<Event> {
    scan_with(ExtractLimits::default(), name, data)
}

/// (path, entity, field, value) of every finding.
pub fn findings(events: &[Event]) -> Vec<(String, Entity, String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Finding(f) => {
                Some((f.path.clone(), f.entity, f.field.clone(), f.matched.clone()))
            }
            _ => None,
        })
        .collect()
}

/// (path, reason) of every not-examined event.
pub fn skipped(events: &[Event]) -> Vec<(String, SkipReason)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::NotExamined { path, reason, .. } => Some((path.clone(), *reason)),
            _ => None,
        })
        .collect()
}

pub fn finding(
    path: &str,
    entity: Entity,
    field: &str,
    value: &str,
) -> (String, Entity, String, String) {
    (path.into(), entity, field.into(), value.into())
}

/// A zip of (name, bytes), deflated.
pub fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        writer.start_file(*name, options).expect("zip member");
        writer.write_all(data).expect("zip write");
    }
    writer.finish().expect("zip finish").into_inner()
}

pub fn gzip_of(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip write");
    encoder.finish().expect("gzip finish")
}

pub fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, name, *data)
            .expect("tar member");
    }
    builder.into_inner().expect("tar finish")
}

/// A finding reduced to what the tests check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub path: String,
    pub entity: Entity,
    pub rule: String,
    pub field: String,
    pub line: u64,
    pub column: u64,
}

pub struct Scanned {
    pub events: Vec<Event>,
}

impl Scanned {
    pub fn rows(&self) -> Vec<Row> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Finding(f) => Some(Row {
                    path: f.path.clone(),
                    entity: f.entity,
                    rule: f.rule.to_string(),
                    field: f.field.clone(),
                    line: f.line.unwrap_or(0),
                    column: f.column.unwrap_or(0),
                }),
                _ => None,
            })
            .collect()
    }

    /// Rows of field rules only (text-rule rows depend on the rule pack).
    pub fn field_rows(&self, rule: &str) -> Vec<Row> {
        self.rows().into_iter().filter(|r| r.rule == rule).collect()
    }

    pub fn has(&self, entity: Entity, field: &str) -> bool {
        self.rows()
            .iter()
            .any(|r| r.entity == entity && r.field == field)
    }

    pub fn row(&self, entity: Entity, field: &str) -> Row {
        self.rows()
            .into_iter()
            .find(|r| r.entity == entity && r.field == field)
            .unwrap_or_else(|| panic!("no {entity} row in {field}: {:#?}", self.rows()))
    }

    pub fn not_examined(&self) -> Vec<(String, SkipReason, String)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::NotExamined {
                    path,
                    reason,
                    detail,
                    ..
                } => Some((path.clone(), *reason, detail.clone())),
                _ => None,
            })
            .collect()
    }
}

/// Scans `bytes` as a file at `path` with the built-in rules, unmasked.
pub fn scan_builtin(path: &str, bytes: &[u8]) -> Scanned {
    let engine = crate::plan::build_engine(&ScanConfig {
        unmask: true,
        ..ScanConfig::default()
    })
    .expect("built-in rules load");
    Scanned {
        events: scan_using(&engine, path, bytes),
    }
}

/// The matched value (tests scan unmasked) of the row for `entity` in `field`.
pub fn value(s: &Scanned, entity: Entity, field: &str) -> String {
    s.events
        .iter()
        .find_map(|e| match e {
            Event::Finding(f) if f.entity == entity && f.field == field => Some(f.matched.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {entity} value in {field}"))
}
