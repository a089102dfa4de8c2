//! Settings: what `phiscan scan` is told, from its flags and from
//! `phiscan.toml`, in one typed layer.
//!
//! [`Settings`] holds every setting as an `Option`, `None` until given.
//! clap fills one from the command line, serde one from the file;
//! [`Layers`] keeps both (so that each value's [`Origin`] stays known),
//! merges them once — a flag given replaces the file's value, lists
//! included — and resolves the result once into the plain [`ScanConfig`].
//!
//! A new setting is one field of [`Settings`] (or [`FtpSettings`]): its
//! `#[arg]` makes it a flag (`#[arg(skip)]`: file only), its name is the
//! file key (`#[serde(skip)]`: flag only); one field of `ScanConfig`; and
//! one line in [`Settings::into_config`], where its default is written (a
//! path in the file: one more entry in [`SettingsFile::parse`], which makes
//! it relative to the file's folder). The merge is generated with the
//! struct, and `into_config` takes every field apart, so that a field left
//! out does not compile.
//!
//! Switches are `Option<bool>` flags that take no value (`num_args = 0`):
//! given, they set `default_missing_value`; absent, they stay `None` and
//! the file's value shows through (clap's `SetTrue` would say `false`).
//!
//! The file is `./phiscan.toml`, or the one `--config FILE` names. Relative
//! paths in it are relative to its folder. Secrets are not file keys: FTP
//! passwords come from the URL, a netrc file or the environment, the
//! fingerprint key from `PHISCAN_FINGERPRINT_KEY`.

use crate::allowlist::AllowSpec;
use crate::config::{ExtractLimits, FtpOptions, Origin, Origins, ScanConfig, Secret, TargetSpec};
use crate::entity::Confidence;
use crate::extract::ocr::{OcrMode, OcrSettings};
use crate::fail_on::FailOn;
use crate::report::progress::ProgressMode;
use crate::report::ReportFormat;
use serde::{Deserialize, Deserializer};
use std::path::{Path, PathBuf};

/// The file searched for in the working directory.
pub const DEFAULT_NAME: &str = "phiscan.toml";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file does not parse, or holds an unknown key or a bad value
    /// (toml's message names the line and column).
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("{}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read targets file {}", path.display())]
    TargetsFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "no TARGET given (on the command line, with --targets, or in the config file's targets)"
    )]
    NoTarget,
}

/// Fills what one layer of settings leaves unset from a lower one.
pub trait Merge {
    fn or(self, lower: Self) -> Self;
}

impl<T> Merge for Option<T> {
    /// A value given replaces the lower one whole (a list too).
    fn or(self, lower: Self) -> Self {
        Option::or(self, lower)
    }
}

