//! The end-of-scan summary: what was read, what was not and why, what was
//! found. Built only from events, so every source and extractor feeds it the
//! same way.

use super::{Event, Finding, OcrWork, ServerAccess, SkipReason};
use crate::entity::{Confidence, Entity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Per-target facts.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetSummary {
    pub files_scanned: u64,
    pub bytes_read: u64,
    pub files_truncated: u64,
    pub findings: u64,
    pub findings_by_entity: BTreeMap<Entity, u64>,
    pub findings_by_confidence: BTreeMap<Confidence, u64>,
    /// Findings in the baseline (not reported).
    pub baselined: u64,
    /// Findings matched by an allowlist (not reported).
    pub allowed: u64,
    pub not_examined: u64,
    /// Inventory rows (FTP_SERVICE): reported, not counted as findings.
    #[serde(skip_serializing_if = "is_zero")]
    pub inventory: u64,
    /// Server facts such as `banner` or `tls`.
    pub info: BTreeMap<String, String>,
    /// Server targets: how far phiscan got (logged in, login failed,
    /// unreachable). Absent for local targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<ServerAccess>,
    /// The findings' exposure rows by confidence (the rest are PHI/PII),
    /// for `--fail-on` by kind (also after `phiscan merge`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exposure_by_confidence: BTreeMap<Confidence, u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    pub files_scanned: u64,
    pub bytes_read: u64,
    pub files_truncated: u64,
    /// Files skipped because an earlier run (`--resume`) scanned them.
    pub files_already_scanned: u64,
    /// Findings an earlier run (`--resume`) wrote to the report; counted
    /// in the totals too.
    pub findings_from_earlier_run: u64,
    /// Not examined, counted by reason.
    pub not_examined: BTreeMap<SkipReason, u64>,
    /// The first few not-examined paths with their reason, for the user.
    pub not_examined_examples: Vec<NotExaminedExample>,
    /// The first few files `--max-bytes` cut (all of `files_truncated`
    /// up to that many), named as the reports name them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub truncated_files: Vec<TruncatedFile>,
    pub findings_by_entity: BTreeMap<Entity, u64>,
    pub findings_by_confidence: BTreeMap<Confidence, u64>,
    pub targets: BTreeMap<String, TargetSummary>,
    /// Findings left out because the baseline holds them, by entity.
    pub baselined_by_entity: BTreeMap<Entity, u64>,
    /// Findings left out by an allowlist, by entity and by allowlist entry.
    pub allowed_by_entity: BTreeMap<Entity, u64>,
    pub allowed_by: BTreeMap<String, u64>,
    /// Public id of the fingerprint key (never the key itself).
    pub fingerprint_key_id: String,
    /// Where the key came from: `given`, `baseline` or `generated`.
    pub fingerprint_key_source: String,
    pub elapsed_secs: f64,
    pub interrupted: bool,
    /// Pages read by OCR, the engine's time on them, and pages not read
    /// by reason; absent when no image was met.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ocr: Option<OcrWork>,
    /// Inventory rows (FTP_SERVICE, one per FTP service found): written to
    /// the report, but not findings (no exit status 1).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub inventory_by_entity: BTreeMap<Entity, u64>,
    /// Findings counted but not written as rows: past `--max-rows-per-file`
    /// or `--max-rows`.
    #[serde(skip_serializing_if = "is_zero")]
    pub rows_not_written: u64,
    /// The settings file read, if any, and what of it was not trusted
    /// (`crate::trust`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings_file: Option<SettingsFileUse>,
    /// What `discover` swept, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery: Option<DiscoveryCounts>,
    /// When and how the run ran: version, times, targets, settings,
    /// `unmasked`, `insecure`.
    pub run: super::run::RunFacts,
}

/// A settings file a scan read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SettingsFileUse {
    pub path: String,
    /// `false`: found inside a scanned target without `--config`; only
    /// harmless settings were taken from it.
    pub trusted: bool,
    /// Its keys that were ignored because it was not trusted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The sweep's counts, for the summary.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DiscoveryCounts {
    /// Addresses in the targets (after exclusions), and how many were done.
    pub addresses: u64,
    pub addresses_done: u64,
    /// Address × port pairs connected to, open, and speaking FTP.
    pub ports_probed: u64,
    pub ports_open: u64,
    pub ftp_services: u64,
    /// Open ports speaking something else.
    pub not_ftp: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NotExaminedExample {
    pub target: String,
    pub path: String,
    pub reason: SkipReason,
    pub detail: String,
}

/// A file `--max-bytes` cut.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TruncatedFile {
    pub target: String,
    pub path: String,
    /// Bytes read and the file's size, when this run read it (`None`:
    /// read by the earlier run `--resume` continues).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_read: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// How many not-examined paths the summary lists by name.
const MAX_EXAMPLES: usize = 20;

impl Summary {
    /// Names a file `--max-bytes` cut (its count is kept by [`Self::record`]).
    pub fn name_truncated(
        &mut self,
        target: &str,
        path: String,
        bytes_read: Option<u64>,
        size: Option<u64>,
    ) {
        if self.truncated_files.len() < MAX_EXAMPLES {
            self.truncated_files.push(TruncatedFile {
                target: target.to_string(),
                path,
                bytes_read,
                size,
            });
        }
    }

    /// Counts `n` findings alike (written or past a row cap).
    fn count_findings(&mut self, target: &str, entity: Entity, confidence: Confidence, n: u64) {
        if entity.is_inventory() {
            *self.inventory_by_entity.entry(entity).or_default() += n;
            self.target(target).inventory += n;
            return;
        }
        *self.findings_by_entity.entry(entity).or_default() += n;
        *self.findings_by_confidence.entry(confidence).or_default() += n;
        let t = self.target(target);
        t.findings += n;
        *t.findings_by_entity.entry(entity).or_default() += n;
        *t.findings_by_confidence.entry(confidence).or_default() += n;
        if crate::fail_on::is_exposure(entity) {
            *t.exposure_by_confidence.entry(confidence).or_default() += n;
        }
    }

    pub fn record(&mut self, event: &Event) {
        match event {
            Event::Finding(f) => self.count_findings(&f.target, f.entity, f.confidence, 1),
            Event::PastRowCap {
                target,
                entity,
                confidence,
                count,
                ..
            } => self.count_findings(target, *entity, *confidence, *count),
            Event::AlreadyScanned {
                target,
                truncated,
                not_examined,
                ..
            } => {
                self.files_already_scanned += 1;
                // Cut, or not examined in part, in the earlier run: counted
                // as an uninterrupted run counts it.
                self.files_truncated += u64::from(*truncated);
                self.target(target).files_truncated += u64::from(*truncated);
                for &(reason, n) in not_examined {
                    *self.not_examined.entry(reason).or_default() += n;
                    self.target(target).not_examined += n;
                }
            }
            Event::FileScanned {
                target,
                bytes,
                truncated,
                ..
            } => {
                self.files_scanned += 1;
                self.bytes_read += bytes;
                self.files_truncated += u64::from(*truncated);
                let t = self.target(target);
                t.files_scanned += 1;
                t.bytes_read += bytes;
                t.files_truncated += u64::from(*truncated);
            }
            Event::NotExamined {
                target,
                path,
                reason,
                detail,
            } => {
                *self.not_examined.entry(*reason).or_default() += 1;
                self.target(target).not_examined += 1;
                if self.not_examined_examples.len() < MAX_EXAMPLES {
                    self.not_examined_examples.push(NotExaminedExample {
                        target: target.to_string(),
                        path: path.clone(),
                        reason: *reason,
                        detail: detail.clone(),
                    });
                }
            }
            Event::Ocr { work, .. } => {
                let total = self.ocr.get_or_insert_with(OcrWork::default);
                total.pages += work.pages;
                total.engine_seconds += work.engine_seconds;
                for (reason, n) in &work.skipped {
                    *total.skipped.entry(*reason).or_default() += n;
                }
            }
            Event::Discovery(d) => {
                let total = self.discovery.get_or_insert_with(DiscoveryCounts::default);
                total.addresses += d.addresses;
                total.addresses_done += d.addresses_done;
                total.ports_probed += d.ports_probed;
                total.ports_open += d.ports_open;
                total.ftp_services += d.ftp_services;
                total.not_ftp += d.not_ftp;
            }
            Event::TargetInfo { target, key, value } => {
                self.target(target)
                    .info
                    .insert((*key).to_string(), value.clone());
            }
            Event::ServerAccess { target, access } => {
                self.target(target).access = Some(*access);
            }
            // Progress only: the summary counts files read.
            Event::Listed { .. } => {}
        }
    }

    /// Adds another part of the same scan (`phiscan merge` of shards):
    /// counts added, facts and not-examined examples joined (the examples
    /// sorted by target and path, as many kept as one scan keeps), the
    /// elapsed time the longest part's (the parts ran side by side).
    pub fn add(&mut self, other: Summary) {
        fn add_maps<K: Ord>(into: &mut BTreeMap<K, u64>, from: BTreeMap<K, u64>) {
            for (k, n) in from {
                *into.entry(k).or_default() += n;
            }
        }
        self.files_scanned += other.files_scanned;
        self.bytes_read += other.bytes_read;
        self.files_truncated += other.files_truncated;
        self.files_already_scanned += other.files_already_scanned;
        self.findings_from_earlier_run += other.findings_from_earlier_run;
        add_maps(&mut self.not_examined, other.not_examined);
        self.not_examined_examples
            .extend(other.not_examined_examples);
        self.not_examined_examples.sort_by(|a, b| {
            (&a.target, &a.path, a.reason, &a.detail)
                .cmp(&(&b.target, &b.path, b.reason, &b.detail))
        });
        self.not_examined_examples.truncate(MAX_EXAMPLES);
        self.truncated_files.extend(other.truncated_files);
        self.truncated_files
            .sort_by(|a, b| (&a.target, &a.path).cmp(&(&b.target, &b.path)));
        self.truncated_files.truncate(MAX_EXAMPLES);
        add_maps(&mut self.findings_by_entity, other.findings_by_entity);
        add_maps(
            &mut self.findings_by_confidence,
            other.findings_by_confidence,
        );
        for (name, t) in other.targets {
            let into = self.target(&name);
            into.files_scanned += t.files_scanned;
            into.bytes_read += t.bytes_read;
            into.files_truncated += t.files_truncated;
            into.findings += t.findings;
            add_maps(&mut into.findings_by_entity, t.findings_by_entity);
            add_maps(&mut into.findings_by_confidence, t.findings_by_confidence);
            add_maps(&mut into.exposure_by_confidence, t.exposure_by_confidence);
            into.baselined += t.baselined;
            into.allowed += t.allowed;
            into.not_examined += t.not_examined;
            into.inventory += t.inventory;
            into.info.extend(t.info);
            into.access = into.access.or(t.access);
        }
        add_maps(&mut self.baselined_by_entity, other.baselined_by_entity);
        add_maps(&mut self.allowed_by_entity, other.allowed_by_entity);
        add_maps(&mut self.allowed_by, other.allowed_by);
        if self.fingerprint_key_id.is_empty() {
            self.fingerprint_key_id = other.fingerprint_key_id;
            self.fingerprint_key_source = other.fingerprint_key_source;
        }
        self.elapsed_secs = self.elapsed_secs.max(other.elapsed_secs);
        self.interrupted |= other.interrupted;
        add_maps(&mut self.inventory_by_entity, other.inventory_by_entity);
        if let Some(d) = other.discovery {
            self.record(&Event::Discovery(d));
        }
        self.rows_not_written += other.rows_not_written;
        if let Some(o) = other.ocr {
            let into = self.ocr.get_or_insert_with(OcrWork::default);
            into.pages += o.pages;
            into.engine_seconds += o.engine_seconds;
            add_maps(&mut into.skipped, o.skipped);
        }
        if self.settings_file.is_none() {
            self.settings_file = other.settings_file;
        }
        // One run made of shards: the earliest start, the latest end.
        if self.run.phiscan_version.is_empty() {
            self.run = other.run;
        } else {
            if other.run.started_at < self.run.started_at {
                self.run.started_at = other.run.started_at;
            }
            if other.run.ended_at > self.run.ended_at {
                self.run.ended_at = other.run.ended_at;
            }
        }
    }

    /// Counts a finding the baseline holds (not reported, no exit status).
    pub fn record_baselined(&mut self, f: &Finding) {
        *self.baselined_by_entity.entry(f.entity).or_default() += 1;
        self.target(&f.target).baselined += 1;
    }

    /// Counts a finding an allowlist entry (`by`) matched.
    pub fn record_allowed(&mut self, f: &Finding, by: &str) {
        *self.allowed_by_entity.entry(f.entity).or_default() += 1;
        *self.allowed_by.entry(by.to_string()).or_default() += 1;
        self.target(&f.target).allowed += 1;
    }

    pub fn total_baselined(&self) -> u64 {
        self.baselined_by_entity.values().sum()
    }

    pub fn total_allowed(&self) -> u64 {
        self.allowed_by_entity.values().sum()
    }

    pub fn total_not_examined(&self) -> u64 {
        self.not_examined.values().sum()
    }

    /// Not-examined files and members other than plain binaries: the
    /// errors that make a scan incomplete.
    pub fn errors(&self) -> u64 {
        self.not_examined
            .iter()
            .filter(|(r, _)| r.makes_incomplete())
            .map(|(_, n)| n)
            .sum()
    }

    /// The machine-readable summary (`--summary-json`, JSONL's last line):
    /// every counter plus the totals derived from them.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(obj) = v.as_object_mut() {
            obj.insert("total_findings".into(), self.total_findings().into());
            obj.insert("total_baselined".into(), self.total_baselined().into());
            obj.insert("total_allowed".into(), self.total_allowed().into());
            obj.insert(
                "files_not_examined".into(),
                self.total_not_examined().into(),
            );
            obj.insert("errors".into(), self.errors().into());
            obj.insert("incomplete".into(), self.incomplete().into());
        }
        v
    }

    fn target(&mut self, target: &str) -> &mut TargetSummary {
        self.targets.entry(target.to_string()).or_default()
    }

    pub fn total_findings(&self) -> u64 {
        self.findings_by_entity.values().sum()
    }

    pub fn findings_at_or_above(&self, level: Confidence) -> u64 {
        self.findings_by_confidence
            .iter()
            .filter(|(c, _)| **c >= level)
            .map(|(_, n)| n)
            .sum()
    }

    /// True when something we meant to examine was not examined.
    pub fn incomplete(&self) -> bool {
        self.interrupted
            || self.not_examined.keys().any(|r| r.makes_incomplete())
            || self.servers_not_read() > 0
    }

    /// Server targets that could not be read at all: login failed or
    /// unreachable.
    pub fn servers_not_read(&self) -> u64 {
        self.targets
            .values()
            .filter(|t| t.access.is_some_and(|a| a != ServerAccess::LoggedIn))
            .count() as u64
    }

    /// Findings at or above `level` that make the exit status 1: those of
    /// server targets phiscan could not log in to are left out (what such a
    /// server showed before the login, e.g. FTP_NO_TLS or a rejected
    /// certificate, does not turn a failed login or TLS handshake into
    /// "findings"; the scan is incomplete instead).
    pub fn findings_at_or_above_where_logged_in(&self, level: Confidence) -> u64 {
        let failed: u64 = self
            .targets
            .values()
            .filter(|t| t.access.is_some_and(|a| a != ServerAccess::LoggedIn))
            .flat_map(|t| &t.findings_by_confidence)
            .filter(|(c, _)| **c >= level)
            .map(|(_, n)| n)
            .sum();
        self.findings_at_or_above(level).saturating_sub(failed)
    }

    pub fn set_elapsed(&mut self, elapsed: Duration) {
        self.elapsed_secs = elapsed.as_secs_f64();
    }

    /// Human-readable summary; `color` adds ANSI colors (callers decide:
    /// only on a terminal, never with `NO_COLOR`).
    pub fn to_text_styled(&self, color: bool) -> String {
        let paint = |code: &str, text: String| {
            if color {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text
            }
        };
        let mut s = String::new();
        // MiB, as every other size phiscan prints (`--max-bytes`, limits).
        let mib = self.bytes_read as f64 / (1024.0 * 1024.0);
        let rate = if self.elapsed_secs > 0.0 {
            mib / self.elapsed_secs
        } else {
            0.0
        };
        let _ = writeln!(
            s,
            "phiscan summary{}",
            if self.interrupted {
                " (INTERRUPTED)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "  files scanned: {}  bytes read: {}  truncated by --max-bytes: {}",
            self.files_scanned, self.bytes_read, self.files_truncated
        );
        for t in &self.truncated_files {
            let read = match (t.bytes_read, t.size) {
                (Some(b), Some(size)) => format!("{b} of {size} bytes read"),
                (Some(b), None) => format!("{b} bytes read"),
                _ => "cut in the earlier run (--resume)".to_string(),
            };
            let _ = writeln!(s, "    {} {} [truncated] {read}", t.target, t.path);
        }
        let unnamed = self
            .files_truncated
            .saturating_sub(self.truncated_files.len() as u64);
        if unnamed > 0 && !self.truncated_files.is_empty() {
            let _ = writeln!(s, "    … and {unnamed} more cut by --max-bytes");
        }
        if self.rows_not_written > 0 {
            let _ = writeln!(
                s,
                "  report rows capped: {} findings counted here but not written \
                 (--max-rows-per-file, --max-rows)",
                self.rows_not_written
            );
        }
        if self.files_already_scanned > 0 || self.findings_from_earlier_run > 0 {
            let _ = writeln!(
                s,
                "  resumed: {} files skipped (scanned by an earlier run), {} findings from it",
                self.files_already_scanned, self.findings_from_earlier_run
            );
        }
        let skipped: u64 = self.not_examined.values().sum();
        let _ = write!(s, "  not examined: {skipped}");
        for (reason, n) in &self.not_examined {
            let _ = write!(s, "  {}={}", reason.as_str(), n);
        }
        s.push('\n');
        for ex in &self.not_examined_examples {
            let _ = writeln!(
                s,
                "    {} {} [{}] {}",
                ex.target,
                ex.path,
                ex.reason.as_str(),
                ex.detail
            );
        }
        if let Some(ocr) = &self.ocr {
            let _ = write!(
                s,
                "  OCR: {} pages read in {:.1}s (engine time)",
                ocr.pages, ocr.engine_seconds
            );
            if !ocr.skipped.is_empty() {
                let _ = write!(s, "  pages not read:");
                for (reason, n) in &ocr.skipped {
                    let _ = write!(s, " {}={}", reason.as_str(), n);
                }
            }
            s.push('\n');
        }
        if let Some(d) = &self.discovery {
            let _ = writeln!(
                s,
                "  discovery: {} of {} addresses swept, {} ports probed, {} open, {} FTP services, {} other services",
                d.addresses_done, d.addresses, d.ports_probed, d.ports_open, d.ftp_services, d.not_ftp
            );
        }
        let total = self.total_findings();
        let _ = write!(
            s,
            "  {}",
            paint(
                if total > 0 { "1;31" } else { "1;32" },
                format!("findings: {total}")
            )
        );
        for (e, n) in &self.findings_by_entity {
            let _ = write!(s, "  {e}={n}");
        }
        s.push('\n');
        if !self.inventory_by_entity.is_empty() {
            let _ = write!(s, "  inventory (not findings):");
            for (e, n) in &self.inventory_by_entity {
                let _ = write!(s, "  {e}={n}");
            }
            s.push('\n');
        }
        if self.total_baselined() > 0 || self.total_allowed() > 0 {
            let _ = write!(
                s,
                "  not reported: baselined {}  allowed {}",
                self.total_baselined(),
                self.total_allowed()
            );
            for (by, n) in &self.allowed_by {
                let _ = write!(s, "  [{by}]={n}");
            }
            s.push('\n');
        }
        for (name, t) in &self.targets {
            if let Some(access) = t.access.filter(|a| *a != ServerAccess::LoggedIn) {
                let _ = writeln!(
                    s,
                    "  {name} {}",
                    paint(
                        "1;33",
                        format!("{}: nothing on this server was read", access.as_str())
                    )
                );
            }
            for (k, v) in &t.info {
                let _ = writeln!(s, "  {name} {k}: {v}");
            }
        }
        let _ = writeln!(
            s,
            "  elapsed: {:.2}s  throughput: {:.1} MiB/s",
            self.elapsed_secs, rate
        );
        s
    }
}
