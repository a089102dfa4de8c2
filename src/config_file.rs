//! `phiscan.toml`: scan settings kept with a project or an audit, so the
//! command line stays short. Searched in the working directory, or given
//! with `--config FILE`. Command-line flags override it: a flag given
//! replaces the file's value (lists included). Relative paths in the file
//! are relative to the file's folder.
//!
//! Secrets do not belong here: FTP passwords come from the URL, a netrc
//! file or the environment, the fingerprint key from
//! `PHISCAN_FINGERPRINT_KEY`.

use crate::allowlist::AllowSpec;
use crate::config::ScanConfig;
use crate::entity::Confidence;
use crate::report::ReportFormat;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The file searched for in the working directory.
pub const DEFAULT_NAME: &str = "phiscan.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub targets: Vec<String>,
    /// Extra rule files or folders.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    pub default_rules: Option<bool>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    pub fail_on: Option<String>,
    #[serde(default)]
    pub formats: Vec<String>,
    pub output: Option<PathBuf>,
    pub output_dir: Option<PathBuf>,
    pub summary_json: Option<PathBuf>,
    pub baseline: Option<PathBuf>,
    pub max_bytes: Option<u64>,
    /// Seconds per file at most (0 = no limit).
    pub file_timeout: Option<u64>,
    pub threads: Option<usize>,
    pub progress: Option<bool>,
    #[serde(default)]
    pub ftp: FtpSection,
    #[serde(default)]
    pub allow: Vec<AllowSpec>,
    /// The file's folder, for relative paths.
    #[serde(skip)]
    pub base: PathBuf,
    #[serde(skip)]
    pub path: PathBuf,
}