/// Declares a layer of settings with its [`Merge`], field by field, so that
/// no field can be left out of the merge.
macro_rules! layer {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $( $(#[$field_attr:meta])* pub $field:ident: $type:ty, )*
        }
    ) => {
        $(#[$attr])*
        pub struct $name {
            $( $(#[$field_attr])* pub $field: $type, )*
        }

        impl Merge for $name {
            fn or(self, lower: Self) -> Self {
                $name { $( $field: Merge::or(self.$field, lower.$field), )* }
            }
        }
    };
}

// Field order is the order of `phiscan scan --help`.
layer! {
    /// One layer of `phiscan scan` settings: the flags, or one file.
    #[derive(Clone, Debug, Default, Deserialize, clap::Args)]
    #[serde(deny_unknown_fields)]
    pub struct Settings {
        /// Files, folders, or ftp:// / ftps:// URLs (default: the config file's targets).
        #[arg(value_name = "TARGET")]
        pub targets: Option<Vec<TargetSpec>>,
        /// Settings file (default: ./phiscan.toml when it exists).
        #[arg(long, value_name = "FILE")]
        #[serde(skip)]
        pub config: Option<PathBuf>,
        /// Report formats: csv, jsonl, sarif, html, text (repeatable or comma
        /// list; several need --output-dir) [default: text at a terminal,
        /// else csv].
        #[arg(long = "format", value_name = "FORMAT", value_delimiter = ',', value_parser = FormatParser)]
        #[serde(default, deserialize_with = "de_formats")]
        pub formats: Option<Vec<ReportFormat>>,
        /// The JSONL report: --format jsonl.
        #[arg(long, num_args = 0, default_missing_value = "true", conflicts_with = "formats")]
        #[serde(skip)]
        pub json: Option<bool>,
        /// Write each format to DIR/phiscan.<format>.
        #[arg(long, value_name = "DIR")]
        pub output_dir: Option<PathBuf>,
        /// Write the machine-readable summary (JSON) here.
        #[arg(long, value_name = "FILE")]
        pub summary_json: Option<PathBuf>,
        /// Findings in this baseline are counted as baselined, not reported.
        #[arg(long, value_name = "FILE")]
        pub baseline: Option<PathBuf>,
        #[command(flatten)]
        #[serde(skip)]
        pub key: KeyArg,
        /// Show progress even when stderr is not a terminal or with --quiet.
        #[arg(long, num_args = 0, default_missing_value = "always", value_parser = parse_progress_flag)]
        #[serde(default, deserialize_with = "de_progress")]
        pub progress: Option<ProgressMode>,
        /// Write the report here instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        pub output: Option<PathBuf>,
        /// Rule file or folder of rule files, added to the built-in pack (repeatable).
        #[arg(long = "rules", value_name = "PATH")]
        pub rules: Option<Vec<PathBuf>>,
        /// Do not load the built-in rules.
        #[arg(long = "no-default-rules", num_args = 0, default_missing_value = "false")]
        pub default_rules: Option<bool>,
        /// Worker threads (default: one per CPU).
        #[arg(short = 'j', long, value_name = "N")]
        pub threads: Option<usize>,
        /// Bytes read per file; 0 = whole file (default: whole file locally, 8 MiB over FTP).
        #[arg(long, value_name = "N")]
        pub max_bytes: Option<u64>,
        /// Report rows written per file at most (archive members count
        /// toward their archive); later findings are counted in the summary
        /// only. 0 = no cap. [default: 5000]
        #[arg(long, value_name = "N")]
        pub max_rows_per_file: Option<u64>,
        /// Report rows written per scan at most; 0 = no cap. [default: 1000000]
        #[arg(long, value_name = "N")]
        pub max_rows: Option<u64>,
        /// Seconds spent on one file at most (reading and matching); the rest
        /// is reported as not examined. 0 = no limit. Default: 300.
        #[arg(long, value_name = "SECS")]
        pub file_timeout: Option<u64>,
        /// Read images and scanned PDF pages by OCR (the `tesseract` program):
        /// auto (when installed), on (required), off [default: auto].
        #[arg(long, value_name = "MODE", value_parser = parse_ocr_mode)]
        #[serde(default, deserialize_with = "de_ocr_mode")]
        pub ocr: Option<OcrMode>,
        /// Pages read by OCR per file at most [default: 50].
        #[arg(long, value_name = "N")]
        pub ocr_max_pages: Option<u32>,
        /// Pages read by OCR in the whole scan at most [default: 10000].
        #[arg(long, value_name = "N")]
        pub ocr_max_pages_total: Option<u64>,
        /// Only scan paths matching this glob (repeatable).
        #[arg(long, value_name = "GLOB")]
        pub include: Option<Vec<String>>,
        /// Skip paths matching this glob (repeatable).
        #[arg(long, value_name = "GLOB")]
        pub exclude: Option<Vec<String>>,
        /// Write matched values in full (reports are masked by default).
        #[arg(long, num_args = 0, default_missing_value = "true")]
        #[serde(skip)]
        pub unmask: Option<bool>,
        /// What makes the exit status 1: a confidence (LOW, MEDIUM, HIGH:
        /// PHI and exposure rows at or above it), NONE, or kinds with levels
        /// (phi:MEDIUM,exposure:HIGH; a kind left out never fails) [default: LOW].
        #[arg(long, value_name = "LEVEL", value_parser = crate::fail_on::FailOnParser)]
        #[serde(default, deserialize_with = "de_fail_on")]
        pub fail_on: Option<FailOn>,
        /// No summary or progress on stderr.
        #[arg(short, long, num_args = 0, default_missing_value = "true")]
        #[serde(skip)]
        pub quiet: Option<bool>,
        /// Colour the text view: auto (on a terminal, unless NO_COLOR is
        /// set), always, never [default: auto].
        #[arg(long, value_name = "WHEN", value_enum)]
        #[serde(skip)]
        pub color: Option<crate::report::text::ColorChoice>,
        /// Name each file on stderr as it is scanned (bytes read, cut by
        /// --max-bytes) or not examined (and why).
        #[arg(short, long, num_args = 0, default_missing_value = "true")]
        #[serde(skip)]
        pub verbose: Option<bool>,
        /// State file for a scan done in pieces: files completed are recorded
        /// there; a rerun with the same file skips them and appends to the
        /// report (needs -o or --output-dir, and csv or jsonl).
        #[arg(long, value_name = "STATE")]
        #[serde(skip)]
        pub resume: Option<PathBuf>,
        /// File of targets, one per line (`#` starts a comment).
        #[arg(long = "targets", id = "targets_file", value_name = "FILE")]
        #[serde(skip)]
        pub targets_file: Option<PathBuf>,
        /// Run one shard of N (I from 0): targets and the files in them are
        /// split by a fixed hash (see docs/SHARDING.md); `phiscan merge` joins
        /// the shards' output folders. Needs --output-dir.
        #[arg(long, value_name = "I/N")]
        #[serde(skip)]
        pub shard: Option<crate::shard::Shard>,
        /// With --shard: folder levels every shard lists; each subtree below
        /// belongs to one shard. 0 = whole targets. [default: 1]
        #[arg(long, value_name = "D", requires = "shard")]
        #[serde(skip)]
        pub split_depth: Option<u32>,
        #[command(flatten)]
        #[serde(default)]
        pub ftp: FtpSettings,
        /// `[[allow]]` entries: known, accepted findings.
        #[arg(skip)]
        pub allow: Option<Vec<AllowSpec>>,
    }
}

layer! {
    /// The fingerprint key (`scan`, `fingerprint`, `baseline create`).
    #[derive(Clone, Debug, Default, clap::Args)]
    pub struct KeyArg {
        /// Secret key of the finding fingerprints (at least 16 bytes).
        #[arg(
            long = "fingerprint-key",
            env = "PHISCAN_FINGERPRINT_KEY",
            hide_env_values = true,
            value_name = "KEY"
        )]
        pub fingerprint_key: Option<Secret>,
    }
}

layer! {
    /// FTP/FTPS targets (`[ftp]` in the file).
    #[derive(Clone, Debug, Default, Deserialize, clap::Args)]
    #[serde(deny_unknown_fields)]
    pub struct FtpSettings {
        /// Control connections per FTP server, shared by listing and retrieval.
        /// [default: 4]
        #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
        pub connections: Option<usize>,
        /// Seconds to wait to connect, for a reply, or for data.
        /// [default: 30]
        #[arg(long = "timeout", value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
        pub timeout_secs: Option<u64>,
        /// Accept any certificate (self-signed) on ftps:// targets.
        #[arg(long, num_args = 0, default_missing_value = "true")]
        pub insecure: Option<bool>,
        /// Active mode (PORT/EPRT) instead of passive.
        #[arg(long, num_args = 0, default_missing_value = "true")]
        pub active: Option<bool>,
        /// Follow symbolic links on FTP servers (with loop protection).
        #[arg(long, num_args = 0, default_missing_value = "true")]
        pub follow_links: Option<bool>,
        /// Descend at most N folder levels below the FTP target's path.
        #[arg(long, value_name = "N")]
        pub max_depth: Option<u32>,
        /// Fetch at most N files per FTP server.
        #[arg(long, value_name = "N")]
        pub max_files: Option<u64>,
        /// Do not fetch FTP files whose listed size is larger than N bytes.
        #[arg(long, value_name = "N")]
        pub skip_larger_than: Option<u64>,
        /// Also read the last N bytes of FTP files larger than --max-bytes (REST).
        #[arg(long, value_name = "N")]
        pub sample_tail: Option<u64>,
        /// At most N FTP commands per second per server.
        #[arg(long, value_name = "N", value_parser = parse_rate)]
        #[serde(default, deserialize_with = "de_rate")]
        pub rate: Option<f64>,
        /// Test anonymous write access by creating and removing a directory (changes the server).
        #[arg(long, num_args = 0, default_missing_value = "true")]
        pub check_write: Option<bool>,
        /// Do not try an anonymous login when credentials are given.
        #[arg(long = "no-anon-check", num_args = 0, default_missing_value = "false")]
        pub anon_check: Option<bool>,
        /// Password for anonymous logins.
        /// [default: anonymous@]
        #[arg(long = "anon-password", value_name = "PASS")]
        #[serde(skip)]
        pub anonymous_password: Option<Secret>,
        /// netrc-style file with FTP logins (`machine HOST login USER password PASS`).
        #[arg(long, value_name = "FILE")]
        pub netrc: Option<PathBuf>,
        /// Attempts per connection and per transfer (file only).
        #[arg(skip)]
        pub retries: Option<u32>,
        /// Ports probed on address-block targets (`10.20.0.0/22`), as for
        /// `phiscan discover`. [default: 21,990,2121]
        #[arg(long, value_name = "PORTS", value_parser = parse_ports)]
        #[serde(default, deserialize_with = "de_ports")]
        pub ports: Option<PortList>,
    }
}

impl Settings {
    /// The plain configuration: each setting as given, else its default.
    /// The one place defaults are written: [`ScanConfig::default`] is this
    /// with nothing given. `config` and `targets_file` say where more
    /// settings are; [`Layers`] reads them.
    pub fn into_config(self) -> ScanConfig {
        let Settings {
            targets,
            config: _,
            formats,
            json,
            output_dir,
            summary_json,
            baseline,
            key: KeyArg { fingerprint_key },
            progress,
            output,
            rules,
            default_rules,
            threads,
            max_bytes,
            max_rows_per_file,
            max_rows,
            file_timeout,
            ocr,
            ocr_max_pages,
            ocr_max_pages_total,
            include,
            exclude,
            unmask,
            fail_on,
            quiet,
            color,
            verbose,
            resume,
            targets_file: _,
            shard,
            split_depth,
            ftp,
            allow,
        } = self;
        let limits = ExtractLimits::default();
        ScanConfig {
            targets: targets.unwrap_or_default(),
            output,
            rule_paths: rules.unwrap_or_default(),
            default_rules: default_rules.unwrap_or(true),
            threads,
            max_bytes,
            row_caps: crate::report::RowCaps {
                per_file: max_rows_per_file.unwrap_or(crate::report::RowCaps::DEFAULT.per_file),
                per_scan: max_rows.unwrap_or(crate::report::RowCaps::DEFAULT.per_scan),
            },
            include: include.unwrap_or_default(),
            exclude: exclude.unwrap_or_default(),
            unmask: unmask.unwrap_or(false),
            fail_on: fail_on.unwrap_or_default(),
            quiet: quiet.unwrap_or(false),
            color: color.unwrap_or_default(),
            verbose: verbose.unwrap_or(false),
            terminal: crate::report::text::Terminal::default(),
            limits: ExtractLimits {
                max_seconds: file_timeout.unwrap_or(limits.max_seconds),
                ocr: OcrSettings {
                    mode: ocr.unwrap_or(limits.ocr.mode),
                    max_pages_per_file: ocr_max_pages.unwrap_or(limits.ocr.max_pages_per_file),
                    max_pages_per_scan: ocr_max_pages_total
                        .unwrap_or(limits.ocr.max_pages_per_scan),
                    ..limits.ocr.clone()
                },
                ..limits
            },
            ftp: ftp.into_options(),
            formats: match json {
                Some(true) => vec![ReportFormat::Jsonl],
                _ => formats.unwrap_or_default(),
            },
            output_dir,
            summary_json,
            baseline,
            fingerprint_key,
            progress: progress.unwrap_or(ProgressMode::Auto),
            allow: allow.unwrap_or_default(),
            resume,
            shard: shard.map(|shard| crate::shard::ShardSpec {
                shard,
                split_depth: split_depth.unwrap_or(crate::shard::DEFAULT_SPLIT_DEPTH),
            }),
            origins: Origins::default(),
        }
    }
}

impl FtpSettings {
    /// Each FTP setting as given, else its default.
    pub fn into_options(self) -> FtpOptions {
        let FtpSettings {
            connections,
            timeout_secs,
            insecure,
            active,
            follow_links,
            max_depth,
            max_files,
            skip_larger_than,
            sample_tail,
            rate,
            check_write,
            anon_check,
            anonymous_password,
            netrc,
            retries,
            ports,
        } = self;
        FtpOptions {
            ports: ports.map_or_else(|| crate::discover::DEFAULT_PORTS.to_vec(), |p| p.0),
            connections: connections.unwrap_or(4),
            timeout_secs: timeout_secs.unwrap_or(30),
            anonymous_password: anonymous_password.unwrap_or_else(|| Secret::new("anonymous@")),
            insecure: insecure.unwrap_or(false),
            active: active.unwrap_or(false),
            follow_links: follow_links.unwrap_or(false),
            max_depth,
            max_files,
            skip_larger_than,
            sample_tail,
            rate,
            check_write: check_write.unwrap_or(false),
            anon_check: anon_check.unwrap_or(true),
            retries: retries.unwrap_or(3),
            netrc,
        }
    }
}

/// Nothing given: every default (written in [`Settings::into_config`]).
impl Default for ScanConfig {
    fn default() -> Self {
        Settings::default().into_config()
    }
}

impl Default for FtpOptions {
    fn default() -> Self {
        FtpSettings::default().into_options()
    }
}

/// A settings file as read: relative paths in it made relative to its
/// folder, its targets marked as coming from it.
#[derive(Clone, Debug)]
pub struct SettingsFile {
    pub path: PathBuf,
    pub settings: Settings,
    /// Every key the file sets (`ftp.insecure`, …), to name what an
    /// untrusted file was not allowed to set.
    pub keys: Vec<String>,
}

impl SettingsFile {
    pub fn load(path: &Path) -> Result<SettingsFile, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<SettingsFile, SettingsError> {
        // toml's message names the line and column.
        let mut settings: Settings = toml::from_str(text).map_err(|e| SettingsError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        let s = &mut settings;
        s.targets = s.targets.take().map(|targets| {
            let from_file = |t: TargetSpec| {
                let mut t = t.relative_to(base);
                t.origin = Origin::File(path.to_path_buf());
                t
            };
            targets.into_iter().map(from_file).collect()
        });
        // Every path the file can hold (a new path setting goes here too).
        let paths = [
            &mut s.output,
            &mut s.output_dir,
            &mut s.summary_json,
            &mut s.baseline,
            &mut s.ftp.netrc,
        ];
        let rules = s.rules.iter_mut().flatten();
        for p in paths.into_iter().flatten().chain(rules) {
            *p = base.join(&*p);
        }
        for a in s.allow.iter_mut().flatten() {
            a.source = path.display().to_string();
        }
        Ok(SettingsFile {
            path: path.to_path_buf(),
            settings,
            keys: crate::trust::keys_of(text),
        })
    }

    /// `phiscan.toml` in the working directory, if there is one.
    pub fn find_default() -> Option<PathBuf> {
        let p = PathBuf::from(DEFAULT_NAME);
        p.is_file().then_some(p)
    }
}

/// One scan's settings: the flags over the settings file.
#[derive(Clone, Debug)]
pub struct Layers {
    pub flags: Settings,
    pub file: Option<SettingsFile>,
    /// The file was found inside a scanned target (`crate::trust`).
    pub distrusted: Option<crate::trust::Distrusted>,
}

impl Layers {
    /// The flags, and the file they name (`--config`), else
    /// `./phiscan.toml` when there is one.
    ///
    /// A file found by itself (not named with `--config`) that lies inside
    /// a scanned local target keeps only what cannot weaken the audit
    /// ([`Layers::distrust_file_inside_targets`]).
    pub fn read(flags: Settings) -> Result<Layers, SettingsError> {
        let named = flags.config.is_some();
        let file = match flags.config.clone().or_else(SettingsFile::find_default) {
            Some(path) => Some(SettingsFile::load(&path)?),
            None => None,
        };
        let mut layers = Layers::new(flags, file);
        if !named {
            layers.distrust_file_inside_targets(Path::new("."));
        }
        Ok(layers)
    }

    /// When the settings file lies inside a local target of this scan (from
    /// the flags, the `--targets` file or the file itself), drops every
    /// setting of the file except [`crate::trust::KEPT_WHEN_UNTRUSTED`]
    /// and outputs that stay inside `working_folder`, and records what
    /// was dropped.
    pub fn distrust_file_inside_targets(&mut self, working_folder: &Path) {
        let Some(file) = &mut self.file else {
            return;
        };
        let listed = self
            .flags
            .targets_file
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        let targets = self
            .flags
            .targets
            .iter()
            .chain(file.settings.targets.iter())
            .flatten()
            .map(TargetSpec::as_str)
            .chain(targets_in(&listed));
        let Some(inside_target) = crate::trust::target_holding(&file.path, targets) else {
            return;
        };
        let old = std::mem::take(&mut file.settings);
        let s = &mut file.settings;
        s.formats = old.formats;
        s.progress = old.progress;
        s.threads = old.threads;
        s.ftp.connections = old.ftp.connections;
        s.ftp.timeout_secs = old.ftp.timeout_secs;
        s.ftp.rate = old.ftp.rate;
        s.ftp.retries = old.ftp.retries;
        let inside =
            |p: Option<PathBuf>| p.filter(|p| crate::trust::stays_inside(p, working_folder));
        s.output = inside(old.output);
        s.output_dir = inside(old.output_dir);
        s.summary_json = inside(old.summary_json);
        let kept_output = |key: &str| match key {
            "output" => s.output.is_some(),
            "output_dir" => s.output_dir.is_some(),
            "summary_json" => s.summary_json.is_some(),
            _ => false,
        };
        let ignored = file
            .keys
            .iter()
            .filter(|k| !crate::trust::KEPT_WHEN_UNTRUSTED.contains(&k.as_str()) && !kept_output(k))
            .cloned()
            .collect();
        self.distrusted = Some(crate::trust::Distrusted {
            path: file.path.clone(),
            inside_target,
            ignored,
        });
    }

    pub fn new(mut flags: Settings, mut file: Option<SettingsFile>) -> Layers {
        for t in flags.targets.iter_mut().flatten() {
            t.origin = Origin::Flag;
        }
        if let Some(f) = &mut file {
            // Where the report goes is one choice: a flag for either
            // output replaces the file's choice whole.
            if flags.output.is_some() || flags.output_dir.is_some() {
                f.settings.output = None;
                f.settings.output_dir = None;
            }
        }
        Layers {
            flags,
            file,
            distrusted: None,
        }
    }

    /// Where the value in force of one setting comes from.
    pub fn origin<T>(&self, field: impl Fn(&Settings) -> &Option<T>) -> Origin {
        if field(&self.flags).is_some() {
            return Origin::Flag;
        }
        match &self.file {
            Some(f) if field(&f.settings).is_some() => Origin::File(f.path.clone()),
            _ => Origin::Default,
        }
    }

    /// The settings in force: each from the highest layer that sets it.
    pub fn merged(self) -> Settings {
        match self.file {
            Some(f) => self.flags.or(f.settings),
            None => self.flags,
        }
    }

    /// The configuration a scan runs from: the merged settings, and the
    /// `--targets` file's targets after theirs.
    pub fn resolve(self) -> Result<ScanConfig, SettingsError> {
        let origins = Origins {
            settings_file: self.file.as_ref().map(|f| f.path.clone()),
            rule_paths: self.origin(|s| &s.rules),
            output: match self.origin(|s| &s.output_dir) {
                Origin::Default => self.origin(|s| &s.output),
                dir => dir,
            },
            summary_json: self.origin(|s| &s.summary_json),
            baseline: self.origin(|s| &s.baseline),
            distrusted: self.distrusted.clone(),
        };
        let targets_file = self.flags.targets_file.clone();
        let mut config = self.merged().into_config();
        config.origins = origins;
        if let Some(path) = targets_file {
            let text =
                std::fs::read_to_string(&path).map_err(|source| SettingsError::TargetsFile {
                    path: path.clone(),
                    source,
                })?;
            let origin = Origin::TargetsFile(path);
            config
                .targets
                .extend(targets_in(&text).map(|t| TargetSpec::new(t, origin.clone())));
        }
        if config.targets.is_empty() {
            return Err(SettingsError::NoTarget);
        }
        Ok(config)
    }
}

/// The targets of a `--targets` file: one per line, `#` comments, blank
/// lines ignored.
pub fn targets_in(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.split_once('#').map_or(l, |(before, _)| before).trim())
        .filter(|l| !l.is_empty())
}

// One parser per typed value, used by the flag (clap) and by the file key
// (serde): the file accepts what the flag accepts, and a bad value in the
// file is an error that toml places at its line.

/// The environment variable of the fingerprint key.
pub const KEY_ENV: &str = "PHISCAN_FINGERPRINT_KEY";

/// Where a fingerprint key came from, for messages about it: clap takes
/// the flag, else the environment, into one value.
pub fn key_origin(key: &Secret) -> &'static str {
    match std::env::var(KEY_ENV) {
        Ok(v) if v == key.expose() => "PHISCAN_FINGERPRINT_KEY (environment)",
        _ => "--fingerprint-key",
    }
}

