//! The plain configuration a scan runs from: every value resolved, no
//! `Option` left that means "not given". [`crate::settings`] builds it from
//! the command line and `phiscan.toml` (and holds the defaults); tests and
//! library callers build it directly, from [`ScanConfig::default`].

use crate::allowlist::AllowSpec;
use crate::report::progress::ProgressMode;
use crate::report::ReportFormat;
pub use crate::secret::Secret;
use std::path::PathBuf;

/// Default bytes sampled per file on FTP targets (`--max-bytes` unset).
pub const FTP_DEFAULT_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// `Debug` is derived: secrets are [`Secret`]s and targets
/// [`TargetSpec`]s, whose own `Debug` hides passwords and keys.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// Targets as the user wrote them (local paths, `ftp://`, `ftps://`).
    pub targets: Vec<TargetSpec>,
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
    /// Report rows written per file and per scan (`--max-rows-per-file`,
    /// `--max-rows`).
    pub row_caps: crate::report::RowCaps,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Write matched values in full. Off by default: reports are masked.
    pub unmask: bool,
    /// The findings that make the exit status 1.
    pub fail_on: crate::fail_on::FailOn,
    pub quiet: bool,
    /// `-v`: each file named on stderr as it is scanned or not examined.
    pub verbose: bool,
    /// `--color`: when the text view is coloured.
    pub color: crate::report::text::ColorChoice,
    /// Where stdout goes; decides the default format and colour (see
    /// [`crate::report::text::stdout_view`]). Not a terminal by default:
    /// the binary sets it.
    pub terminal: crate::report::text::Terminal,
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
    /// Fingerprint key; `None` = the baseline's, or a new one.
    pub fingerprint_key: Option<Secret>,
    pub progress: ProgressMode,
    /// Allowlist entries from the config file (rule packs add their own).
    pub allow: Vec<AllowSpec>,
    /// `--resume STATE`: skip files an earlier run completed, append to its
    /// report, record completed files here.
    pub resume: Option<PathBuf>,
    /// `--shard I/N --split-depth D`: this process scans one shard.
    pub shard: Option<crate::shard::ShardSpec>,
    /// Where the paths above came from (each target carries its own).
    pub origins: Origins,
}

/// A target as the user wrote it: a local path, or an `ftp://` / `ftps://`
/// URL that may hold a password. Reads as the `str` it holds; its `Debug`
/// leaves the password out.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(from = "String")]
pub struct TargetSpec {
    text: String,
    /// Where it was written.
    pub origin: Origin,
}

impl TargetSpec {
    pub fn new(text: impl Into<String>, origin: Origin) -> TargetSpec {
        TargetSpec {
            text: text.into(),
            origin,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn is_url(&self) -> bool {
        let starts = |prefix: &str| {
            self.text
                .get(..prefix.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(prefix))
        };
        starts("ftp://") || starts("ftps://") || starts("ftpes://")
    }

    /// Relative paths are taken against `base`; URLs are left as they are.
    pub fn relative_to(self, base: &std::path::Path) -> TargetSpec {
        if self.is_url() || std::path::Path::new(&self.text).is_absolute() {
            return self;
        }
        let text = base.join(&self.text).display().to_string();
        TargetSpec { text, ..self }
    }
}

impl std::ops::Deref for TargetSpec {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

/// A target given without saying where it came from ([`Origin::Default`]):
/// what clap and serde read, and what library callers write.
impl From<String> for TargetSpec {
    fn from(text: String) -> TargetSpec {
        TargetSpec::new(text, Origin::Default)
    }
}

impl From<&str> for TargetSpec {
    fn from(text: &str) -> TargetSpec {
        TargetSpec::new(text, Origin::Default)
    }
}

impl std::fmt::Debug for TargetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Anything that starts like an FTP URL: `redact` also handles the
        // mistyped `ftp:/user:pw@host` that would not parse.
        let shown = if self
            .text
            .get(..3)
            .is_some_and(|s| s.eq_ignore_ascii_case("ftp"))
        {
            crate::secret::redact(&self.text)
        } else {
            self.text.clone()
        };
        f.debug_tuple("TargetSpec")
            .field(&shown)
            .field(&self.origin)
            .finish()
    }
}

/// Where a setting's value came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    /// Not given: the default, or set by the program that built the
    /// configuration.
    #[default]
    Default,
    /// A command-line flag or argument.
    Flag,
    /// The settings file (`phiscan.toml`) at this path.
    File(PathBuf),
    /// A `--targets` file at this path.
    TargetsFile(PathBuf),
}

/// Where the configuration's paths came from, for messages that name the
/// file a wrong path was written in, and for refusing a settings file that
/// a scanned target could have planted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origins {
    /// The settings file read, if any.
    pub settings_file: Option<PathBuf>,
    pub rule_paths: Origin,
    /// Of `output` or `output_dir` (one choice: both come from one place).
    pub output: Origin,
    pub summary_json: Origin,
    pub baseline: Origin,
    /// The settings file was found inside a scanned target and not named
    /// with `--config`: what it was not allowed to set.
    pub distrusted: Option<crate::trust::Distrusted>,
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

/// FTP connection settings (used by `source::ftp`).
#[derive(Clone, Debug)]
pub struct FtpOptions {
    /// Ports probed on address-block targets (`--ports`).
    pub ports: Vec<u16>,
    pub connections: usize,
    pub timeout_secs: u64,
    /// Password for anonymous logins.
    pub anonymous_password: Secret,
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