/// Connection settings (`[ftp]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtpSection {
    pub connections: Option<usize>,
    pub timeout_secs: Option<u64>,
    pub insecure: Option<bool>,
    pub active: Option<bool>,
    pub follow_links: Option<bool>,
    pub max_depth: Option<u32>,
    pub max_files: Option<u64>,
    pub skip_larger_than: Option<u64>,
    pub sample_tail: Option<u64>,
    pub rate: Option<f64>,
    pub check_write: Option<bool>,
    pub anon_check: Option<bool>,
    pub retries: Option<u32>,
    pub netrc: Option<PathBuf>,
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigFileError> {
        let invalid = |message: String| ConfigFileError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        // toml's message names the line and column.
        let mut file: ConfigFile =
            toml::from_str(text).map_err(|e| invalid(e.to_string().trim_end().to_string()))?;
        if let Some(level) = &file.fail_on {
            if Confidence::parse(level).is_none() {
                return Err(invalid(format!(
                    "fail_on = {level:?}: expected LOW, MEDIUM or HIGH"
                )));
            }
        }
        for f in &file.formats {
            if ReportFormat::parse(f).is_none() {
                return Err(invalid(format!(
                    "formats: {f:?} is not csv, jsonl, sarif or html"
                )));
            }
        }
        file.base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        file.path = path.to_path_buf();
        let source = path.display().to_string();
        for a in &mut file.allow {
            a.source = source.clone();
        }
        Ok(file)
    }

    /// `phiscan.toml` in the working directory, if there is one.
    pub fn find_default() -> Option<PathBuf> {
        let p = PathBuf::from(DEFAULT_NAME);
        p.is_file().then_some(p)
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// Writes the file's settings into `config` (flags are applied after).
    pub fn apply_to(&self, c: &mut ScanConfig) {
        if !self.targets.is_empty() {
            c.targets = self
                .targets
                .iter()
                .map(|t| {
                    let lower = t.to_ascii_lowercase();
                    if ["ftp://", "ftps://", "ftpes://"]
                        .iter()
                        .any(|scheme| lower.starts_with(scheme))
                    {
                        t.clone()
                    } else {
                        self.resolve(Path::new(t)).display().to_string()
                    }
                })
                .collect();
        }
        if !self.rules.is_empty() {
            c.rule_paths = self.rules.iter().map(|p| self.resolve(p)).collect();
        }
        if let Some(d) = self.default_rules {
            c.default_rules = d;
        }
        if !self.include.is_empty() {
            c.include = self.include.clone();
        }
        if !self.exclude.is_empty() {
            c.exclude = self.exclude.clone();
        }
        if let Some(level) = self.fail_on.as_deref().and_then(Confidence::parse) {
            c.fail_on = level;
        }
        if !self.formats.is_empty() {
            c.formats = self
                .formats
                .iter()
                .filter_map(|f| ReportFormat::parse(f))
                .collect();
        }
        if let Some(p) = &self.output {
            c.output = Some(self.resolve(p));
        }
        if let Some(p) = &self.output_dir {
            c.output_dir = Some(self.resolve(p));
        }
        if let Some(p) = &self.summary_json {
            c.summary_json = Some(self.resolve(p));
        }
        if let Some(p) = &self.baseline {
            c.baseline = Some(self.resolve(p));
        }
        if self.max_bytes.is_some() {
            c.max_bytes = self.max_bytes;
        }
        if let Some(seconds) = self.file_timeout {
            c.limits.max_seconds = seconds;
        }
        if self.threads.is_some() {
            c.threads = self.threads;
        }
        if let Some(p) = self.progress {
            c.progress = if p {
                crate::report::progress::ProgressMode::Always
            } else {
                crate::report::progress::ProgressMode::Never
            };
        }
        c.allow.extend(self.allow.iter().cloned());
        let f = &self.ftp;
        let o = &mut c.ftp;
        if let Some(v) = f.connections {
            o.connections = v;
        }
        if let Some(v) = f.timeout_secs {
            o.timeout_secs = v;
        }
        if let Some(v) = f.insecure {
            o.insecure = v;
        }
        if let Some(v) = f.active {
            o.active = v;
        }
        if let Some(v) = f.follow_links {
            o.follow_links = v;
        }
        if f.max_depth.is_some() {
            o.max_depth = f.max_depth;
        }
        if f.max_files.is_some() {
            o.max_files = f.max_files;
        }
        if f.skip_larger_than.is_some() {
            o.skip_larger_than = f.skip_larger_than;
        }
        if f.sample_tail.is_some() {
            o.sample_tail = f.sample_tail;
        }
        if f.rate.is_some() {
            o.rate = f.rate;
        }
        if let Some(v) = f.check_write {
            o.check_write = v;
        }
        if let Some(v) = f.anon_check {
            o.anon_check = v;
        }
        if let Some(v) = f.retries {
            o.retries = v;
        }
        if let Some(p) = &f.netrc {
            o.netrc = Some(self.resolve(p));
        }
    }
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

# Lowest confidence that makes the exit status 1: LOW, MEDIUM or HIGH.
fail_on = "MEDIUM"

# Reports: csv, jsonl, sarif, html. Several formats need output_dir.
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

    #[test]
    fn example_parses_and_applies() {
        let file = ConfigFile::parse(Path::new("conf/phiscan.toml"), EXAMPLE).unwrap();
        let mut c = ScanConfig::default();
        file.apply_to(&mut c);
        assert_eq!(c.targets, vec!["conf/./mirror".to_string()]);
        assert_eq!(c.fail_on, Confidence::Medium);
        assert_eq!(
            c.formats,
            vec![ReportFormat::Csv, ReportFormat::Sarif, ReportFormat::Html]
        );
        assert_eq!(c.output_dir, Some(PathBuf::from("conf/phiscan-report")));
        assert_eq!(c.allow.len(), 1);
        assert_eq!(c.allow[0].source, "conf/phiscan.toml");
        crate::allowlist::Allowlist::new(&c.allow).unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_file_and_line() {
        let err = ConfigFile::parse(Path::new("p.toml"), "targets = []\nfail_onn = \"LOW\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("p.toml:") && err.contains("line 2"),
            "{err}"
        );
        let err = ConfigFile::parse(Path::new("p.toml"), "fail_on = \"SEVERE\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("SEVERE"), "{err}");
        let err = ConfigFile::parse(Path::new("p.toml"), "formats = [\"pdf\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("pdf"), "{err}");
    }

    #[test]
    fn ftp_urls_are_not_treated_as_paths() {
        let file = ConfigFile::parse(
            Path::new("/etc/phiscan/phiscan.toml"),
            "targets = [\"ftp://host/pub\", \"share\"]\n[ftp]\nconnections = 2\n",
        )
        .unwrap();
        let mut c = ScanConfig::default();
        file.apply_to(&mut c);
        assert_eq!(c.targets, vec!["ftp://host/pub", "/etc/phiscan/share"]);
        assert_eq!(c.ftp.connections, 2);
    }

    #[test]
    fn file_timeout_sets_the_time_limit_per_file() {
        let file = ConfigFile::parse(Path::new("p.toml"), "file_timeout = 7\n").unwrap();
        let mut c = ScanConfig::default();
        assert_eq!(c.limits.max_seconds, 300);
        file.apply_to(&mut c);
        assert_eq!(c.limits.max_seconds, 7);
    }
}
