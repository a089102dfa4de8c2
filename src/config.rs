//! The plain configuration a scan runs from. `main.rs` builds it from the
//! command line; tests build it directly.

use crate::allowlist::AllowSpec;
use crate::entity::Confidence;
use crate::report::progress::ProgressMode;
use crate::report::ReportFormat;
use std::path::PathBuf;

/// Default bytes sampled per file on FTP targets (`--max-bytes` unset).
pub const FTP_DEFAULT_MAX_BYTES: u64 = 8 * 1024 * 1024;

#[derive(Clone)]
pub struct ScanConfig {
    /// Targets as the user wrote them (local paths, `ftp://`, `ftps://`).
    pub targets: Vec<String>,
    /// Report destination; `None` writes to stdout.
    pub output: Option<PathBuf>,
    /// Extra rule files or folders, added to the built-in pack.
    pub rule_paths: Vec<PathBuf>,
    pub default_rules: bool,
    /// Worker threads for matching; `None` = number of CPUs.
    pub threads: Option<usize>,
    /// Bytes read per file. `None` = the source's default (local: whole
    /// file, FTP: [`FTP_DEFAULT_MAX_BYTES`]); `Some(0)` = whole file.
    pub max_bytes: Option<u64>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Write matched values in full. Off by default: reports are masked.
    pub unmask: bool,
    /// Lowest confidence that makes the exit status 1.
    pub fail_on: Confidence,
    pub quiet: bool,
    pub limits: ExtractLimits,
    pub ftp: FtpOptions,
    /// Report formats; empty = CSV.
    pub formats: Vec<ReportFormat>,
    /// Write every format here (`phiscan.<ext>`), instead of `output`.
    pub output_dir: Option<PathBuf>,
    /// Machine-readable summary destination.
    pub summary_json: Option<PathBuf>,
    /// Findings in this baseline are counted, not reported.
    pub baseline: Option<PathBuf>,
    /// Fingerprint key (secret); `None` = the baseline's, or a new one.
    pub fingerprint_key: Option<String>,
    pub progress: ProgressMode,
    /// Allowlist entries from the config file (rule packs add their own).
    pub allow: Vec<AllowSpec>,
    /// `--resume STATE`: skip files an earlier run completed, append to its
    /// report, record completed files here.
    pub resume: Option<PathBuf>,
}

/// By hand, so that the fingerprint key never reaches a debug log; targets
/// are shown without the password of an `ftp://` URL.
impl std::fmt::Debug for ScanConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let targets: Vec<String> = self
            .targets
            .iter()
            .map(|t| {
                if t.get(..3).is_some_and(|s| s.eq_ignore_ascii_case("ftp")) {
                    crate::source::ftp::url::redact(t)
                } else {
                    t.clone()
                }
            })
            .collect();
        f.debug_struct("ScanConfig")
            .field("targets", &targets)
            .field("output", &self.output)
            .field("rule_paths", &self.rule_paths)
            .field("default_rules", &self.default_rules)
            .field("threads", &self.threads)
            .field("max_bytes", &self.max_bytes)
            .field("include", &self.include)
            .field("exclude", &self.exclude)
            .field("unmask", &self.unmask)
            .field("fail_on", &self.fail_on)
            .field("quiet", &self.quiet)
            .field("limits", &self.limits)
            .field("ftp", &self.ftp)
            .field("formats", &self.formats)
            .field("output_dir", &self.output_dir)
            .field("summary_json", &self.summary_json)
            .field("baseline", &self.baseline)
            .field(
                "fingerprint_key",
                &self.fingerprint_key.as_ref().map(|_| "<redacted>"),
            )
            .field("progress", &self.progress)
            .field("allow", &self.allow)
            .field("resume", &self.resume)
            .finish()
    }
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            targets: Vec::new(),
            output: None,
            rule_paths: Vec::new(),
            default_rules: true,
            threads: None,
            max_bytes: None,
            include: Vec::new(),
            exclude: Vec::new(),
            unmask: false,
            fail_on: Confidence::Low,
            quiet: false,
            limits: ExtractLimits::default(),
            ftp: FtpOptions::default(),
            formats: Vec::new(),
            output_dir: None,
            summary_json: None,
            baseline: None,
            fingerprint_key: None,
            progress: ProgressMode::Auto,
            allow: Vec::new(),
            resume: None,
        }
    }
}