pub fn parse_confidence(s: &str) -> Result<Confidence, String> {
    Confidence::parse(s).ok_or_else(|| format!("{s:?} is not LOW, MEDIUM or HIGH"))
}

/// clap's parser of `--format`: [`parse_format`], with the values shell
/// completion offers.
#[derive(Clone, Copy, Debug, Default)]
pub struct FormatParser;

impl clap::builder::TypedValueParser for FormatParser {
    type Value = ReportFormat;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<ReportFormat, clap::Error> {
        parse_format(value.to_str().unwrap_or_default()).map_err(|message| {
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("invalid value for --format: {message}\n"),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            ReportFormat::ALL
                .into_iter()
                .map(|f| clap::builder::PossibleValue::new(f.as_str())),
        ))
    }
}

pub fn parse_format(s: &str) -> Result<ReportFormat, String> {
    ReportFormat::parse(s).ok_or_else(|| format!("{s:?} is not csv, jsonl, sarif, html or text"))
}

fn check_rate(rate: f64) -> Result<f64, String> {
    if rate.is_finite() && rate > 0.0 {
        Ok(rate)
    } else {
        Err("must be a positive number of commands per second".into())
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    check_rate(s.parse::<f64>().map_err(|e| e.to_string())?)
}

/// `--progress` takes no value: it means always.
fn parse_progress_flag(s: &str) -> Result<ProgressMode, String> {
    match s {
        "always" => Ok(ProgressMode::Always),
        _ => Err(format!("{s:?}: --progress takes no value")),
    }
}

/// A list of ports (`21,990,2120-2122`), one value for clap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortList(pub Vec<u16>);

fn parse_ports(s: &str) -> Result<PortList, String> {
    crate::discover::targets::parse_ports(s)
        .map(PortList)
        .map_err(|e| e.to_string())
}

fn de_ports<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PortList>, D::Error> {
    let s = String::deserialize(d)?;
    parse_ports(&s).map(Some).map_err(serde::de::Error::custom)
}

fn parse_ocr_mode(s: &str) -> Result<OcrMode, String> {
    match s.to_ascii_lowercase().as_str() {
        "auto" => Ok(OcrMode::Auto),
        "on" => Ok(OcrMode::On),
        "off" => Ok(OcrMode::Off),
        _ => Err(format!("{s:?}: expected auto, on or off")),
    }
}

fn de_ocr_mode<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OcrMode>, D::Error> {
    let s = String::deserialize(d)?;
    parse_ocr_mode(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn de_fail_on<'de, D: Deserializer<'de>>(d: D) -> Result<Option<FailOn>, D::Error> {
    let s = String::deserialize(d)?;
    FailOn::parse(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn de_formats<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<ReportFormat>>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    names
        .iter()
        .map(|s| parse_format(s))
        .collect::<Result<_, _>>()
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn de_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    check_rate(f64::deserialize(d)?)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// `progress = true`: always; `false`: never; unset: on a terminal.
fn de_progress<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ProgressMode>, D::Error> {
    Ok(Some(if bool::deserialize(d)? {
        ProgressMode::Always
    } else {
        ProgressMode::Never
    }))
}

/// What `phiscan init` writes: every setting, commented.
pub const EXAMPLE: &str = r#"# phiscan.toml: settings for `phiscan scan` in this folder.
# Command-line flags override anything set here. Relative paths are relative
# to this file's folder. Secrets do not belong here: FTP passwords go in a
# netrc file (ftp.netrc) or the URL, the fingerprint key in the
# PHISCAN_FINGERPRINT_KEY environment variable.

# What to scan when no TARGET is given on the command line: local folders
# or files, ftp://, ftps:// or ftpes:// URLs.
targets = ["./mirror"]

# Extra rule files or folders of them, added to the built-in pack.
# rules = ["rules/clinic.toml"]
# default_rules = true

# Globs over target-relative paths.
# include = ["*.csv", "*.txt"]
exclude = ["**/.git/**"]

# What makes the exit status 1: LOW, MEDIUM or HIGH (PHI and server
# exposures at or above it), NONE (report only), or kinds with levels:
# "phi:MEDIUM,exposure:HIGH" (a kind left out never fails the run).
fail_on = "MEDIUM"

# Reports: text (human-readable, grouped by file), csv, jsonl, sarif,
# html. Unset: text at a terminal, csv in a pipe or file. Several formats
# need output_dir.
formats = ["csv", "sarif", "html"]
output_dir = "phiscan-report"
# output = "report.csv"        # one format, one file (default: stdout)
summary_json = "phiscan-report/summary.json"

# Known findings that should not fail the build (phiscan baseline create).
# baseline = "phiscan-baseline.json"

# Bytes read per file (0 = whole file); worker threads.
# max_bytes = 0
# threads = 4

# Seconds spent on one file at most, reading included (0 = no limit).
# file_timeout = 300
# OCR of images and scanned PDF pages (auto, on, off); pages per file, per scan.
# ocr = "auto"
# ocr_max_pages = 50
# ocr_max_pages_total = 10000

# Progress on stderr: unset = on a terminal only.
# progress = true

[ftp]
# connections = 4
# timeout_secs = 30
# insecure = false        # accept any TLS certificate
# active = false          # active-mode data connections
# max_depth = 20
# max_files = 100000
# skip_larger_than = 1073741824
# rate = 10.0             # commands per second per server
# retries = 3
# netrc = "~/.netrc"

# Allowlists: known, accepted findings. Every criterion given must match;
# rules omitted = every rule. Allowed findings are counted in the summary.
# values holds value fingerprints from `phiscan fingerprint`, never values.
[[allow]]
name = "test fixtures"
reason = "synthetic data used by the test suite"
paths = ["testdata/**"]

# [[allow]]
# name = "sample e-mail domain"
# rules = ["email"]
# matches = ['@example\.(com|org)$']

# [[allow]]
# name = "published sample record"
# values = ["v1:0123456789abcdef0123456789abcdef"]
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// `phiscan scan`'s flags, parsed as the binary parses them.
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        settings: Settings,
    }

    fn flags(args: &[&str]) -> Settings {
        let argv = std::iter::once("phiscan").chain(args.iter().copied());
        Flags::try_parse_from(argv).unwrap().settings
    }

    fn file(path: &str, text: &str) -> SettingsFile {
        SettingsFile::parse(Path::new(path), text).unwrap()
    }

    fn resolve(flag_args: &[&str], file_text: Option<&str>) -> ScanConfig {
        let file = file_text.map(|t| file("dir/phiscan.toml", t));
        Layers::new(flags(flag_args), file).resolve().unwrap()
    }

    fn invalid(text: &str) -> String {
        SettingsFile::parse(Path::new("p.toml"), text)
            .unwrap_err()
            .to_string()
    }

    fn texts(targets: &[TargetSpec]) -> Vec<&str> {
        targets.iter().map(|t| t.as_str()).collect()
    }

    #[test]
    fn example_parses_and_applies() {
        let example = file("conf/phiscan.toml", EXAMPLE);
        let c = Layers::new(Settings::default(), Some(example))
            .resolve()
            .unwrap();
        assert_eq!(texts(&c.targets), ["conf/./mirror"]);
        assert_eq!(
            c.targets[0].origin,
            Origin::File("conf/phiscan.toml".into())
        );
        assert_eq!(c.fail_on, FailOn::both(Confidence::Medium));
        assert_eq!(
            c.formats,
            vec![ReportFormat::Csv, ReportFormat::Sarif, ReportFormat::Html]
        );
        assert_eq!(c.output_dir, Some(PathBuf::from("conf/phiscan-report")));
        assert_eq!(
            c.summary_json,
            Some(PathBuf::from("conf/phiscan-report/summary.json"))
        );
        assert_eq!(c.exclude, ["**/.git/**"]);
        assert_eq!(c.allow.len(), 1);
        assert_eq!(c.allow[0].source, "conf/phiscan.toml");
        crate::allowlist::Allowlist::new(&c.allow).unwrap();
    }

    #[test]
    fn nothing_given_is_the_default_configuration() {
        let c = Settings::default().into_config();
        assert!(c.targets.is_empty() && c.rule_paths.is_empty());
        assert!(c.default_rules && !c.unmask && !c.quiet);
        assert_eq!(c.fail_on, FailOn::both(Confidence::Low));
        assert_eq!(c.progress, ProgressMode::Auto);
        assert_eq!(c.limits.max_seconds, 300);
        assert_eq!((c.threads, c.max_bytes, c.output), (None, None, None));
        let o = &c.ftp;
        assert_eq!((o.connections, o.timeout_secs, o.retries), (4, 30, 3));
        assert_eq!(o.anonymous_password.expose(), "anonymous@");
        assert!(o.anon_check && !o.insecure && !o.active && !o.check_write);
        assert_eq!(o.rate, None);
    }

    #[test]
    fn a_flag_given_replaces_the_files_value() {
        let text = "fail_on = \"HIGH\"\nthreads = 2\nmax_bytes = 10\nfile_timeout = 7\n\
                    [ftp]\nconnections = 2\ntimeout_secs = 9\nrate = 5.0\nretries = 1\n";
        // The file alone.
        let c = resolve(&["t"], Some(text));
        assert_eq!(c.fail_on, FailOn::both(Confidence::High));
        assert_eq!((c.threads, c.max_bytes), (Some(2), Some(10)));
        assert_eq!(c.limits.max_seconds, 7);
        assert_eq!((c.ftp.connections, c.ftp.timeout_secs), (2, 9));
        assert_eq!((c.ftp.rate, c.ftp.retries), (Some(5.0), 1));
        // Flags over it; what no flag names stays the file's.
        let c = resolve(
            &[
                "t",
                "--fail-on",
                "low",
                "--threads",
                "8",
                "--file-timeout",
                "0",
                "--connections",
                "16",
                "--timeout",
                "60",
                "--rate",
                "0.5",
            ],
            Some(text),
        );
        assert_eq!(c.fail_on, FailOn::both(Confidence::Low));
        assert_eq!((c.threads, c.max_bytes), (Some(8), Some(10)));
        assert_eq!(c.limits.max_seconds, 0);
        assert_eq!((c.ftp.connections, c.ftp.timeout_secs), (16, 60));
        assert_eq!((c.ftp.rate, c.ftp.retries), (Some(0.5), 1));
    }

    #[test]
    fn a_list_given_replaces_the_files_list_whole() {
        let text = "targets = [\"a\", \"b\"]\nrules = [\"r1.toml\", \"r2.toml\"]\n\
                    include = [\"*.csv\", \"*.txt\"]\nexclude = [\"x/**\"]\n\
                    formats = [\"jsonl\", \"html\"]\n";
        let c = resolve(&[], Some(text));
        assert_eq!(texts(&c.targets), ["dir/a", "dir/b"]);
        assert_eq!(
            c.rule_paths,
            [Path::new("dir/r1.toml"), Path::new("dir/r2.toml")]
        );
        assert_eq!(c.include, ["*.csv", "*.txt"]);
        assert_eq!(c.formats, [ReportFormat::Jsonl, ReportFormat::Html]);
        let c = resolve(
            &[
                "c",
                "--rules",
                "mine.toml",
                "--include",
                "*.hl7",
                "--format",
                "sarif",
            ],
            Some(text),
        );
        assert_eq!(texts(&c.targets), ["c"]);
        assert_eq!(c.rule_paths, [Path::new("mine.toml")]);
        assert_eq!(c.include, ["*.hl7"]);
        assert_eq!(c.exclude, ["x/**"]);
        assert_eq!(c.formats, [ReportFormat::Sarif]);
    }

    #[test]
    fn switches_only_turn_on_what_they_name() {
        let text = "default_rules = false\nprogress = false\n\
                    [ftp]\ninsecure = true\nanon_check = false\nfollow_links = true\n";
        // Absent switches leave the file's values.
        let c = resolve(&["t"], Some(text));
        assert!(!c.default_rules && c.ftp.insecure && !c.ftp.anon_check);
        assert!(c.ftp.follow_links && !c.ftp.active && !c.ftp.check_write);
        assert_eq!(c.progress, ProgressMode::Never);
        // Given, they set their value over the file's, or over the default.
        let c = resolve(&["t", "--progress", "--active"], Some(text));
        assert_eq!(c.progress, ProgressMode::Always);
        assert!(c.ftp.active && c.ftp.insecure);
        let c = resolve(
            &[
                "t",
                "--no-default-rules",
                "--no-anon-check",
                "--unmask",
                "-q",
            ],
            None,
        );
        assert!(!c.default_rules && !c.ftp.anon_check && c.unmask && c.quiet);
        assert_eq!(c.progress, ProgressMode::Auto);
        // A switch takes no value.
        let argv = ["phiscan", "--insecure=false"];
        assert!(Flags::try_parse_from(argv).is_err());
    }

    #[test]
    fn output_and_output_dir_are_one_choice() {
        let to_dir = "output_dir = \"out\"\n";
        let to_file = "output = \"report.csv\"\n";
        let c = resolve(&["t"], Some(to_dir));
        assert_eq!((c.output, c.output_dir), (None, Some("dir/out".into())));
        // -o replaces the file's output_dir, --output-dir its output.
        let c = resolve(&["t", "-o", "x.csv"], Some(to_dir));
        assert_eq!((c.output, c.output_dir), (Some("x.csv".into()), None));
        assert_eq!(c.origins.output, Origin::Flag);
        let c = resolve(&["t", "--output-dir", "d"], Some(to_file));
        assert_eq!((c.output, c.output_dir), (None, Some("d".into())));
        // Both flags: both kept, for the scan to refuse.
        let c = resolve(&["t", "-o", "x.csv", "--output-dir", "d"], None);
        assert_eq!(
            (c.output, c.output_dir),
            (Some("x.csv".into()), Some("d".into()))
        );
    }

    #[test]
    fn relative_paths_in_the_file_are_relative_to_its_folder() {
        let text =
            "targets = [\"share\", \"/abs/share\", \"ftp://h/pub\", \"FTPS://u@h/\", \"ftp:x\"]\n\
                    rules = [\"rules\", \"/etc/rules.toml\"]\noutput = \"r.csv\"\n\
                    summary_json = \"s.json\"\nbaseline = \"../b.json\"\n\
                    [ftp]\nnetrc = \"netrc\"\n";
        let f = file("/etc/phiscan/phiscan.toml", text);
        let c = Layers::new(Settings::default(), Some(f)).resolve().unwrap();
        assert_eq!(
            texts(&c.targets),
            [
                "/etc/phiscan/share",
                "/abs/share",
                "ftp://h/pub",
                "FTPS://u@h/",
                "/etc/phiscan/ftp:x"
            ]
        );
        assert_eq!(
            c.rule_paths,
            [
                Path::new("/etc/phiscan/rules"),
                Path::new("/etc/rules.toml")
            ]
        );
        assert_eq!(c.output, Some("/etc/phiscan/r.csv".into()));
        assert_eq!(c.summary_json, Some("/etc/phiscan/s.json".into()));
        assert_eq!(c.baseline, Some("/etc/phiscan/../b.json".into()));
        assert_eq!(c.ftp.netrc, Some("/etc/phiscan/netrc".into()));
        // A file in the working directory: paths stay relative to it.
        let f = file("phiscan.toml", "targets = [\"share\"]\nrules = [\"r\"]\n");
        let c = Layers::new(Settings::default(), Some(f)).resolve().unwrap();
        assert_eq!(texts(&c.targets), ["share"]);
        assert_eq!(c.rule_paths, [Path::new("r")]);
        // Flags are relative to the working directory, as given.
        let c = resolve(&["share", "--rules", "r", "-o", "o.csv"], Some(text));
        assert_eq!(texts(&c.targets), ["share"]);
        assert_eq!(c.rule_paths, [Path::new("r")]);
        assert_eq!(c.output, Some("o.csv".into()));
    }

    #[test]
    fn each_value_keeps_where_it_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("targets.txt");
        std::fs::write(&list, "# servers\nftp://h/ # main\n\n  local  \n").unwrap();
        let list_arg = list.to_str().unwrap();
        let text = "targets = [\"mirror\"]\nrules = [\"r.toml\"]\nsummary_json = \"s.json\"\n";
        let file_path = PathBuf::from("dir/phiscan.toml");
        let from_file = Origin::File(file_path.clone());

        let c = resolve(&["--targets", list_arg], Some(text));
        assert_eq!(texts(&c.targets), ["dir/mirror", "ftp://h/", "local"]);
        let origins: Vec<&Origin> = c.targets.iter().map(|t| &t.origin).collect();
        let from_list = Origin::TargetsFile(list.clone());
        assert_eq!(origins, [&from_file, &from_list, &from_list]);
        assert_eq!(c.origins.settings_file, Some(file_path));
        assert_eq!(c.origins.rule_paths, from_file);
        assert_eq!(c.origins.summary_json, from_file);
        assert_eq!(c.origins.output, Origin::Default);
        assert_eq!(c.origins.baseline, Origin::Default);

        let layers = Layers::new(
            flags(&["t", "--rules", "x"]),
            Some(file("dir/phiscan.toml", text)),
        );
        assert_eq!(layers.origin(|s| &s.rules), Origin::Flag);
        assert_eq!(layers.origin(|s| &s.summary_json), from_file);
        assert_eq!(layers.origin(|s| &s.threads), Origin::Default);
        let c = layers.resolve().unwrap();
        assert_eq!(c.targets[0].origin, Origin::Flag);
        assert_eq!(c.origins.rule_paths, Origin::Flag);
        assert_eq!(c.origins.settings_file, Some("dir/phiscan.toml".into()));

        let c = resolve(&["t"], None);
        assert_eq!(c.origins, Origins::default());
    }

    #[test]
    fn no_target_and_an_unreadable_targets_file_are_errors() {
        let err = Layers::new(flags(&[]), None).resolve().unwrap_err();
        assert!(matches!(err, SettingsError::NoTarget), "{err}");
        // An empty list in the file is no target either.
        let err = Layers::new(flags(&[]), Some(file("p.toml", "targets = []\n")))
            .resolve()
            .unwrap_err();
        assert!(matches!(err, SettingsError::NoTarget), "{err}");
        let err = Layers::new(flags(&["--targets", "/nonexistent/list"]), None)
            .resolve()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read targets file /nonexistent/list"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_file_and_line() {
        let err = invalid("targets = []\nfail_onn = \"LOW\"\n");
        assert!(
            err.starts_with("p.toml:") && err.contains("line 2"),
            "{err}"
        );
        let cases = [
            (
                "targets = []\n\nfail_on = \"SEVERE\"\n",
                "line 3",
                "\"SEVERE\" is not LOW",
            ),
            (
                "formats = [\"csv\", \"pdf\"]\n",
                "line 1",
                "\"pdf\" is not csv",
            ),
            ("progress = \"yes\"\n", "line 1", "expected a boolean"),
            ("threads = -1\n", "line 1", "threads"),
            ("[ftp]\nrate = 0\n", "line 2", "positive number"),
            ("[ftp]\n\nrate = -2.5\n", "line 3", "positive number"),
            (
                "[ftp]\nconections = 2\n",
                "line 2",
                "unknown field `conections`",
            ),
        ];
        for (text, line, message) in cases {
            let err = invalid(text);
            assert!(
                err.starts_with("p.toml:") && err.contains(line) && err.contains(message),
                "{text:?}: {err}"
            );
        }
        // Flags only, never file keys: secrets, and what is per run.
        for key in [
            "unmask = true",
            "quiet = true",
            "resume = \"s\"",
            "config = \"x.toml\"",
            "fingerprint_key = \"0123456789abcdef\"",
            "key = \"0123456789abcdef\"",
            "targets_file = \"t\"",
            "[ftp]\nanonymous_password = \"x\"",
        ] {
            let err = invalid(key);
            assert!(err.contains("unknown field"), "{key}: {err}");
        }
    }

    #[test]
    fn file_values_are_read_as_the_flags_read_them() {
        // Case and spaces as `--fail-on medium` and `--format CSV` allow.
        let c = resolve(
            &["t"],
            Some("fail_on = \"medium\"\nformats = [\" CSV \", \"Html\"]\n[ftp]\nrate = 2\n"),
        );
        assert_eq!(c.fail_on, FailOn::both(Confidence::Medium));
        assert_eq!(c.formats, [ReportFormat::Csv, ReportFormat::Html]);
        assert_eq!(c.ftp.rate, Some(2.0));
        let bad = |args: &[&str]| {
            let argv = std::iter::once("phiscan").chain(args.iter().copied());
            Flags::try_parse_from(argv).is_err()
        };
        assert!(bad(&["--rate", "0"]) && bad(&["--rate", "inf"]) && bad(&["--rate", "x"]));
        assert!(bad(&["--connections", "0"]) && bad(&["--connections", "65"]));
        assert!(bad(&["--fail-on", "severe"]) && bad(&["--format", "pdf"]));
        assert!(bad(&["--timeout", "0"]));
    }

    #[test]
    fn debug_output_hides_passwords_and_keys() {
        let flag_layer = flags(&[
            "ftp://bob:Zebra-Quokka-7731@h/",
            "fixtures",
            "--fingerprint-key",
            "Secret-Key-Walrus-99887766",
            "--anon-password",
            "Anon-Pass-Lemur-5521",
        ]);
        let layers = Layers::new(
            flag_layer,
            Some(file("p.toml", "targets = [\"ftp://al:Pw-Heron-42@h/\"]\n")),
        );
        let config = layers.clone().resolve().unwrap();
        let text = format!("{layers:?} {layers:#?} {config:?} {config:#?}");
        for secret in [
            "Zebra-Quokka",
            "Secret-Key-Walrus",
            "Anon-Pass-Lemur",
            "Pw-Heron",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(
            text.contains("ftp://bob@h/") && text.contains("ftp://al@h/"),
            "{text}"
        );
        assert!(text.contains("\"fixtures\""), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
        // The values themselves are intact.
        assert_eq!(&*config.targets[0], "ftp://bob:Zebra-Quokka-7731@h/");
        let key = config.fingerprint_key.as_ref().unwrap();
        assert_eq!(key.expose(), "Secret-Key-Walrus-99887766");
        assert_eq!(
            config.ftp.anonymous_password.expose(),
            "Anon-Pass-Lemur-5521"
        );
    }
}
