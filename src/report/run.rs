//! What a report says about the run itself: when it ran, which phiscan,
//! on what, with which settings that change results, and whether values
//! were unmasked or certificates left unchecked. Never a password or key.

use crate::config::ScanConfig;
use crate::matcher::Matcher;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// The run's facts, in the summary (and so in JSON, SARIF and HTML).
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RunFacts {
    pub phiscan_version: String,
    /// RFC 3339, UTC, whole seconds.
    pub started_at: String,
    pub ended_at: String,
    /// The targets as shown in the reports (URL passwords never included).
    pub targets_given: Vec<String>,
    /// `--unmask`: matched values written as found, not masked.
    pub unmasked: bool,
    /// `--insecure`: FTPS certificates were not verified.
    pub insecure: bool,
    /// Settings that change what is found (see [`RunFacts::for_scan`]).
    pub settings: BTreeMap<String, Value>,
}

impl RunFacts {
    /// A scan's facts at its start.
    pub fn for_scan(config: &ScanConfig, targets: Vec<String>, matcher: &Matcher) -> RunFacts {
        let l = &config.limits;
        let ftp = &config.ftp;
        let mut settings = BTreeMap::new();
        let mut set = |k: &str, v: Value| {
            settings.insert(k.to_string(), v);
        };
        set(
            "rule_pack",
            json!({
                "default_rules": config.default_rules,
                "files": config.rule_paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                "rules": matcher.rules().len(),
                "sha256": rule_digest(matcher),
            }),
        );
        set("max_bytes", json!(config.max_bytes));
        set("include", json!(config.include));
        set("exclude", json!(config.exclude));
        set("allowlist_entries", json!(config.allow.len()));
        set(
            "baseline",
            json!(config.baseline.as_ref().map(|p| p.display().to_string())),
        );
        set("fail_on", json!(config.fail_on.to_string()));
        set(
            "limits",
            json!({
                "max_depth": l.max_depth,
                "max_expanded_bytes": l.max_expanded_bytes,
                "max_ratio": l.max_ratio,
                "max_entries": l.max_entries,
                "max_document_bytes": l.max_document_bytes,
                "max_seconds": l.max_seconds,
            }),
        );
        set(
            "ftp",
            json!({
                "insecure": ftp.insecure,
                "active": ftp.active,
                "follow_links": ftp.follow_links,
                "max_depth": ftp.max_depth,
                "max_files": ftp.max_files,
                "skip_larger_than": ftp.skip_larger_than,
                "sample_tail": ftp.sample_tail,
                "check_write": ftp.check_write,
                "anon_check": ftp.anon_check,
                "timeout_secs": ftp.timeout_secs,
            }),
        );
        set(
            "settings_file",
            json!(config
                .origins
                .settings_file
                .as_ref()
                .map(|p| p.display().to_string())),
        );
        RunFacts {
            phiscan_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: rfc3339(SystemTime::now()),
            ended_at: String::new(),
            targets_given: targets,
            unmasked: config.unmask,
            insecure: ftp.insecure,
            settings,
        }
    }

    pub fn set_ended_now(&mut self) {
        self.ended_at = rfc3339(SystemTime::now());
    }
}

/// SHA-256 over every compiled rule as loaded: two runs with the same
/// digest ran the same rules.
fn rule_digest(matcher: &Matcher) -> String {
    let mut h = Sha256::new();
    for r in matcher.rules() {
        h.update(format!("{}\n{:?}\n", r.id, r.spec).as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `2026-12-04T20:30:00Z` (days to civil date: H. Hinnant's algorithm).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_dates() {
        let at = |s| rfc3339(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_796_416_245), "2026-12-04T20:30:45Z");
    }
}