/// Bounds on what extractors may read or expand, per top-level file.
/// Every extractor honours these. What reaching one does: the file or
/// member is reported as not examined with reason `limit` (what was read
/// before is still matched), and the scan goes on.
///
/// | limit | default | applies to | on reaching it |
/// |---|---|---|---|
/// | `max_depth` | 4 | containers in containers (`a.zip!b.tgz!c.zip!d.txt` is depth 3) | the member one level deeper is not opened |
/// | `max_expanded_bytes` | 1 GiB | all bytes decompressed from one top-level file and everything in it (gzip, zip members, PDF streams, Office parts) | the member being read is cut there; the rest of each enclosing container is not examined |
/// | `max_ratio` | 100 | one compressed member or stream: decompressed / compressed bytes, checked past 1 MiB of output (and up front against a zip's declared sizes) | that member is cut (zip bomb) |
/// | `max_entries` | 100 000 | members opened per container (zip, tar); a zip whose end record declares more is refused before its directory is read | the remaining members are not examined |
/// | `max_seconds` | 300 | wall time spent on one top-level file and everything in it (reading, including a slow FTP transfer, and matching), checked per read and every 64 fields | the rest of the file is not examined; what was matched before is reported |
/// | `max_document_bytes` | 256 MiB | what must be held for random access: a PDF, each Office XML part; a zip archive beyond it is spooled to an anonymous temporary file instead | the PDF or part is not examined |
///
/// gzip and tar are streamed (memory stays bounded whatever their size);
/// zip archives are read from memory or the temporary file.
#[derive(Clone, Debug)]
pub struct ExtractLimits {
    /// Containers nested deeper than this are not opened.
    pub max_depth: u32,
    /// Total uncompressed bytes expanded from one top-level file.
    pub max_expanded_bytes: u64,
    /// Largest allowed uncompressed/compressed ratio for a member.
    pub max_ratio: u64,
    /// Most members opened in one container.
    pub max_entries: u64,
    /// Most bytes of one document (PDF, Office, ...) held in memory.
    pub max_document_bytes: u64,
    /// Most seconds spent on one top-level file (0 = no limit).
    pub max_seconds: u64,
    /// Whether and how much images are read by OCR.
    pub ocr: crate::extract::ocr::OcrSettings,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        ExtractLimits {
            max_depth: 4,
            max_expanded_bytes: 1 << 30,
            max_ratio: 100,
            max_entries: 100_000,
            max_document_bytes: 256 << 20,
            max_seconds: 300,
            ocr: crate::extract::ocr::OcrSettings::default(),
        }
    }
}

/// FTP connection settings (used by `source::ftp`). `Debug` hides the
/// anonymous password.
#[derive(Clone)]
pub struct FtpOptions {
    pub connections: usize,
    pub timeout_secs: u64,
    /// Password for anonymous logins.
    pub anonymous_password: String,
    pub insecure: bool,
    pub active: bool,
    pub follow_links: bool,
    pub max_depth: Option<u32>,
    pub max_files: Option<u64>,
    pub skip_larger_than: Option<u64>,
    pub sample_tail: Option<u64>,
    /// Commands per second per server; `None` = unlimited.
    pub rate: Option<f64>,
    pub check_write: bool,
    pub anon_check: bool,
    pub retries: u32,
    /// netrc-style file to read credentials from.
    pub netrc: Option<PathBuf>,
}

impl std::fmt::Debug for FtpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FtpOptions")
            .field("connections", &self.connections)
            .field("timeout_secs", &self.timeout_secs)
            .field("anonymous_password", &"<redacted>")
            .field("insecure", &self.insecure)
            .field("active", &self.active)
            .field("follow_links", &self.follow_links)
            .field("max_depth", &self.max_depth)
            .field("max_files", &self.max_files)
            .field("skip_larger_than", &self.skip_larger_than)
            .field("sample_tail", &self.sample_tail)
            .field("rate", &self.rate)
            .field("check_write", &self.check_write)
            .field("anon_check", &self.anon_check)
            .field("retries", &self.retries)
            .field("netrc", &self.netrc)
            .finish()
    }
}

impl Default for FtpOptions {
    fn default() -> Self {
        FtpOptions {
            connections: 4,
            timeout_secs: 30,
            anonymous_password: "anonymous@".to_string(),
            insecure: false,
            active: false,
            follow_links: false,
            max_depth: None,
            max_files: None,
            skip_larger_than: None,
            sample_tail: None,
            rate: None,
            check_write: false,
            anon_check: true,
            retries: 3,
            netrc: None,
        }
    }
}
